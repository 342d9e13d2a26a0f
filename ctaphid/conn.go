package ctaphid

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DeviceInfo is a device's CTAPHID_INIT response (CTAP 2.1 §11.2.9.1.3).
type DeviceInfo struct {
	CID             uint32  // the channel allocated to the Conn
	ProtocolVersion byte    // CTAPHID protocol version, 2
	Version         [3]byte // device version: major, minor, build
	Capabilities    byte    // CapWink, CapCBOR, CapNMsg
}

// initResponseSize is the length of a CTAPHID_INIT response.
const initResponseSize = 17

// cancelWait bounds how long Call waits, after sending CTAPHID_CANCEL, for
// the device's final response.
const cancelWait = 2 * time.Second

// Conn is the host side of a CTAPHID channel on a device. Its methods take
// one lock, so they run one at a time: a Call in progress holds the Conn
// until it returns, and ReadRaw and WriteRaw wait for it. Use the Call's
// context to interrupt it, or Close.
type Conn struct {
	dev   ReportDevice
	rand  io.Reader
	after func(time.Duration) <-chan time.Time
	info  DeviceInfo

	in <-chan []byte // reports from the reader goroutine; closed when it stops
	// For a Pipe end there is no reader goroutine: in is the pipe's own
	// channel, pipeDone is closed by dev.Close and pipePeer by the other
	// end's Close. Both are nil otherwise.
	pipeDone, pipePeer <-chan struct{}
	readErr            error // why the reader stopped; set before in is closed
	closed             chan struct{}
	readerDone         chan struct{}
	closeOnce          sync.Once
	closeErr           error

	mu sync.Mutex
	// dirty is set when a Call stopped before the device's response
	// arrived in full; the next Call first resynchronises the channel with
	// CTAPHID_INIT (CTAP 2.1 §11.2.5.3) so that a late response is not
	// taken for its own.
	dirty bool
}

// Open allocates a channel on dev with CTAPHID_INIT on the broadcast channel
// (CTAP 2.1 §11.2.9.1.3), using an 8-byte nonce from rand (nil means
// crypto/rand), and checks the nonce echo; responses to other hosts' INITs
// are skipped. Open takes dev over: Conn.Close closes it, and Open closes it
// when it fails.
func Open(ctx context.Context, dev ReportDevice, rand io.Reader) (*Conn, error) {
	c := newConn(dev, rand)
	info, err := c.initChannel(ctx, BroadcastCID)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.info = info
	return c, nil
}

func newConn(dev ReportDevice, r io.Reader) *Conn {
	if r == nil {
		r = rand.Reader
	}
	c := &Conn{
		dev:        dev,
		rand:       r,
		after:      time.After,
		closed:     make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	if rx, done, peer, ok := pipeReports(dev); ok {
		c.in, c.pipeDone, c.pipePeer = rx, done, peer
		close(c.readerDone)
		return c
	}
	in := make(chan []byte)
	c.in = in
	go c.readLoop(in)
	return c
}

func (c *Conn) readLoop(in chan<- []byte) {
	defer close(c.readerDone)
	defer close(in)
	for {
		r, err := c.dev.ReadReport()
		if err != nil {
			c.readErr = err
			return
		}
		select {
		case in <- r:
		case <-c.closed:
			c.readErr = net.ErrClosed
			return
		}
	}
}

// Info returns the device's answer to the INIT that opened c.
func (c *Conn) Info() DeviceInfo { return c.info }

// Close closes the device and stops c's reader. It interrupts a Call in
// progress.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.closeErr = c.dev.Close()
		<-c.readerDone
	})
	return c.closeErr
}

// next returns the next report from the device.
func (c *Conn) next(ctx context.Context) ([]byte, error) {
	select {
	case r, ok := <-c.in:
		if !ok {
			return nil, fmt.Errorf("ctaphid: reading a report: %w", c.readErr)
		}
		return r, nil
	case <-c.pipeDone:
		return nil, fmt.Errorf("ctaphid: reading a report: %w", net.ErrClosed)
	case <-c.pipePeer:
		r, err := c.afterPeerClosed()
		if err != nil {
			return nil, fmt.Errorf("ctaphid: reading a report: %w", err)
		}
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// afterPeerClosed returns a report the other end of a Pipe sent before it
// closed, or io.EOF when none is left.
func (c *Conn) afterPeerClosed() ([]byte, error) {
	select {
	case r := <-c.in:
		return r, nil
	default:
		return nil, io.EOF
	}
}

// initChannel sends CTAPHID_INIT on cid and waits for the answer carrying
// its nonce (CTAP 2.1 §11.2.9.1.3).
func (c *Conn) initChannel(ctx context.Context, cid uint32) (DeviceInfo, error) {
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(c.rand, nonce); err != nil {
		return DeviceInfo{}, fmt.Errorf("ctaphid: INIT nonce: %w", err)
	}
	if err := writeOwned(c.dev, InitPacket(cid, CmdInit, nonceSize, nonce)); err != nil {
		return DeviceInfo{}, fmt.Errorf("ctaphid: writing a report: %w", err)
	}
	for {
		r, err := c.next(ctx)
		if err != nil {
			return DeviceInfo{}, err
		}
		p, ok := parseReport(r)
		if !ok || !p.Init || p.CID != cid {
			continue
		}
		if p.Cmd == CmdError && cid != BroadcastCID {
			return DeviceInfo{}, ErrorCode(p.Data[0])
		}
		if p.Cmd != CmdInit || p.BCNT < initResponseSize || !bytes.Equal(p.Data[:nonceSize], nonce) {
			continue // another host's INIT, or noise
		}
		d := p.Data
		info := DeviceInfo{
			CID:             binary.BigEndian.Uint32(d[8:]),
			ProtocolVersion: d[12],
			Version:         [3]byte(d[13:16]),
			Capabilities:    d[16],
		}
		switch {
		case info.CID == 0 || info.CID == BroadcastCID:
			return DeviceInfo{}, fmt.Errorf("ctaphid: INIT allocated the invalid channel %08x", info.CID)
		case cid != BroadcastCID && info.CID != cid:
			return DeviceInfo{}, fmt.Errorf("ctaphid: INIT on channel %08x answered with channel %08x", cid, info.CID)
		}
		return info, nil
	}
}

// parseReport parses a report from the device, zero-padding a short one.
func parseReport(r []byte) (Packet, bool) {
	r, ok := padReport(r)
	if !ok {
		return Packet{}, false
	}
	p, err := ParsePacket(r)
	return p, err == nil
}

// Call sends one message on c's channel and waits for the response with the
// same command, skipping packets for other channels and KEEPALIVE packets,
// each of which it reports to onKeepalive if that is non-nil
// (CTAP 2.1 §11.2.9.1.7). A CTAPHID_ERROR response is returned as an
// ErrorCode error.
//
// When ctx is done before the response arrives, Call sends CTAPHID_CANCEL on
// the channel (CTAP 2.1 §11.2.9.1.5) and keeps waiting, for a few seconds at
// most, for the device's final response: a CTAP2 device answers a cancelled
// CTAPHID_CBOR request with status 0x2D (CTAP2_ERR_KEEPALIVE_CANCEL). Call
// then returns that response, or nil if none came, together with ctx.Err();
// so errors.Is(err, context.Canceled) holds and the response tells what the
// device did. If no complete response came, the next Call first
// resynchronises the channel with CTAPHID_INIT. Call keeps no reference to
// payload once it returns; the response is a new slice, the caller's to
// keep.
func (c *Conn) Call(ctx context.Context, cmd Cmd, payload []byte, onKeepalive func(KeepaliveStatus)) ([]byte, error) {
	if err := checkMessageSize(payload); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.dirty {
		if _, err := c.initChannel(ctx, c.info.CID); err != nil {
			return nil, fmt.Errorf("ctaphid: resynchronising channel %08x: %w", c.info.CID, err)
		}
		c.dirty = false
	}
	if err := eachPacket(c.info.CID, cmd, payload, func(p []byte) error { return writeOwned(c.dev, p) }); err != nil {
		c.dirty = true
		return nil, fmt.Errorf("ctaphid: writing a report: %w", err)
	}
	return c.await(ctx, cmd, onKeepalive)
}

// await collects the response to cmd on c's channel.
func (c *Conn) await(ctx context.Context, cmd Cmd, onKeepalive func(KeepaliveStatus)) ([]byte, error) {
	var (
		a      *assembler // &asm once the response started
		asm    assembler
		done   = ctx.Done()
		ctxErr error
		grace  <-chan time.Time
	)
	fast := 0
	for {
		var r []byte
		// A report already waiting is taken without the full select,
		// which locks every channel it watches; at most maxFastReports
		// in a row, so ctx and the grace period are still seen while a
		// device floods the host.
		if fast < maxFastReports {
			select {
			case rr, ok := <-c.in:
				if ok {
					r = rr
				}
			default:
			}
		}
		if r != nil {
			fast++
		} else {
			fast = 0
			select {
			case rr, ok := <-c.in:
				if !ok {
					c.dirty = true
					return nil, errors.Join(ctxErr, fmt.Errorf("ctaphid: reading a report: %w", c.readErr))
				}
				r = rr
			case <-c.pipeDone:
				c.dirty = true
				return nil, errors.Join(ctxErr, fmt.Errorf("ctaphid: reading a report: %w", net.ErrClosed))
			case <-c.pipePeer:
				rr, err := c.afterPeerClosed()
				if err != nil {
					c.dirty = true
					return nil, errors.Join(ctxErr, fmt.Errorf("ctaphid: reading a report: %w", err))
				}
				r = rr
			case <-done:
				done = nil
				ctxErr = ctx.Err()
				grace = c.after(cancelWait)
				if err := writeOwned(c.dev, InitPacket(c.info.CID, CmdCancel, 0, nil)); err != nil {
					c.dirty = true
					return nil, errors.Join(ctxErr, fmt.Errorf("ctaphid: writing a report: %w", err))
				}
				continue
			case <-grace:
				c.dirty = true
				return nil, ctxErr
			}
		}

		p, ok := parseReport(r)
		if !ok || p.CID != c.info.CID {
			continue
		}
		switch {
		case !p.Init:
			if a == nil {
				continue // a stray continuation
			}
			if err := a.add(p); err != nil {
				c.dirty = true
				return nil, errors.Join(ctxErr, fmt.Errorf("ctaphid: %v response: %w", cmd, err))
			}
		case p.Cmd == CmdKeepalive:
			if a == nil && onKeepalive != nil && p.BCNT >= 1 {
				onKeepalive(KeepaliveStatus(p.Data[0]))
			}
			continue
		case p.Cmd == CmdError:
			code := ErrorCode(p.Data[0])
			if ctxErr != nil {
				return nil, fmt.Errorf("%w (device answered %w)", ctxErr, code)
			}
			return nil, code
		case p.Cmd == cmd && a == nil:
			if err := asm.start(p); err != nil {
				c.dirty = true
				return nil, errors.Join(ctxErr, fmt.Errorf("ctaphid: %v response: %w", cmd, err))
			}
			a = &asm
		default:
			c.dirty = true
			return nil, errors.Join(ctxErr, fmt.Errorf("ctaphid: unexpected %v packet in answer to %v: %w", p.Cmd, cmd, ErrInvalidSeq))
		}
		if a.done() {
			return a.buf, ctxErr
		}
	}
}

// Ping sends CTAPHID_PING and checks the echo (CTAP 2.1 §11.2.9.1.4).
func (c *Conn) Ping(ctx context.Context, data []byte) ([]byte, error) {
	resp, err := c.Call(ctx, CmdPing, data, nil)
	if err != nil {
		return resp, err
	}
	if !bytes.Equal(resp, data) {
		return resp, fmt.Errorf("ctaphid: PING echoed %d bytes that differ from the %d sent", len(resp), len(data))
	}
	return resp, nil
}

// Wink sends CTAPHID_WINK (CTAP 2.1 §11.2.9.2.1).
func (c *Conn) Wink(ctx context.Context) error {
	_, err := c.Call(ctx, CmdWink, nil, nil)
	return err
}

// Lock sends CTAPHID_LOCK for seconds, 0 to 10; 0 releases the lock
// (CTAP 2.1 §11.2.9.2.2).
func (c *Conn) Lock(ctx context.Context, seconds byte) error {
	_, err := c.Call(ctx, CmdLock, []byte{seconds}, nil)
	return err
}

// WriteRaw writes one report as given, for tests that send malformed
// framing. It waits for a Call in progress.
func (c *Conn) WriteRaw(report []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dev.WriteReport(report)
}

// ReadRaw returns the next report from the device, whatever its channel. It
// waits for a Call in progress; reports a Call skipped are gone.
func (c *Conn) ReadRaw(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next(ctx)
}
