package conformance

import (
	"context"
	"errors"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/control"
)

// The suite's view of a key and of the person next to it. The control
// types are package control's; the names here are aliases, so that cases
// read as before.

// Capability is something a case needs from the target beyond a plain
// CTAPHID connection.
type Capability = control.Capability

const (
	// CapControl: the target can power-cycle the key and script user
	// presence (a Controller).
	CapControl = control.CapControl
	// CapPowerCycle: the target's Controller can power-cycle the key; its
	// presence may not be scriptable.
	CapPowerCycle = control.CapPowerCycle
	// CapFresh: every case can start on a factory-new key (a Freshener).
	CapFresh = control.CapFresh
	// CapClock: the key's clock can be moved forward.
	CapClock = control.CapClock
	// CapUV: the target has built-in user verification whose outcome the
	// suite scripts.
	CapUV = control.CapUV
	// CapFingerprint: the target's fingerprint sensor takes scripted
	// samples.
	CapFingerprint = control.CapFingerprint
)

// Presence is how a controlled key answers a request for user presence.
type Presence = control.Presence

const (
	PresenceAuto    = control.PresenceAuto    // the user touches at once
	PresenceDeny    = control.PresenceDeny    // the user declines
	PresenceTimeout = control.PresenceTimeout // nobody touches until the key gives up
	PresenceWait    = control.PresenceWait    // the key waits until the request is cancelled
)

// UVOutcome is how a controlled key's built-in user verification (its
// fingerprint sensor) answers the next attempts.
type UVOutcome = control.UVOutcome

const (
	UVMatch   = control.UVMatch   // the sample matches
	UVNoMatch = control.UVNoMatch // the sample does not match: the key counts a failed attempt
	UVDecline = control.UVDecline // the user declines or cancels on the key
	UVTimeout = control.UVTimeout // no sample comes before the key gives up
)

// FingerSample is one scripted capture: a finger (a positive number) and
// the sensor's lastEnrollSampleStatus, or no finger at all.
type FingerSample = control.FingerSample

// Controller drives what a person would do to a key.
type Controller = control.Controller

// Clock is a controller whose key runs on a clock the suite moves.
type Clock = control.Clocked

// UVControl scripts a key's built-in user verification. A target with
// CapUV offers it through its Controller or as the Target itself.
type UVControl = control.UVControl

// FingerprintControl scripts a key's fingerprint sensor. A target with
// CapFingerprint offers it through its Controller or as the Target itself.
type FingerprintControl = control.FingerprintControl

// Target is a key under test.
type Target interface {
	// Open connects to the key on a new CTAPHID channel.
	Open(ctx context.Context) (*client.Device, error)
	// Capabilities lists what the target offers.
	Capabilities() []Capability
	// Controller returns the target's controller, or nil when nobody
	// controls the key.
	Controller() Controller
}

// uvControl returns the target's UVControl, or nil.
func uvControl(target Target) UVControl {
	if c := target.Controller(); c != nil {
		return c
	}
	if c, ok := target.(UVControl); ok {
		return c
	}
	return nil
}

// fingerprintControl returns the target's FingerprintControl, or nil.
func fingerprintControl(target Target) FingerprintControl {
	if c := target.Controller(); c != nil {
		return c
	}
	if c, ok := target.(FingerprintControl); ok {
		return c
	}
	return nil
}

// controlErr ends the case after a controller's error: skipped for want
// of capability c when the controller cannot do it, failed otherwise.
func (t *T) controlErr(c Capability, what string, err error) {
	if errors.Is(err, control.ErrUnsupported) {
		t.skipNeeding(c, what+": "+err.Error())
	}
	t.Fatalf("%s: %v", what, err)
}

// Control returns the target's controller; the case is skipped without one.
func (t *T) Control() Controller {
	c := t.target.Controller()
	if c == nil {
		t.skipNeeding(CapControl, "target has no controller")
	}
	return c
}

// SetPresence sets how the controlled key answers presence requests.
func (t *T) SetPresence(p Presence) {
	if err := t.Control().SetPresence(p); err != nil {
		t.controlErr(CapControl, "set presence "+p.String(), err)
	}
}

// Advance moves the key's clock forward; the case is skipped without CapClock.
func (t *T) Advance(d time.Duration) {
	if err := t.Control().Advance(d); err != nil {
		t.controlErr(CapClock, "advance the clock", err)
	}
}

// PowerCycle unplugs and replugs the controlled key. Connections opened
// before are stale afterwards: the main connection is reopened on next use.
func (t *T) PowerCycle() {
	if err := t.Control().PowerCycle(t.ctx); err != nil {
		t.controlErr(CapPowerCycle, "power cycle", err)
	}
	t.dev, t.ctap2 = nil, nil
}

// SetUV sets how the controlled key's built-in user verification answers;
// the case is skipped without a UVControl. UV cases go back to UVMatch
// when they end.
func (t *T) SetUV(o UVOutcome) {
	c := uvControl(t.target)
	if c == nil {
		t.skipNeeding(CapUV, "target has no UV control")
	}
	if err := c.SetUV(o); err != nil {
		t.controlErr(CapUV, "set UV "+o.String(), err)
	}
}

// pushSamples queues samples or skips the case without a FingerprintControl.
func (t *T) pushSamples(samples ...FingerSample) {
	c := fingerprintControl(t.target)
	if c == nil {
		t.skipNeeding(CapFingerprint, "target has no fingerprint control")
	}
	if err := c.PushSamples(samples...); err != nil {
		t.controlErr(CapFingerprint, "push samples", err)
	}
}
