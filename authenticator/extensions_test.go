package authenticator

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

const extPIN = "1234"

// extKey is a key with a PIN set and a platform to get tokens from.
type extKey struct {
	*testKey
	p *platform
}

func newExtKey(t *testing.T) *extKey {
	t.Helper()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	if s := p.setPIN(extPIN); s != ctap.StatusOK {
		t.Fatalf("setPIN: %v", s)
	}
	return &extKey{testKey: k, p: p}
}

// exts builds an extensions map from name, value pairs.
func exts(kv ...any) map[string]ctap.RawMessage {
	m := make(map[string]ctap.RawMessage)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = ctap.MustMarshal(kv[i+1])
	}
	return m
}

// mc runs makeCredential, with a fresh mc token when uv.
func (k *extKey) mc(req *ctap.MakeCredentialRequest, uv bool) (*ctap.MakeCredentialResponse, *ctap.AuthData, ctap.Status) {
	k.t.Helper()
	if uv {
		tok := k.p.mustToken(extPIN, ctap.PermissionMakeCredential, "")
		k.p.authorize(tok, &req.PinUvAuthParam, &req.PinUvAuthProtocol)
	}
	resp, s := k.makeCredential(req)
	if s != ctap.StatusOK {
		return resp, nil, s
	}
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil {
		k.t.Fatalf("ParseAuthData: %v", err)
	}
	return resp, ad, s
}

// mustMC makes a credential with the given extensions and returns its ID.
func (k *extKey) mustMC(user byte, rk bool, ext map[string]ctap.RawMessage) []byte {
	k.t.Helper()
	req := mcReq("example.com", []byte{user}, rk)
	req.Extensions = ext
	_, ad, s := k.mc(req, rk)
	if s != ctap.StatusOK {
		k.t.Fatalf("makeCredential: %v", s)
	}
	return ad.AttestedCredential.CredentialID
}

// ga runs getAssertion, with a fresh ga token when uv.
func (k *extKey) ga(req *ctap.GetAssertionRequest, uv bool) (*ctap.GetAssertionResponse, map[string]ctap.RawMessage, ctap.Status) {
	k.t.Helper()
	if uv {
		tok := k.p.mustToken(extPIN, ctap.PermissionGetAssertion, "")
		k.p.authorize(tok, &req.PinUvAuthParam, &req.PinUvAuthProtocol)
	}
	resp, s := k.getAssertion(req)
	if s != ctap.StatusOK {
		return resp, nil, s
	}
	return resp, outputsOf(k.t, resp.AuthData), s
}

// outputsOf returns the extension outputs of authenticator data, nil
// when there are none; the ED flag must agree.
func outputsOf(t tb, authData []byte) map[string]ctap.RawMessage {
	t.Helper()
	ad, err := ctap.ParseAuthData(authData)
	if err != nil {
		t.Fatalf("ParseAuthData: %v", err)
	}
	m, err := ad.ExtensionOutputs()
	if err != nil {
		t.Fatalf("ExtensionOutputs: %v", err)
	}
	if (ad.Flags&ctap.FlagED != 0) != (m != nil) {
		t.Errorf("ED flag %v with outputs %v", ad.Flags&ctap.FlagED != 0, m)
	}
	return m
}

// show decodes outputs for comparison.
func show(m map[string]ctap.RawMessage) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any)
	for k, v := range m {
		var x any
		if err := ctap.Unmarshal(v, &x); err != nil {
			panic(err)
		}
		out[k] = x
	}
	return out
}

func TestGetInfoExtensions(t *testing.T) {
	t.Parallel()
	info := newTestKey(t).info()
	for _, e := range Extensions {
		if !bytes.Contains(ctap.MustMarshal(info.Extensions), ctap.MustMarshal(e)) {
			t.Errorf("getInfo extensions %v lack %s", info.Extensions, e)
		}
	}
	if info.MaxCredBlobLength != 32 {
		t.Errorf("maxCredBlobLength %d", info.MaxCredBlobLength)
	}
}

// TestMakeCredentialExtensionOutputs checks each extension's
// makeCredential status and authData output (CTAP 2.1 §12.1 to §12.4,
// CTAP 2.2 thirdPartyPayment).
func TestMakeCredentialExtensionOutputs(t *testing.T) {
	t.Parallel()
	blob32, blob33 := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{7}, 33)
	tests := []struct {
		name   string
		rk     bool
		ext    map[string]ctap.RawMessage
		status ctap.Status
		want   map[string]any
	}{
		{"no extensions", true, nil, ctap.StatusOK, nil},
		{"unknown ignored", false, exts("example.org:x", 1), ctap.StatusOK, nil},
		{"credProtect 1", false, exts("credProtect", 1), ctap.StatusOK, map[string]any{"credProtect": uint64(1)}},
		{"credProtect 2 rk", true, exts("credProtect", 2), ctap.StatusOK, map[string]any{"credProtect": uint64(2)}},
		{"credProtect 3", false, exts("credProtect", 3), ctap.StatusOK, map[string]any{"credProtect": uint64(3)}},
		{"credProtect 0", false, exts("credProtect", 0), ctap.StatusInvalidParameter, nil},
		{"credProtect 4", true, exts("credProtect", 4), ctap.StatusInvalidParameter, nil},
		{"credProtect text", false, exts("credProtect", "3"), ctap.StatusCBORUnexpectedType, nil},
		{"credProtect negative", false, exts("credProtect", -1), ctap.StatusCBORUnexpectedType, nil},
		{"credProtect null", false, exts("credProtect", nil), ctap.StatusCBORUnexpectedType, nil},
		{"credBlob rk 32", true, exts("credBlob", blob32), ctap.StatusOK, map[string]any{"credBlob": true}},
		{"credBlob rk empty", true, exts("credBlob", []byte{}), ctap.StatusOK, map[string]any{"credBlob": true}},
		{"credBlob rk 33", true, exts("credBlob", blob33), ctap.StatusOK, map[string]any{"credBlob": false}},
		{"credBlob non-rk", false, exts("credBlob", []byte{1}), ctap.StatusOK, map[string]any{"credBlob": false}},
		{"credBlob text", true, exts("credBlob", "x"), ctap.StatusCBORUnexpectedType, nil},
		{"largeBlobKey rk", true, exts("largeBlobKey", true), ctap.StatusOK, nil},
		{"largeBlobKey non-rk", false, exts("largeBlobKey", true), ctap.StatusInvalidOption, nil},
		{"largeBlobKey false", true, exts("largeBlobKey", false), ctap.StatusInvalidOption, nil},
		{"largeBlobKey int", true, exts("largeBlobKey", 1), ctap.StatusCBORUnexpectedType, nil},
		{"minPinLength not allowed", false, exts("minPinLength", true), ctap.StatusOK, nil},
		{"minPinLength bytes", false, exts("minPinLength", []byte{1}), ctap.StatusCBORUnexpectedType, nil},
		{"thirdPartyPayment", false, exts("thirdPartyPayment", true), ctap.StatusOK, map[string]any{"thirdPartyPayment": true}},
		{"thirdPartyPayment false", true, exts("thirdPartyPayment", false), ctap.StatusOK, map[string]any{"thirdPartyPayment": false}},
		{"thirdPartyPayment text", false, exts("thirdPartyPayment", "yes"), ctap.StatusCBORUnexpectedType, nil},
		{"all", true, exts("credProtect", 2, "credBlob", []byte{1}, "largeBlobKey", true, "thirdPartyPayment", true),
			ctap.StatusOK, map[string]any{"credProtect": uint64(2), "credBlob": true, "thirdPartyPayment": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newExtKey(t)
			req := mcReq("example.com", []byte{1}, tt.rk)
			req.Extensions = tt.ext
			resp, ad, s := k.mc(req, tt.rk)
			if s != tt.status {
				t.Fatalf("status %v, want %v", s, tt.status)
			}
			if s != ctap.StatusOK {
				return
			}
			if diff := cmp.Diff(tt.want, show(outputsOf(t, resp.AuthData))); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
			_, lbk := tt.ext["largeBlobKey"]
			if lbk != (len(resp.LargeBlobKey) == 32) {
				t.Errorf("largeBlobKey member %x", resp.LargeBlobKey)
			}
			if ad.AttestedCredential == nil {
				t.Error("no attested credential")
			}
		})
	}
}

// TestCredProtectVisibility is the §6.2.2 step 7.4, 7.5 matrix: levels ×
// credential kinds × allowList × user verification.
func TestCredProtectVisibility(t *testing.T) {
	t.Parallel()
	for level := uint64(1); level <= 3; level++ {
		for _, rk := range []bool{true, false} {
			for _, list := range []bool{true, false} {
				for _, uv := range []bool{false, true} {
					if !rk && !list {
						continue // a non-discoverable credential needs a list
					}
					visible := level == 1 || uv || (level == 2 && list)
					t.Run(fmt.Sprintf("level%d/rk=%v/list=%v/uv=%v", level, rk, list, uv), func(t *testing.T) {
						t.Parallel()
						k := newExtKey(t)
						id := k.mustMC(1, rk, exts("credProtect", level))
						req := gaReq("example.com")
						if list {
							req = gaReq("example.com", id)
						}
						resp, _, s := k.ga(req, uv)
						want := ctap.StatusNoCredentials
						if visible {
							want = ctap.StatusOK
						}
						if s != want {
							t.Fatalf("status %v, want %v", s, want)
						}
						if s == ctap.StatusOK && !bytes.Equal(resp.Credential.ID, id) {
							t.Errorf("credential %x", resp.Credential.ID)
						}
					})
				}
			}
		}
	}
}

// TestCredProtectMixed checks that only the hidden credentials are
// filtered: numberOfCredentials counts the visible ones.
func TestCredProtectMixed(t *testing.T) {
	t.Parallel()
	k := newExtKey(t)
	k.mustMC(1, true, exts("credProtect", 1))
	k.mustMC(2, true, exts("credProtect", 2))
	k.mustMC(3, true, exts("credProtect", 3))
	resp, _, s := k.ga(gaReq("example.com"), false)
	if s != ctap.StatusOK || resp.NumberOfCredentials != nil || !bytes.Equal(resp.User.ID, []byte{1}) {
		t.Fatalf("without uv: %v %+v", s, resp)
	}
	resp, _, s = k.ga(gaReq("example.com"), true)
	if s != ctap.StatusOK || resp.NumberOfCredentials == nil || *resp.NumberOfCredentials != 3 {
		t.Fatalf("with uv: %v %+v", s, resp)
	}
}

// TestCredProtectExcludeList checks §6.1.2 step 12.2: a
// userVerificationRequired credential excludes only with uv.
func TestCredProtectExcludeList(t *testing.T) {
	t.Parallel()
	for _, level := range []uint64{1, 2, 3} {
		for _, uv := range []bool{false, true} {
			t.Run(fmt.Sprintf("level%d/uv=%v", level, uv), func(t *testing.T) {
				t.Parallel()
				k := newExtKey(t)
				id := k.mustMC(1, false, exts("credProtect", level))
				req := mcReq("example.com", []byte{2}, false)
				req.ExcludeList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: id}}
				_, _, s := k.mc(req, uv)
				want := ctap.StatusCredentialExcluded
				if level == 3 && !uv {
					want = ctap.StatusOK
				}
				if s != want {
					t.Errorf("status %v, want %v", s, want)
				}
			})
		}
	}
}

// TestCredProtectStored checks the level in credentialManagement, in the
// saved state and in a sealed ID, and that U2F cannot use a level-3 key
// handle.
func TestCredProtectStored(t *testing.T) {
	t.Parallel()
	k := newExtKey(t)
	k.mustMC(1, true, exts("credProtect", 3, "thirdPartyPayment", true))
	c := &k.a.creds.all()[0]
	if c.CredProtect != 3 || !c.ThirdPartyPayment {
		t.Errorf("stored %+v", c)
	}
	e, err := credentialEntry(c)
	if err != nil || *e.CredProtect != 3 || e.ThirdPartyPayment == nil || !*e.ThirdPartyPayment {
		t.Errorf("credentialEntry: %v %+v", err, e)
	}
	st, err := k.store.Load()
	if err != nil || st.Credentials[0].CredProtect != 3 {
		t.Errorf("saved: %v", err)
	}
	id := k.mustMC(2, false, exts("credProtect", 2, "thirdPartyPayment", true))
	ref, ok := k.a.findCredential("example.com", rpHash("example.com"), id)
	if !ok || ref.credProtect() != 2 || !ref.thirdPartyPayment() {
		t.Errorf("sealed: %v %+v", ok, ref)
	}

	app := rpHash("example.com")
	for level, want := range map[uint64]ctap.StatusWord{1: ctap.SWConditionsNotSatisfied, 3: ctap.SWWrongData} {
		id := k.mustMC(3, false, exts("credProtect", level))
		_, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, ctap.U2FCheckOnly, authData([32]byte{}, app, id), false))
		if sw != want {
			t.Errorf("U2F check-only, level %d: %v, want %v", level, sw, want)
		}
	}
}

// TestCredBlobAssertion checks §12.2's getAssertion output.
func TestCredBlobAssertion(t *testing.T) {
	t.Parallel()
	k := newExtKey(t)
	withBlob := k.mustMC(1, true, exts("credBlob", []byte("blob")))
	without := k.mustMC(2, true, nil)
	tooLong := k.mustMC(3, true, exts("credBlob", bytes.Repeat([]byte{1}, 33)))
	nonRK := k.mustMC(4, false, exts("credBlob", []byte("x")))
	for _, tt := range []struct {
		id   []byte
		want []byte
	}{{withBlob, []byte("blob")}, {without, []byte{}}, {tooLong, []byte{}}, {nonRK, []byte{}}} {
		req := gaReq("example.com", tt.id)
		req.Extensions = exts("credBlob", true)
		_, out, s := k.ga(req, false)
		if s != ctap.StatusOK {
			t.Fatalf("getAssertion: %v", s)
		}
		if diff := cmp.Diff(map[string]any{"credBlob": tt.want}, show(out)); diff != "" {
			t.Errorf("outputs (-want +got):\n%s", diff)
		}
	}
	req := gaReq("example.com", withBlob)
	req.Extensions = exts("credBlob", false)
	if _, out, s := k.ga(req, false); s != ctap.StatusOK || out != nil {
		t.Errorf("credBlob false: %v %v", s, show(out))
	}
	req.Extensions = exts("credBlob", []byte{1})
	if _, _, s := k.ga(req, false); s != ctap.StatusCBORUnexpectedType {
		t.Errorf("credBlob bytes: %v", s)
	}

	// Without an allowList, getNextAssertion gives each credential's blob.
	req = gaReq("example.com")
	req.Extensions = exts("credBlob", true)
	resp, out, s := k.ga(req, false)
	if s != ctap.StatusOK || *resp.NumberOfCredentials != 3 {
		t.Fatalf("getAssertion: %v", s)
	}
	got := []any{show(out)["credBlob"]}
	for range 2 {
		r, s := k.getNextAssertion()
		if s != ctap.StatusOK {
			t.Fatalf("getNextAssertion: %v", s)
		}
		got = append(got, show(outputsOf(t, r.AuthData))["credBlob"])
	}
	if diff := cmp.Diff([]any{[]byte{}, []byte{}, []byte("blob")}, got); diff != "" {
		t.Errorf("blobs newest first (-want +got):\n%s", diff)
	}
}

// TestLargeBlobKeyAssertion checks §12.3: the key in member 0x07, the
// same as makeCredential's 0x05 and credentialManagement's.
func TestLargeBlobKeyAssertion(t *testing.T) {
	t.Parallel()
	k := newExtKey(t)
	req := mcReq("example.com", []byte{1}, true)
	req.Extensions = exts("largeBlobKey", true)
	mc, ad, s := k.mc(req, true)
	if s != ctap.StatusOK || len(mc.LargeBlobKey) != 32 || ad.Extensions != nil {
		t.Fatalf("makeCredential: %v %x", s, mc.LargeBlobKey)
	}
	plain := k.mustMC(2, true, nil)
	if !bytes.Equal(k.a.creds.all()[0].LargeBlobKey, mc.LargeBlobKey) {
		t.Error("stored key differs")
	}
	ga := gaReq("example.com", ad.AttestedCredential.CredentialID)
	ga.Extensions = exts("largeBlobKey", true)
	resp, out, s := k.ga(ga, false)
	if s != ctap.StatusOK || !bytes.Equal(resp.LargeBlobKey, mc.LargeBlobKey) || out != nil {
		t.Errorf("getAssertion: %v %x %v", s, resp.LargeBlobKey, out)
	}
	ga = gaReq("example.com", plain)
	ga.Extensions = exts("largeBlobKey", true)
	if resp, _, s := k.ga(ga, false); s != ctap.StatusOK || resp.LargeBlobKey != nil {
		t.Errorf("without a key: %v %x", s, resp.LargeBlobKey)
	}
	ga.Extensions = exts("largeBlobKey", false)
	if _, _, s := k.ga(ga, false); s != ctap.StatusInvalidOption {
		t.Errorf("false: %v", s)
	}
	ga.Extensions = exts("largeBlobKey", "true")
	if _, _, s := k.ga(ga, false); s != ctap.StatusCBORUnexpectedType {
		t.Errorf("text: %v", s)
	}
}

// TestMinPinLengthExtension checks §12.4 against setMinPINLength's RP
// IDs (§6.11.4).
func TestMinPinLengthExtension(t *testing.T) {
	t.Parallel()
	k := newExtKey(t)
	tok := k.p.mustToken(extPIN, ctap.PermissionAuthenticatorConfig, "")
	params := &ctap.SetMinPINLengthParams{NewMinPINLength: ptr[uint64](6), MinPinLengthRPIDs: []string{"example.com"}}
	if s := k.p.config(tok, ctap.ConfigSetMinPINLength, params); s != ctap.StatusOK {
		t.Fatalf("setMinPINLength: %v", s)
	}
	for _, tt := range []struct {
		rpID string
		in   any
		want map[string]any
	}{
		{"example.com", true, map[string]any{"minPinLength": uint64(6)}},
		{"example.com", false, nil},
		{"example.org", true, nil},
	} {
		req := mcReq(tt.rpID, []byte{1}, false)
		req.Extensions = exts("minPinLength", tt.in)
		resp, _, s := k.mc(req, false)
		if s != ctap.StatusOK {
			t.Fatalf("%s %v: %v", tt.rpID, tt.in, s)
		}
		if diff := cmp.Diff(tt.want, show(outputsOf(t, resp.AuthData))); diff != "" {
			t.Errorf("%s %v (-want +got):\n%s", tt.rpID, tt.in, diff)
		}
	}
}

// TestThirdPartyPaymentAssertion checks the CTAP 2.2 getAssertion output
// for both credential kinds.
func TestThirdPartyPaymentAssertion(t *testing.T) {
	t.Parallel()
	k := newExtKey(t)
	for _, rk := range []bool{true, false} {
		for _, flag := range []bool{true, false} {
			var in map[string]ctap.RawMessage
			if flag {
				in = exts("thirdPartyPayment", true)
			}
			id := k.mustMC(byte(k.a.creds.len()+10), rk, in)
			req := gaReq("example.com", id)
			req.Extensions = exts("thirdPartyPayment", true)
			_, out, s := k.ga(req, false)
			if s != ctap.StatusOK {
				t.Fatalf("getAssertion: %v", s)
			}
			if diff := cmp.Diff(map[string]any{"thirdPartyPayment": flag}, show(out)); diff != "" {
				t.Errorf("rk=%v flag=%v (-want +got):\n%s", rk, flag, diff)
			}
			req.Extensions = exts("thirdPartyPayment", false)
			if _, out, s := k.ga(req, false); s != ctap.StatusOK || out != nil {
				t.Errorf("false: %v %v", s, out)
			}
		}
	}
}
