package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/virtkey/virtkey/conformance"
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
	return errors.New("presence scripting over the control socket is not supported; run the daemon with --presence auto")
}
