package client

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

func decodeInputs(t *testing.T, m map[string]ctap.RawMessage) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range m {
		var x any
		if err := ctap.Unmarshal(v, &x); err != nil {
			t.Fatal(err)
		}
		out[k] = x
	}
	return out
}

func TestExtensionInputs(t *testing.T) {
	t.Parallel()
	mc := &ctap.MakeCredentialRequest{Extensions: map[string]ctap.RawMessage{"hmac-secret": ctap.MustMarshal(true)}}
	MakeCredentialExtensions{CredProtect: UserVerificationRequired, CredBlob: []byte{}, LargeBlobKey: true,
		MinPinLength: true, ThirdPartyPayment: true, PinComplexityPolicy: true}.Apply(mc)
	want := map[string]any{"hmac-secret": true, "credProtect": uint64(3), "credBlob": []byte{},
		"largeBlobKey": true, "minPinLength": true, "thirdPartyPayment": true, "pinComplexityPolicy": true}
	if diff := cmp.Diff(want, decodeInputs(t, mc.Extensions)); diff != "" {
		t.Errorf("makeCredential (-want +got):\n%s", diff)
	}
	empty := &ctap.MakeCredentialRequest{}
	MakeCredentialExtensions{}.Apply(empty)
	if empty.Extensions != nil {
		t.Errorf("zero inputs gave %v", empty.Extensions)
	}

	ga := &ctap.GetAssertionRequest{}
	GetAssertionExtensions{CredBlob: true, LargeBlobKey: true, ThirdPartyPayment: true}.Apply(ga)
	if diff := cmp.Diff(map[string]any{"credBlob": true, "largeBlobKey": true, "thirdPartyPayment": true},
		decodeInputs(t, ga.Extensions)); diff != "" {
		t.Errorf("getAssertion (-want +got):\n%s", diff)
	}
	if s := UserVerificationOptionalWithCredentialIDList.String(); s != "userVerificationOptionalWithCredentialIDList" {
		t.Errorf("String %q", s)
	}
	if s := CredProtectPolicy(9).String(); s != "CredProtectPolicy(9)" {
		t.Errorf("String %q", s)
	}
}

func authDataWith(outputs any) *ctap.AuthData {
	ad := &ctap.AuthData{}
	if outputs != nil {
		ad.Extensions = ctap.MustMarshal(outputs)
	}
	return ad
}

func TestCredentialExtensionOutputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		outputs any
		want    *CredentialExtensionOutputs
		bad     bool
	}{
		{"none", nil, &CredentialExtensionOutputs{}, false},
		{"all", map[string]any{"credProtect": 2, "credBlob": false, "minPinLength": 6, "thirdPartyPayment": true, "hmac-secret": true,
			"pinComplexityPolicy": false},
			&CredentialExtensionOutputs{CredProtect: 2, CredBlob: boolp(false), MinPinLength: u64(6), ThirdPartyPayment: boolp(true),
				PinComplexityPolicy: boolp(false)}, false},
		{"pinComplexityPolicy number", map[string]any{"pinComplexityPolicy": 1}, nil, true},
		{"credProtect text", map[string]any{"credProtect": "2"}, nil, true},
		{"credBlob bytes", map[string]any{"credBlob": []byte{1}}, nil, true},
		{"minPinLength null", map[string]any{"minPinLength": nil}, nil, true},
		{"not a map", 5, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := (&AttestationResponse{AuthData: authDataWith(tt.outputs)}).CredentialExtensions()
			if tt.bad {
				if !errors.Is(err, ErrBadResponse) || got != nil {
					t.Fatalf("got %+v, %v; want ErrBadResponse", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssertionExtensionOutputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		outputs any
		want    *AssertionExtensionOutputs
		bad     bool
	}{
		{"none", nil, &AssertionExtensionOutputs{}, false},
		{"empty blob", map[string]any{"credBlob": []byte{}}, &AssertionExtensionOutputs{CredBlob: []byte{}}, false},
		{"blob and tpp", map[string]any{"credBlob": []byte("b"), "thirdPartyPayment": false},
			&AssertionExtensionOutputs{CredBlob: []byte("b"), ThirdPartyPayment: boolp(false)}, false},
		{"blob bool", map[string]any{"credBlob": true}, nil, true},
		{"blob null", map[string]any{"credBlob": nil}, nil, true},
		{"tpp int", map[string]any{"thirdPartyPayment": 1}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := (&AssertionResponse{AuthData: authDataWith(tt.outputs)}).AssertionExtensions()
			if tt.bad {
				if !errors.Is(err, ErrBadResponse) || got != nil {
					t.Fatalf("got %+v, %v; want ErrBadResponse", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
