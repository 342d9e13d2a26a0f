package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// The control socket protocol, version 1 (docs/control-protocol.md): a
// stream socket (a Unix socket of mode 0600 for the virtkey daemon) on
// which the client writes one Request as a JSON object per line and the
// server answers each with one Response per line, in order. A connection
// may carry any number of requests.

// ProtocolVersion is the version of the protocol this package speaks; a
// hello answer carries the server's.
const ProtocolVersion = 1

// MaxLine bounds a request line; the server ends a connection whose line
// is longer, before it parses it.
const MaxLine = 64 << 10

// MaxSamples bounds the samples of one samples request.
const MaxSamples = 256

// Ops.
const (
	// OpHello asks for the protocol version and the capabilities.
	OpHello = "hello"
	// OpTouch answers the request waiting for a touch with a touch.
	OpTouch = "touch"
	// OpDeny declines the request waiting for a touch or a finger.
	OpDeny = "deny"
	// OpFinger puts a finger on the sensor (Finger 1..10, or Bad).
	OpFinger = "finger"
	// OpPowerCycle unplugs the key and plugs it back in.
	OpPowerCycle = "power-cycle"
	// OpStatus asks what the key holds and waits for.
	OpStatus = "status"
	// OpPresence sets how the next requests for user presence are
	// answered (Presence: auto, deny, timeout, wait; or "default": as the
	// server would without a controller).
	OpPresence = "presence"
	// OpUV sets how the next built-in user verifications are answered (UV:
	// match, no-match, decline, timeout).
	OpUV = "uv"
	// OpSamples queues fingerprint samples (Samples).
	OpSamples = "samples"
	// OpAdvance moves the key's clock forward by Nanoseconds.
	OpAdvance = "advance"
)

// PresenceDefault is the Presence value of an OpPresence request that
// hands presence back to the server's own mode (such as the daemon's
// --presence).
const PresenceDefault = "default"

// Request is one request line.
type Request struct {
	Op string `json:"op"`
	// Wait: touch, deny and status first wait until a request waits for
	// the user.
	Wait bool `json:"wait,omitempty"`
	// Finger (1 to 10) or Bad (a finger the key does not know): finger.
	Finger int  `json:"finger,omitempty"`
	Bad    bool `json:"bad,omitempty"`
	// Presence: presence.
	Presence string `json:"presence,omitempty"`
	// UV: uv.
	UV string `json:"uv,omitempty"`
	// Samples: samples.
	Samples []FingerSample `json:"samples,omitempty"`
	// Nanoseconds: advance.
	Nanoseconds int64 `json:"nanoseconds,omitempty"`
}

// Response is one answer line. Every answer of the virtkey daemon carries
// Status, the status after the request.
type Response struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	// Unsupported: the server cannot do what was asked (Error says why);
	// the client's error wraps ErrUnsupported.
	Unsupported bool    `json:"unsupported,omitempty"`
	Status      *Status `json:"status,omitempty"`
	// Version and Capabilities answer hello.
	Version      int          `json:"version,omitempty"`
	Capabilities []Capability `json:"capabilities,omitempty"`
}

// Status is what a key holds and waits for. Servers fill what they know.
type Status struct {
	Profile   string `json:"profile,omitempty"`
	Presence  string `json:"presence,omitempty"`
	Transport string `json:"transport,omitempty"`
	// State is the state file, empty when the state is in memory.
	State       string   `json:"state,omitempty"`
	Credentials int      `json:"credentials"`
	RPs         []string `json:"rps"`
	PINSet      bool     `json:"pinSet"`
	PINRetries  int      `json:"pinRetries,omitempty"`
	SignCount   uint32   `json:"signCount"`
	// Waiting is the request waiting for the user, if any.
	Waiting       *Waiting  `json:"waiting,omitempty"`
	FingersQueued int       `json:"fingersQueued"`
	Winks         int       `json:"winks"`
	Started       time.Time `json:"started"`
	// Scripted is the presence a controller set (OpPresence), empty while
	// the server answers by its own mode.
	Scripted string `json:"scripted,omitempty"`
	// ClockOffset is how far OpAdvance moved the key's clock, in
	// nanoseconds.
	ClockOffset int64 `json:"clockOffset,omitempty"`
	// PowerCycles counts OpPowerCycle requests since the server started.
	PowerCycles int `json:"powerCycles,omitempty"`
}

// Waiting describes a request waiting for the user.
type Waiting struct {
	For     string    `json:"for"` // "touch" or "finger"
	Command string    `json:"command"`
	Reason  string    `json:"reason"`
	RPID    string    `json:"rpId,omitempty"`
	Since   time.Time `json:"since"`
	Seconds float64   `json:"seconds"`
}

// Finger is a finger put on the sensor by OpFinger: a numbered (enrolled)
// finger, or a bad one.
type Finger struct {
	Finger int  `json:"finger,omitempty"`
	Bad    bool `json:"bad,omitempty"`
}

func (f Finger) String() string {
	if f.Bad {
		return "an unenrolled finger"
	}
	return fmt.Sprintf("finger %d", f.Finger)
}

// check validates a request's fields for its op, before the server acts.
func (r *Request) check() error {
	switch r.Op {
	case OpHello, OpPowerCycle, OpStatus, OpTouch, OpDeny:
	case OpFinger:
		if r.Bad == (r.Finger != 0) {
			return fmt.Errorf("finger: give a finger number (1 to 10) or bad")
		}
		if r.Finger < 0 || r.Finger > 10 {
			return fmt.Errorf("finger: finger %d: want 1 to 10", r.Finger)
		}
	case OpPresence:
		if r.Presence != PresenceDefault {
			if _, err := ParsePresence(r.Presence); err != nil {
				return fmt.Errorf("presence %q: want auto, deny, timeout, wait or default", r.Presence)
			}
		}
	case OpUV:
		if _, err := ParseUVOutcome(r.UV); err != nil {
			return fmt.Errorf("uv %q: want match, no-match, decline or timeout", r.UV)
		}
	case OpSamples:
		if len(r.Samples) == 0 || len(r.Samples) > MaxSamples {
			return fmt.Errorf("samples: give 1 to %d samples", MaxSamples)
		}
	case OpAdvance:
		if r.Nanoseconds <= 0 {
			return fmt.Errorf("advance: nanoseconds %d: want a positive number", r.Nanoseconds)
		}
	default:
		return fmt.Errorf("unknown op %q (want hello, touch, deny, finger, power-cycle, status, presence, uv, samples or advance)", r.Op)
	}
	if r.Wait {
		switch r.Op {
		case OpTouch, OpDeny, OpStatus:
		default:
			return fmt.Errorf("%s: wait is for touch, deny and status", r.Op)
		}
	}
	return nil
}

// decodeRequest parses one line strictly: unknown fields are an error, so
// that a misspelt field is not silently ignored.
func decodeRequest(line []byte) (*Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("bad request: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("bad request: more than one JSON value on the line")
	}
	return &r, nil
}
