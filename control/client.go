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

// Client is a Controller that drives a key through its control socket
// (the virtkey daemon's --control, or any server of the protocol). Each
// request is one connection. Methods without a context give up after
// Timeout.
type Client struct {
	// Network and Address are what to dial: "unix" and a socket path.
	Network, Address string
	// Timeout bounds a request of a method without a context (default
	// 30 s).
	Timeout time.Duration

	mu      sync.Mutex
	helloed bool
	caps    []Capability // from the first successful hello
}

var _ Controller = (*Client)(nil)

// Dial returns a Client for the Unix socket at path. It does not connect.
func Dial(path string) *Client { return &Client{Network: "unix", Address: path} }

// Error is a request the server refused.
type Error struct {
	Op, Message string
	// Unsupported: the server cannot do it; Error wraps ErrUnsupported.
	Unsupported bool
}

func (e *Error) Error() string { return "control: " + e.Message }

// Unwrap returns ErrUnsupported for an unsupported request.
func (e *Error) Unwrap() error {
	if e.Unsupported {
		return ErrUnsupported
	}
	return nil
}

// Do sends one request and returns the server's answer, refused or not;
// the error is for a request that got no answer.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return nil, fmt.Errorf("control: cannot reach %s: %w", c.Address, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("control: %s: %w", req.Op, err)
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !sc.Scan() {
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("control: %s: %w", req.Op, ctx.Err())
		case sc.Err() != nil:
			return nil, fmt.Errorf("control: %s: %w", req.Op, sc.Err())
		}
		return nil, fmt.Errorf("control: %s: the server closed the connection without answering", req.Op)
	}
	var resp Response
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("control: %s: bad answer: %w", req.Op, err)
	}
	return &resp, nil
}

// Call sends one request; a refusal is an *Error.
func (c *Client) Call(ctx context.Context, req *Request) (*Response, error) {
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if !resp.OK {
		return resp, &Error{Op: req.Op, Message: resp.Error, Unsupported: resp.Unsupported}
	}
	return resp, nil
}

func (c *Client) callTimeout(req *Request) error {
	t := c.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	_, err := c.Call(ctx, req)
	return err
}

// Hello asks for the server's protocol version and capabilities.
func (c *Client) Hello(ctx context.Context) (version int, caps []Capability, err error) {
	resp, err := c.Call(ctx, &Request{Op: OpHello})
	if err != nil {
		return 0, nil, err
	}
	if resp.Version != ProtocolVersion {
		return resp.Version, nil, fmt.Errorf("control: the server speaks protocol %d, this client %d", resp.Version, ProtocolVersion)
	}
	c.mu.Lock()
	c.caps, c.helloed = append([]Capability(nil), resp.Capabilities...), true
	c.mu.Unlock()
	return resp.Version, resp.Capabilities, nil
}

// Capabilities implements Controller: the capabilities of the first
// successful Hello, asked for now if there was none; nil if the server
// does not answer.
func (c *Client) Capabilities() []Capability {
	c.mu.Lock()
	caps, helloed := c.caps, c.helloed
	c.mu.Unlock()
	if helloed {
		return caps
	}
	t := c.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	_, caps, _ = c.Hello(ctx)
	return caps
}

// SetPresence implements Controller.
func (c *Client) SetPresence(p Presence) error {
	return c.callTimeout(&Request{Op: OpPresence, Presence: p.String()})
}

// DefaultPresence hands presence back to the server's own mode.
func (c *Client) DefaultPresence(ctx context.Context) error {
	_, err := c.Call(ctx, &Request{Op: OpPresence, Presence: PresenceDefault})
	return err
}

// SetUV implements Controller.
func (c *Client) SetUV(o UVOutcome) error {
	if o < UVMatch || o > UVTimeout {
		return fmt.Errorf("control: %v: no such UV outcome", o)
	}
	name := o.String()
	if o == UVNoMatch {
		name = "no-match"
	}
	return c.callTimeout(&Request{Op: OpUV, UV: name})
}

// PushSamples implements Controller.
func (c *Client) PushSamples(samples ...FingerSample) error {
	for len(samples) > 0 {
		n := min(len(samples), MaxSamples)
		if err := c.callTimeout(&Request{Op: OpSamples, Samples: samples[:n]}); err != nil {
			return err
		}
		samples = samples[n:]
	}
	return nil
}

// Advance implements Controller.
func (c *Client) Advance(d time.Duration) error {
	if d <= 0 {
		return errors.New("control: advance: want a positive duration")
	}
	return c.callTimeout(&Request{Op: OpAdvance, Nanoseconds: int64(d)})
}

// PowerCycle implements Controller.
func (c *Client) PowerCycle(ctx context.Context) error {
	_, err := c.Call(ctx, &Request{Op: OpPowerCycle})
	return err
}

// Touch answers the request waiting for a touch; with wait, it first
// waits for one.
func (c *Client) Touch(ctx context.Context, wait bool) (*Response, error) {
	return c.Call(ctx, &Request{Op: OpTouch, Wait: wait})
}

// Deny declines the request waiting for a touch or a finger; with wait,
// it first waits for one.
func (c *Client) Deny(ctx context.Context, wait bool) (*Response, error) {
	return c.Call(ctx, &Request{Op: OpDeny, Wait: wait})
}

// Finger puts a finger on the sensor.
func (c *Client) Finger(ctx context.Context, f Finger) (*Response, error) {
	return c.Call(ctx, &Request{Op: OpFinger, Finger: f.Finger, Bad: f.Bad})
}

// Status asks what the key holds and waits for; with wait, once a
// request waits for the user.
func (c *Client) Status(ctx context.Context, wait bool) (*Status, error) {
	resp, err := c.Call(ctx, &Request{Op: OpStatus, Wait: wait})
	if err != nil {
		return nil, err
	}
	return resp.Status, nil
}
