package authenticator

import (
	"context"
	"sync"
)

// This file is the authenticator's own scripted user for its tests. The
// scripted user for everyone else is control.User, which this package's
// tests cannot import (control imports authenticator).

var (
	_ Verifier          = (*ScriptedPresence)(nil)
	_ FingerprintSensor = (*ScriptedPresence)(nil)
)

// ScriptedPresence answers touches from a queue that a test fills with
// Push: nil for a touch, ctap.StatusOperationDenied, ctap.StatusUserActionTimeout.
// Built-in user verification attempts take their answers from a second
// queue, filled with PushUV: nil for a match, ctap.StatusUVInvalid,
// ctap.StatusOperationDenied, ctap.StatusUserActionTimeout. When its queue
// is empty Touch or VerifyUser blocks until an answer is pushed or ctx is
// done. It records every request it sees. The zero value is ready to use
// and it is safe for concurrent use.
type ScriptedPresence struct {
	mu         sync.Mutex
	answers    []error
	uvAnswers  []error
	requests   []TouchRequest
	uvRequests []UVRequest
	changed    chan struct{} // closed and replaced when answers or requests change

	// Fingerprint captures (bio.go).
	samples  []captureAnswer  // queued by PushSample and PushCaptureError
	captures []CaptureRequest // Capture requests seen
}

// NewScriptedPresence returns a ScriptedPresence with answers queued.
func NewScriptedPresence(answers ...error) *ScriptedPresence {
	p := &ScriptedPresence{}
	p.Push(answers...)
	return p
}

// notifyLocked wakes everyone waiting for a change. p.mu must be held.
func (p *ScriptedPresence) notifyLocked() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

func (p *ScriptedPresence) waitChanLocked() <-chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// Push queues answers for the next touches.
func (p *ScriptedPresence) Push(answers ...error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers = append(p.answers, answers...)
	p.notifyLocked()
}

// PushUV queues answers for the next built-in user verification attempts.
func (p *ScriptedPresence) PushUV(answers ...error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uvAnswers = append(p.uvAnswers, answers...)
	p.notifyLocked()
}

// Touch implements Presence. It records req, then takes the next queued
// answer, waiting for one if needed.
func (p *ScriptedPresence) Touch(ctx context.Context, req TouchRequest) error {
	p.mu.Lock()
	p.requests = append(p.requests, req)
	p.notifyLocked()
	return p.takeLocked(ctx, &p.answers)
}

// VerifyUser implements Verifier. It records req, then takes the next
// answer queued with PushUV, waiting for one if needed.
func (p *ScriptedPresence) VerifyUser(ctx context.Context, req UVRequest) error {
	p.mu.Lock()
	p.uvRequests = append(p.uvRequests, req)
	p.notifyLocked()
	return p.takeLocked(ctx, &p.uvAnswers)
}

// takeLocked takes the first answer of queue, waiting until there is one
// or ctx is done. It is called with p.mu held and returns with it released.
func (p *ScriptedPresence) takeLocked(ctx context.Context, queue *[]error) error {
	for {
		if len(*queue) > 0 {
			a := (*queue)[0]
			*queue = (*queue)[1:]
			p.mu.Unlock()
			return a
		}
		wait := p.waitChanLocked()
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
		p.mu.Lock()
	}
}

// Requests returns the requests seen so far, oldest first.
func (p *ScriptedPresence) Requests() []TouchRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]TouchRequest(nil), p.requests...)
}

// Pending returns the number of queued touch answers not yet used.
func (p *ScriptedPresence) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.answers)
}

// UVRequests returns the user verification requests seen so far, oldest
// first.
func (p *ScriptedPresence) UVRequests() []UVRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]UVRequest(nil), p.uvRequests...)
}

// PendingUV returns the number of queued verification answers not yet
// used.
func (p *ScriptedPresence) PendingUV() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.uvAnswers)
}

// WaitRequests blocks until at least n requests were seen or ctx is done.
func (p *ScriptedPresence) WaitRequests(ctx context.Context, n int) error {
	return p.waitFor(ctx, func() bool { return len(p.requests) >= n })
}

// WaitUVRequests blocks until n user verification requests have been
// seen, or ctx ends.
func (p *ScriptedPresence) WaitUVRequests(ctx context.Context, n int) error {
	return p.waitFor(ctx, func() bool { return len(p.uvRequests) >= n })
}

// waitFor blocks until done, called with p.mu held, reports true, or ctx
// is done.
func (p *ScriptedPresence) waitFor(ctx context.Context, done func() bool) error {
	for {
		p.mu.Lock()
		if done() {
			p.mu.Unlock()
			return nil
		}
		wait := p.waitChanLocked()
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
		}
	}
}

// captureAnswer is one queued ScriptedPresence capture.
type captureAnswer struct {
	sample Sample
	err    error
}

// PushSample queues samples for the next fingerprint captures.
func (p *ScriptedPresence) PushSample(samples ...Sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range samples {
		p.samples = append(p.samples, captureAnswer{sample: s})
	}
	p.notifyLocked()
}

// PushCaptureError queues a failed capture: ctap.StatusOperationDenied or
// ctap.StatusUserActionTimeout.
func (p *ScriptedPresence) PushCaptureError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples = append(p.samples, captureAnswer{err: err})
	p.notifyLocked()
}

// Capture implements FingerprintSensor. It records req, then takes the
// next sample queued with PushSample or PushCaptureError, waiting for one
// if needed.
func (p *ScriptedPresence) Capture(ctx context.Context, req CaptureRequest) (Sample, error) {
	p.mu.Lock()
	p.captures = append(p.captures, req)
	p.notifyLocked()
	for len(p.samples) == 0 {
		wait := p.waitChanLocked()
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return Sample{}, ctx.Err()
		case <-wait:
		}
		p.mu.Lock()
	}
	a := p.samples[0]
	p.samples = p.samples[1:]
	p.mu.Unlock()
	return a.sample, a.err
}

// Captures returns the capture requests seen so far, oldest first.
func (p *ScriptedPresence) Captures() []CaptureRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]CaptureRequest(nil), p.captures...)
}
