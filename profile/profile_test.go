package profile_test

import (
	"context"
	"slices"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/profile"
)

func newKey(p profile.Profile) (*authenticator.Authenticator, error) {
	return authenticator.New(p.Config)
}

// getInfo builds a key of p and decodes its getInfo.
func getInfo(t *testing.T, p profile.Profile) *ctap.InfoResponse {
	t.Helper()
	key, err := authenticator.New(p.Config)
	if err != nil {
		t.Fatalf("%s: New: %v", p.Name, err)
	}
	st, body := key.Handle(context.Background(), ctap.CmdGetInfo, nil)
	if st != ctap.StatusOK {
		t.Fatalf("%s: getInfo: %v", p.Name, st)
	}
	var info ctap.InfoResponse
	if err := ctap.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	return &info
}

// TestNamesAndAAGUIDs pins the names and AAGUIDs users rely on: a
// relying party's allow list or a metadata lookup keys on them.
func TestNamesAndAAGUIDs(t *testing.T) {
	want := map[string]string{
		"fido21":       "4c5b694ae1614df0b57d35fca987afc6",
		"fido21-bio":   "bd61cc2f6d0345a68bda117076f27545",
		"fido21-uv":    "e8e6e3f752204681be0046b4302499fb",
		"fido20-pin":   "e4e46a83df8b478289803c46ecaef4bc",
		"fido21-nork":  "7a3a1f0c5d8e4b6f9c213e4d5f60718a",
		"fido21-es256": "2c9e84b147d34a0e8f65d1b7a9c30e52",
		"passkey":      "93b6c5e20a414d7cb8e96f2d15a47c30",
		"fido22":       "5f0b8d3ac6e14f92a7d408e3b1c95a6e",
		"fido22-uv":    "617b15b7b5f84e7e97b695d31680744b",
	}
	if got := profile.Names(); got[0] != profile.Default {
		t.Errorf("Names()[0] = %s, want the default %s", got[0], profile.Default)
	}
	for _, p := range profile.All() {
		if !p.CTAP2 {
			continue
		}
		info := getInfo(t, p)
		if got := ctapHex(info.AAGUID); got != want[p.Name] {
			t.Errorf("%s: AAGUID %s, want %s", p.Name, got, want[p.Name])
		}
		delete(want, p.Name)
	}
	if len(want) > 0 {
		t.Errorf("profiles missing: %v", want)
	}
	if _, ok := profile.Lookup("u2f"); !ok {
		t.Error("no u2f profile")
	}
}

func ctapHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestProfilesAreConfigs checks that each profile's getInfo is what its
// Config says, computed by the key, not written by the profile.
func TestProfilesAreConfigs(t *testing.T) {
	tests := []struct {
		name       string
		versions   []string
		protocols  []uint64
		rk         bool
		credMgmt   bool
		algorithms int
		ctap20     bool
	}{
		{name: "fido21", versions: []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"}, protocols: []uint64{2, 1}, rk: true, credMgmt: true, algorithms: 4},
		{name: "fido22", versions: []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1", "FIDO_2_2"}, protocols: []uint64{2, 1}, rk: true, credMgmt: true, algorithms: 4},
		{name: "fido22-uv", versions: []string{"FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1", "FIDO_2_2"}, protocols: []uint64{2, 1}, rk: true, credMgmt: true, algorithms: 4},
		{name: "fido21-nork", versions: []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"}, protocols: []uint64{2, 1}, algorithms: 4},
		{name: "fido21-es256", versions: []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"}, protocols: []uint64{2, 1}, rk: true, credMgmt: true, algorithms: 1},
		{name: "fido20-pin", versions: []string{"U2F_V2", "FIDO_2_0"}, protocols: []uint64{1}, rk: true, ctap20: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := getInfo(t, profile.MustLookup(tt.name))
			if !slices.Equal(info.Versions, tt.versions) {
				t.Errorf("versions %v, want %v", info.Versions, tt.versions)
			}
			if !slices.Equal(info.PinUvAuthProtocols, tt.protocols) {
				t.Errorf("pinUvAuthProtocols %v, want %v", info.PinUvAuthProtocols, tt.protocols)
			}
			if info.Options[ctap.OptionRK] != tt.rk {
				t.Errorf("rk %v, want %v", info.Options[ctap.OptionRK], tt.rk)
			}
			if _, ok := info.Options[ctap.OptionCredMgmt]; ok != tt.credMgmt {
				t.Errorf("credMgmt present %v, want %v", ok, tt.credMgmt)
			}
			if len(info.Algorithms) != tt.algorithms {
				t.Errorf("algorithms %v, want %d", info.Algorithms, tt.algorithms)
			}
			if tt.ctap20 {
				// CTAP 2.0 §5.4: members 0x01 to 0x06 only, hmac-secret
				// the one extension.
				if info.MaxCredentialCountInList != 0 || info.Transports != nil || info.Algorithms != nil ||
					info.MinPINLength != 0 || info.ForcePINChange != nil || info.FirmwareVersion != 0 {
					t.Errorf("CTAP 2.1 members in a CTAP 2.0 getInfo: %+v", info)
				}
				if !slices.Equal(info.Extensions, []string{ctap.ExtHMACSecret}) {
					t.Errorf("extensions %v, want [hmac-secret]", info.Extensions)
				}
				for o := range info.Options {
					if !slices.Contains([]string{"rk", "up", "plat", "clientPin", "uv"}, o) {
						t.Errorf("option %s in a CTAP 2.0 getInfo", o)
					}
				}
			}
		})
	}
}

// TestProfilesDoNotShare checks that a caller changing a profile's Config
// does not change the next lookup's.
func TestProfilesDoNotShare(t *testing.T) {
	p := profile.MustLookup("fido21")
	p.Config.Versions[0] = "changed"
	if q := profile.MustLookup("fido21"); q.Config.Versions[0] != ctap.VersionU2FV2 {
		t.Errorf("Versions[0] = %q after a caller changed its copy", q.Config.Versions[0])
	}
}
