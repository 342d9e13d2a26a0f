package ctap

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLargeBlobsAuthMessage(t *testing.T) {
	got := LargeBlobsAuthMessage(0x01020304, []byte("abc"))
	h := sha256.Sum256([]byte("abc"))
	want := append(append(bytes.Repeat([]byte{0xff}, 32), 0x0c, 0x00, 0x04, 0x03, 0x02, 0x01), h[:]...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestConfigAuthMessage(t *testing.T) {
	got := ConfigAuthMessage(ConfigSetMinPINLength, []byte{0xa1, 0x01, 0x06})
	want := append(bytes.Repeat([]byte{0xff}, 32), 0x0d, 0x03, 0xa1, 0x01, 0x06)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
