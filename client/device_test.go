package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// fixedInfo is the getInfo body of testHandler: {1: ["FIDO_2_0",
// "FIDO_2_1"], 3: testAAGUID, 4: {"rk": true, "up": true}, 5: 1200}.
var fixedInfo, _ = hex.DecodeString("a40182684649444f5f325f30684649444f5f325f310350766972746b65792d746573740000000104a262726bf5627570f5051904b0")

// testHandler is a tiny ctaphid.Handler: getInfo answers fixedInfo,
// selection asks for a touch and waits for release, reset waits for
// cancellation; anything else is an invalid command.
type testHandler struct {
	release chan struct{}
}

func newTestHandler() *testHandler { return &testHandler{release: make(chan struct{})} }

func (h *testHandler) HandleCBOR(ctx context.Context, req []byte) []byte {
	switch ctap.Command(req[0]) {
	case ctap.CmdGetInfo:
		return append([]byte{byte(ctap.StatusOK)}, fixedInfo...)
	case ctap.CmdSelection:
		ctaphid.SetKeepaliveStatus(ctx, ctaphid.StatusUPNeeded)
		select {
		case <-h.release:
			return []byte{byte(ctap.StatusOK)}
		case <-ctx.Done():
			return []byte{byte(ctap.StatusKeepaliveCancel)}
		}
	case ctap.CmdReset:
		<-ctx.Done()
		return []byte{byte(ctap.StatusKeepaliveCancel)}
	}
	return []byte{byte(ctap.StatusInvalidCommand)}
}

func (h *testHandler) HandleMsg(context.Context, []byte) ([]byte, error) {
	return nil, ctaphid.ErrInvalidCmd
}

func wantFixedInfo(t *testing.T, info *Info) {
	t.Helper()
	want := struct {
		Versions   []string
		AAGUID     [16]byte
		Options    map[string]bool
		MaxMsgSize uint64
		MinPIN     uint64
	}{[]string{"FIDO_2_0", "FIDO_2_1"}, testAAGUID, map[string]bool{"rk": true, "up": true}, 1200, 4}
	got := want
	got.Versions, got.AAGUID, got.Options, got.MaxMsgSize, got.MinPIN = info.Versions, info.AAGUID, info.Options, info.MaxMsgSize, info.MinPINLength
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	if !bytes.Equal(info.Encoded, fixedInfo) {
		t.Errorf("Encoded = %x", info.Encoded)
	}
}

func TestFixedInfoIsCanonical(t *testing.T) {
	t.Parallel()
	if !ctap.IsCanonical(fixedInfo) {
		t.Fatal("fixedInfo is not canonical")
	}
}

func TestOpenInProcess(t *testing.T) {
	t.Parallel()
	openCtx, cancelOpen := context.WithTimeout(context.Background(), 10*time.Second)
	h := newTestHandler()
	d, err := OpenInProcess(openCtx, h, &ctaphid.ServerConfig{KeepaliveInterval: 5 * time.Millisecond, Version: [3]byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	cancelOpen() // the device outlives the context it was opened with
	defer d.Close()
	if got := d.Conn().Info().Version; got != [3]byte{1, 2, 3} {
		t.Errorf("device version %v", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	wantFixedInfo(t, c.Info())

	// A status travels through the framing as an error.
	if err := c.SendCBOR(ctx, ctap.CmdConfig, nil, nil); !errors.Is(err, ctap.StatusInvalidCommand) {
		t.Errorf("config: %v, want CTAP1_ERR_INVALID_COMMAND", err)
	}

	// Keepalives reach the callback; UPNEEDED is the cue to touch.
	var (
		mu   sync.Mutex
		seen []ctaphid.KeepaliveStatus
		once sync.Once
	)
	err = c.Selection(ctx, WithKeepalive(func(s ctaphid.KeepaliveStatus) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
		if s == ctaphid.StatusUPNeeded {
			once.Do(func() { close(h.release) })
		}
	}))
	if err != nil {
		t.Fatalf("selection: %v", err)
	}
	mu.Lock()
	if len(seen) == 0 || seen[len(seen)-1] != ctaphid.StatusUPNeeded {
		t.Errorf("keepalives %v, want ending with UPNEEDED", seen)
	}
	mu.Unlock()

	// Cancelling the context sends CTAPHID_CANCEL; the authenticator's
	// KEEPALIVE_CANCEL answer comes back with the context error.
	rctx, rcancel := context.WithCancel(ctx)
	var cancelOnce sync.Once
	err = c.Reset(rctx, WithKeepalive(func(ctaphid.KeepaliveStatus) { cancelOnce.Do(rcancel) }))
	rcancel()
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ctap.StatusKeepaliveCancel) {
		t.Errorf("cancelled reset: %v, want context.Canceled and CTAP2_ERR_KEEPALIVE_CANCEL", err)
	}
	st, _, err := c.SendRaw(ctx, ctap.CmdGetInfo, nil)
	if err != nil || st != ctap.StatusOK {
		t.Errorf("getInfo after cancel: %v, %v", st, err)
	}
	if _, err := d.Conn().Ping(ctx, []byte("ping")); err != nil {
		t.Errorf("ping: %v", err)
	}

	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.GetInfo(ctx); err == nil {
		t.Error("getInfo after Close succeeded")
	}
}

func TestOpenUDP(t *testing.T) {
	t.Parallel()
	dev, err := ctaphid.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dev.(interface{ LocalAddr() net.Addr }).LocalAddr().String()
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ctaphid.Serve(serveCtx, dev, newTestHandler(), nil) }()
	defer func() {
		stopServe()
		if err := <-served; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := OpenUDP(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	wantFixedInfo(t, c.Info())
	if _, err := c.GetAssertion(ctx, testGARequest()); !errors.Is(err, ctap.StatusInvalidCommand) {
		t.Errorf("getAssertion: %v, want CTAP1_ERR_INVALID_COMMAND", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestOpenDeviceFails(t *testing.T) {
	t.Parallel()
	_, host := ctaphid.Pipe() // nobody serves the device end
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := OpenDevice(ctx, host); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("OpenDevice: %v, want deadline exceeded", err)
	}
	if _, err := OpenUDP(ctx, "not an address"); err == nil {
		t.Error("OpenUDP with a bad address succeeded")
	}
}
