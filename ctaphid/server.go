package ctaphid

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Handler is the command core behind [Serve]. It never sees channels,
// packets or sequence numbers. Serve calls at most one method at a time, in
// its own goroutine, with a context that is cancelled by CTAPHID_CANCEL, by a
// resynchronising CTAPHID_INIT on the channel, and when Serve stops. Handlers
// must return promptly once the context is done: the device stays busy, and
// Serve does not return, until they do.
type Handler interface {
	// HandleCBOR gets a CTAPHID_CBOR payload, whose first byte is the CTAP
	// command code, and returns the response payload, whose first byte is
	// the CTAP status (CTAP 2.1 §11.2.9.1.2). A cancelled request is
	// answered with status CTAP2_ERR_KEEPALIVE_CANCEL (0x2D).
	HandleCBOR(ctx context.Context, req []byte) []byte
	// HandleMsg gets a CTAPHID_MSG payload, a CTAP1/U2F request APDU, and
	// returns the response APDU (CTAP 2.1 §11.2.9.1.1). An error that is an
	// ErrorCode (errors.As), such as ErrInvalidCmd for a key without CTAP1,
	// is answered with CTAPHID_ERROR and that code; any other error with
	// ERR_OTHER.
	HandleMsg(ctx context.Context, req []byte) ([]byte, error)
}

// Winker is implemented by a Handler that can identify the device to the user
// (CTAP 2.1 §11.2.9.2.1). Serve advertises CapWink and calls Wink for
// CTAPHID_WINK only when the handler implements it; otherwise CTAPHID_WINK is
// answered with ERR_INVALID_CMD.
type Winker interface {
	Wink()
}

// Defaults for ServerConfig.
const (
	// DefaultKeepaliveInterval is the spec's upper bound: a device sends
	// KEEPALIVE at least every 100 ms while processing (CTAP 2.1 §11.2.9.1.7).
	DefaultKeepaliveInterval = 100 * time.Millisecond
	// DefaultTransactionTimeout bounds how long a message may take to
	// arrive in full (CTAP 2.1 §11.2.5.2).
	DefaultTransactionTimeout = 3 * time.Second
)

// maxLockSeconds is the longest CTAPHID_LOCK (CTAP 2.1 §11.2.9.2.2).
const maxLockSeconds = 10

// ServerConfig configures [Serve]. The zero value is usable.
type ServerConfig struct {
	// Version is the device version (major, minor, build) in the INIT
	// response (CTAP 2.1 §11.2.9.1.3).
	Version [3]byte
	// KeepaliveInterval is the time between KEEPALIVE packets while a
	// CTAPHID_CBOR handler runs; zero means DefaultKeepaliveInterval.
	KeepaliveInterval time.Duration
	// TransactionTimeout is the time a multi-packet message has, from its
	// initialization packet, to arrive in full; when it runs out Serve
	// answers ERR_MSG_TIMEOUT and forgets the message (CTAP 2.1 §11.2.5.2).
	// Zero means DefaultTransactionTimeout.
	TransactionTimeout time.Duration
	// After is the clock: it returns a channel that receives once d has
	// passed. Nil means time.After. Serve abandons channels it no longer
	// needs without draining them; a test clock can fire them at will.
	After func(d time.Duration) <-chan time.Time
	// Rand picks the first channel ID Serve allocates; later ones count up
	// from it. Nil means crypto/rand.
	Rand io.Reader
	// Logf, if set, receives a line for each dropped or rejected report.
	Logf func(format string, args ...any)
	// U2FOnly makes a CTAP1/U2F-only device: INIT advertises neither
	// CapCBOR nor CapNMsg (CTAPHID_MSG is implemented), and CTAPHID_CBOR
	// is answered with ERR_INVALID_CMD (CTAP 2.1 §11.2.9.1.3).
	U2FOnly bool
	// NoMsg makes a CTAP2-only device, one without CTAP1/U2F: INIT
	// advertises CapNMsg ("the authenticator DOES NOT implement
	// CTAPHID_MSG", CTAP 2.1 §11.2.9.1.3) and CTAPHID_MSG is answered
	// with ERR_INVALID_CMD (§11.2.9.1.6). U2FOnly wins over it.
	NoMsg bool
}

// keepaliveKey is the context key of the keepalive notifier.
type keepaliveKey struct{}

// keepaliveNotifier carries a handler's KEEPALIVE status to Serve.
type keepaliveNotifier struct {
	status atomic.Uint32
	// changed (capacity 1) tells the loop to look at the running
	// handler's status: it is the server's one channel, and carries no
	// status itself, so a token from a handler that already returned
	// only makes the loop compare the current handler's status with
	// the one last sent, and send nothing.
	changed chan struct{}
}

// SetKeepaliveStatus sets the status Serve sends in KEEPALIVE packets for the
// CTAPHID_CBOR request whose handler received ctx: StatusUPNeeded while it
// waits for a touch, StatusProcessing otherwise (CTAP 2.1 §11.2.9.1.7). A
// change is sent at once, without waiting for the next interval. It does
// nothing when ctx carries no notifier: a handler called in-process, without
// a transport, or a CTAPHID_MSG handler.
func SetKeepaliveStatus(ctx context.Context, s KeepaliveStatus) {
	n, _ := ctx.Value(keepaliveKey{}).(*keepaliveNotifier)
	if n == nil {
		return
	}
	if KeepaliveStatus(n.status.Swap(uint32(s))) != s {
		select {
		case n.changed <- struct{}{}:
		default:
		}
	}
}

// Serve runs the device side of CTAPHID (CTAP 2.1 §11.2) on dev until ctx is
// done or dev fails, then closes dev, waits for a running handler to return,
// and returns ctx.Err() or the device error. A nil cfg means the defaults.
//
// Serve processes one transaction at a time (CTAP 2.1 §11.2.5.1). While one
// channel's message is being received or its handler runs, a request from any
// other channel is answered with ERR_CHANNEL_BUSY. CTAPHID_INIT is the
// exception: it is answered at any time, because it only allocates a channel
// (on the broadcast channel) or resets the sender's own channel.
//
// Resynchronisation (CTAP 2.1 §11.2.5.3): CTAPHID_INIT on an allocated
// channel drops a message being received on it and cancels its running
// handler, whose response is then discarded; the device stays busy until the
// handler has returned. It also releases a lock that channel holds.
//
// Locking (CTAP 2.1 §11.2.9.2.2): while a channel holds a CTAPHID_LOCK, a
// request from any other channel fails with ERR_CHANNEL_BUSY; the spec says
// only that such requests "fail", and busy is the code hosts treat as "try
// later". ERR_LOCK_REQUIRED is not sent.
//
// Cancel (CTAP 2.1 §11.2.9.1.5): CTAPHID_CANCEL on the channel of a running
// CTAPHID_CBOR or CTAPHID_MSG handler cancels the handler's context; the
// handler's own response (status 0x2D for CTAP2) answers the request.
// CANCEL itself is never answered, and is ignored in any other state.
//
// Keepalive (CTAP 2.1 §11.2.9.1.7): while a CTAPHID_CBOR handler runs, Serve
// sends KEEPALIVE every KeepaliveInterval with STATUS_PROCESSING, or the
// status set by [SetKeepaliveStatus]. A CTAPHID_MSG handler gets no
// keepalives, as CTAP1 hosts do not expect them.
//
// Several hosts on one device (CTAP 2.1 §11.2.3): when dev is a [PeerDevice]
// (a UDP socket), each channel belongs to the host that allocated it. The
// answer to a broadcast INIT goes to its sender, and every later packet of
// that channel (responses, keepalives, errors) goes to that host only. A
// packet on a channel from any other host is answered ERR_INVALID_CHANNEL
// (a CANCEL or continuation packet is ignored), so no host can read or
// disturb another's transaction. Serve remembers the owners of the
// maxPeerChannels channels used most recently; an older channel is
// forgotten and answered ERR_INVALID_CHANNEL, and its host allocates a new
// one. A report that cannot be sent to one host is logged and dropped: it
// does not stop Serve.
func Serve(ctx context.Context, dev ReportDevice, h Handler, cfg *ServerConfig) error {
	s, err := newServer(dev, h, cfg)
	if err != nil {
		dev.Close()
		return err
	}

	stop := context.AfterFunc(ctx, func() { dev.Close() }) // unblock reads and writes
	defer stop()

	in := make(chan inReport)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	rx, pipeDone, pipePeer, isPipe := pipeReports(dev)
	if !isPipe { // a Pipe end is read in the loop itself
		wg.Go(func() {
			for {
				var r inReport
				var err error
				if s.peers != nil {
					r.b, r.from, err = s.peers.ReadReportFrom()
				} else {
					r.b, err = dev.ReadReport()
				}
				if err != nil {
					readErr <- err
					return
				}
				select {
				case in <- r:
				case <-quit:
					return
				}
			}
		})
	}

	s.ctx = ctx
	if isPipe {
		// The loop selects on the pipe's channels alone: every channel
		// in a select costs each wait.
		s.src = source{pipe: pipeSource{rx, pipeDone, pipePeer}}
	} else {
		s.src = source{in: in, readErr: readErr}
	}
	s.handOff = time.AfterFunc(time.Hour, func() { s.role <- struct{}{} })
	s.handOff.Stop()
	s.other.Go(func() { s.drive(false) })
	s.drive(true)
	s.other.Wait() // the other goroutine, and with it a running handler

	close(quit)
	dev.Close()
	wg.Wait()
	return s.stopErr
}

// inReport is a report from a host, and the host when the device tells
// hosts apart (the zero AddrPort otherwise).
type inReport struct {
	b    []byte
	from netip.AddrPort
}

// maxPeerChannels bounds the channel owners Serve remembers on a PeerDevice.
const maxPeerChannels = 1024

// route is the owner of a channel on a PeerDevice.
type route struct {
	peer netip.AddrPort
	used uint64 // server.tick when the channel was last used
}

// server is the state of one Serve call.
//
// Two goroutines take turns running the loop, which reads reports and
// timers. When a message calls for the handler, the loop's goroutine runs
// it itself, then sends the response: a request goes from the host's
// write to the handler, and from the handler to the host, with no
// goroutine in between. A handler still running after handOffDelay gets
// the loop taken over by the other goroutine, which from then on sees
// CANCEL, sends keepalives and answers other channels; the handler's
// goroutine then waits for its next turn. mu guards the state: the loop
// holds it except while it waits, a handler's goroutine takes it to send
// the response, so a response never interleaves with a keepalive or an
// error the loop sends.
type server struct {
	dev    ReportDevice
	peers  PeerDevice // dev, when it tells hosts apart; nil otherwise
	h      Handler
	winker Winker // nil when h does not implement Winker
	cfg    ServerConfig
	caps   byte

	// Set by Serve before the loop runs, then only read.
	ctx context.Context
	src source

	// kaChanged is the keepalive notifiers' changed channel.
	kaChanged chan struct{}

	// role passes the loop to the goroutine waiting for it (capacity 1);
	// handOff sends on it once a handler has run for handOffDelay; stop
	// is closed when Serve stops; other is the second goroutine.
	role    chan struct{}
	handOff *time.Timer
	stop    chan struct{}
	other   sync.WaitGroup

	mu sync.Mutex

	// Channel allocation: IDs count up from first; next is the next one to
	// hand out; all is set once every ID has been handed out.
	first, next uint32
	all         bool

	// Channel owners, on a PeerDevice only.
	routes map[uint32]route
	tick   uint64

	asm      *assembler // the message being received (&asmState), or nil
	asmState assembler
	asmPeer  netip.AddrPort
	asmTimer <-chan time.Time

	run     *transaction // the running handler, or nil
	kaTimer <-chan time.Time
	// pending is the handler call dispatch asked for, which the loop
	// hands to its own goroutine; nil otherwise.
	pending *job

	lockCID   uint32 // the channel holding CTAPHID_LOCK, or 0
	lockTimer <-chan time.Time

	// stopErr is what Serve returns, set once when it stops; a response
	// due after that is dropped.
	stopErr error
	stopped bool

	// With the real clock (ServerConfig.After nil), the keepalive and
	// message timers are two time.Timers reset for each use rather than a
	// new timer per request; Reset drops a value an abandoned use left.
	realClock bool
	kaClock   *time.Timer
	asmClock  *time.Timer
}

// source is where the loop gets reports: the reader goroutine's channels,
// or a Pipe end's.
type source struct {
	in      <-chan inReport
	readErr <-chan error
	pipe    pipeSource
}

// transaction is a running handler. It is also the handler's context: the
// cancelCtx it embeds, with the keepalive notifier as its value for
// keepaliveKey, in the one allocation.
type transaction struct {
	context.Context

	cid     uint32
	peer    netip.AddrPort // the host that sent the request
	cmd     Cmd
	cancel  context.CancelFunc
	ka      *keepaliveNotifier // nil for CTAPHID_MSG
	kaSent  KeepaliveStatus    // the status of the last KEEPALIVE sent
	aborted bool               // the channel was resynchronised: drop the response
	job     job

	kaState keepaliveNotifier // ka's storage
}

// Value returns the keepalive notifier for keepaliveKey, and otherwise the
// value of the context t embeds. t.ka is set before the handler runs.
func (t *transaction) Value(key any) any {
	if _, ok := key.(keepaliveKey); ok && t.ka != nil {
		return t.ka
	}
	return t.Context.Value(key)
}

// job is one handler call.
type job struct {
	ctx context.Context
	cmd Cmd
	req []byte
}

type handlerResult struct {
	resp []byte
	err  error
}

func newServer(dev ReportDevice, h Handler, cfg *ServerConfig) (*server, error) {
	s := &server{dev: dev, h: h, role: make(chan struct{}, 1), stop: make(chan struct{}), kaChanged: make(chan struct{}, 1)}
	if pd, ok := dev.(PeerDevice); ok {
		s.peers = pd
		s.routes = make(map[uint32]route)
	}
	if cfg != nil {
		s.cfg = *cfg
	}
	if s.cfg.KeepaliveInterval <= 0 {
		s.cfg.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if s.cfg.TransactionTimeout <= 0 {
		s.cfg.TransactionTimeout = DefaultTransactionTimeout
	}
	if s.cfg.After == nil {
		s.realClock = true
		s.cfg.After = time.After
	}
	if s.cfg.Rand == nil {
		s.cfg.Rand = rand.Reader
	}
	if s.cfg.Logf == nil {
		s.cfg.Logf = func(string, ...any) {}
	}
	s.caps = CapCBOR
	switch {
	case s.cfg.U2FOnly:
		s.caps = 0
	case s.cfg.NoMsg:
		s.caps |= CapNMsg
	}
	if w, ok := h.(Winker); ok {
		s.winker = w
		s.caps |= CapWink
	}
	var b [4]byte
	if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
		return nil, fmt.Errorf("ctaphid: picking the first channel ID: %w", err)
	}
	s.first = binary.BigEndian.Uint32(b[:])
	s.next = s.first
	return s, nil
}

// maxFastReports bounds the reports the loop takes in a row without
// looking at its other events: one maximum-size message.
const maxFastReports = MaxSeq + 2

// pipeSource is a Pipe end's incoming side, read by the loop directly;
// all nil for any other device.
type pipeSource struct {
	rx         <-chan []byte
	done, peer <-chan struct{}
}

// handOffDelay is how long a handler runs before the other goroutine
// takes the loop over. Most handlers return sooner, so that nothing but
// the host and the handler's goroutine run for a request; one that waits
// for a touch or a CANCEL has its transport back after this delay, far
// below the keepalive interval (CTAP 2.1 §11.2.9.1.7).
const handOffDelay = time.Millisecond

// drive runs the loop, when it has it or is given it, and the handlers it
// finds, on the calling goroutine until Serve stops.
func (s *server) drive(hasLoop bool) {
	for {
		if !hasLoop {
			select {
			case <-s.role:
			case <-s.stop:
				return
			}
		}
		j := s.loop()
		if j == nil {
			return
		}
		s.handOff.Reset(handOffDelay)
		err := s.runJob(j)
		// A timer stopped before it fired leaves the loop here;
		// otherwise the role went, or is going, to the other goroutine.
		hasLoop = s.handOff.Stop()
		if err != nil {
			s.mu.Lock()
			s.fail(err)
			s.mu.Unlock()
		}
	}
}

// fail stops Serve with err (ctx's error when ctx is done): it cancels a
// running handler, whose response is then dropped, and wakes both
// goroutines. Only the first call counts. s.mu is held.
func (s *server) fail(err error) {
	if s.stopped {
		return
	}
	if s.ctx.Err() != nil {
		err = s.ctx.Err()
	}
	s.stopped, s.stopErr = true, err
	if s.run != nil {
		s.run.cancel()
	}
	close(s.stop)
}

// loop reads reports and timers until a message calls for the handler,
// which it returns, or until Serve stops (nil).
func (s *server) loop() *job {
	ctx, in, readErr, pipe := s.ctx, s.src.in, s.src.readErr, s.src.pipe
	readFailed := func(err error) error {
		return fmt.Errorf("ctaphid: reading a report: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fast := 0
	for {
		if s.stopped {
			return nil
		}
		if j := s.pending; j != nil {
			s.pending = nil
			return j
		}
		// A report already waiting is taken without the full select
		// below, which locks every channel it watches; at most
		// maxFastReports in a row, so that timers and ctx are still
		// seen while a host floods the device.
		if fast < maxFastReports {
			var (
				b    []byte
				from netip.AddrPort
				got  bool
			)
			select {
			case b, got = <-pipe.rx:
			case r := <-in:
				b, from, got = r.b, r.from, true
			default:
			}
			if got {
				fast++
				if err := s.handleReport(ctx, b, from); err != nil {
					s.fail(err)
				}
				continue
			}
		}
		fast = 0
		var kaChanged <-chan struct{}
		if s.run != nil && s.run.ka != nil && !s.run.aborted {
			kaChanged = s.run.ka.changed
		}
		run, kaTimer, asmTimer, lockTimer := s.run, s.kaTimer, s.asmTimer, s.lockTimer
		s.mu.Unlock()
		var (
			r     inReport
			got   bool
			event int
			err   error
		)
		const (
			evKeepalive = iota + 1
			evKeepaliveChanged
			evMsgTimeout
			evUnlock
		)
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.stop:
		case e := <-readErr:
			err = readFailed(e)
		case r = <-in:
			got = true
		case r.b = <-pipe.rx:
			got = true
		case <-pipe.done:
			err = readFailed(net.ErrClosed)
		case <-pipe.peer:
			select { // what the host sent before closing
			case r.b = <-pipe.rx:
				got = true
			default:
				err = readFailed(io.EOF)
			}
		case <-asmTimer:
			event = evMsgTimeout
		case <-kaTimer:
			event = evKeepalive
		case <-kaChanged:
			event = evKeepaliveChanged
		case <-lockTimer:
			event = evUnlock
		}
		s.mu.Lock()
		if err == nil && !s.stopped {
			switch {
			case got:
				err = s.handleReport(ctx, r.b, r.from)
			case event == evMsgTimeout && asmTimer == s.asmTimer:
				err = s.transactionTimeout()
			case event == evKeepalive && run == s.run && kaTimer == s.kaTimer:
				s.kaTimer = s.after(&s.kaClock, s.cfg.KeepaliveInterval)
				err = s.keepalive()
			case event == evKeepaliveChanged && run == s.run:
				err = s.keepaliveChanged()
			case event == evUnlock && lockTimer == s.lockTimer:
				s.unlock()
			}
		}
		if err != nil {
			s.fail(err)
		}
	}
}

// handleReport processes one report from the host from (the zero AddrPort
// unless dev is a PeerDevice). The returned error is a device error: Serve
// stops.
func (s *server) handleReport(ctx context.Context, raw []byte, from netip.AddrPort) error {
	r, ok := padReport(raw)
	if !ok {
		s.cfg.Logf("ctaphid: dropping a %d-byte report", len(raw))
		return nil
	}
	p, err := ParsePacket(r)
	if err != nil {
		return nil // unreachable: r has ReportSize bytes
	}
	if !p.Init {
		return s.continuation(ctx, p, from)
	}
	switch p.Cmd {
	case CmdInit:
		return s.init(p, from)
	case CmdCancel:
		s.cancel(p, from)
		return nil
	}
	cid := p.CID
	if !s.owns(cid, from) {
		return s.sendError(from, cid, ErrInvalidChannel)
	}
	if s.lockCID != 0 && s.lockCID != cid {
		return s.sendError(from, cid, ErrChannelBusy)
	}
	if s.asm != nil {
		if s.asm.cid == cid {
			// An initialization packet where a continuation was due
			// (CTAP 2.1 §11.2.5.4).
			s.dropAssembly()
			return s.sendError(from, cid, ErrInvalidSeq)
		}
		return s.sendError(from, cid, ErrChannelBusy)
	}
	if s.run != nil {
		return s.sendError(from, cid, ErrChannelBusy)
	}
	if !s.supported(p.Cmd) {
		return s.sendError(from, cid, ErrInvalidCmd)
	}
	// asmState is free: s.asm is nil, and a message dispatched from it
	// took its buffer along.
	a := &s.asmState
	if err := a.start(p); err != nil {
		return s.sendError(from, cid, ErrInvalidLen)
	}
	if a.done() {
		return s.dispatch(ctx, a, from)
	}
	s.asm = a
	s.asmPeer = from
	s.asmTimer = s.after(&s.asmClock, s.cfg.TransactionTimeout)
	return nil
}

// continuation adds a continuation packet to the message being received.
// Spurious continuation packets are ignored (CTAP 2.1 §11.2.5.4), and so
// are those from a host other than the one sending the message.
func (s *server) continuation(ctx context.Context, p Packet, from netip.AddrPort) error {
	if s.asm == nil || s.asm.cid != p.CID || s.asmPeer != from {
		s.cfg.Logf("ctaphid: ignoring a spurious continuation packet on channel %08x", p.CID)
		return nil
	}
	if err := s.asm.add(p); err != nil {
		s.dropAssembly()
		return s.sendError(from, p.CID, ErrInvalidSeq)
	}
	if !s.asm.done() {
		return nil
	}
	a := s.asm
	s.dropAssembly()
	return s.dispatch(ctx, a, from)
}

// supported reports whether Serve answers cmd once its message is complete.
func (s *server) supported(cmd Cmd) bool {
	switch cmd {
	case CmdPing, CmdLock:
		return true
	case CmdMsg:
		return s.caps&CapNMsg == 0
	case CmdCBOR:
		return !s.cfg.U2FOnly
	case CmdWink:
		return s.winker != nil
	}
	return false
}

// init answers CTAPHID_INIT (CTAP 2.1 §11.2.9.1.3): on the broadcast channel
// it allocates a channel for the sender, on an allocated channel it
// resynchronises it.
func (s *server) init(p Packet, from netip.AddrPort) error {
	cid := p.CID
	if cid != BroadcastCID && !s.owns(cid, from) {
		return s.sendError(from, cid, ErrInvalidChannel)
	}
	if p.BCNT != nonceSize {
		return s.sendError(from, cid, ErrInvalidLen)
	}
	newCID := cid
	if cid == BroadcastCID {
		newCID = s.allocate(from)
	} else {
		if s.asm != nil && s.asm.cid == cid {
			s.dropAssembly()
		}
		if s.run != nil && s.run.cid == cid && !s.run.aborted {
			s.run.aborted = true
			s.run.cancel()
			s.kaTimer = nil
		}
		if s.lockCID == cid {
			s.unlock()
		}
	}
	resp := make([]byte, 17)
	copy(resp, p.Data[:nonceSize])
	binary.BigEndian.PutUint32(resp[8:], newCID)
	resp[12] = ProtocolVersion
	copy(resp[13:16], s.cfg.Version[:])
	resp[16] = s.caps
	return s.send(from, cid, CmdInit, resp)
}

// cancel handles CTAPHID_CANCEL (CTAP 2.1 §11.2.9.1.5). It never answers.
func (s *server) cancel(p Packet, from netip.AddrPort) {
	if s.run == nil || s.run.aborted || s.run.cid != p.CID || s.run.peer != from {
		s.cfg.Logf("ctaphid: ignoring CTAPHID_CANCEL on idle channel %08x", p.CID)
		return
	}
	s.run.cancel()
}

// dispatch acts on a complete message from the host from.
func (s *server) dispatch(ctx context.Context, a *assembler, from netip.AddrPort) error {
	cid, data := a.cid, a.buf
	switch a.cmd {
	case CmdPing: // CTAP 2.1 §11.2.9.1.4
		return s.send(from, cid, CmdPing, data)
	case CmdWink: // CTAP 2.1 §11.2.9.2.1
		if len(data) != 0 {
			return s.sendError(from, cid, ErrInvalidLen)
		}
		s.winker.Wink()
		return s.send(from, cid, CmdWink, nil)
	case CmdLock: // CTAP 2.1 §11.2.9.2.2
		if len(data) != 1 {
			return s.sendError(from, cid, ErrInvalidLen)
		}
		secs := data[0]
		if secs > maxLockSeconds {
			return s.sendError(from, cid, ErrInvalidPar)
		}
		if secs == 0 {
			s.unlock()
		} else {
			s.lockCID = cid
			s.lockTimer = s.cfg.After(time.Duration(secs) * time.Second)
		}
		return s.send(from, cid, CmdLock, nil)
	case CmdCBOR, CmdMsg: // CTAP 2.1 §11.2.9.1.2, §11.2.9.1.1
		if len(data) == 0 {
			return s.sendError(from, cid, ErrInvalidLen)
		}
		s.start(ctx, cid, from, a.cmd, data)
		return nil
	}
	return s.sendError(from, cid, ErrInvalidCmd) // unreachable: supported filtered
}

// start prepares the handler call for a CTAPHID_CBOR or CTAPHID_MSG
// request; the loop hands it to its goroutine.
func (s *server) start(ctx context.Context, cid uint32, from netip.AddrPort, cmd Cmd, req []byte) {
	t := &transaction{cid: cid, peer: from, cmd: cmd, kaSent: StatusProcessing}
	if cmd == CmdCBOR {
		t.kaState.changed = s.kaChanged
		t.kaState.status.Store(uint32(StatusProcessing))
		t.ka = &t.kaState
		s.kaTimer = s.after(&s.kaClock, s.cfg.KeepaliveInterval)
	}
	t.Context, t.cancel = context.WithCancel(ctx)
	t.job = job{ctx: t, cmd: cmd, req: req}
	s.run = t
	s.pending = &t.job
}

// runJob calls the handler for j, without s.mu, and then sends its
// response. The error is a device error: Serve stops.
func (s *server) runJob(j *job) error {
	var res handlerResult
	if j.cmd == CmdCBOR {
		res.resp = s.h.HandleCBOR(j.ctx, j.req)
	} else {
		res.resp, res.err = s.h.HandleMsg(j.ctx, j.req)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finish(res)
}

// after returns a channel that receives once d has passed: cfg.After's, or,
// with the real clock, *t's, made on first use and reset after.
func (s *server) after(t **time.Timer, d time.Duration) <-chan time.Time {
	if !s.realClock {
		return s.cfg.After(d)
	}
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	return (*t).C
}

// finish sends the response of the running handler and ends its
// transaction: the device is no longer busy. s.mu is held.
func (s *server) finish(res handlerResult) error {
	t := s.run
	s.run = nil
	s.kaTimer = nil
	if s.realClock && s.kaClock != nil {
		s.kaClock.Stop()
	}
	t.cancel()
	if t.aborted || s.stopped {
		return nil
	}
	if res.err != nil {
		code := ErrOther
		if !errors.As(res.err, &code) {
			s.cfg.Logf("ctaphid: %v handler: %v", t.cmd, res.err)
		}
		return s.sendError(t.peer, t.cid, code)
	}
	if len(res.resp) > MaxMessageSize {
		s.cfg.Logf("ctaphid: %v handler returned %d bytes, more than %d", t.cmd, len(res.resp), MaxMessageSize)
		return s.sendError(t.peer, t.cid, ErrOther)
	}
	return s.send(t.peer, t.cid, t.cmd, res.resp)
}

// keepalive sends a KEEPALIVE packet for the running CTAPHID_CBOR request.
func (s *server) keepalive() error {
	t := s.run
	if t == nil || t.ka == nil || t.aborted {
		return nil
	}
	status := KeepaliveStatus(t.ka.status.Load())
	t.kaSent = status
	return s.write(t.peer, InitPacket(t.cid, CmdKeepalive, 1, []byte{byte(status)}))
}

// keepaliveChanged sends a KEEPALIVE packet at once when the handler's
// status differs from the one the host last got (STATUS_PROCESSING before
// any). A change the handler undid before Serve saw it, such as a touch
// asked for and given at once, is not news to the host and sends nothing.
func (s *server) keepaliveChanged() error {
	t := s.run
	if t == nil || t.ka == nil || t.aborted || KeepaliveStatus(t.ka.status.Load()) == t.kaSent {
		return nil
	}
	return s.keepalive()
}

// transactionTimeout abandons a message that did not arrive in time
// (CTAP 2.1 §11.2.5.2).
func (s *server) transactionTimeout() error {
	cid, peer := s.asm.cid, s.asmPeer
	s.dropAssembly()
	return s.sendError(peer, cid, ErrMsgTimeout)
}

func (s *server) dropAssembly() {
	s.asm = nil
	s.asmPeer = netip.AddrPort{}
	s.asmTimer = nil
}

func (s *server) unlock() {
	s.lockCID = 0
	s.lockTimer = nil
}

// allocate hands out a channel ID, never 0 or BroadcastCID, unique until all
// 2^32-2 have been used (CTAP 2.1 §11.2.3). On a PeerDevice the channel
// belongs to from.
func (s *server) allocate(from netip.AddrPort) uint32 {
	for {
		cid := s.next
		s.next++
		if s.next == s.first {
			s.all = true
		}
		if cid == 0 || cid == BroadcastCID {
			continue
		}
		if s.routes != nil {
			if len(s.routes) >= maxPeerChannels {
				s.forgetOldest()
			}
			s.tick++
			s.routes[cid] = route{peer: from, used: s.tick}
		}
		return cid
	}
}

// forgetOldest forgets the owner of the channel used least recently, other
// than one with a message, a handler or a lock in progress.
func (s *server) forgetOldest() {
	var (
		oldest    uint32
		oldestUse uint64
		found     bool
	)
	for cid, r := range s.routes {
		if s.busyOn(cid) {
			continue
		}
		if !found || r.used < oldestUse {
			oldest, oldestUse, found = cid, r.used, true
		}
	}
	if found {
		delete(s.routes, oldest)
	}
}

// busyOn reports whether cid has a message, a handler or a lock in progress.
func (s *server) busyOn(cid uint32) bool {
	return (s.asm != nil && s.asm.cid == cid) || (s.run != nil && s.run.cid == cid) || s.lockCID == cid
}

// allocated reports whether cid was handed out by allocate.
func (s *server) allocated(cid uint32) bool {
	if cid == 0 || cid == BroadcastCID {
		return false
	}
	return s.all || cid-s.first < s.next-s.first
}

// owns reports whether from may use cid: cid was allocated, and, on a
// PeerDevice, allocated to from and not forgotten since.
func (s *server) owns(cid uint32, from netip.AddrPort) bool {
	if s.routes == nil {
		return s.allocated(cid)
	}
	r, ok := s.routes[cid]
	if !ok || r.peer != from {
		return false
	}
	s.tick++
	r.used = s.tick
	s.routes[cid] = r
	return true
}

func (s *server) sendError(to netip.AddrPort, cid uint32, code ErrorCode) error {
	s.cfg.Logf("ctaphid: channel %08x: %v", cid, code)
	return s.write(to, errorPacket(cid, code))
}

func (s *server) send(to netip.AddrPort, cid uint32, cmd Cmd, msg []byte) error {
	if checkMessageSize(msg) != nil {
		return s.sendError(to, cid, ErrOther) // unreachable: callers check the size
	}
	return eachPacket(cid, cmd, msg, func(p []byte) error { return s.write(to, p) })
}

// write sends one report, made for this write, to the host to. On a
// PeerDevice a report that
// cannot reach its host is that host's loss: it is logged, and Serve goes
// on unless the device itself is closed.
func (s *server) write(to netip.AddrPort, report []byte) error {
	if s.peers == nil {
		if err := writeOwned(s.dev, report); err != nil {
			return fmt.Errorf("ctaphid: writing a report: %w", err)
		}
		return nil
	}
	if err := s.peers.WriteReportTo(report, to); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("ctaphid: writing a report: %w", err)
		}
		s.cfg.Logf("ctaphid: dropping a report to %v: %v", to, err)
	}
	return nil
}
