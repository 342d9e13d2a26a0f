package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Backend is what a control server works on: the key's Controller, and
// the answers a person next to the key gives to a request that waits for
// them. A simulator that has only a Controller serves it with
// ControllerBackend.
type Backend interface {
	Controller
	// Touch answers the request waiting for a touch with a touch and says
	// what was touched for.
	Touch() (string, error)
	// Deny declines the request waiting for a touch or a finger.
	Deny() (string, error)
	// Finger puts a finger on the sensor: it answers a waiting request or
	// is kept for the next capture.
	Finger(f Finger) (string, error)
	// DefaultPresence hands user presence back to the backend's own mode,
	// undoing SetPresence.
	DefaultPresence() error
	// WaitPending blocks until a request waits for the user or ctx ends.
	WaitPending(ctx context.Context) error
	// Status says what the key holds and waits for; nil if unknown.
	Status() *Status
}

// ControllerBackend serves c: the person's answers to a waiting request
// (touch, deny, finger, wait) are unsupported, DefaultPresence is
// PresenceAuto, and the status is empty.
func ControllerBackend(c Controller) Backend { return controllerBackend{c} }

type controllerBackend struct{ Controller }

func (controllerBackend) Touch() (string, error)            { return "", unsupported("touch") }
func (controllerBackend) Deny() (string, error)             { return "", unsupported("deny") }
func (controllerBackend) Finger(Finger) (string, error)     { return "", unsupported("finger") }
func (b controllerBackend) DefaultPresence() error          { return b.SetPresence(PresenceAuto) }
func (controllerBackend) WaitPending(context.Context) error { return unsupported("wait") }
func (controllerBackend) Status() *Status                   { return nil }

// Server answers the control protocol for a Backend.
type Server struct {
	Backend Backend
	// Logf, when set, gets a line for every request.
	Logf func(format string, args ...any)
}

// Serve accepts connections on ln until ctx ends, then closes ln and the
// connections and returns once their handlers have.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.ServeConn(ctx, conn)
		}()
	}
}

// ServeConn answers one connection's requests in order until the client
// closes it or ctx ends. A reader goroutine feeds the lines, so that a
// client that goes away cancels its waiting request. A line longer than
// MaxLine ends the connection before it is parsed.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) {
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
		sc.Buffer(make([]byte, 0, 512), MaxLine)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			s.logf("control connection: %v", err)
		}
	}()
	enc := json.NewEncoder(conn)
	for line := range lines {
		resp := s.Handle(ctx, line)
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Handle answers one request line.
func (s *Server) Handle(ctx context.Context, line []byte) *Response {
	req, err := decodeRequest(line)
	if err == nil {
		err = req.check()
	}
	if err != nil {
		s.logf("control: %v", err)
		return &Response{Error: err.Error(), Status: s.Backend.Status()}
	}
	msg, caps, err := s.do(ctx, req)
	if err != nil {
		s.logf("control: %s: %v", req.Op, err)
		return &Response{Error: req.Op + ": " + err.Error(), Unsupported: errors.Is(err, ErrUnsupported), Status: s.Backend.Status()}
	}
	s.logf("control: %s: %s", req.Op, msg)
	resp := &Response{OK: true, Message: msg, Status: s.Backend.Status()}
	if req.Op == OpHello {
		resp.Version, resp.Capabilities = ProtocolVersion, caps
	}
	return resp
}

func (s *Server) do(ctx context.Context, req *Request) (msg string, caps []Capability, err error) {
	b := s.Backend
	if req.Wait {
		if err := b.WaitPending(ctx); err != nil {
			return "", nil, fmt.Errorf("stopped waiting for a request: %w", err)
		}
	}
	switch req.Op {
	case OpHello:
		caps = b.Capabilities()
		return fmt.Sprintf("control protocol %d", ProtocolVersion), caps, nil
	case OpTouch:
		msg, err = b.Touch()
	case OpDeny:
		msg, err = b.Deny()
	case OpFinger:
		msg, err = b.Finger(Finger{Finger: req.Finger, Bad: req.Bad})
	case OpPowerCycle:
		err, msg = b.PowerCycle(ctx), "power cycled"
	case OpStatus:
	case OpPresence:
		if req.Presence == PresenceDefault {
			err, msg = b.DefaultPresence(), "presence as the key's own mode"
			break
		}
		p, _ := ParsePresence(req.Presence)
		err, msg = b.SetPresence(p), "presence "+p.String()
	case OpUV:
		o, _ := ParseUVOutcome(req.UV)
		err, msg = b.SetUV(o), "UV "+o.String()
	case OpSamples:
		err, msg = b.PushSamples(req.Samples...), fmt.Sprintf("%d samples queued", len(req.Samples))
	case OpAdvance:
		d := time.Duration(req.Nanoseconds)
		err, msg = b.Advance(d), "clock advanced by "+d.String()
	}
	return msg, caps, err
}
