package profile_test

import (
	"slices"
	"testing"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/profile"
)

// TestSwitches checks each switch both ways on the key's getInfo.
func TestSwitches(t *testing.T) {
	off, on := profile.Bool(false), profile.Bool(true)
	tests := []struct {
		name  string
		base  string
		sw    profile.Switches
		check func(t *testing.T, info *ctap.InfoResponse)
	}{
		{"no rk", "fido21", profile.Switches{ResidentKey: off}, func(t *testing.T, info *ctap.InfoResponse) {
			_, cm := info.Options[ctap.OptionCredMgmt]
			if info.Options[ctap.OptionRK] || cm || slices.Contains(info.Extensions, ctap.ExtCredBlob) || slices.Contains(info.Extensions, ctap.ExtLargeBlobKey) {
				t.Errorf("options %v extensions %v", info.Options, info.Extensions)
			}
		}},
		{"rk", "fido21-nork", profile.Switches{ResidentKey: on}, func(t *testing.T, info *ctap.InfoResponse) {
			if !info.Options[ctap.OptionRK] {
				t.Errorf("options %v", info.Options)
			}
		}},
		{"uv", "fido21", profile.Switches{UserVerification: on}, func(t *testing.T, info *ctap.InfoResponse) {
			if !info.Options[ctap.OptionUV] {
				t.Errorf("options %v", info.Options)
			}
		}},
		{"no uv", "fido21-bio", profile.Switches{UserVerification: off}, func(t *testing.T, info *ctap.InfoResponse) {
			_, uv := info.Options[ctap.OptionUV]
			_, be := info.Options[ctap.OptionBioEnroll]
			if uv || be || !info.Options[ctap.OptionPinUvAuthToken] {
				t.Errorf("options %v", info.Options)
			}
		}},
		{"no large blob", "fido21", profile.Switches{LargeBlob: off}, func(t *testing.T, info *ctap.InfoResponse) {
			if _, lb := info.Options[ctap.OptionLargeBlobs]; lb || slices.Contains(info.Extensions, ctap.ExtLargeBlobKey) {
				t.Errorf("options %v extensions %v", info.Options, info.Extensions)
			}
		}},
		{"no credBlob, minPinLength, prf", "fido21", profile.Switches{CredBlob: off, MinPinLength: off, Prf: off}, func(t *testing.T, info *ctap.InfoResponse) {
			want := []string{ctap.ExtCredProtect, ctap.ExtLargeBlobKey, ctap.ExtThirdPartyPayment}
			if !slices.Equal(info.Extensions, want) || info.MaxCredBlobLength != 0 {
				t.Errorf("extensions %v maxCredBlobLength %d, want %v", info.Extensions, info.MaxCredBlobLength, want)
			}
		}},
		{"prf off then on, 2.0", "fido20-pin", profile.Switches{Prf: on}, func(t *testing.T, info *ctap.InfoResponse) {
			if !slices.Equal(info.Extensions, []string{ctap.ExtHMACSecret}) {
				t.Errorf("extensions %v", info.Extensions)
			}
		}},
		{"no u2f", "fido21", profile.Switches{U2F: off}, func(t *testing.T, info *ctap.InfoResponse) {
			want := []string{ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21}
			if !slices.Equal(info.Versions, want) {
				t.Errorf("versions %v, want %v", info.Versions, want)
			}
		}},
		{"u2f back", "fido21", profile.Switches{U2F: on}, func(t *testing.T, info *ctap.InfoResponse) {
			want := []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21}
			if !slices.Equal(info.Versions, want) {
				t.Errorf("versions %v", info.Versions)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := profile.MustLookup(tt.base)
			tt.sw.Apply(&p)
			tt.check(t, getInfo(t, p))
		})
	}
	p := profile.MustLookup("fido20-pin")
	profile.Switches{LargeBlob: on}.Apply(&p)
	if _, err := newKey(p); err == nil {
		t.Error("hasLargeBlob on a CTAP 2.0 key: New accepted it")
	}
}
