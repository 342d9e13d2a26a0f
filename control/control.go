// Package control drives a key as a person would: touch it or decline,
// withhold a touch until the request is cancelled or the key gives up,
// put a finger (or the wrong one) on its sensor, unplug it and plug it
// back in, and, on a simulated key, move its clock.
//
// It has the shape of golang.org/x/crypto/ssh/agent: one small interface,
// [Controller], and its implementations:
//
//   - [Key], an in-memory key: an authenticator.Authenticator whose user
//     ([User]) and clock ([Clock]) are scripted and whose power cycle builds
//     a new authenticator from the same Store;
//   - [Client], the client of the control socket protocol
//     (docs/control-protocol.md) that a virtkey daemon, or any simulator,
//     serves with [Serve];
//   - [Person], someone at a terminal next to a real key, asked to touch
//     it, not to touch it, or to unplug it and plug it back in.
//
// A Controller that cannot do something returns an error wrapping
// [ErrUnsupported] and leaves the matching [Capability] out of
// Capabilities.
package control

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnsupported is wrapped by the errors of a Controller asked for
// something it cannot do, such as moving the clock of a hardware key.
var ErrUnsupported = errors.New("control: not supported by this key")

// Capability is something a Controller can do to its key.
type Capability string

const (
	// CapControl: user presence is scripted ([Controller.SetPresence]
	// with every Presence value) and the key can be power-cycled.
	CapControl Capability = "control"
	// CapPowerCycle: the key can be unplugged and plugged back in
	// ([Controller.PowerCycle]); its presence may not be scriptable.
	CapPowerCycle Capability = "power-cycle"
	// CapClock: the key's clock can be moved forward ([Controller.Advance]).
	CapClock Capability = "clock"
	// CapUV: the outcome of the key's built-in user verification is
	// scripted ([Controller.SetUV]).
	CapUV Capability = "uv"
	// CapFingerprint: the key's fingerprint sensor takes scripted samples
	// ([Controller.PushSamples]).
	CapFingerprint Capability = "fingerprint"
	// CapFresh: not a Controller's but a test target's: it can replace its
	// key with a factory-new one before every case.
	CapFresh Capability = "fresh"
)

// Presence is how the key's user answers the next requests for user
// presence (WebAuthn §6.2.1 "test of user presence"; CTAP 2.1 §6.1.2 step
// 14, §6.2.2 step 9, §6.6, §6.9).
type Presence int

const (
	// PresenceAuto: the user touches the key at once.
	PresenceAuto Presence = iota
	// PresenceDeny: the user declines (CTAP2_ERR_OPERATION_DENIED).
	PresenceDeny
	// PresenceTimeout: nobody touches the key until it gives up
	// (CTAP2_ERR_USER_ACTION_TIMEOUT).
	PresenceTimeout
	// PresenceWait: nobody touches the key; the request waits until the
	// platform cancels it (CTAPHID_CANCEL, CTAP 2.1 §11.2.9.1.5).
	PresenceWait
)

var presenceNames = [...]string{"auto", "deny", "timeout", "wait"}

func (p Presence) String() string {
	if p < 0 || int(p) >= len(presenceNames) {
		return fmt.Sprintf("Presence(%d)", int(p))
	}
	return presenceNames[p]
}

// ParsePresence is the inverse of Presence.String.
func ParsePresence(s string) (Presence, error) {
	for i, n := range presenceNames {
		if s == n {
			return Presence(i), nil
		}
	}
	return 0, fmt.Errorf("control: presence %q: want auto, deny, timeout or wait", s)
}

// UVOutcome is how the key's built-in user verification (its fingerprint
// sensor) answers the next attempts (CTAP 2.1 §6.5.5.7.3 step 8,
// §6.1.2 step 11, §6.2.2 step 6).
type UVOutcome int

const (
	UVMatch   UVOutcome = iota // the sample matches
	UVNoMatch                  // the sample does not match: the key counts a failed attempt
	UVDecline                  // the user declines or cancels on the key
	UVTimeout                  // no sample comes before the key gives up
)

var uvNames = [...]string{"match", "no match", "decline", "timeout"}

func (o UVOutcome) String() string {
	if o < 0 || int(o) >= len(uvNames) {
		return fmt.Sprintf("UVOutcome(%d)", int(o))
	}
	return uvNames[o]
}

// ParseUVOutcome is the inverse of UVOutcome.String; "no-match" is
// accepted for "no match".
func ParseUVOutcome(s string) (UVOutcome, error) {
	if s == "no-match" {
		return UVNoMatch, nil
	}
	for i, n := range uvNames {
		if s == n {
			return UVOutcome(i), nil
		}
	}
	return 0, fmt.Errorf("control: UV outcome %q: want match, no-match, decline or timeout", s)
}

// FingerSample is one scripted fingerprint capture (CTAP 2.1 §6.7.4): a
// finger (a positive number; others are fingers the key cannot tell) and
// the sensor's lastEnrollSampleStatus (0 for a good sample), or no finger
// at all.
type FingerSample struct {
	Finger int    `json:"finger,omitempty"`
	Status uint64 `json:"status,omitempty"`
	// NoFinger: nobody touches the sensor; the capture times out.
	NoFinger bool `json:"noFinger,omitempty"`
}

// Controller drives what a person does to a key. Its methods are safe for
// concurrent use. A method the key cannot support returns an error
// wrapping ErrUnsupported.
type Controller interface {
	// Capabilities lists what the controller can do.
	Capabilities() []Capability
	// SetPresence sets how the key answers the next requests for user
	// presence, until it is set again.
	SetPresence(p Presence) error
	// SetUV sets how the key's built-in user verification answers the
	// next attempts, until it is set again.
	SetUV(o UVOutcome) error
	// PushSamples queues samples for the next fingerprint captures; with
	// none queued the sensor answers as SetUV says (a good sample of
	// finger 1 for UVMatch).
	PushSamples(samples ...FingerSample) error
	// Advance moves the key's clock forward by d.
	Advance(d time.Duration) error
	// PowerCycle unplugs the key and plugs it back in: what the key did
	// not save is gone, and what it acknowledged is there.
	PowerCycle(ctx context.Context) error
}

// Clocked is a Controller's clock, the part of Controller that moves time.
type Clocked interface {
	Advance(d time.Duration) error
}

// UVControl scripts a key's built-in user verification.
type UVControl interface {
	SetUV(o UVOutcome) error
}

// FingerprintControl scripts a key's fingerprint sensor.
type FingerprintControl interface {
	PushSamples(samples ...FingerSample) error
}

// Has reports whether c lists capability want.
func Has(c Controller, want Capability) bool {
	if c == nil {
		return false
	}
	for _, got := range c.Capabilities() {
		if got == want {
			return true
		}
	}
	return false
}

func unsupported(what string) error { return fmt.Errorf("%w: %s", ErrUnsupported, what) }
