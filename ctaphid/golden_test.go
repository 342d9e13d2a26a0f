package ctaphid

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// transcriptDevice records the reports crossing the host end of a link.
type transcriptDevice struct {
	ReportDevice
	mu    sync.Mutex
	lines []string
}

func (d *transcriptDevice) record(dir string, r []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, dir+hex.EncodeToString(r))
}

func (d *transcriptDevice) ReadReport() ([]byte, error) {
	r, err := d.ReportDevice.ReadReport()
	if err == nil {
		d.record("<<< ", r)
	}
	return r, err
}

func (d *transcriptDevice) WriteReport(r []byte) error {
	d.record(">>> ", r)
	return d.ReportDevice.WriteReport(r)
}

// TestGoldenTranscript pins the reports of an INIT and a two-packet CBOR
// exchange. Regenerate with go test -run TestGoldenTranscript -update.
func TestGoldenTranscript(t *testing.T) {
	t.Parallel()
	dev, host := Pipe()
	rec := &transcriptDevice{ReportDevice: host}
	cfg := testConfig(newFakeClock())
	cfg.Version = [3]byte{5, 4, 0}
	h := &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		// A status byte and a made-up 80-byte body.
		return append([]byte{0x00}, bytes.Repeat([]byte{0xa5}, 80)...)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, dev, h, cfg) }()

	nonce := []byte{0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71}
	c, err := Open(ctx, rec, bytes.NewReader(nonce))
	if err != nil {
		t.Fatal(err)
	}
	req := append([]byte{0x01}, seqBytes(99)...) // a 100-byte authenticatorMakeCredential stand-in
	if _, err := c.Call(ctx, CmdCBOR, req, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	cancel()
	<-errc

	got := "# CTAPHID INIT on the broadcast channel, then a 100-byte CTAPHID_CBOR request and its 81-byte response.\n" +
		"# >>> host to device, <<< device to host; one 64-byte report per line.\n" +
		strings.Join(rec.lines, "\n") + "\n"
	path := filepath.Join("testdata", "init_cbor.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("transcript differs from %s (run with -update if the change is intended):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
