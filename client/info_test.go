package client

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/virtkey/virtkey/ctap"
)

func TestParseInfoEveryMember(t *testing.T) {
	t.Parallel()
	raw := ctap.InfoResponse{
		Versions:                         []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21},
		Extensions:                       []string{ctap.ExtCredProtect, ctap.ExtHMACSecret},
		AAGUID:                           testAAGUID[:],
		Options:                          map[string]bool{"rk": true, "up": true, "clientPin": false, "alwaysUv": false},
		MaxMsgSize:                       2048,
		PinUvAuthProtocols:               []uint64{2, 1},
		MaxCredentialCountInList:         8,
		MaxCredentialIDLength:            128,
		Transports:                       []string{"usb"},
		Algorithms:                       []ctap.CredentialParameter{{Type: "public-key", Alg: -7}, {Type: "public-key", Alg: -8}},
		MaxSerializedLargeBlobArray:      4096,
		ForcePINChange:                   boolp(true),
		MinPINLength:                     6,
		FirmwareVersion:                  0x010203,
		MaxCredBlobLength:                32,
		MaxRPIDsForSetMinPINLength:       2,
		PreferredPlatformUvAttempts:      3,
		UVModality:                       2,
		Certifications:                   map[string]uint64{"FIDO": 1},
		RemainingDiscoverableCredentials: u64(0),
		VendorPrototypeConfigCommands:    []uint64{0x1234},
		AttestationFormats:               []string{ctap.FormatPacked, ctap.FormatNone},
		UVCountSinceLastPinEntry:         u64(5),
		LongTouchForReset:                boolp(true),
		EncIdentifier:                    make([]byte, 32),
		TransportsForReset:               []string{"usb", "nfc"},
		PinComplexityPolicy:              boolp(false),
		PinComplexityPolicyURL:           []byte("https://example.com/policy"),
		MaxPINLength:                     32,
		EncCredStoreState:                make([]byte, 32),
		AuthenticatorConfigCommands:      []uint64{ctap.ConfigToggleAlwaysUv, ctap.ConfigSetMinPINLength},
	}
	body := mustMarshal(t, raw)
	got, err := ParseInfo(body)
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{
		Versions:                      raw.Versions,
		Extensions:                    raw.Extensions,
		AAGUID:                        testAAGUID,
		Options:                       raw.Options,
		MaxMsgSize:                    2048,
		PinUvProtocols:                []uint64{2, 1},
		MaxCredsInList:                8,
		MaxCredIDLength:               128,
		Transports:                    []string{"usb"},
		Algorithms:                    raw.Algorithms,
		MaxLargeBlob:                  4096,
		ForcePINChange:                true,
		MinPINLength:                  6,
		FirmwareVersion:               0x010203,
		MaxCredBlobLength:             32,
		MaxRPIDsForMinPIN:             2,
		PreferredPlatformUVAttempts:   3,
		UVModality:                    2,
		Certifications:                map[string]uint64{"FIDO": 1},
		RemainingDiscCreds:            u64(0),
		VendorPrototypeConfigCommands: []uint64{0x1234},
		AttestationFormats:            []string{"packed", "none"},
		UVCountSinceLastPINEntry:      u64(5),
		LongTouchForReset:             true,
		EncIdentifier:                 make([]byte, 32),
		TransportsForReset:            []string{"usb", "nfc"},
		PinComplexityPolicy:           boolp(false),
		PinComplexityPolicyURL:        []byte("https://example.com/policy"),
		MaxPINLength:                  32,
		EncCredStoreState:             make([]byte, 32),
		AuthenticatorConfigCommands:   []uint64{2, 3},
		Raw:                           raw,
		Encoded:                       body,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Info{})); diff != "" {
		t.Errorf("ParseInfo (-want +got):\n%s", diff)
	}
	for k := InfoVersions; k <= InfoAuthenticatorConfigCommands; k++ {
		if !got.HasMember(k) {
			t.Errorf("HasMember(0x%02x) = false", k)
		}
	}
	if got.HasMember(0x20) {
		t.Error("HasMember(0x20) = true")
	}
	if !got.Supports(ctap.VersionU2FV2) || got.Supports(ctap.VersionFIDO22) {
		t.Error("Supports is wrong")
	}
	if !got.HasExtension(ctap.ExtHMACSecret) || got.HasExtension(ctap.ExtCredBlob) {
		t.Error("HasExtension is wrong")
	}
	for _, tt := range []struct {
		name           string
		value, present bool
	}{{"rk", true, true}, {"clientPin", false, true}, {"uv", false, false}} {
		v, p := got.Option(tt.name)
		if v != tt.value || p != tt.present {
			t.Errorf("Option(%q) = %v, %v; want %v, %v", tt.name, v, p, tt.value, tt.present)
		}
	}
}

func TestParseInfoDefaults(t *testing.T) {
	t.Parallel()
	body := minimalInfoBody(t)
	got, err := ParseInfo(body)
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{
		Versions:     []string{ctap.VersionFIDO20, ctap.VersionFIDO21},
		AAGUID:       testAAGUID,
		MaxMsgSize:   DefaultMaxMsgSize,
		MinPINLength: DefaultMinPINLength,
		MaxPINLength: DefaultMaxPINLength,
		// attestationFormats absent: packed is assumed (CTAP 2.2 §6.4).
		AttestationFormats: []string{"packed"},
		Raw:                ctap.InfoResponse{Versions: []string{ctap.VersionFIDO20, ctap.VersionFIDO21}, AAGUID: testAAGUID[:]},
		Encoded:            body,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Info{})); diff != "" {
		t.Errorf("ParseInfo (-want +got):\n%s", diff)
	}
	if got.MinPINLength != 4 {
		t.Errorf("MinPINLength = %d, want 4", got.MinPINLength)
	}
	if got.HasMember(InfoMinPINLength) || got.HasMember(InfoOptions) || !got.HasMember(InfoAAGUID) {
		t.Error("HasMember is wrong")
	}
	if v, p := got.Option("rk"); v || p {
		t.Errorf("Option(rk) on no options = %v, %v", v, p)
	}
	// An explicit false and zero are kept apart from absence.
	got, err = ParseInfo(mustMarshal(t, map[int]any{1: []string{"FIDO_2_0"}, 3: testAAGUID[:], 12: false, 20: 0}))
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasMember(InfoForcePINChange) || got.ForcePINChange || got.RemainingDiscCreds == nil || *got.RemainingDiscCreds != 0 {
		t.Errorf("explicit false/zero lost: %+v", got)
	}
}

func TestParseInfoErrors(t *testing.T) {
	t.Parallel()
	aaguid := testAAGUID[:]
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"not a map", mustMarshal(t, []int{1})},
		{"string keys", mustMarshal(t, map[string]any{"1": []string{"FIDO_2_0"}})},
		{"no versions", mustMarshal(t, map[int]any{3: aaguid})},
		{"no aaguid", mustMarshal(t, map[int]any{1: []string{"FIDO_2_0"}})},
		{"short aaguid", mustMarshal(t, map[int]any{1: []string{"FIDO_2_0"}, 3: aaguid[:15]})},
		{"versions not strings", mustMarshal(t, map[int]any{1: []int{2}, 3: aaguid})},
		{"option not bool", mustMarshal(t, map[int]any{1: []string{"FIDO_2_0"}, 3: aaguid, 4: map[string]int{"rk": 1}})},
		{"negative maxMsgSize", mustMarshal(t, map[int]any{1: []string{"FIDO_2_0"}, 3: aaguid, 5: -1})},
		{"trailing", append(minimalInfoBody(t), 0)},
		{"truncated", minimalInfoBody(t)[:10]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, err := ParseInfo(tt.body)
			if !errors.Is(err, ErrBadResponse) || info != nil {
				t.Errorf("ParseInfo = %v, %v; want nil, ErrBadResponse", info, err)
			}
		})
	}
}
