package authenticator

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Presence asks the user for a test of user presence: a touch of the key
// (WebAuthn §6.2.1). Later features extend it through optional interfaces
// that a Presence may also implement: Verifier for built-in user
// verification (uv.go).
type Presence interface {
	// Touch asks the user to touch the key. It returns nil when the user
	// touched it, ctap.StatusOperationDenied when the user declined,
	// ctap.StatusUserActionTimeout when nobody touched it in time, and
	// ctx.Err() when the request was cancelled (CTAPHID_CANCEL).
	Touch(ctx context.Context, req TouchRequest) error
}

// TouchReason says why the key wants a touch, for a prompt or a log.
type TouchReason string

// Reasons for a touch.
const (
	ReasonMakeCredential TouchReason = "makeCredential" // §6.1.2 step 14
	ReasonExcluded       TouchReason = "excludeList"    // §6.1.2 step 12: a credential in excludeList exists
	ReasonGetAssertion   TouchReason = "getAssertion"   // §6.2.2 step 9
	ReasonPINProbe       TouchReason = "pinUvAuthProbe" // §6.1.2 / §6.2.2 step 1: zero-length pinUvAuthParam
	ReasonReset          TouchReason = "reset"          // §6.6
	ReasonSelection      TouchReason = "selection"      // §6.9
)

// TouchRequest describes one request for user presence.
type TouchRequest struct {
	Command ctap.Command
	// RPID is the relying party the command is for; empty for reset and
	// selection.
	RPID   string
	Reason TouchReason
}

// AutoPresence is a user who touches the key at once, every time, and
// whose every built-in user verification attempt matches.
type AutoPresence struct{}

// Touch implements Presence.
func (AutoPresence) Touch(ctx context.Context, req TouchRequest) error { return nil }

// VerifyUser implements Verifier: always a match.
func (AutoPresence) VerifyUser(ctx context.Context, req UVRequest) error { return nil }

// DenyPresence is a user who declines every request, touches and
// verifications alike.
type DenyPresence struct{}

// Touch implements Presence.
func (DenyPresence) Touch(ctx context.Context, req TouchRequest) error {
	return ctap.StatusOperationDenied
}

// VerifyUser implements Verifier: the user declines.
func (DenyPresence) VerifyUser(ctx context.Context, req UVRequest) error {
	return ctap.StatusOperationDenied
}

var (
	_ Verifier = AutoPresence{}
	_ Verifier = DenyPresence{}
	_ Verifier = (*ScriptedPresence)(nil)
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

// touch asks cfg.Presence for a touch and maps the answer to the error
// the command returns: nil when touched; ctap.StatusKeepaliveCancel when
// ctx was cancelled (CTAP 2.1 §11.2.9.1.5); otherwise the Presence's
// status, with no answer within Config.TouchTimeout counting as a timeout.
// Callers map declines and timeouts to their command's status:
//
//   - makeCredential and getAssertion: CTAP2_ERR_OPERATION_DENIED for both
//     (§6.1.2 step 14, §6.2.2 step 9: "If the user declines permission, or
//     the operation times out");
//   - a credential in excludeList: CTAP2_ERR_CREDENTIAL_EXCLUDED (§6.1.2
//     step 12), whatever the user did;
//   - authenticatorReset (§6.6) and authenticatorSelection (§6.9):
//     CTAP2_ERR_USER_ACTION_TIMEOUT, a decline CTAP2_ERR_OPERATION_DENIED;
//   - built-in UV (uv.go) and fingerprint samples (bio.go):
//     CTAP2_ERR_USER_ACTION_TIMEOUT.
func (a *Authenticator) touch(ctx context.Context, req TouchRequest) error {
	return a.askUser(ctx, "user presence", func(ctx context.Context) error { return a.presence.Touch(ctx, req) },
		ctap.StatusOperationDenied, ctap.StatusUserActionTimeout)
}

// askUser runs one request to the user (a touch or a verification) with
// the keepalive status saying the key waits for the user and a deadline
// Config.TouchTimeout away, as a hardware key stops waiting after about
// 30 s; and maps the answer: nil stays nil; a cancelled ctx is
// CTAP2_ERR_KEEPALIVE_CANCEL (CTAP 2.1 §11.2.9.1.5) and a deadline
// CTAP2_ERR_USER_ACTION_TIMEOUT; the statuses in pass go through as they
// are; anything else is an internal error about what.
func (a *Authenticator) askUser(ctx context.Context, what string, ask func(context.Context) error, pass ...ctap.Status) error {
	ctaphid.SetKeepaliveStatus(ctx, ctaphid.StatusUPNeeded)
	defer ctaphid.SetKeepaliveStatus(ctx, ctaphid.StatusProcessing)
	if a.touchTO > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.touchTO)
		defer cancel()
	}
	err := ask(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ctap.StatusKeepaliveCancel, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ctap.StatusUserActionTimeout, err)
	}
	for _, s := range pass {
		if errors.Is(err, s) {
			return err
		}
	}
	return fmt.Errorf("authenticator: %s: %w", what, err)
}

// presenceOutcome classifies a touch error for the commands whose spec
// text maps declines and timeouts differently.
type presenceOutcome int

const (
	touched presenceOutcome = iota
	declined
	timedOut
	cancelled
	failed
)

func outcome(err error) presenceOutcome {
	switch {
	case err == nil:
		return touched
	case errors.Is(err, ctap.StatusKeepaliveCancel):
		return cancelled
	case errors.Is(err, ctap.StatusOperationDenied):
		return declined
	case errors.Is(err, ctap.StatusUserActionTimeout):
		return timedOut
	}
	return failed
}
