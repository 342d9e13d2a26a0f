package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/virtkey/virtkey/ctaphid"
)

// Transport carries CTAPHID messages (CTAP 2.1 §11.2); *ctaphid.Conn and
// *Device satisfy it. Call sends one message of command cmd and returns the
// response payload. When ctx is done before the response arrives, a CTAPHID
// transport sends CTAPHID_CANCEL and may return the device's final response
// together with ctx.Err().
type Transport interface {
	Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, onKeepalive func(ctaphid.KeepaliveStatus)) ([]byte, error)
}

// DefaultUDPAddr is where the SoloKeys simulator convention puts a UDP
// device: one 64-byte report per datagram, no report-ID byte.
const DefaultUDPAddr = "127.0.0.1:8111"

// Device is an open CTAPHID device: a ctaphid.Conn on an allocated channel,
// plus what it owns (for OpenInProcess, the goroutine running ctaphid.Serve).
type Device struct {
	conn *ctaphid.Conn

	stop   context.CancelFunc // stops an in-process Serve; nil otherwise
	served chan error         // receives Serve's result

	closeOnce sync.Once
	closeErr  error
}

var _ Transport = (*Device)(nil)
var _ Transport = (*ctaphid.Conn)(nil)

// OpenDevice allocates a CTAPHID channel on rd with CTAPHID_INIT
// (CTAP 2.1 §11.2.9.1.3). The Device takes rd over: Close closes it, and
// OpenDevice closes it when it fails. ctx bounds the INIT exchange only.
func OpenDevice(ctx context.Context, rd ctaphid.ReportDevice) (*Device, error) {
	conn, err := ctaphid.Open(ctx, rd, nil)
	if err != nil {
		return nil, fmt.Errorf("client: opening CTAPHID device: %w", err)
	}
	return &Device{conn: conn}, nil
}

// OpenUDP opens the device listening on the UDP address addr (for example
// DefaultUDPAddr) under the SoloKeys simulator convention. UDP gives no
// sign that nobody listens: give ctx a deadline.
func OpenUDP(ctx context.Context, addr string) (*Device, error) {
	rd, err := ctaphid.DialUDP(addr)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return OpenDevice(ctx, rd)
}

// OpenInProcess runs h behind real CTAPHID framing: ctaphid.Serve runs in a
// goroutine on the device end of an in-memory ctaphid.Pipe and the Device
// talks to the host end, so every message goes through packets, channels,
// keepalives and cancel like on a USB key. cfg is passed to Serve (nil means
// its defaults). Serve keeps running after ctx is done (ctx bounds the
// opening only); Close stops it and waits for it.
func OpenInProcess(ctx context.Context, h ctaphid.Handler, cfg *ctaphid.ServerConfig) (*Device, error) {
	devEnd, hostEnd := ctaphid.Pipe()
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- ctaphid.Serve(sctx, devEnd, h, cfg) }()
	conn, err := ctaphid.Open(ctx, hostEnd, nil)
	if err != nil {
		stop()
		<-served
		return nil, fmt.Errorf("client: opening in-process device: %w", err)
	}
	return &Device{conn: conn, stop: stop, served: served}, nil
}

// Conn returns the CTAPHID connection, for transport-level commands (Ping,
// Wink, Lock) and raw reports.
func (d *Device) Conn() *ctaphid.Conn { return d.conn }

// Call implements Transport with ctaphid.Conn.Call: it keeps no reference
// to payload once it returns, and the response is a new slice, the
// caller's to keep.
func (d *Device) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, onKeepalive func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	return d.conn.Call(ctx, cmd, payload, onKeepalive)
}

// Close closes the connection and the report device. For an in-process
// device it also stops Serve and waits for it to return; an error Serve
// returned for a reason other than being stopped is reported.
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		var serveErr error
		if d.stop != nil {
			d.stop()
			serveErr = <-d.served
			if isClosedErr(serveErr) {
				serveErr = nil
			} else {
				serveErr = fmt.Errorf("client: in-process ctaphid.Serve: %w", serveErr)
			}
		}
		d.closeErr = errors.Join(d.conn.Close(), serveErr)
	})
	return d.closeErr
}

func isClosedErr(err error) bool {
	return err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}
