package main

// The control socket speaks package control's protocol
// (docs/control-protocol.md): a Unix stream socket (mode 0600) on which
// the daemon takes one JSON request per line and answers each with one
// JSON response per line, in order. The daemon is the protocol's
// control.Backend: a person's touch, deny and finger answer the request
// waiting under the --presence mode; presence, uv, samples and advance
// script the key for a test tool (ctaptest --control), and power-cycle
// restarts the key from its state.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/profile"
)

// Control operations of the subcommands.
const (
	opTouch      = control.OpTouch
	opDeny       = control.OpDeny
	opFinger     = control.OpFinger
	opPowerCycle = control.OpPowerCycle
	opStatus     = control.OpStatus
)

type (
	controlRequest  = control.Request
	controlResponse = control.Response
	daemonStatus    = control.Status
	waitingStatus   = control.Waiting
)

// defaultControlPath is $XDG_RUNTIME_DIR/virtkey.sock, or
// /run/virtkey.sock for root on a system with /run; otherwise, on a
// minimal system, virtkey-UID/virtkey.sock in the temporary directory, a
// folder serve makes private to the user (controlSocketDir).
func defaultControlPath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "virtkey.sock")
	}
	if fi, err := os.Stat("/run"); os.Geteuid() == 0 && err == nil && fi.IsDir() {
		return "/run/virtkey.sock"
	}
	return filepath.Join(fallbackControlDir(), "virtkey.sock")
}

// fallbackControlDir is the folder of the control socket when neither
// XDG_RUNTIME_DIR nor /run serves.
func fallbackControlDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("virtkey-%d", os.Geteuid()))
}

// controlListener is the daemon's socket.
type controlListener struct {
	ln   *net.UnixListener
	path string
	fi   os.FileInfo // the socket file as created, to remove only ours
}

// listenControl creates the socket at path with mode 0600. The socket is
// bound in a new private directory, given its mode there and then renamed
// into place, so nobody can connect while it has the umask's mode. A
// stale socket (nobody listening) is replaced; a live one is an error.
func listenControl(path string) (*controlListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("control socket %s: exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another virtkey is listening there", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("control socket %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: removing the stale socket: %w", path, err)
		}
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".virtkey-sock-")
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	defer os.Remove(dir)
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*controlListener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &controlListener{ln: ln, path: path, fi: fi}, nil
}

// Close stops listening and removes the socket if it is still ours.
func (c *controlListener) Close() error {
	err := c.ln.Close()
	if fi, e := os.Lstat(c.path); e == nil && os.SameFile(fi, c.fi) {
		os.Remove(c.path)
	}
	return err
}

// serveControl answers the control socket until ctx ends.
func (d *daemon) serveControl(ctx context.Context, l *controlListener, log *slog.Logger) {
	srv := &control.Server{Backend: d, Logf: func(format string, args ...any) {
		log.Info(fmt.Sprintf(format, args...))
	}}
	if err := srv.Serve(ctx, l.ln); err != nil {
		log.Error("control socket", "err", err)
	}
}

// daemon is a running key: what the control socket works on. It is the
// control.Backend of the socket.
type daemon struct {
	cfg       authenticator.Config // what a power cycle builds the key from
	presence  *userPresence        // the --presence mode
	user      scriptedUser         // the key's Presence: the mode or a script
	clock     *control.Clock
	store     *watchedStore
	profile   *profile.Profile
	statePath string
	transport string
	started   time.Time

	mu          sync.Mutex
	key         *authenticator.Authenticator
	powerCycles int
}

var _ control.Backend = (*daemon)(nil)

// newKey builds the key from d.cfg, with the daemon's user and clock.
func (d *daemon) newKey() (*authenticator.Authenticator, error) {
	d.user.own = d.presence
	d.cfg.Presence = &d.user
	d.cfg.Now = d.clock.Now
	return authenticator.New(d.cfg)
}

func (d *daemon) current() *authenticator.Authenticator {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.key
}

// handler is the ctaphid.Handler: the current key, logged.
func (d *daemon) handler(log *slog.Logger) *liveHandler { return &liveHandler{d: d, log: log} }

// liveHandler forwards to the key that runs now, so that the transport
// reaches the new key after a power cycle.
type liveHandler struct {
	d   *daemon
	log *slog.Logger
}

func (h *liveHandler) lh() loggingHandler { return loggingHandler{h.d.current(), h.log} }

func (h *liveHandler) HandleCBOR(ctx context.Context, req []byte) []byte {
	return h.lh().HandleCBOR(ctx, req)
}

func (h *liveHandler) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	return h.lh().HandleMsg(ctx, req)
}

func (h *liveHandler) Wink() { h.d.current().Wink() }

// Status implements control.Backend.
func (d *daemon) Status() *control.Status {
	sum := d.store.summary()
	d.mu.Lock()
	winks, cycles := d.key.Winks(), d.powerCycles
	d.mu.Unlock()
	return &control.Status{
		Profile:       d.profile.Name,
		Presence:      d.presence.mode,
		Transport:     d.transport,
		State:         d.statePath,
		Credentials:   sum.Credentials,
		RPs:           sum.RPs,
		PINSet:        sum.PINSet,
		PINRetries:    sum.PINRetries,
		SignCount:     sum.SignCount,
		Waiting:       d.presence.waiting(),
		FingersQueued: d.presence.queuedFingers(),
		Winks:         winks,
		Started:       d.started,
		Scripted:      d.user.scripted(),
		ClockOffset:   int64(d.clock.Offset()),
		PowerCycles:   cycles,
	}
}

// PowerCycle implements control.Controller: a real restart. The running
// key is stopped (a command in progress is cancelled), fingers on the
// sensor and queued answers are gone, and a new key is built from the
// state, which holds what the old one acknowledged and nothing else.
func (d *daemon) PowerCycle(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.key.PowerCycle()
	d.presence.powerCycle()
	d.user.script.Forget()
	key, err := d.newKey()
	if err != nil {
		return fmt.Errorf("the key does not start again: %w", err)
	}
	d.key = key
	d.powerCycles++
	return nil
}

// Capabilities implements control.Controller.
func (d *daemon) Capabilities() []control.Capability {
	caps := []control.Capability{control.CapControl, control.CapPowerCycle, control.CapClock}
	if d.cfg.BuiltInUV {
		caps = append(caps, control.CapUV)
	}
	if d.cfg.BioEnrollment {
		caps = append(caps, control.CapFingerprint)
	}
	return caps
}

// SetPresence implements control.Controller: the script replaces the
// --presence mode until DefaultPresence.
func (d *daemon) SetPresence(p control.Presence) error {
	if p < control.PresenceAuto || p > control.PresenceWait {
		return fmt.Errorf("%v: no such presence", p)
	}
	d.user.script.SetPresence(p)
	d.user.touchScripted.Store(true)
	return nil
}

// DefaultPresence implements control.Backend: touches, verifications and
// captures are answered by the --presence mode again.
func (d *daemon) DefaultPresence() error {
	d.user.touchScripted.Store(false)
	d.user.uvScripted.Store(false)
	d.user.script.SetPresence(control.PresenceAuto)
	d.user.script.SetUV(control.UVMatch)
	d.user.script.Forget()
	return nil
}

// SetUV implements control.Controller.
func (d *daemon) SetUV(o control.UVOutcome) error {
	if o < control.UVMatch || o > control.UVTimeout {
		return fmt.Errorf("%v: no such UV outcome", o)
	}
	if !d.cfg.BuiltInUV {
		return fmt.Errorf("%w: this key (profile %s) has no built-in user verification", control.ErrUnsupported, d.profile.Name)
	}
	d.user.script.SetUV(o)
	d.user.uvScripted.Store(true)
	return nil
}

// PushSamples implements control.Controller.
func (d *daemon) PushSamples(samples ...control.FingerSample) error {
	if !d.cfg.BioEnrollment {
		return fmt.Errorf("%w: this key (profile %s) has no fingerprint sensor", control.ErrUnsupported, d.profile.Name)
	}
	d.user.script.PushSamples(samples...)
	d.user.uvScripted.Store(true)
	return nil
}

// Advance implements control.Controller: the key's clock runs ahead of
// the system's by the sum of the advances.
func (d *daemon) Advance(dur time.Duration) error { return d.clock.Advance(dur) }

// Touch implements control.Backend.
func (d *daemon) Touch() (string, error) {
	msg, err := d.presence.touch()
	return msg, d.explain(err)
}

// Deny implements control.Backend.
func (d *daemon) Deny() (string, error) {
	msg, err := d.presence.deny()
	return msg, d.explain(err)
}

func (d *daemon) explain(err error) error {
	if err != nil && (d.presence.mode == presenceAuto || d.presence.mode == presenceDeny) {
		return fmt.Errorf("%w (presence is %q: the daemon answers by itself)", err, d.presence.mode)
	}
	return err
}

// Finger implements control.Backend.
func (d *daemon) Finger(f control.Finger) (string, error) {
	if !d.profile.Sensor {
		return "", fmt.Errorf("this key (profile %s) has no fingerprint sensor", d.profile.Name)
	}
	return d.presence.finger(fingerEvent{Finger: f.Finger, Bad: f.Bad}), nil
}

// WaitPending implements control.Backend.
func (d *daemon) WaitPending(ctx context.Context) error { return d.presence.waitPending(ctx) }

// scriptedUser is the key's user: the --presence mode (own), or, once a
// controller scripted it, a control.User: touches once SetPresence was
// called, verifications and captures once SetUV or PushSamples was.
type scriptedUser struct {
	own           *userPresence
	script        control.User
	touchScripted atomic.Bool
	uvScripted    atomic.Bool
}

var (
	_ authenticator.Verifier          = (*scriptedUser)(nil)
	_ authenticator.FingerprintSensor = (*scriptedUser)(nil)
)

func (u *scriptedUser) scripted() string {
	var s string
	if u.touchScripted.Load() {
		s = "presence"
	}
	if u.uvScripted.Load() {
		if s != "" {
			s += ", "
		}
		s += "uv"
	}
	return s
}

// Touch implements authenticator.Presence.
func (u *scriptedUser) Touch(ctx context.Context, req authenticator.TouchRequest) error {
	if u.touchScripted.Load() {
		return u.script.Touch(ctx, req)
	}
	return u.own.Touch(ctx, req)
}

// VerifyUser implements authenticator.Verifier.
func (u *scriptedUser) VerifyUser(ctx context.Context, req authenticator.UVRequest) error {
	if u.uvScripted.Load() {
		return u.script.VerifyUser(ctx, req)
	}
	return u.own.VerifyUser(ctx, req)
}

// Capture implements authenticator.FingerprintSensor.
func (u *scriptedUser) Capture(ctx context.Context, req authenticator.CaptureRequest) (authenticator.Sample, error) {
	if u.uvScripted.Load() {
		return u.script.Capture(ctx, req)
	}
	return u.own.Capture(ctx, req)
}
