package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// Presence modes (--presence).
const (
	presenceAuto    = "auto"    // touched (and verified) at once
	presenceDeny    = "deny"    // declined at once
	presencePrompt  = "prompt"  // asked on the daemon's terminal; the control socket answers too
	presenceControl = "control" // answered by `virtkey touch`, `virtkey deny`, `virtkey finger`
)

var presenceModes = []string{presenceAuto, presenceDeny, presencePrompt, presenceControl}

// What a request waits for.
const (
	waitTouch  = "touch"  // user presence (authenticator.Presence)
	waitFinger = "finger" // built-in user verification (authenticator.Verifier)
)

// errDenied is the answer of a user who declines.
var errDenied error = ctap.StatusOperationDenied

// errNothingWaiting answers `virtkey touch` when no request waits.
var errNothingWaiting = errors.New("nothing is waiting for a touch")

// userPresence is the daemon's user: an authenticator.Presence, and an
// authenticator.Verifier for keys with a fingerprint sensor. In prompt and
// control modes a request waits, visible to `virtkey status`, until it is
// answered through the control socket, by a line on the terminal (prompt
// mode), or its context ends.
type userPresence struct {
	mode string
	log  *slog.Logger
	now  func() time.Time

	// prompt mode: questions go to promptOut, answers come from stdin.
	promptOut io.Writer

	mu      sync.Mutex
	pending *pendingRequest
	changed chan struct{} // closed and replaced when pending changes
	fingers []fingerEvent // put on the sensor while nothing asked
}

// pendingRequest is a request for a touch or a finger that waits for its
// answer.
type pendingRequest struct {
	kind    string // waitTouch or waitFinger
	command ctap.Command
	reason  string
	rpID    string
	since   time.Time
	answer  chan error    // buffered: one answer
	finger  fingerEvent   // the finger that answered a fingerprint capture
	lines   chan string   // prompt mode: lines typed while the request waits
	done    chan struct{} // closed when the request has its answer
}

func (r *pendingRequest) describe() string {
	return describeRequest(r.command, r.reason, r.rpID)
}

// fingerEvent is a finger put on the sensor: a numbered (enrolled) finger
// or a bad one.
type fingerEvent struct {
	Finger int  `json:"finger,omitempty"`
	Bad    bool `json:"bad,omitempty"`
}

func (f fingerEvent) String() string {
	if f.Bad {
		return "an unenrolled finger"
	}
	return fmt.Sprintf("finger %d", f.Finger)
}

// verification is what a finger gives a key without fingerprint
// enrollment (a Verifier): every numbered finger matches.
func (f fingerEvent) verification() error {
	if f.Bad {
		return ctap.StatusUVInvalid
	}
	return nil
}

func newUserPresence(mode string, log *slog.Logger, stdin io.Reader, promptOut io.Writer) *userPresence {
	p := &userPresence{mode: mode, log: log, now: time.Now, promptOut: promptOut, changed: make(chan struct{})}
	if mode == presencePrompt {
		go p.readLines(stdin)
	}
	return p
}

// readLines hands the terminal's lines to the waiting request. A line
// typed while nothing waits is dropped, so that an early "y" never
// approves a later request. The goroutine ends with stdin.
func (p *userPresence) readLines(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		t := p.pending
		p.mu.Unlock()
		if t == nil {
			fmt.Fprintln(p.promptOut, "virtkey: nothing is waiting for an answer")
			continue
		}
		select {
		case t.lines <- sc.Text():
		case <-t.done:
			fmt.Fprintln(p.promptOut, "virtkey: the request was answered already")
		}
	}
	p.log.Warn("stdin closed: answer requests with `virtkey touch`, `virtkey deny` or `virtkey finger`")
}

// Touch implements authenticator.Presence.
func (p *userPresence) Touch(ctx context.Context, req authenticator.TouchRequest) error {
	what := describeRequest(req.Command, string(req.Reason), req.RPID)
	switch p.mode {
	case presenceAuto:
		p.log.Debug("touch", "for", what, "answer", "touched (auto)")
		return nil
	case presenceDeny:
		p.log.Debug("touch", "for", what, "answer", "denied (deny)")
		return errDenied
	}
	return p.wait(ctx, &pendingRequest{kind: waitTouch, command: req.Command, reason: string(req.Reason), rpID: req.RPID},
		"Touch for %s? [y/N] ", func(line string) error {
			if line == "y" || line == "yes" {
				return nil
			}
			return errDenied
		})
}

// VerifyUser implements authenticator.Verifier: one fingerprint capture.
// A finger put on the sensor before the request answers it at once.
func (p *userPresence) VerifyUser(ctx context.Context, req authenticator.UVRequest) error {
	what := describeRequest(req.Command, "", req.RPID)
	switch p.mode {
	case presenceAuto:
		p.log.Debug("finger", "for", what, "answer", "matched (auto)")
		return nil
	case presenceDeny:
		p.log.Debug("finger", "for", what, "answer", "denied (deny)")
		return errDenied
	}
	p.mu.Lock()
	if len(p.fingers) > 0 {
		f := p.fingers[0]
		p.fingers = p.fingers[1:]
		p.mu.Unlock()
		p.log.Info("finger", "for", what, "answer", f.String()+" (queued)")
		return f.verification()
	}
	p.mu.Unlock()
	return p.wait(ctx, &pendingRequest{kind: waitFinger, command: req.Command, rpID: req.RPID},
		"Finger on the sensor for %s? [y/bad/N] ", func(line string) error {
			switch line {
			case "y", "yes":
				return nil
			case "bad":
				return ctap.StatusUVInvalid
			}
			return errDenied
		})
}

// wait makes r the pending request and waits for its answer.
func (p *userPresence) wait(ctx context.Context, r *pendingRequest, prompt string, fromLine func(string) error) error {
	r.since = p.now()
	r.answer = make(chan error, 1)
	r.lines = make(chan string)
	r.done = make(chan struct{})
	p.mu.Lock()
	p.pending = r
	p.notifyLocked()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.pending == r {
			p.pending = nil
			p.notifyLocked()
		}
		close(r.done)
		p.mu.Unlock()
	}()
	what := r.describe()
	p.log.Info("waiting for a "+r.kind, "for", what)
	if p.mode == presencePrompt {
		fmt.Fprintf(p.promptOut, prompt, what)
	}
	select {
	case err := <-r.answer:
		if p.mode == presencePrompt {
			fmt.Fprintf(p.promptOut, "(%s by the control socket)\n", answerName(err))
		}
		p.log.Info(r.kind+" answered", "for", what, "answer", answerName(err))
		return err
	case line := <-r.lines:
		err := fromLine(strings.ToLower(strings.TrimSpace(line)))
		p.log.Info(r.kind+" answered", "for", what, "answer", answerName(err)+" (prompt)")
		return err
	case <-ctx.Done():
		ended := "cancelled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ended = "timed out"
		}
		if p.mode == presencePrompt {
			fmt.Fprintf(p.promptOut, "(%s)\n", ended)
		}
		p.log.Info(r.kind+" request "+ended, "for", what)
		return ctx.Err()
	}
}

func answerName(err error) string {
	switch {
	case err == nil:
		return "accepted"
	case errors.Is(err, ctap.StatusUVInvalid):
		return "no match"
	}
	return "denied"
}

// take removes the pending request of one of kinds and hands it err.
func (p *userPresence) take(err error, kinds ...string) (*pendingRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.pending
	if r == nil {
		return nil, errNothingWaiting
	}
	for _, k := range kinds {
		if r.kind == k {
			p.pending = nil // answered: no longer waiting, even before wait returns
			p.notifyLocked()
			r.answer <- err
			return r, nil
		}
	}
	if r.kind == waitFinger {
		return nil, fmt.Errorf("the key waits for a finger on its sensor for %s: use `virtkey finger N` (or `virtkey deny`)", r.describe())
	}
	return nil, fmt.Errorf("the key waits for a %s for %s", r.kind, r.describe())
}

// touch answers the request waiting for a touch.
func (p *userPresence) touch() (string, error) {
	r, err := p.take(nil, waitTouch)
	if err != nil {
		return "", err
	}
	return "touched for " + r.describe(), nil
}

// deny declines the waiting request, a touch or a finger.
func (p *userPresence) deny() (string, error) {
	r, err := p.take(errDenied, waitTouch, waitFinger)
	if err != nil {
		return "", err
	}
	return "denied " + r.describe(), nil
}

// finger puts a finger on the sensor: it answers a waiting fingerprint
// capture, touches the key for a waiting touch (as the sensor of a real
// key does), or is queued for the next capture.
func (p *userPresence) finger(f fingerEvent) string {
	p.mu.Lock()
	r := p.pending
	p.mu.Unlock()
	if r != nil {
		ans := error(nil)
		if r.kind == waitFinger {
			ans = f.verification()
			p.mu.Lock()
			r.finger = f
			p.mu.Unlock()
		}
		if r, err := p.take(ans, r.kind); err == nil {
			if r.kind == waitTouch {
				return fmt.Sprintf("%s touched the key for %s", f, r.describe())
			}
			if ans != nil {
				return fmt.Sprintf("%s did not match for %s", f, r.describe())
			}
			return fmt.Sprintf("%s matched for %s", f, r.describe())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fingers = append(p.fingers, f)
	return fmt.Sprintf("%s queued for the next fingerprint capture (%d queued)", f, len(p.fingers))
}

// waitPending blocks until a request waits for an answer or ctx ends.
func (p *userPresence) waitPending(ctx context.Context) error {
	for {
		p.mu.Lock()
		pending, changed := p.pending != nil, p.changed
		p.mu.Unlock()
		if pending {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *userPresence) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// waiting describes the request waiting for the user, nil if none.
func (p *userPresence) waiting() *waitingStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.pending
	if r == nil {
		return nil
	}
	return &waitingStatus{
		For:     r.kind,
		Command: commandName(r.command),
		Reason:  r.reason,
		RPID:    r.rpID,
		Since:   r.since,
		Seconds: p.now().Sub(r.since).Seconds(),
	}
}

func (p *userPresence) queuedFingers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.fingers)
}

// powerCycle forgets the fingers on the sensor: a key that loses power
// loses them.
func (p *userPresence) powerCycle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fingers = nil
}

// describeRequest says what a request is for: "makeCredential on
// example.com". reason is a TouchReason, empty for user verification.
func describeRequest(cmd ctap.Command, reason, rpID string) string {
	what := reason
	switch authenticator.TouchReason(reason) {
	case authenticator.ReasonExcluded:
		what = "makeCredential (already registered, excludeList)"
	case authenticator.ReasonPINProbe:
		what = commandName(cmd) + " (pinUvAuthParam probe)"
	case "":
		what = commandName(cmd)
	}
	if rpID != "" {
		what += " on " + rpID
	}
	return what
}

// commandName is "makeCredential" for authenticatorMakeCredential.
func commandName(c ctap.Command) string {
	s := strings.TrimPrefix(c.String(), "authenticator")
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// sample is what a finger gives the sensor of a key with fingerprint
// enrollment: a good sample of the finger, or a poor-quality one for
// `virtkey finger --bad` (which then matches no template).
func (f fingerEvent) sample() authenticator.Sample {
	if f.Bad || f.Finger <= 0 {
		return authenticator.Sample{Status: authenticator.SamplePoorQuality}
	}
	return authenticator.Sample{Finger: f.Finger, Status: authenticator.SampleGood}
}

// Capture implements authenticator.FingerprintSensor: one capture, for an
// enrollment sample or a verification, answered as VerifyUser is: auto
// mode gives finger 1, a queued finger is taken first, and "y" on the
// terminal is finger 1.
func (p *userPresence) Capture(ctx context.Context, req authenticator.CaptureRequest) (authenticator.Sample, error) {
	cmd := req.UV.Command
	if req.Enroll {
		cmd = req.Command
	}
	what := describeRequest(cmd, "", req.UV.RPID)
	switch p.mode {
	case presenceAuto:
		p.log.Debug("finger", "for", what, "answer", "finger 1 (auto)")
		return fingerEvent{Finger: 1}.sample(), nil
	case presenceDeny:
		p.log.Debug("finger", "for", what, "answer", "denied (deny)")
		return authenticator.Sample{}, errDenied
	}
	p.mu.Lock()
	if len(p.fingers) > 0 {
		f := p.fingers[0]
		p.fingers = p.fingers[1:]
		p.mu.Unlock()
		p.log.Info("finger", "for", what, "answer", f.String()+" (queued)")
		return f.sample(), nil
	}
	p.mu.Unlock()
	r := &pendingRequest{kind: waitFinger, command: cmd, rpID: req.UV.RPID}
	err := p.wait(ctx, r, "Finger on the sensor for %s? [y/bad/N] ", func(line string) error {
		switch line {
		case "y", "yes":
			return nil
		case "bad":
			return ctap.StatusUVInvalid
		}
		return errDenied
	})
	switch {
	case errors.Is(err, ctap.StatusUVInvalid):
		return fingerEvent{Bad: true}.sample(), nil
	case err != nil:
		return authenticator.Sample{}, err
	}
	p.mu.Lock()
	f := r.finger
	p.mu.Unlock()
	if f.Finger == 0 {
		f.Finger = 1 // "y" on the terminal
	}
	return f.sample(), nil
}

var _ authenticator.FingerprintSensor = (*userPresence)(nil)
