package ctaphid

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// openTestConn opens a Conn to a Serve running with a fake clock.
func openTestConn(t *testing.T, h Handler) (*Conn, *fakeClock) {
	t.Helper()
	dev, host := Pipe()
	clock := newFakeClock()
	cfg := testConfig(clock)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, dev, h, cfg) }()
	c, err := Open(context.Background(), host, bytes.NewReader(bytes.Repeat([]byte{0x5a}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		<-errc
	})
	return c, clock
}

func TestConnCall(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	touch := make(chan struct{})
	c, clock := openTestConn(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		if req[0] == 0x01 {
			close(started)
			SetKeepaliveStatus(ctx, StatusUPNeeded)
			<-touch
		}
		return append([]byte{0x00}, req...)
	}})
	want := DeviceInfo{CID: testFirstCID, ProtocolVersion: 2, Version: [3]byte{1, 2, 3}, Capabilities: CapCBOR}
	if diff := cmp.Diff(want, c.Info()); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	ctx := context.Background()

	req := append([]byte{0x04}, seqBytes(300)...)
	resp, err := c.Call(ctx, CmdCBOR, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append([]byte{0x00}, req...), resp); diff != "" {
		t.Errorf("Call (-want +got):\n%s", diff)
	}

	// Keepalives reach onKeepalive: the one the status change sends at
	// once, then the timer's. The timer fires only after the first has
	// arrived: fired earlier, it could send UPNEEDED first, and the
	// change would then be no news to the host.
	var statuses []KeepaliveStatus
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, CmdCBOR, []byte{0x01}, func(s KeepaliveStatus) {
			statuses = append(statuses, s)
			switch len(statuses) {
			case 1:
				close(first)
			case 2:
				close(touch)
			}
		})
		done <- err
	}()
	<-started
	clock.take(t, testKeepalive) // the first CBOR's, abandoned
	timer := clock.take(t, testKeepalive)
	<-first
	timer.fire()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]KeepaliveStatus{StatusUPNeeded, StatusUPNeeded}, statuses); diff != "" {
		t.Errorf("keepalives (-want +got):\n%s", diff)
	}

	if _, err := c.Ping(ctx, seqBytes(MaxMessageSize)); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := c.Wink(ctx); !errors.Is(err, ErrInvalidCmd) {
		t.Errorf("Wink error = %v, want ErrInvalidCmd", err)
	}
	if err := c.Lock(ctx, 2); err != nil {
		t.Errorf("Lock: %v", err)
	}
	if err := c.Lock(ctx, 11); !errors.Is(err, ErrInvalidPar) {
		t.Errorf("Lock(11) error = %v, want ErrInvalidPar", err)
	}
	if _, err := c.Call(ctx, CmdCBOR, make([]byte, MaxMessageSize+1), nil); !errors.Is(err, ErrInvalidLen) {
		t.Errorf("oversize Call error = %v, want ErrInvalidLen", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Call(cancelled, CmdPing, nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Call with a cancelled context: %v", err)
	}
}

func TestConnCancel(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	c, _ := openTestConn(t, &fakeHandler{cbor: func(ctx context.Context, req []byte) []byte {
		started <- struct{}{}
		<-ctx.Done()
		return []byte{0x2d}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	resp, err := c.Call(ctx, CmdCBOR, []byte{0x01}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Call error = %v, want context.Canceled", err)
	}
	if !bytes.Equal(resp, []byte{0x2d}) {
		t.Errorf("Call response = %x, want 2d", resp)
	}
	// The channel is clean: no resync needed, the next call works.
	if _, err := c.Ping(context.Background(), []byte("after")); err != nil {
		t.Error(err)
	}
}

// scriptedDevice drives the device end of a Pipe by hand.
type scriptedDevice struct {
	t   *testing.T
	dev ReportDevice
}

func (d scriptedDevice) read() Packet {
	d.t.Helper()
	r, err := d.dev.ReadReport()
	if err != nil {
		d.t.Fatal(err)
	}
	p, err := ParsePacket(r)
	if err != nil {
		d.t.Fatal(err)
	}
	return p
}

func (d scriptedDevice) write(hexes ...string) {
	d.t.Helper()
	for _, h := range hexes {
		if err := d.dev.WriteReport(unhex(d.t, h)); err != nil {
			d.t.Fatal(err)
		}
	}
}

func TestConnScripted(t *testing.T) {
	t.Parallel()
	devEnd, host := Pipe()
	d := scriptedDevice{t, devEnd}
	opened := make(chan *Conn, 1)
	go func() {
		c, err := Open(context.Background(), host, bytes.NewReader(bytes.Repeat([]byte{0x11, 0x22}, 32)))
		if err != nil {
			t.Error(err)
		}
		opened <- c
	}()
	p := d.read()
	if !p.Init || p.CID != BroadcastCID || p.Cmd != CmdInit || p.BCNT != 8 {
		t.Fatalf("Open sent %+v", p)
	}
	d.write(
		"ffffffff 86 0011 9999999999999999 00000042 02 000000 04", // another host's
		"ffffffff bf 0001 0b", // another host's error
		"00000042 90 0001 00", // another channel
		"ffffffff 86 0011 1122112211221122 00000007 02 050607 0d", // ours
	)
	c := <-opened
	if c == nil {
		t.FailNow()
	}
	defer c.Close()
	want := DeviceInfo{CID: 7, ProtocolVersion: 2, Version: [3]byte{5, 6, 7}, Capabilities: 0x0d}
	if diff := cmp.Diff(want, c.Info()); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}

	type result struct {
		resp []byte
		err  error
	}
	call := func(ctx context.Context, cmd Cmd, payload []byte, onKeepalive func(KeepaliveStatus)) <-chan result {
		ch := make(chan result, 1)
		go func() {
			resp, err := c.Call(ctx, cmd, payload, onKeepalive)
			ch <- result{resp, err}
		}()
		return ch
	}

	// Responses on other channels, stray continuations and keepalives are
	// skipped.
	var statuses []KeepaliveStatus
	res := call(context.Background(), CmdCBOR, []byte{0x04}, func(s KeepaliveStatus) { statuses = append(statuses, s) })
	if p := d.read(); p.CID != 7 || p.Cmd != CmdCBOR {
		t.Fatalf("Call sent %+v", p)
	}
	long := bytes.Repeat([]byte{0xab}, 60)
	pkts := Fragment2(t, 7, CmdCBOR, long)
	d.write(
		"00000008 90 0001 00",
		"00000007 05 ffff",
		"00000007 bb 0001 01",
		"00000007 bb 0001 02",
	)
	for _, p := range pkts {
		if err := devEnd.WriteReport(p); err != nil {
			t.Fatal(err)
		}
	}
	r := <-res
	if r.err != nil || !bytes.Equal(r.resp, long) {
		t.Errorf("Call = %x, %v", r.resp, r.err)
	}
	if diff := cmp.Diff([]KeepaliveStatus{StatusProcessing, StatusUPNeeded}, statuses); diff != "" {
		t.Errorf("keepalives (-want +got):\n%s", diff)
	}

	// CTAPHID_ERROR is an ErrorCode.
	res = call(context.Background(), CmdMsg, []byte{0, 1, 0, 0}, nil)
	d.read()
	d.write("00000007 bf 0001 01")
	if r := <-res; !errors.Is(r.err, ErrInvalidCmd) {
		t.Errorf("Call error = %v, want ErrInvalidCmd", r.err)
	}

	// A cancelled call with no answer gives up after cancelWait, and the
	// next call resynchronises the channel first.
	grace := make(chan time.Time, 1)
	c.after = func(d time.Duration) <-chan time.Time {
		if d != cancelWait {
			t.Errorf("waiting %v after CANCEL", d)
		}
		return grace
	}
	ctx, cancel := context.WithCancel(context.Background())
	res = call(ctx, CmdCBOR, []byte{0x01}, nil)
	d.read()
	cancel()
	if p := d.read(); !p.Init || p.Cmd != CmdCancel || p.CID != 7 || p.BCNT != 0 {
		t.Fatalf("expected CANCEL, got %+v", p)
	}
	grace <- time.Time{}
	if r := <-res; r.resp != nil || !errors.Is(r.err, context.Canceled) {
		t.Errorf("Call = %x, %v; want nil, context.Canceled", r.resp, r.err)
	}
	res = call(context.Background(), CmdPing, []byte{0x77}, nil)
	p = d.read()
	if !p.Init || p.Cmd != CmdInit || p.CID != 7 || p.BCNT != 8 {
		t.Fatalf("expected a resynchronising INIT, got %+v", p)
	}
	d.write("00000007 90 0001 2d") // the late response: skipped
	resync := append(append([]byte{}, p.Data[:8]...), 0, 0, 0, 7, 2, 5, 6, 7, 0x0d)
	if err := devEnd.WriteReport(InitPacket(7, CmdInit, 17, resync)); err != nil {
		t.Fatal(err)
	}
	if p := d.read(); p.Cmd != CmdPing {
		t.Fatalf("expected PING, got %+v", p)
	}
	d.write("00000007 81 0001 77")
	if r := <-res; r.err != nil || !bytes.Equal(r.resp, []byte{0x77}) {
		t.Errorf("Ping after resync = %x, %v", r.resp, r.err)
	}

	// Raw access.
	if err := c.WriteRaw(unhex(t, "00000007 00 01")); err != nil {
		t.Fatal(err)
	}
	if p := d.read(); p.Init || p.Seq != 0 || p.Data[0] != 1 {
		t.Errorf("WriteRaw sent %+v", p)
	}
	d.write("00000009 bf 0001 04")
	got, err := c.ReadRaw(context.Background())
	if err != nil || !bytes.Equal(got, unhex(t, "00000009 bf 0001 04")) {
		t.Errorf("ReadRaw = %x, %v", got, err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.ReadRaw(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadRaw with a cancelled context: %v", err)
	}

	// Close interrupts a Call; later calls fail.
	res = call(context.Background(), CmdPing, nil, nil)
	d.read()
	c.Close()
	if r := <-res; !errors.Is(r.err, net.ErrClosed) {
		t.Errorf("Call after Close: %v", r.err)
	}
	if _, err := c.Ping(context.Background(), nil); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		dev, host := Pipe()
		defer dev.Close()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			dev.ReadReport() // the INIT, never answered
			cancel()
		}()
		if _, err := Open(ctx, host, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Open error = %v", err)
		}
		if err := host.WriteReport(make([]byte, ReportSize)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Open did not close the device: %v", err)
		}
	})
	t.Run("invalid channel", func(t *testing.T) {
		t.Parallel()
		dev, host := Pipe()
		defer dev.Close()
		go func() {
			r, _ := dev.ReadReport()
			dev.WriteReport(InitPacket(BroadcastCID, CmdInit, 17, append(r[7:15], 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0)))
		}()
		if _, err := Open(context.Background(), host, nil); err == nil {
			t.Error("Open accepted channel ffffffff")
		}
	})
	t.Run("device closed", func(t *testing.T) {
		t.Parallel()
		dev, host := Pipe()
		dev.Close()
		if _, err := Open(context.Background(), host, nil); err == nil {
			t.Error("Open on a closed pipe succeeded")
		}
	})
}

func TestPipe(t *testing.T) {
	t.Parallel()
	a, b := Pipe()
	r := []byte{1, 2, 3}
	if err := a.WriteReport(r); err != nil {
		t.Fatal(err)
	}
	r[0] = 9 // the pipe copied it
	a.Close()
	if got, err := b.ReadReport(); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("ReadReport after peer Close = %x, %v", got, err)
	}
	if _, err := b.ReadReport(); !errors.Is(err, io.EOF) {
		t.Errorf("second ReadReport = %v, want io.EOF", err)
	}
	if err := b.WriteReport(r); err == nil {
		t.Error("WriteReport to a closed peer succeeded")
	}
	if _, err := a.ReadReport(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadReport after Close = %v, want net.ErrClosed", err)
	}
	if err := a.WriteReport(r); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteReport after Close = %v, want net.ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUDP(t *testing.T) {
	t.Parallel()
	dev, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Skipf("no UDP here: %v", err)
	}
	addr := dev.(interface{ LocalAddr() net.Addr }).LocalAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, dev, &fakeHandler{}, testConfig(newFakeClock())) }()
	defer func() {
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v", err)
		}
	}()

	host, err := DialUDP(addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(ctx, host, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Info().CID != testFirstCID {
		t.Errorf("CID %08x", c.Info().CID)
	}
	if _, err := c.Ping(ctx, seqBytes(1000)); err != nil {
		t.Error(err)
	}
	resp, err := c.Call(ctx, CmdCBOR, []byte{0x04}, nil)
	if err != nil || !bytes.Equal(resp, []byte{0x00, 0x04}) {
		t.Errorf("CBOR over UDP = %x, %v", resp, err)
	}
}

func TestUDPNoPeer(t *testing.T) {
	t.Parallel()
	dev, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Skipf("no UDP here: %v", err)
	}
	defer dev.Close()
	if err := dev.WriteReport(make([]byte, ReportSize)); err == nil {
		t.Error("write with no peer succeeded")
	}
	if _, err := ListenUDP("not an address"); err == nil {
		t.Error("ListenUDP accepted a bad address")
	}
	if _, err := DialUDP("not an address"); err == nil {
		t.Error("DialUDP accepted a bad address")
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	dev, host := Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, dev, &fakeHandler{}, nil) }()
	c, err := Open(ctx, host, nil)
	if err != nil {
		b.Fatal(err)
	}
	req := seqBytes(1024)
	req[0] = 0x01
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Call(ctx, CmdCBOR, req, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	c.Close()
	cancel()
	<-errc
}
