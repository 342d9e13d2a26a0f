package ctaphid

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testFirstCID is the first channel Serve allocates in tests: the tests'
// ServerConfig.Rand yields its four bytes.
const testFirstCID uint32 = 0xcafe0001

// Durations of the test server; distinct so that fakeClock.take can tell the
// timers apart.
const (
	testKeepalive = 100 * time.Millisecond
	testTimeout   = 3 * time.Second
)

// safetyTimeout only turns a hang into a test failure; no test waits for it.
const safetyTimeout = 10 * time.Second

// fakeClock is a ServerConfig.After that fires only when a test says so.
type fakeClock struct {
	mu      sync.Mutex
	pending []*fakeTimer
	added   chan struct{} // capacity 1: a timer was added
}

type fakeTimer struct {
	d time.Duration
	c chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{added: make(chan struct{}, 1)} }

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	t := &fakeTimer{d: d, c: make(chan time.Time, 1)}
	f.mu.Lock()
	f.pending = append(f.pending, t)
	f.mu.Unlock()
	select {
	case f.added <- struct{}{}:
	default:
	}
	return t.c
}

// take waits for the oldest timer of duration d not yet taken and removes it.
func (f *fakeClock) take(t *testing.T, d time.Duration) *fakeTimer {
	t.Helper()
	deadline := time.After(safetyTimeout)
	for {
		f.mu.Lock()
		for i, ft := range f.pending {
			if ft.d == d {
				f.pending = append(f.pending[:i], f.pending[i+1:]...)
				f.mu.Unlock()
				return ft
			}
		}
		f.mu.Unlock()
		select {
		case <-f.added:
		case <-deadline:
			t.Fatalf("no %v timer was started", d)
		}
	}
}

func (ft *fakeTimer) fire() { ft.c <- time.Time{} }

// fakeHandler is a Handler made of functions; nil functions echo.
type fakeHandler struct {
	cbor func(ctx context.Context, req []byte) []byte
	msg  func(ctx context.Context, req []byte) ([]byte, error)
}

func (h *fakeHandler) HandleCBOR(ctx context.Context, req []byte) []byte {
	if h.cbor == nil {
		return append([]byte{0x00}, req...)
	}
	return h.cbor(ctx, req)
}

func (h *fakeHandler) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	if h.msg == nil {
		return append(append([]byte(nil), req...), 0x90, 0x00), nil
	}
	return h.msg(ctx, req)
}

// winkHandler is a fakeHandler that also winks.
type winkHandler struct {
	fakeHandler
	winks chan struct{}
}

func (h *winkHandler) Wink() { h.winks <- struct{}{} }

// testServer is Serve running over a Pipe with a fake clock.
type testServer struct {
	t     *testing.T
	host  ReportDevice
	clock *fakeClock
	out   chan []byte
}

func testConfig(clock *fakeClock) *ServerConfig {
	return &ServerConfig{
		Version:            [3]byte{1, 2, 3},
		KeepaliveInterval:  testKeepalive,
		TransactionTimeout: testTimeout,
		After:              clock.After,
		Rand:               bytes.NewReader([]byte{0xca, 0xfe, 0x00, 0x01}),
		Logf: func(format string, args ...any) {
		},
	}
}

func startServer(t *testing.T, h Handler) *testServer {
	t.Helper()
	dev, host := Pipe()
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.Logf = t.Logf
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, dev, h, cfg) }()
	ts := &testServer{t: t, host: host, clock: clock, out: make(chan []byte, 1024)}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			r, err := host.ReadReport()
			if err != nil {
				return
			}
			ts.out <- r
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v, want context.Canceled", err)
		}
		host.Close()
		<-readerDone
	})
	return ts
}

func (ts *testServer) write(reports ...[]byte) {
	ts.t.Helper()
	for _, r := range reports {
		if err := ts.host.WriteReport(r); err != nil {
			ts.t.Fatalf("WriteReport: %v", err)
		}
	}
}

func (ts *testServer) read() []byte {
	ts.t.Helper()
	select {
	case r := <-ts.out:
		return r
	case <-time.After(safetyTimeout):
		ts.t.Fatal("no report from the device")
		return nil
	}
}

// expect reads len(want) reports and compares them with want.
func (ts *testServer) expect(want ...[]byte) {
	ts.t.Helper()
	for i, w := range want {
		got := ts.read()
		if !bytes.Equal(got, w) {
			ts.t.Fatalf("report %d:\n got %x\nwant %x", i, got, w)
		}
	}
}

// allocate runs CTAPHID_INIT on the broadcast channel and returns the new
// channel.
func (ts *testServer) allocate() uint32 {
	ts.t.Helper()
	nonce := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	ts.write(InitPacket(BroadcastCID, CmdInit, 8, nonce))
	p, err := ParsePacket(ts.read())
	if err != nil || !p.Init || p.CID != BroadcastCID || p.Cmd != CmdInit || !bytes.Equal(p.Data[:8], nonce) {
		ts.t.Fatalf("bad INIT response %+v, %v", p, err)
	}
	return uint32(p.Data[8])<<24 | uint32(p.Data[9])<<16 | uint32(p.Data[10])<<8 | uint32(p.Data[11])
}

// barrier sends a PING on cid and expects its echo as the next report: the
// device produced nothing for what was sent before.
func (ts *testServer) barrier(cid uint32) {
	ts.t.Helper()
	ts.write(InitPacket(cid, CmdPing, 3, []byte("bar")))
	ts.expect(InitPacket(cid, CmdPing, 3, []byte("bar")))
}

// pingUntilIdle pings cid until the device no longer answers busy: for
// state changes with no output of their own (a handler that returned after
// its response was discarded, a lock that expired).
func (ts *testServer) pingUntilIdle(cid uint32) {
	ts.t.Helper()
	busy := errorPacket(cid, ErrChannelBusy)
	deadline := time.Now().Add(safetyTimeout)
	for time.Now().Before(deadline) {
		ts.write(InitPacket(cid, CmdPing, 1, []byte{'p'}))
		got := ts.read()
		if bytes.Equal(got, busy) {
			continue
		}
		if want := InitPacket(cid, CmdPing, 1, []byte{'p'}); !bytes.Equal(got, want) {
			ts.t.Fatalf("got %x, want %x", got, want)
		}
		return
	}
	ts.t.Fatal("device stayed busy")
}

// unhex decodes hex with spaces ignored and zero-pads it to a report.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	if len(b) > ReportSize {
		t.Fatalf("hex %q is %d bytes, more than a report", s, len(b))
	}
	r := make([]byte, ReportSize)
	copy(r, b)
	return r
}

func seqBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// runPending runs the handler call the last report asked for, if any, on
// the calling goroutine, as the loop's goroutine does, and sends its
// response.
func (s *server) runPending() error {
	j := s.pending
	if j == nil {
		return nil
	}
	s.pending = nil
	return s.runJob(j)
}
