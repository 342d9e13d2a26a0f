package ctaphid

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestServeInit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &fakeHandler{})
	ts.write(unhex(t, "ffffffff 86 0008 0102030405060708"))
	// nonce | CID | protocol 2 | version 1.2.3 | capabilities CBOR
	ts.expect(unhex(t, "ffffffff 86 0011 0102030405060708 cafe0001 02 010203 04"))
	ts.write(unhex(t, "ffffffff 86 0008 a1a2a3a4a5a6a7a8"))
	ts.expect(unhex(t, "ffffffff 86 0011 a1a2a3a4a5a6a7a8 cafe0002 02 010203 04"))
	// Resynchronising INIT on an allocated channel answers on that channel.
	ts.write(unhex(t, "cafe0001 86 0008 1112131415161718"))
	ts.expect(unhex(t, "cafe0001 86 0011 1112131415161718 cafe0001 02 010203 04"))
}

func TestServeInitWinkCapability(t *testing.T) {
	t.Parallel()
	h := &winkHandler{winks: make(chan struct{}, 1)}
	ts := startServer(t, h)
	ts.write(unhex(t, "ffffffff 86 0008 0102030405060708"))
	ts.expect(unhex(t, "ffffffff 86 0011 0102030405060708 cafe0001 02 010203 05"))
	ts.write(unhex(t, "cafe0001 88 0000"))
	ts.expect(unhex(t, "cafe0001 88 0000"))
	select {
	case <-h.winks:
	default:
		t.Error("Wink was not called")
	}
}

func TestServeAllocationWraps(t *testing.T) {
	t.Parallel()
	s, err := newServer(nil, &fakeHandler{}, &ServerConfig{Rand: bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xfe})})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for range 3 {
		got = append(got, s.allocate(netip.AddrPort{}))
	}
	if want := []uint32{0xfffffffe, 1, 2}; !equalUint32(got, want) {
		t.Errorf("allocated %08x, want %08x", got, want)
	}
	for cid, want := range map[uint32]bool{0: false, 1: true, 2: true, 3: false, 0xfffffffe: true, 0xfffffffd: false, BroadcastCID: false} {
		if s.allocated(cid) != want {
			t.Errorf("allocated(%08x) = %v, want %v", cid, !want, want)
		}
	}
}

func equalUint32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestServeErrors checks each error answer byte for byte. Every case runs
// after one INIT, which allocated cafe0001, and must leave the device idle.
func TestServeErrors(t *testing.T) {
	t.Parallel()
	errOther := errors.New("disk on fire")
	tests := []struct {
		name  string
		h     Handler
		send  []string
		want  []string
		alloc int // extra channels to allocate first
	}{
		{
			name: "PING on broadcast",
			send: []string{"ffffffff 81 0001 00"},
			want: []string{"ffffffff bf 0001 0b"},
		},
		{
			name: "PING on CID 0",
			send: []string{"00000000 81 0001 00"},
			want: []string{"00000000 bf 0001 0b"},
		},
		{
			name: "CBOR on an unallocated channel",
			send: []string{"cafe0002 90 0001 04"},
			want: []string{"cafe0002 bf 0001 0b"},
		},
		{
			name: "INIT on an unallocated channel",
			send: []string{"12345678 86 0008 0102030405060708"},
			want: []string{"12345678 bf 0001 0b"},
		},
		{
			name: "INIT on CID 0",
			send: []string{"00000000 86 0008 0102030405060708"},
			want: []string{"00000000 bf 0001 0b"},
		},
		{
			name: "INIT with a 7-byte nonce",
			send: []string{"ffffffff 86 0007 01020304050607"},
			want: []string{"ffffffff bf 0001 03"},
		},
		{
			name: "INIT with a 9-byte nonce on a channel",
			send: []string{"cafe0001 86 0009 010203040506070809"},
			want: []string{"cafe0001 bf 0001 03"},
		},
		{
			name: "message longer than 7609 bytes",
			send: []string{"cafe0001 81 1dba"},
			want: []string{"cafe0001 bf 0001 03"},
		},
		{
			name: "empty CBOR",
			send: []string{"cafe0001 90 0000"},
			want: []string{"cafe0001 bf 0001 03"},
		},
		{
			name: "empty MSG",
			send: []string{"cafe0001 83 0000"},
			want: []string{"cafe0001 bf 0001 03"},
		},
		{
			name: "LOCK without a time",
			send: []string{"cafe0001 84 0000"},
			want: []string{"cafe0001 bf 0001 03"},
		},
		{
			name: "LOCK with two bytes",
			send: []string{"cafe0001 84 0002 0101"},
			want: []string{"cafe0001 bf 0001 03"},
		},
		{
			name: "LOCK for 11 seconds",
			send: []string{"cafe0001 84 0001 0b"},
			want: []string{"cafe0001 bf 0001 02"},
		},
		{
			name: "WINK with a payload",
			h:    &winkHandler{winks: make(chan struct{}, 1)},
			send: []string{"cafe0001 88 0001 00"},
			want: []string{"cafe0001 bf 0001 03"},
		},
		{
			name: "continuation with the wrong sequence number",
			send: []string{"cafe0001 81 0064 00", "cafe0001 01 00"},
			want: []string{"cafe0001 bf 0001 04"},
		},
		{
			name: "initialization packet where a continuation was due",
			send: []string{"cafe0001 81 0064 00", "cafe0001 81 0001 00"},
			want: []string{"cafe0001 bf 0001 04"},
		},
		{
			name: "vendor command",
			send: []string{"cafe0001 c1 0000"},
			want: []string{"cafe0001 bf 0001 01"},
		},
		{
			name: "KEEPALIVE from the host",
			send: []string{"cafe0001 bb 0001 01"},
			want: []string{"cafe0001 bf 0001 01"},
		},
		{
			name: "ERROR from the host",
			send: []string{"cafe0001 bf 0001 01"},
			want: []string{"cafe0001 bf 0001 01"},
		},
		{
			name: "WINK without a Winker",
			send: []string{"cafe0001 88 0000"},
			want: []string{"cafe0001 bf 0001 01"},
		},
		{
			name: "MSG handler without CTAP1",
			h: &fakeHandler{msg: func(context.Context, []byte) ([]byte, error) {
				return nil, ErrInvalidCmd
			}},
			send: []string{"cafe0001 83 0007 00010300000000"},
			want: []string{"cafe0001 bf 0001 01"},
		},
		{
			name: "MSG handler failing",
			h: &fakeHandler{msg: func(context.Context, []byte) ([]byte, error) {
				return nil, errOther
			}},
			send: []string{"cafe0001 83 0007 00010300000000"},
			want: []string{"cafe0001 bf 0001 7f"},
		},
		{
			name: "CBOR handler answering too much",
			h: &fakeHandler{cbor: func(context.Context, []byte) []byte {
				return make([]byte, MaxMessageSize+1)
			}},
			send: []string{"cafe0001 90 0001 04"},
			want: []string{"cafe0001 bf 0001 7f"},
		},
		{
			name:  "PING from another channel during a message",
			alloc: 1,
			send:  []string{"cafe0001 81 0040 00", "cafe0002 81 0001 00", "cafe0001 00 00"},
			want: []string{"cafe0002 bf 0001 06",
				"cafe0001 81 0040", "cafe0001 00"},
		},
		{
			name:  "continuation from another channel during a message is ignored",
			alloc: 1,
			send:  []string{"cafe0001 81 0040 00", "cafe0002 00 00", "cafe0001 00 00"},
			want:  []string{"cafe0001 81 0040", "cafe0001 00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.h
			if h == nil {
				h = &fakeHandler{}
			}
			ts := startServer(t, h)
			cid := ts.allocate()
			for range tt.alloc {
				ts.allocate()
			}
			for _, s := range tt.send {
				ts.write(unhex(t, s))
			}
			for _, w := range tt.want {
				ts.expect(unhex(t, w))
			}
			ts.barrier(cid)
		})
	}
}

func TestServeChannelBusy(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	ts := startServer(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		close(started)
		<-release
		return []byte{0x00, 0xa0}
	}})
	a, b := ts.allocate(), ts.allocate()

	// While a's message is being received.
	ts.write(InitPacket(a, CmdPing, 60, seqBytes(57)))
	ts.write(InitPacket(b, CmdPing, 1, []byte{1}))
	ts.expect(unhex(t, "cafe0002 bf 0001 06"))
	// INIT still works, on the broadcast channel and on b.
	if c := ts.allocate(); c != 0xcafe0003 {
		t.Errorf("allocated %08x during a transaction", c)
	}
	ts.write(unhex(t, "cafe0002 86 0008 0000000000000001"))
	ts.expect(unhex(t, "cafe0002 86 0011 0000000000000001 cafe0002 02 010203 04"))
	ts.write(ContPacket(a, 0, seqBytes(60)[57:]))
	ts.expect(Fragment2(t, a, CmdPing, seqBytes(60))...)

	// While a's handler runs: other channels and a itself are busy.
	ts.write(unhex(t, "cafe0001 90 0001 04"))
	<-started
	ts.write(InitPacket(b, CmdCBOR, 1, []byte{4}))
	ts.expect(unhex(t, "cafe0002 bf 0001 06"))
	ts.write(InitPacket(a, CmdPing, 1, []byte{4}))
	ts.expect(unhex(t, "cafe0001 bf 0001 06"))
	close(release)
	ts.expect(unhex(t, "cafe0001 90 0002 00a0"))
	ts.barrier(b)
}

// Fragment2 is Fragment for tests.
func Fragment2(t *testing.T, cid uint32, cmd Cmd, msg []byte) [][]byte {
	t.Helper()
	pkts, err := Fragment(cid, cmd, msg)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

func TestServeMsgTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &fakeHandler{})
	cid := ts.allocate()
	msg := seqBytes(200)
	pkts := Fragment2(t, cid, CmdPing, msg)
	ts.write(pkts[0], pkts[1])
	ts.clock.take(t, testTimeout).fire()
	ts.expect(unhex(t, "cafe0001 bf 0001 05"))
	// The rest of the message is now spurious.
	ts.write(pkts[2], pkts[3])
	ts.barrier(cid)

	// A message that completes in time is answered; its timer is abandoned.
	ts.write(pkts...)
	ts.expect(pkts...)
	ts.clock.take(t, testTimeout).fire()
	ts.barrier(cid)
}

func TestServeKeepalive(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	upNeeded := make(chan struct{})
	release := make(chan struct{})
	ts := startServer(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		close(started)
		<-upNeeded
		SetKeepaliveStatus(ctx, StatusUPNeeded)
		SetKeepaliveStatus(ctx, StatusUPNeeded) // no change: no extra packet
		<-release
		return []byte{0x00}
	}})
	cid := ts.allocate()
	ts.write(unhex(t, "cafe0001 90 0001 01"))
	<-started
	ts.clock.take(t, testKeepalive).fire()
	ts.expect(unhex(t, "cafe0001 bb 0001 01"))
	ts.clock.take(t, testKeepalive).fire()
	ts.expect(unhex(t, "cafe0001 bb 0001 01"))
	close(upNeeded) // sent at once
	ts.expect(unhex(t, "cafe0001 bb 0001 02"))
	ts.clock.take(t, testKeepalive).fire()
	ts.expect(unhex(t, "cafe0001 bb 0001 02"))
	close(release)
	ts.expect(unhex(t, "cafe0001 90 0001 00"))
	ts.barrier(cid)
}

// TestKeepaliveChangeUndone: a status change is sent at once, but one the
// handler undid before Serve looked (a touch asked for and given at once)
// sends nothing, as the host already has that status (CTAP 2.1
// §11.2.9.1.7).
func TestKeepaliveChangeUndone(t *testing.T) {
	t.Parallel()
	dev := &recordingDevice{}
	s, err := newServer(dev, &fakeHandler{}, &ServerConfig{Rand: bytes.NewReader([]byte{0xca, 0xfe, 0x00, 0x01})})
	if err != nil {
		t.Fatal(err)
	}
	ka := &keepaliveNotifier{changed: make(chan struct{}, 1)}
	ka.status.Store(uint32(StatusProcessing))
	ctx := context.WithValue(context.Background(), keepaliveKey{}, ka)
	s.run = &transaction{cid: 0xcafe0001, cmd: CmdCBOR, cancel: func() {}, ka: ka, kaSent: StatusProcessing}
	step := func(want ...[]byte) {
		t.Helper()
		<-ka.changed
		if err := s.keepaliveChanged(); err != nil {
			t.Fatal(err)
		}
		if len(dev.out) != len(want) {
			t.Fatalf("sent %d reports %x, want %d", len(dev.out), dev.out, len(want))
		}
		for i := range want {
			if !bytes.Equal(dev.out[i], want[i]) {
				t.Errorf("report %d: got %x, want %x", i, dev.out[i], want[i])
			}
		}
		dev.out = nil
	}

	SetKeepaliveStatus(ctx, StatusUPNeeded)
	SetKeepaliveStatus(ctx, StatusProcessing)
	step() // undone before Serve looked

	SetKeepaliveStatus(ctx, StatusUPNeeded)
	step(unhex(t, "cafe0001 bb 0001 02"))
	SetKeepaliveStatus(ctx, StatusProcessing)
	SetKeepaliveStatus(ctx, StatusUPNeeded)
	step() // the host has UPNEEDED already
	SetKeepaliveStatus(ctx, StatusProcessing)
	step(unhex(t, "cafe0001 bb 0001 01"))
}

// TestKeepaliveDerivedContext: a handler that hands a context derived
// from its own to the code that waits for a touch still reaches Serve's
// keepalive notifier through it, and cancelling the request reaches the
// derived context.
func TestKeepaliveDerivedContext(t *testing.T) {
	t.Parallel()
	type otherKey struct{}
	ctxs := make(chan context.Context, 1)
	ts := startServer(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		ctx, cancel := context.WithCancel(context.WithValue(ctx, otherKey{}, 1))
		defer cancel()
		SetKeepaliveStatus(ctx, StatusUPNeeded)
		ctxs <- ctx
		<-ctx.Done()
		return []byte{0x2d}
	}})
	cid := ts.allocate()
	ts.write(unhex(t, "cafe0001 90 0001 01"))
	ts.expect(unhex(t, "cafe0001 bb 0001 02"))
	ctx := <-ctxs
	if ctx.Value(otherKey{}) != 1 {
		t.Error("the derived context lost its value")
	}
	ts.write(unhex(t, "cafe0001 91 0000"))
	ts.expect(unhex(t, "cafe0001 90 0001 2d"))
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("derived ctx.Err() = %v", ctx.Err())
	}
	ts.barrier(cid)
}

// TestStaleHandlerKeepalive: a handler that keeps its context after it
// returned, and sets a keepalive status with it while the next request
// runs, changes nothing for that request: its context is done, and the
// next request's KEEPALIVE packets carry that request's own status
// (CTAP 2.1 §11.2.9.1.7). Its abandoned keepalive timer sends nothing
// either.
func TestStaleHandlerKeepalive(t *testing.T) {
	t.Parallel()
	first := make(chan context.Context, 1)
	started := make(chan struct{})
	release := make(chan struct{})
	ts := startServer(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		if req[0] == 1 {
			first <- ctx
			return []byte{0x00}
		}
		close(started)
		<-release
		return []byte{0x00}
	}})
	done := sync.OnceFunc(func() { close(release) })
	t.Cleanup(done) // before startServer's: a failed test's handler returns
	cid := ts.allocate()
	ts.write(unhex(t, "cafe0001 90 0001 01"))
	ts.expect(unhex(t, "cafe0001 90 0001 00"))
	stale := <-first
	if !errors.Is(stale.Err(), context.Canceled) {
		t.Fatalf("the first handler's ctx.Err() = %v after its response", stale.Err())
	}
	staleTimer := ts.clock.take(t, testKeepalive)

	ts.write(unhex(t, "cafe0001 90 0001 02"))
	<-started
	SetKeepaliveStatus(stale, StatusUPNeeded)
	staleTimer.fire()
	ts.clock.take(t, testKeepalive).fire()
	ts.expect(unhex(t, "cafe0001 bb 0001 01"))
	done()
	ts.expect(unhex(t, "cafe0001 90 0001 00"))
	ts.barrier(cid)
}

func TestServeMsgNoKeepalive(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &fakeHandler{msg: func(ctx context.Context, req []byte) ([]byte, error) {
		SetKeepaliveStatus(ctx, StatusUPNeeded) // no notifier: no-op
		return []byte{0x69, 0x85}, nil
	}})
	cid := ts.allocate()
	ts.write(unhex(t, "cafe0001 83 0007 00010300000000"))
	ts.expect(unhex(t, "cafe0001 83 0002 6985"))
	ts.barrier(cid)
}

func TestSetKeepaliveStatusWithoutTransport(t *testing.T) {
	t.Parallel()
	SetKeepaliveStatus(context.Background(), StatusUPNeeded) // must not panic
}

func TestServeCancel(t *testing.T) {
	t.Parallel()
	ctxs := make(chan context.Context, 1)
	ts := startServer(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		ctxs <- ctx
		<-ctx.Done()
		return []byte{0x2d}
	}})
	a, b := ts.allocate(), ts.allocate()

	// CANCEL with nothing running is ignored.
	ts.write(unhex(t, "cafe0001 91 0000"))
	ts.barrier(a)

	ts.write(unhex(t, "cafe0001 90 0001 02"))
	ctx := <-ctxs
	// CANCEL on another channel, or on the broadcast channel, is ignored
	// and not answered.
	ts.write(unhex(t, "cafe0002 91 0000"), unhex(t, "ffffffff 91 0000"))
	ts.write(InitPacket(b, CmdPing, 1, []byte{1}))
	ts.expect(unhex(t, "cafe0002 bf 0001 06"))
	if ctx.Err() != nil {
		t.Fatal("CANCEL from another channel cancelled the handler")
	}
	ts.write(unhex(t, "cafe0001 91 0000"))
	ts.expect(unhex(t, "cafe0001 90 0001 2d"))
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("handler ctx.Err() = %v", ctx.Err())
	}
	ts.barrier(a)
}

func TestServeResyncAbortsHandler(t *testing.T) {
	t.Parallel()
	ctxs := make(chan context.Context, 1)
	returned := make(chan struct{})
	ts := startServer(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		if req[0] == 0x01 {
			return []byte{0x00, 0x01}
		}
		ctxs <- ctx
		<-ctx.Done()
		defer close(returned)
		return []byte{0x2d}
	}})
	cid := ts.allocate()
	ts.write(unhex(t, "cafe0001 90 0001 02"))
	ctx := <-ctxs
	ts.write(unhex(t, "cafe0001 86 0008 0101010101010101"))
	ts.expect(unhex(t, "cafe0001 86 0011 0101010101010101 cafe0001 02 010203 04"))
	<-ctx.Done()
	<-returned
	// The aborted handler's response is dropped; the next answer is a PING's.
	ts.pingUntilIdle(cid)
	ts.write(unhex(t, "cafe0001 90 0001 01"))
	ts.expect(unhex(t, "cafe0001 90 0002 0001"))
}

func TestServeResyncDropsMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &fakeHandler{})
	cid := ts.allocate()
	pkts := Fragment2(t, cid, CmdPing, seqBytes(100))
	ts.write(pkts[0])
	ts.write(unhex(t, "cafe0001 86 0008 0202020202020202"))
	ts.expect(unhex(t, "cafe0001 86 0011 0202020202020202 cafe0001 02 010203 04"))
	ts.write(pkts[1]) // spurious now
	ts.barrier(cid)
}

func TestServeLock(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &fakeHandler{})
	a, b := ts.allocate(), ts.allocate()

	ts.write(unhex(t, "cafe0001 84 0001 05"))
	ts.expect(unhex(t, "cafe0001 84 0000"))
	lock := ts.clock.take(t, 5*time.Second)
	ts.write(InitPacket(b, CmdPing, 1, []byte{1}))
	ts.expect(unhex(t, "cafe0002 bf 0001 06"))
	ts.write(InitPacket(b, CmdLock, 1, []byte{1}))
	ts.expect(unhex(t, "cafe0002 bf 0001 06"))
	ts.barrier(a) // the holder still talks
	// INIT still allocates.
	ts.allocate()

	// LOCK 0 releases.
	ts.write(unhex(t, "cafe0001 84 0001 00"))
	ts.expect(unhex(t, "cafe0001 84 0000"))
	ts.barrier(b)
	lock.fire() // a stale timer changes nothing
	ts.barrier(b)

	// The lock expires.
	ts.write(unhex(t, "cafe0002 84 0001 0a"))
	ts.expect(unhex(t, "cafe0002 84 0000"))
	ts.write(InitPacket(a, CmdPing, 1, []byte{1}))
	ts.expect(unhex(t, "cafe0001 bf 0001 06"))
	ts.clock.take(t, 10*time.Second).fire()
	ts.pingUntilIdle(a)

	// Resynchronising the holder's channel releases its lock.
	ts.write(unhex(t, "cafe0002 84 0001 03"))
	ts.expect(unhex(t, "cafe0002 84 0000"))
	ts.write(unhex(t, "cafe0002 86 0008 0303030303030303"))
	ts.expect(unhex(t, "cafe0002 86 0011 0303030303030303 cafe0002 02 010203 04"))
	ts.barrier(a)
}

func TestServePingMax(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &fakeHandler{})
	cid := ts.allocate()
	pkts := Fragment2(t, cid, CmdPing, seqBytes(MaxMessageSize))
	if len(pkts) != 129 {
		t.Fatalf("%d packets", len(pkts))
	}
	ts.write(pkts...)
	ts.expect(pkts...)
	ts.barrier(cid)
}

func TestServeShortAndLongReports(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &fakeHandler{})
	cid := ts.allocate()
	ts.write([]byte{0xca, 0xfe, 0x00, 0x01, 0x81, 0x00, 0x01, 0x42}) // short: zero-padded
	ts.expect(unhex(t, "cafe0001 81 0001 42"))
	ts.write(make([]byte, ReportSize+1), nil) // dropped
	ts.barrier(cid)
}

// recordingDevice collects what Serve writes.
type recordingDevice struct {
	out [][]byte
}

func (d *recordingDevice) ReadReport() ([]byte, error) { return nil, errors.New("not readable") }
func (d *recordingDevice) WriteReport(r []byte) error {
	d.out = append(d.out, append([]byte(nil), r...))
	return nil
}
func (d *recordingDevice) Close() error { return nil }

func TestServeStops(t *testing.T) {
	t.Parallel()
	t.Run("device closed", func(t *testing.T) {
		t.Parallel()
		dev, host := Pipe()
		errc := make(chan error, 1)
		go func() { errc <- Serve(context.Background(), dev, &fakeHandler{}, testConfig(newFakeClock())) }()
		host.Close()
		if err := <-errc; err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v, want a device error", err)
		}
	})
	t.Run("cancelled during a handler", func(t *testing.T) {
		t.Parallel()
		dev, host := Pipe()
		defer host.Close()
		started := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		h := &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
			close(started)
			<-ctx.Done()
			return []byte{0x2d}
		}}
		go func() { errc <- Serve(ctx, dev, h, testConfig(newFakeClock())) }()
		conn, err := Open(context.Background(), host, bytes.NewReader(make([]byte, 8)))
		if err != nil {
			t.Fatal(err)
		}
		go conn.Call(context.Background(), CmdCBOR, []byte{1}, nil)
		<-started
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v", err)
		}
		conn.Close()
	})
	t.Run("bad rand", func(t *testing.T) {
		t.Parallel()
		dev, host := Pipe()
		defer host.Close()
		cfg := &ServerConfig{Rand: bytes.NewReader(nil)}
		if err := Serve(context.Background(), dev, &fakeHandler{}, cfg); err == nil {
			t.Error("Serve with an empty Rand succeeded")
		}
	})
}
