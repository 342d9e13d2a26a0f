package control

import (
	"context"
	"sync"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// User is the scripted user of an in-memory key: the key's
// authenticator.Presence, authenticator.Verifier and
// authenticator.FingerprintSensor. A touch takes the next answer queued
// with Push, or, with none queued, answers as SetPresence says (at once,
// by default). A verification takes the next answer queued with PushUV,
// or answers as SetUV says (a match, by default). A fingerprint capture
// takes the next sample queued with PushSamples, or answers as SetUV says.
// A request that waits (PresenceWait, a NoFinger sample) ends when its
// context does, or, for touches and verifications, when an answer is
// pushed. User records the last MaxRecorded requests of each kind and
// counts them all. The zero value is ready to use; it is safe for
// concurrent use.
type User struct {
	mu       sync.Mutex
	mode     Presence
	uv       UVOutcome
	answers  []error // touch answers queued by Push
	uvQueue  []error // verification answers queued by PushUV
	samples  []FingerSample
	touches  recent[authenticator.TouchRequest]
	uvs      recent[authenticator.UVRequest]
	captures recent[authenticator.CaptureRequest]
	// changed is closed on a change, when someone waits for one; nil
	// when nobody does.
	changed chan struct{}
}

// MaxRecorded is how many requests of each kind a User keeps: a key that
// runs for long (a benchmark, a fuzzer) does not keep them all.
const MaxRecorded = 1024

// recent holds the last MaxRecorded values added, and counts them all.
type recent[T any] struct {
	buf []T // the last values, at most 2*MaxRecorded; the last MaxRecorded are kept
	n   int // values ever added
}

func (r *recent[T]) add(v T) {
	if len(r.buf) == 2*MaxRecorded {
		k := copy(r.buf, r.buf[MaxRecorded:])
		clear(r.buf[k:])
		r.buf = r.buf[:k]
	}
	r.buf = append(r.buf, v)
	r.n++
}

// last returns a copy of the last MaxRecorded values, oldest first.
func (r *recent[T]) last() []T {
	b := r.buf
	if len(b) > MaxRecorded {
		b = b[len(b)-MaxRecorded:]
	}
	return append([]T(nil), b...)
}

var (
	_ authenticator.Presence          = (*User)(nil)
	_ authenticator.Verifier          = (*User)(nil)
	_ authenticator.FingerprintSensor = (*User)(nil)
)

// NewUser returns a User with touch answers queued: nil for a touch,
// ctap.StatusOperationDenied, ctap.StatusUserActionTimeout.
func NewUser(answers ...error) *User {
	u := &User{}
	u.Push(answers...)
	return u
}

func (u *User) notifyLocked() {
	if u.changed != nil {
		close(u.changed)
		u.changed = nil
	}
}

func (u *User) changedLocked() <-chan struct{} {
	if u.changed == nil {
		u.changed = make(chan struct{})
	}
	return u.changed
}

// SetPresence sets how touches are answered while no answer is queued.
func (u *User) SetPresence(p Presence) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.mode = p
	u.notifyLocked()
}

// SetUV sets how verifications, and captures while no sample is queued,
// are answered.
func (u *User) SetUV(o UVOutcome) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uv = o
	u.notifyLocked()
}

// Push queues answers for the next touches: nil for a touch,
// ctap.StatusOperationDenied, ctap.StatusUserActionTimeout.
func (u *User) Push(answers ...error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.answers = append(u.answers, answers...)
	u.notifyLocked()
}

// PushUV queues answers for the next built-in user verification attempts:
// nil for a match, ctap.StatusUVInvalid, ctap.StatusOperationDenied,
// ctap.StatusUserActionTimeout.
func (u *User) PushUV(answers ...error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uvQueue = append(u.uvQueue, answers...)
	u.notifyLocked()
}

// PushSamples queues samples for the next fingerprint captures.
func (u *User) PushSamples(samples ...FingerSample) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.samples = append(u.samples, samples...)
	u.notifyLocked()
}

// Forget drops what was queued and not yet used: what a person had in
// mind for a key that then lost power.
func (u *User) Forget() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.answers, u.uvQueue, u.samples = nil, nil, nil
	u.notifyLocked()
}

// Touch implements authenticator.Presence.
func (u *User) Touch(ctx context.Context, req authenticator.TouchRequest) error {
	u.mu.Lock()
	u.touches.add(req)
	u.notifyLocked()
	for {
		if len(u.answers) > 0 {
			a := u.answers[0]
			u.answers = u.answers[1:]
			u.mu.Unlock()
			return a
		}
		switch u.mode {
		case PresenceDeny:
			u.mu.Unlock()
			return ctap.StatusOperationDenied
		case PresenceTimeout:
			u.mu.Unlock()
			return ctap.StatusUserActionTimeout
		case PresenceWait:
		default:
			u.mu.Unlock()
			return nil
		}
		if err := u.waitLocked(ctx); err != nil {
			return err
		}
	}
}

// waitLocked waits for a change or the end of ctx; it is called with u.mu
// held and returns with it held, unless it returns an error.
func (u *User) waitLocked(ctx context.Context) error {
	ch := u.changedLocked()
	u.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
	}
	u.mu.Lock()
	return nil
}

// uvAnswer is the verification answer for outcome o.
func uvAnswer(o UVOutcome) error {
	switch o {
	case UVNoMatch:
		return ctap.StatusUVInvalid
	case UVDecline:
		return ctap.StatusOperationDenied
	case UVTimeout:
		return ctap.StatusUserActionTimeout
	}
	return nil
}

// VerifyUser implements authenticator.Verifier.
func (u *User) VerifyUser(ctx context.Context, req authenticator.UVRequest) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uvs.add(req)
	u.notifyLocked()
	if len(u.uvQueue) > 0 {
		a := u.uvQueue[0]
		u.uvQueue = u.uvQueue[1:]
		return a
	}
	return uvAnswer(u.uv)
}

// Capture implements authenticator.FingerprintSensor: the next queued
// sample (a NoFinger sample waits until ctx ends); with none queued, a
// good sample of finger 1 for UVMatch, a poor-quality one for UVNoMatch, a
// decline or a timeout.
func (u *User) Capture(ctx context.Context, req authenticator.CaptureRequest) (authenticator.Sample, error) {
	u.mu.Lock()
	u.captures.add(req)
	if !req.Enroll {
		u.uvs.add(req.UV)
	}
	u.notifyLocked()
	queued := len(u.samples) > 0
	var s FingerSample
	if queued {
		s, u.samples = u.samples[0], u.samples[1:]
	}
	o := u.uv
	u.mu.Unlock()
	switch {
	case queued && s.NoFinger:
		<-ctx.Done()
		return authenticator.Sample{}, ctx.Err()
	case queued:
		return authenticator.Sample{Finger: s.Finger, Status: authenticator.SampleStatus(s.Status)}, nil
	case o == UVNoMatch:
		return authenticator.Sample{Finger: 1, Status: authenticator.SamplePoorQuality}, nil
	case o == UVDecline || o == UVTimeout:
		return authenticator.Sample{}, uvAnswer(o)
	}
	return authenticator.Sample{Finger: 1, Status: authenticator.SampleGood}, nil
}

// Requests returns the touch requests seen so far, oldest first: the last
// MaxRecorded of them.
func (u *User) Requests() []authenticator.TouchRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.touches.last()
}

// Touches returns the number of touch requests seen so far.
func (u *User) Touches() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.touches.n
}

// UVRequests returns the user verification requests seen so far (by
// VerifyUser, and by Capture for a verification), oldest first: the last
// MaxRecorded of them.
func (u *User) UVRequests() []authenticator.UVRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.uvs.last()
}

// Captures returns the fingerprint capture requests seen so far, oldest
// first: the last MaxRecorded of them.
func (u *User) Captures() []authenticator.CaptureRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.captures.last()
}

// Pending returns the number of queued touch answers not yet used.
func (u *User) Pending() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.answers)
}

// WaitRequests blocks until at least n touch requests were seen or ctx
// is done.
func (u *User) WaitRequests(ctx context.Context, n int) error {
	u.mu.Lock()
	for u.touches.n < n {
		if err := u.waitLocked(ctx); err != nil {
			return err
		}
	}
	u.mu.Unlock()
	return nil
}
