package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/control"
)

// socketController drives a virtkey daemon through its control socket
// (see `virtkey serve --control`): one JSON request per line, one JSON
// answer per line. It can power-cycle the key, which is what destructive
// cases need to start from and return to a factory-new key. It does not
// script touches: the target keeps no CapControl, so cases that decline
// or withhold a touch stay skipped.
type socketController struct{ path string }

type controlReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func (c *socketController) do(ctx context.Context, op string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req, _ := json.Marshal(map[string]string{"op": op})
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	var rep controlReply
	if err := json.Unmarshal(line, &rep); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if !rep.OK {
		return fmt.Errorf("control socket: %s: %s", op, rep.Error)
	}
	return nil
}

// PowerCycle implements conformance.Controller.
func (c *socketController) PowerCycle(ctx context.Context) error {
	return c.do(ctx, "power-cycle")
}

// SetPresence implements conformance.Controller: the daemon answers
// touches by its own --presence mode, so only auto is accepted.
func (c *socketController) SetPresence(p conformance.Presence) error {
	if p == conformance.PresenceAuto {
		return nil
	}
	return fmt.Errorf("%w: presence scripting over the control socket; run the daemon with --presence auto", control.ErrUnsupported)
}

// Capabilities implements conformance.Controller: power cycles only.
func (c *socketController) Capabilities() []conformance.Capability {
	return []conformance.Capability{conformance.CapPowerCycle}
}

// SetUV implements conformance.Controller: not over this socket.
func (c *socketController) SetUV(o conformance.UVOutcome) error {
	return fmt.Errorf("%w: UV scripting over the control socket", control.ErrUnsupported)
}

// PushSamples implements conformance.Controller: not over this socket.
func (c *socketController) PushSamples(samples ...conformance.FingerSample) error {
	return fmt.Errorf("%w: fingerprint scripting over the control socket", control.ErrUnsupported)
}

// Advance implements conformance.Controller: not over this socket.
func (c *socketController) Advance(d time.Duration) error {
	return fmt.Errorf("%w: clock control over the control socket", control.ErrUnsupported)
}
