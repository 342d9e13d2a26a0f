package devfuzz

import (
	"bytes"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// TestStableInfo: toggleAlwaysUv takes U2F_V2 out of getInfo's versions
// (CTAP 2.1 §7.2), which is no finding; another version, an extension or
// the AAGUID changing is.
func TestStableInfo(t *testing.T) {
	base := ctap.InfoResponse{
		Versions:   []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21},
		Extensions: []string{ctap.ExtHMACSecret},
		AAGUID:     make([]byte, 16),
		Options:    map[string]bool{ctap.OptionAlwaysUv: false},
	}
	stable := func(info ctap.InfoResponse) []byte {
		t.Helper()
		body, err := ctap.Marshal(&info)
		if err != nil {
			t.Fatal(err)
		}
		s, err := stableInfo(body)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := stable(base)
	alwaysUV := base
	alwaysUV.Versions = []string{ctap.VersionFIDO20, ctap.VersionFIDO21}
	alwaysUV.Options = map[string]bool{ctap.OptionAlwaysUv: true}
	if !bytes.Equal(stable(alwaysUV), want) {
		t.Error("U2F_V2 leaving versions under alwaysUv counts as a change")
	}
	for name, change := range map[string]func(*ctap.InfoResponse){
		"versions":   func(i *ctap.InfoResponse) { i.Versions = []string{ctap.VersionU2FV2, ctap.VersionFIDO20} },
		"extensions": func(i *ctap.InfoResponse) { i.Extensions = nil },
		"aaguid":     func(i *ctap.InfoResponse) { i.AAGUID = bytes.Repeat([]byte{1}, 16) },
	} {
		info := base
		change(&info)
		if bytes.Equal(stable(info), want) {
			t.Errorf("a change of %s is not seen", name)
		}
	}
}
