package authenticator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
)

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
		d := &lazyDeadline{parent: ctx, deadline: time.Now().Add(a.touchTO)}
		defer d.stop()
		ctx = d
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

// lazyDeadline is parent with a deadline, as context.WithDeadline makes
// it, except that the context with the timer is made only when a method
// other than Deadline is first called: a Presence that answers at once
// (AutoPresence, a daemon or control.User touching automatically) costs
// no timer.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time

	mu      sync.Mutex
	ctx     context.Context // context.WithDeadline(parent, deadline), once started
	cancel  context.CancelFunc
	stopped bool
}

// started returns the context with the deadline, made now if it was not
// yet; after stop, a cancelled one, as a cancelled context.WithDeadline
// would be.
func (d *lazyDeadline) started() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		d.ctx, d.cancel = context.WithDeadline(d.parent, d.deadline)
		if d.stopped {
			d.cancel()
		}
	}
	return d.ctx
}

// stop cancels the context, releasing its timer if it was started.
func (d *lazyDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.cancel != nil {
		d.cancel()
	}
}

// Deadline implements context.Context: the earlier of the parent's and
// its own.
func (d *lazyDeadline) Deadline() (time.Time, bool) {
	if pd, ok := d.parent.Deadline(); ok && pd.Before(d.deadline) {
		return pd, true
	}
	return d.deadline, true
}

// Done implements context.Context.
func (d *lazyDeadline) Done() <-chan struct{} { return d.started().Done() }

// Err implements context.Context.
func (d *lazyDeadline) Err() error { return d.started().Err() }

// Value implements context.Context.
func (d *lazyDeadline) Value(key any) any { return d.started().Value(key) }

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
