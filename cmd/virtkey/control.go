package main

// The control socket: a Unix stream socket (mode 0600) on which the
// daemon takes one JSON object per line and answers each with one JSON
// object per line, in order. A connection may carry any number of
// requests.
//
//	request:  {"op": "touch"|"deny"|"finger"|"power-cycle"|"status",
//	           "wait": true,      touch, deny, status: first wait until a request waits for a touch
//	           "finger": 1..10,   finger: which finger
//	           "bad": true}       finger: a finger that is not enrolled
//	response: {"ok": true, "message": "...", "status": {...}}
//	          {"ok": false, "error": "..."}
//
// A waiting request ends when the daemon stops or the client closes the
// connection (or shuts down its writing side). Every response carries
// the status after the operation.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Control operations.
const (
	opTouch      = "touch"
	opDeny       = "deny"
	opFinger     = "finger"
	opPowerCycle = "power-cycle"
	opStatus     = "status"
)

// maxControlLine bounds a request line; a longer one ends the connection.
const maxControlLine = 4096

type controlRequest struct {
	Op     string `json:"op"`
	Wait   bool   `json:"wait,omitempty"`
	Finger int    `json:"finger,omitempty"`
	Bad    bool   `json:"bad,omitempty"`
}

type controlResponse struct {
	OK      bool          `json:"ok"`
	Error   string        `json:"error,omitempty"`
	Message string        `json:"message,omitempty"`
	Status  *daemonStatus `json:"status,omitempty"`
}

// daemonStatus is what the key holds and what it waits for.
type daemonStatus struct {
	Profile   string `json:"profile"`
	Presence  string `json:"presence"`
	Transport string `json:"transport"`
	// State is the state file, empty when the state is in memory.
	State string `json:"state,omitempty"`
	stateSummary
	// Waiting is the request waiting for the user, if any.
	Waiting       *waitingStatus `json:"waiting,omitempty"`
	FingersQueued int            `json:"fingersQueued"`
	Winks         int            `json:"winks"`
	Started       time.Time      `json:"started"`
}

type waitingStatus struct {
	For     string    `json:"for"` // "touch" or "finger"
	Command string    `json:"command"`
	Reason  string    `json:"reason"`
	RPID    string    `json:"rpId,omitempty"`
	Since   time.Time `json:"since"`
	Seconds float64   `json:"seconds"`
}

// defaultControlPath is $XDG_RUNTIME_DIR/virtkey.sock, or
// /run/virtkey.sock for root; empty when neither applies.
func defaultControlPath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "virtkey.sock")
	}
	if os.Geteuid() == 0 {
		return "/run/virtkey.sock"
	}
	return ""
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

// controlServer answers the control socket for a daemon.
type controlServer struct {
	d   *daemon
	log *slog.Logger
}

// serve accepts connections until ctx ends, then closes them all and
// returns once their handlers have.
func (s *controlServer) serve(ctx context.Context, l *controlListener) {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { l.ln.Close() })
	defer stop()
	for {
		conn, err := l.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("control socket", "err", err)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
	wg.Wait()
}

// serveConn answers one connection's requests in order. A reader
// goroutine feeds the lines, so that a client that goes away cancels a
// waiting request.
func (s *controlServer) serveConn(ctx context.Context, conn *net.UnixConn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	lines := make(chan []byte)
	go func() {
		defer cancel()
		defer close(lines)
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 0, 512), maxControlLine)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			s.log.Warn("control connection", "err", err)
		}
	}()
	enc := json.NewEncoder(conn)
	for line := range lines {
		var req controlRequest
		var resp *controlResponse
		if err := json.Unmarshal(line, &req); err != nil {
			resp = &controlResponse{Error: "bad request: " + err.Error()}
		} else {
			resp = s.handle(ctx, &req)
		}
		if resp.Error != "" {
			s.log.Info("control", "op", req.Op, "error", resp.Error)
		} else {
			s.log.Info("control", "op", req.Op, "message", resp.Message)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

// handle runs one request.
func (s *controlServer) handle(ctx context.Context, req *controlRequest) *controlResponse {
	fail := func(format string, args ...any) *controlResponse {
		return &controlResponse{Error: fmt.Sprintf(format, args...), Status: s.d.status()}
	}
	if req.Wait {
		switch req.Op {
		case opTouch, opDeny, opStatus:
		default:
			return fail("%s: wait is for touch, deny and status", req.Op)
		}
		if err := s.d.presence.waitPending(ctx); err != nil {
			return fail("%s: stopped waiting for a request: %v", req.Op, err)
		}
	}
	var msg string
	switch req.Op {
	case opTouch, opDeny:
		answer := s.d.presence.touch
		if req.Op == opDeny {
			answer = s.d.presence.deny
		}
		m, err := answer()
		if err != nil {
			if s.d.presence.mode == presenceAuto || s.d.presence.mode == presenceDeny {
				return fail("%s: %v (presence is %q: the daemon answers by itself)", req.Op, err, s.d.presence.mode)
			}
			return fail("%s: %v", req.Op, err)
		}
		msg = m
	case opFinger:
		if req.Bad == (req.Finger != 0) {
			return fail("finger: give a finger number (1 to 10) or bad")
		}
		if req.Finger < 0 || req.Finger > 10 {
			return fail("finger: finger %d: want 1 to 10", req.Finger)
		}
		if !s.d.profile.Sensor {
			return fail("finger: this key (profile %s) has no fingerprint sensor", s.d.profile.Name)
		}
		msg = s.d.presence.finger(fingerEvent{Finger: req.Finger, Bad: req.Bad})
	case opPowerCycle:
		s.d.powerCycle()
		msg = "power cycled"
	case opStatus:
	default:
		return fail("unknown op %q (want touch, deny, finger, power-cycle or status)", req.Op)
	}
	return &controlResponse{OK: true, Message: msg, Status: s.d.status()}
}

// controlCall sends one request to the daemon at path and returns its
// answer. ctx bounds the whole exchange.
func controlCall(ctx context.Context, path string, req controlRequest) (*controlResponse, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the daemon: %w (is `virtkey serve` running with this --control?)", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !sc.Scan() {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if sc.Err() != nil {
			return nil, sc.Err()
		}
		return nil, errors.New("the daemon closed the connection without answering")
	}
	var resp controlResponse
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("bad answer from the daemon: %w", err)
	}
	return &resp, nil
}
