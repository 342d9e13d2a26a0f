package ctaphid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fillReader yields the same byte for ever: a client's INIT nonces.
type fillReader byte

func (r fillReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// routeCheckingDevice is the host end of a UDP link that checks every report
// the device sends it: a broadcast INIT response must carry this host's
// nonce, and anything else must be on the channel that response allocated.
type routeCheckingDevice struct {
	ReportDevice
	nonce []byte

	mu        sync.Mutex
	cid       uint32 // learned from this host's INIT response; 0 before
	received  int
	misrouted int
}

func (d *routeCheckingDevice) ReadReport() ([]byte, error) {
	r, err := d.ReportDevice.ReadReport()
	if err != nil {
		return r, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.received++
	p, ok := parseReport(r)
	switch {
	case !ok:
		d.misrouted++
	case p.CID == BroadcastCID:
		if p.Init && p.Cmd == CmdInit && bytes.Equal(p.Data[:nonceSize], d.nonce) {
			d.cid = binary.BigEndian.Uint32(p.Data[8:])
		} else {
			d.misrouted++
		}
	case d.cid == 0 || p.CID != d.cid:
		d.misrouted++
	}
	return r, nil
}

// routingClients runs clients concurrent hosts against one UDP device, each
// on its own socket and channel, making calls calls each (PING with two
// packets each way, and CTAPHID_CBOR), retrying ERR_CHANNEL_BUSY. It returns
// the totals over all clients.
func routingClients(t *testing.T, addr string, clients, calls int) (done, busy, received, misrouted int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // only turns a hang into a failure
	defer cancel()
	var (
		wg                   sync.WaitGroup
		nDone, nBusy         atomic.Int64
		nReceived, nMisroute atomic.Int64
		errs                 = make(chan error, clients)
	)
	for i := range clients {
		wg.Go(func() {
			host, err := DialUDP(addr)
			if err != nil {
				errs <- err
				return
			}
			dev := &routeCheckingDevice{ReportDevice: host, nonce: bytes.Repeat([]byte{byte(i + 1)}, nonceSize)}
			defer func() {
				dev.mu.Lock()
				nReceived.Add(int64(dev.received))
				nMisroute.Add(int64(dev.misrouted))
				dev.mu.Unlock()
			}()
			c, err := Open(ctx, dev, fillReader(i+1))
			if err != nil {
				errs <- fmt.Errorf("client %d: Open: %w", i, err)
				return
			}
			defer c.Close()
			for n := 0; n < calls; {
				var err error
				msg := fmt.Appendf(nil, "client %d call %d ", i, n)
				if n%2 == 0 {
					_, err = c.Ping(ctx, append(msg, seqBytes(80)...)) // 2 packets each way
				} else {
					var resp []byte
					resp, err = c.Call(ctx, CmdCBOR, msg, nil)
					if err == nil && !bytes.Equal(resp, append([]byte{0}, msg...)) {
						err = fmt.Errorf("CBOR answered %q", resp)
					}
				}
				if errors.Is(err, ErrChannelBusy) {
					nBusy.Add(1)
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("client %d call %d: %w", i, n, err)
					return
				}
				n++
				nDone.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return int(nDone.Load()), int(nBusy.Load()), int(nReceived.Load()), int(nMisroute.Load())
}

// TestUDPRouting runs 8 hosts at once against one UDP device: each must get
// only the answers to its own requests, on the channel it allocated
// (CTAP 2.1 §11.2.3: a channel is one application's).
func TestUDPRouting(t *testing.T) {
	t.Parallel()
	dev, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Skipf("no UDP here: %v", err)
	}
	addr := dev.(interface{ LocalAddr() net.Addr }).LocalAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, dev, &fakeHandler{}, nil) }()
	defer func() {
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v", err)
		}
	}()

	const clients, calls = 8, 1000
	done, busy, received, misrouted := routingClients(t, addr, clients, calls)
	t.Logf("%d clients: %d calls done, %d answered CHANNEL_BUSY and retried, %d reports received, %d misrouted",
		clients, done, busy, received, misrouted)
	if misrouted != 0 {
		t.Errorf("%d of %d reports reached the wrong host", misrouted, received)
	}
	if done != clients*calls {
		t.Errorf("%d calls done, want %d", done, clients*calls)
	}
}

// peerRecorder is a PeerDevice that collects what Serve writes, and to whom.
// Writes to failPeer fail.
type peerRecorder struct {
	out      []sent
	failPeer netip.AddrPort
}

type sent struct {
	to     netip.AddrPort
	report []byte
}

func (d *peerRecorder) ReadReport() ([]byte, error) { return nil, errors.New("not readable") }
func (d *peerRecorder) ReadReportFrom() ([]byte, netip.AddrPort, error) {
	return nil, netip.AddrPort{}, errors.New("not readable")
}
func (d *peerRecorder) WriteReport(r []byte) error { return errors.New("WriteReport on a PeerDevice") }
func (d *peerRecorder) WriteReportTo(r []byte, to netip.AddrPort) error {
	if to == d.failPeer {
		return errors.New("no route to host")
	}
	d.out = append(d.out, sent{to, append([]byte(nil), r...)})
	return nil
}
func (d *peerRecorder) Close() error { return nil }

// peerServer drives the state machine like syncServer, with hosts told apart.
type peerServer struct {
	t   testing.TB
	s   *server
	dev *peerRecorder
}

func newPeerServer(t testing.TB, h Handler) *peerServer {
	t.Helper()
	dev := &peerRecorder{}
	s, err := newServer(dev, h, &ServerConfig{
		Version: [3]byte{1, 2, 3},
		After:   func(time.Duration) <-chan time.Time { return nil },
		Rand:    bytes.NewReader([]byte{0xca, 0xfe, 0x00, 0x01}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &peerServer{t: t, s: s, dev: dev}
}

func (ps *peerServer) feed(from netip.AddrPort, reports ...[]byte) {
	ps.t.Helper()
	for _, r := range reports {
		if err := ps.s.handleReport(context.Background(), r, from); err != nil {
			ps.t.Fatal(err)
		}
		if err := ps.s.runPending(); err != nil {
			ps.t.Fatal(err)
		}
	}
}

// expect checks, and forgets, what the device sent since the last call.
func (ps *peerServer) expect(want ...sent) {
	ps.t.Helper()
	got := ps.dev.out
	ps.dev.out = nil
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			ps.t.Fatalf("report %d: missing; want %v %x", i, want[i].to, want[i].report)
		case i >= len(want):
			ps.t.Fatalf("report %d: unexpected %v %x", i, got[i].to, got[i].report)
		case got[i].to != want[i].to || !bytes.Equal(got[i].report, want[i].report):
			ps.t.Fatalf("report %d:\n got %v %x\nwant %v %x", i, got[i].to, got[i].report, want[i].to, want[i].report)
		}
	}
}

func initResponse(cid uint32, nonce []byte, newCID uint32) []byte {
	d := make([]byte, initResponseSize)
	copy(d, nonce)
	binary.BigEndian.PutUint32(d[8:], newCID)
	d[12], d[13], d[14], d[15], d[16] = ProtocolVersion, 1, 2, 3, CapCBOR
	return InitPacket(cid, CmdInit, initResponseSize, d)
}

var (
	hostA = netip.MustParseAddrPort("127.0.0.1:40001")
	hostB = netip.MustParseAddrPort("127.0.0.1:40002")
)

// TestPeerRouting checks, report by report, that on a PeerDevice each
// channel is its allocator's (CTAP 2.1 §11.2.3).
func TestPeerRouting(t *testing.T) {
	t.Parallel()
	nonceA, nonceB := []byte("AAAAAAAA"), []byte("BBBBBBBB")
	const cidA, cidB = testFirstCID, testFirstCID + 1
	setup := func(t *testing.T) *peerServer {
		ps := newPeerServer(t, &fakeHandler{})
		ps.feed(hostA, InitPacket(BroadcastCID, CmdInit, 8, nonceA))
		ps.feed(hostB, InitPacket(BroadcastCID, CmdInit, 8, nonceB))
		ps.expect(sent{hostA, initResponse(BroadcastCID, nonceA, cidA)}, sent{hostB, initResponse(BroadcastCID, nonceB, cidB)})
		return ps
	}
	t.Run("each host gets its own answers", func(t *testing.T) {
		ps := setup(t)
		ps.feed(hostB, InitPacket(cidB, CmdCBOR, 2, []byte{1, 2}))
		ps.feed(hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'}))
		ps.expect(sent{hostB, InitPacket(cidB, CmdCBOR, 3, []byte{0, 1, 2})}, sent{hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'})})
	})
	t.Run("another host's channel is invalid", func(t *testing.T) {
		ps := setup(t)
		ps.feed(hostB, InitPacket(cidA, CmdPing, 1, []byte{'b'}))
		ps.feed(hostB, InitPacket(cidA, CmdInit, 8, nonceB)) // resync of A's channel
		ps.feed(hostB, InitPacket(cidA, CmdCancel, 0, nil))  // never answered
		ps.expect(sent{hostB, errorPacket(cidA, ErrInvalidChannel)}, sent{hostB, errorPacket(cidA, ErrInvalidChannel)})
		ps.feed(hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'}))
		ps.expect(sent{hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'})})
	})
	t.Run("another host's continuation is ignored", func(t *testing.T) {
		ps := setup(t)
		msg := seqBytes(100)
		pkts := Fragment2Seed(t, cidA, CmdPing, msg)
		ps.feed(hostA, pkts[0])
		forged := ContPacket(cidA, 0, bytes.Repeat([]byte{0xee}, ContDataSize))
		ps.feed(hostB, forged)
		ps.feed(hostA, pkts[1])
		ps.expect(sent{hostA, Fragment2Seed(t, cidA, CmdPing, msg)[0]}, sent{hostA, Fragment2Seed(t, cidA, CmdPing, msg)[1]})
	})
	t.Run("busy and timeout errors go to their own host", func(t *testing.T) {
		ps := setup(t)
		pkts := Fragment2Seed(t, cidA, CmdPing, seqBytes(100))
		ps.feed(hostA, pkts[0])
		ps.feed(hostB, InitPacket(cidB, CmdPing, 1, []byte{'b'}))
		if err := ps.s.transactionTimeout(); err != nil {
			t.Fatal(err)
		}
		ps.expect(sent{hostB, errorPacket(cidB, ErrChannelBusy)}, sent{hostA, errorPacket(cidA, ErrMsgTimeout)})
	})
	t.Run("a host that cannot be reached does not stop the device", func(t *testing.T) {
		ps := setup(t)
		ps.dev.failPeer = hostA
		ps.feed(hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'}))
		ps.feed(hostB, InitPacket(cidB, CmdPing, 1, []byte{'b'}))
		ps.expect(sent{hostB, InitPacket(cidB, CmdPing, 1, []byte{'b'})})
	})
	t.Run("the least recently used channel is forgotten", func(t *testing.T) {
		ps := setup(t)
		for range maxPeerChannels - 2 {
			ps.feed(hostB, InitPacket(BroadcastCID, CmdInit, 8, nonceB))
		}
		ps.feed(hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'})) // A's channel is now the newest used
		ps.dev.out = nil
		ps.feed(hostB, InitPacket(BroadcastCID, CmdInit, 8, nonceB)) // one too many: B's first goes
		if len(ps.s.routes) != maxPeerChannels {
			t.Fatalf("%d routes, want %d", len(ps.s.routes), maxPeerChannels)
		}
		ps.feed(hostB, InitPacket(cidB, CmdPing, 1, []byte{'b'}))
		ps.feed(hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'}))
		newest := testFirstCID + maxPeerChannels
		ps.expect(sent{hostB, initResponse(BroadcastCID, nonceB, newest)},
			sent{hostB, errorPacket(cidB, ErrInvalidChannel)},
			sent{hostA, InitPacket(cidA, CmdPing, 1, []byte{'a'})})
	})
}

// FuzzPeerRouting feeds reports from up to four hosts (the first byte of
// each 65-byte piece picks the sender) into the device state machine. No
// host may receive anything on another host's channel but
// ERR_INVALID_CHANNEL for a packet it sent there itself, nor a broadcast
// INIT response to a nonce it did not send.
func FuzzPeerRouting(f *testing.F) {
	hosts := []netip.AddrPort{hostA, hostB, netip.MustParseAddrPort("[::1]:40003"), netip.MustParseAddrPort("10.0.0.1:8111")}
	withSender := func(from byte, rs ...[]byte) []byte {
		var b []byte
		for _, r := range rs {
			b = append(append(b, from), r...)
		}
		return b
	}
	for i, v := range loadVectors(f) {
		f.Add(withSender(byte(i), v.inputs()...))
	}
	initA := InitPacket(BroadcastCID, CmdInit, 8, []byte("AAAAAAAA"))
	initB := InitPacket(BroadcastCID, CmdInit, 8, []byte("BBBBBBBB"))
	ping := Fragment2Seed(f, testFirstCID, CmdPing, seqBytes(100))
	f.Add(append(append(withSender(0, initA), withSender(1, initB, ping[0])...), withSender(0, ping...)...))
	f.Add(append(withSender(0, initA, ping[0]), withSender(1, ping[1], InitPacket(testFirstCID, CmdCancel, 0, nil))...))

	f.Fuzz(func(t *testing.T, in []byte) {
		ps := newPeerServer(t, fuzzHandler{})
		owner := map[uint32]netip.AddrPort{}
		type key struct {
			host  netip.AddrPort
			cid   uint32
			nonce string
		}
		sentBy := map[key]bool{}
		for i := 0; len(in) > 0 && i < maxFuzzReports; i++ {
			from := hosts[int(in[0])%len(hosts)]
			r := in[1:min(ReportSize+1, len(in))]
			in = in[1+len(r):]
			if padded, ok := padReport(r); ok {
				p, _ := ParsePacket(padded)
				sentBy[key{host: from, cid: p.CID}] = true
				if p.Init && p.Cmd == CmdInit && p.CID == BroadcastCID {
					sentBy[key{host: from, cid: p.CID, nonce: string(p.Data[:nonceSize])}] = true
				}
			}
			ps.feed(from, r)
			for j, s := range ps.dev.out {
				checkDeviceReport(t, j, s.report, map[uint32]bool{BroadcastCID: true, binary.BigEndian.Uint32(s.report): true})
				p, _ := ParsePacket(s.report)
				switch {
				case p.CID == BroadcastCID:
					if p.Cmd == CmdInit {
						if !sentBy[key{host: s.to, cid: BroadcastCID, nonce: string(p.Data[:nonceSize])}] {
							t.Fatalf("%v got an INIT response to a nonce it never sent: %x", s.to, s.report)
						}
						owner[binary.BigEndian.Uint32(p.Data[8:])] = s.to
					} else if !sentBy[key{host: s.to, cid: BroadcastCID}] {
						t.Fatalf("%v got a broadcast it did not ask for: %x", s.to, s.report)
					}
				case owner[p.CID] == s.to:
				case p.Init && p.Cmd == CmdError && ErrorCode(p.Data[0]) == ErrInvalidChannel && sentBy[key{host: s.to, cid: p.CID}]:
				default:
					t.Fatalf("%v got a report on channel %08x, which belongs to %v: %x", s.to, p.CID, owner[p.CID], s.report)
				}
			}
			ps.dev.out = nil
		}
	})
}
