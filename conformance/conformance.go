// Package conformance is a suite of CTAP 2.1 conformance cases that run
// against any key reachable through a client.Device: the in-process virtual
// key, the virtkey daemon over UDP, or a hardware token over hidraw.
//
// Each case names the spec section it checks and asserts the exact status
// codes and fields the spec requires. Cases register themselves at init
// with Register; Run executes a selection against a Target.
//
// On a shared key the suite leaves what it found: every credential it
// makes belongs to an RP whose ID ends in RPSuffix (".virtkey.test"), and
// a case removes the discoverable credentials it made through
// credentialManagement when the key lets it (built-in UV, or the PIN given
// as Options.PIN), so that a second run meets the same key.
package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctaphid"
)

// Freshener is a target that can replace its key with a factory-new one;
// with CapFresh the runner calls Fresh before every case.
type Freshener interface {
	Fresh(ctx context.Context) error
}

// Case is one conformance case.
type Case struct {
	// ID is a short stable name such as "mc-excluded-credential".
	ID string
	// Section is the spec section checked, such as "CTAP 2.1 §6.1.2 step 7".
	Section string
	// Title says in a line what the case checks.
	Title string
	// Needs lists the capabilities the case requires; without them it is skipped.
	Needs []Capability
	// Destructive cases erase credentials or change the PIN of the key.
	Destructive bool
	// Versions are the getInfo versions whose spec the case checks
	// (CTAP2, CTAP21, U2F, Any, ...); every case declares them. A key that
	// lists none of them skips the case ("not this version"); inside the
	// case, T.Lists picks the variant for the key's version.
	Versions []Version
	// Level is how strongly the spec states the case's main expectation:
	// a failed Should case is a warning, a failed May case an
	// observation. The zero value is Must.
	Level Level
	// Run performs the case.
	Run func(t *T)
}

var (
	regMu    sync.Mutex
	registry = map[string]Case{}
)

// Register adds cases to the suite. It panics on a duplicate or unnamed ID,
// or on a case without a section: both are programming errors.
func Register(cs ...Case) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, c := range cs {
		if c.ID == "" || c.Section == "" || c.Run == nil {
			panic(fmt.Sprintf("conformance: case %q lacks an ID, a section or a body", c.ID))
		}
		if _, dup := registry[c.ID]; dup {
			panic("conformance: duplicate case " + c.ID)
		}
		registry[c.ID] = c
	}
}

// Cases returns every registered case, sorted by ID.
func Cases() []Case {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]Case, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Outcome is the result of one case.
type Outcome int

const (
	Pass Outcome = iota
	Fail
	Skip
	// Warn: the key departs from a SHOULD of the spec. Counted apart from
	// failures; a run with warnings and no failures succeeds.
	Warn
	// NotRun: the run stopped before the case, because the key stopped
	// answering and did not come back. Counted with the skipped cases.
	NotRun
)

func (o Outcome) String() string {
	return [...]string{"PASS", "FAIL", "SKIP", "WARN", "NOT RUN"}[o]
}

// Result is the outcome of one case with its messages.
type Result struct {
	Case     Case
	Outcome  Outcome
	Messages []string
	Duration time.Duration
	// SkipReason is why a skipped case was skipped, in words shared by
	// every case skipped for the same reason, for a summary.
	SkipReason string
	// Warnings are the SHOULDs the key did not follow (T.Warnf).
	Warnings []string
	// Observations are what the key chose where the spec leaves a choice
	// (T.Observef): a MAY, or a status the spec does not name.
	Observations []string
	// Exchanges are the last messages the case sent through its clients
	// and the answers, kept for failures and warnings.
	Exchanges []Exchange
	// KeyStopped is set when the key stopped answering during the case.
	KeyStopped bool

	lastRequest string // the case's last request, for a key that stopped answering
}

// caseGrace is how long the runner waits, past a case's timeout, for the
// case to return before it gives up on it.
const caseGrace = 5 * time.Second

// Options select and shape a run.
type Options struct {
	// Filter selects cases whose ID matches; nil runs all.
	Filter *regexp.Regexp
	// AllowDestructive runs destructive cases on a target without CapFresh.
	AllowDestructive bool
	// CaseTimeout bounds each case (default 30 s).
	CaseTimeout time.Duration
	// Cases replaces the registered cases, when set.
	Cases []Case
	// Report, when set, is called after each case.
	Report func(Result)
	// ProbeTimeout bounds the check, after a failed case, that the key
	// still answers CTAPHID INIT and PING (default 3 s).
	ProbeTimeout time.Duration
	// WaitForKey, when set, is how the run waits for a key that stopped
	// answering and has no Controller to power-cycle it: it asks a person
	// to replug it, calling probe until it answers, and returns nil once
	// it does. Without it (or when it fails) the run stops and the
	// remaining cases are NotRun.
	WaitForKey func(ctx context.Context, probe func(context.Context) error) error
	// PIN is the PIN of a shared key that has one, so that cases can
	// remove the discoverable credentials they made (credentialManagement
	// needs a pinUvAuthToken).
	PIN string
	// RunID names this run in the user names of credentials that must be
	// new in every run (T.RunID); empty picks a random one.
	RunID string
	// Record, when set, is called with every message a case sends through
	// its clients and the answer, as they complete: a corpus of the
	// requests a suite run makes (ctaptest fuzz seeds from it). It must
	// not block.
	Record func(caseID string, x Exchange)
	// Prompt, when set, asks a person for a touch on a target without a
	// Controller: it is called, at most once per case, when the key answers
	// a call of the case's Ctap2 client with KEEPALIVE STATUS_UPNEEDED
	// (CTAP 2.1 §11.2.9.1.7). The case keeps waiting, until its timeout.
	// Prompt runs on the transport's goroutine and must not block.
	Prompt func(msg string)
}

// Select returns the cases of opts (every registered case unless
// opts.Cases is set) whose ID matches opts.Filter, in order.
func Select(opts Options) []Case {
	cases := opts.Cases
	if cases == nil {
		cases = Cases()
	}
	var out []Case
	for _, c := range cases {
		if opts.Filter == nil || opts.Filter.MatchString(c.ID) {
			out = append(out, c)
		}
	}
	return out
}

// Run runs the selected cases against target, one after the other.
//
// After a failed case the run checks that the key still answers CTAPHID
// INIT and PING. A key that does not is a finding: the case fails with
// "the key stopped answering after <request>", and the run power-cycles
// the key through its Controller, or waits for it (Options.WaitForKey);
// when neither brings it back, the remaining cases are NotRun.
func Run(ctx context.Context, target Target, opts Options) []Result {
	if opts.CaseTimeout == 0 {
		opts.CaseTimeout = 30 * time.Second
	}
	if opts.ProbeTimeout == 0 {
		opts.ProbeTimeout = 3 * time.Second
	}
	if opts.RunID == "" {
		var b [4]byte
		rand.Read(b[:])
		opts.RunID = hex.EncodeToString(b[:])
	}
	caps := map[Capability]bool{}
	for _, c := range target.Capabilities() {
		caps[c] = true
	}
	var (
		results []Result
		stopped string // why the run stopped, once it has
	)
	for _, c := range Select(opts) {
		var r Result
		if stopped != "" {
			r = Result{Case: c, Outcome: NotRun, SkipReason: stopped, Messages: []string{stopped}}
		} else {
			r = runCase(ctx, target, caps, c, opts)
			if r.Outcome == Fail && ctx.Err() == nil {
				if err := probeKey(ctx, target, opts.ProbeTimeout); err != nil {
					r.KeyStopped = true
					msg := "the key stopped answering after " + r.lastRequest
					if r.lastRequest == "" {
						msg = "the key stopped answering during the case"
					}
					r.Messages = append([]string{fmt.Sprintf("%s (probe: %v)", msg, err)}, r.Messages...)
					if err := revive(ctx, target, opts); err != nil {
						stopped = "not run: the key stopped answering and did not come back (" + err.Error() + ")"
					} else {
						r.Messages = append(r.Messages, "the key answers again after a power cycle")
					}
				}
			}
		}
		results = append(results, r)
		if opts.Report != nil {
			opts.Report(r)
		}
	}
	return results
}

// probeKey checks that the key answers: INIT on a new channel, then a PING
// whose echo must match (CTAP 2.1 §11.2.9.1.3, §11.2.9.1.4).
func probeKey(ctx context.Context, target Target, timeout time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := target.Open(pctx)
	if err != nil {
		return err
	}
	defer d.Close()
	data := []byte("conformance: is the key there?")
	got, err := d.Conn().Ping(pctx, data)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("PING echoed %x, want %x", got, data)
	}
	return nil
}

// revive brings back a key that stopped answering: a power cycle through
// the target's Controller, else Options.WaitForKey.
func revive(ctx context.Context, target Target, opts Options) error {
	probe := func(ctx context.Context) error { return probeKey(ctx, target, opts.ProbeTimeout) }
	var errs []error
	if ctl := target.Controller(); ctl != nil {
		pctx, cancel := context.WithTimeout(ctx, opts.CaseTimeout)
		err := ctl.PowerCycle(pctx)
		cancel()
		if err == nil {
			if err = probe(ctx); err == nil {
				return nil
			}
		}
		errs = append(errs, fmt.Errorf("power cycle: %w", err))
	}
	if opts.WaitForKey != nil {
		err := opts.WaitForKey(ctx, probe)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return errors.New("no controller to power-cycle it and nobody to replug it")
	}
	return errors.Join(errs...)
}

// Summary counts outcomes; a warning counts as passed here (see Warnings).
func Summary(rs []Result) (passed, failed, skipped int) {
	for _, r := range rs {
		switch r.Outcome {
		case Pass, Warn:
			passed++
		case Fail:
			failed++
		case Skip, NotRun:
			skipped++
		}
	}
	return
}

// Warnings counts the results that ended as WARN.
func Warnings(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Outcome == Warn {
			n++
		}
	}
	return n
}

func runCase(ctx context.Context, target Target, caps map[Capability]bool, c Case, opts Options) Result {
	start := time.Now()
	res := Result{Case: c}
	var missing []string
	for _, n := range c.Needs {
		if !caps[n] {
			missing = append(missing, string(n))
		}
	}
	switch {
	case len(missing) > 0:
		res.Outcome = Skip
		res.Messages = []string{"target lacks " + strings.Join(missing, ", ")}
		res.SkipReason = needReason(missing...)
		return res
	case c.Destructive && !caps[CapFresh] && !opts.AllowDestructive:
		res.Outcome = Skip
		res.Messages = []string{"destructive: erases the key (allow with --allow-destructive)"}
		res.SkipReason = reasonDestructive
		return res
	}
	cctx, cancel := context.WithTimeout(ctx, opts.CaseTimeout)
	defer cancel()
	if f, ok := target.(Freshener); ok && caps[CapFresh] {
		if err := f.Fresh(cctx); err != nil {
			res.Outcome = Fail
			res.Messages = []string{"fresh key: " + err.Error()}
			return res
		}
	}
	t := &T{ctx: cctx, target: target, c: c, runID: opts.RunID, record: opts.Record, pin: opts.PIN}
	if opts.Prompt != nil && target.Controller() == nil {
		t.prompt = opts.Prompt
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				t.failed = true
				t.logf("panic: %v", p)
			}
		}()
		t.Run(func(t *T) {
			t.requireVersions()
			c.Run(t)
		})
	}()
	select {
	case <-done:
		t.cleanup()
	case <-time.After(opts.CaseTimeout + caseGrace):
		// The case does not return although its context ended: leave its
		// goroutine behind rather than hang the run.
		t.Errorf("the case did not end %v after its timeout", caseGrace)
	}
	res.Duration = time.Since(start)
	t.mu.Lock()
	res.Messages = append([]string(nil), t.msgs...)
	res.Warnings = append([]string(nil), t.warnings...)
	res.Observations = append([]string(nil), t.observations...)
	res.lastRequest = t.lastRequest
	failed, skipped, skipReason, warned := t.failed, t.skipped, t.skipReason, len(t.warnings) > 0
	t.mu.Unlock()
	if failed && cctx.Err() == context.DeadlineExceeded {
		res.Messages = append(res.Messages, fmt.Sprintf("the case timed out after %v", opts.CaseTimeout))
	}
	switch {
	case failed && c.Level == Should:
		res.Outcome = Warn
		res.Warnings = append(res.Warnings, "the key does not do what the spec says it SHOULD")
	case failed && c.Level == May:
		res.Outcome = Pass
		res.Observations = append(res.Observations, "the key does not do what the spec says it MAY")
	case failed:
		res.Outcome = Fail
	case skipped:
		res.Outcome = Skip
		res.SkipReason = skipReason
	case warned:
		res.Outcome = Warn
	default:
		res.Outcome = Pass
	}
	if res.Outcome == Fail || res.Outcome == Warn {
		res.Exchanges = t.recorded()
	}
	return res
}

// T is a case's handle on the target, in the manner of testing.T.
type T struct {
	ctx     context.Context
	target  Target
	c       Case
	mu      sync.Mutex
	failed  bool
	skipped bool
	msgs    []string
	devs    []*client.Device
	ctap2   *client.Ctap2
	dev     *client.Device
	cleanup func()
	atEnd   []func(ctx context.Context) error

	skipReason   string         // Result.SkipReason: the first Skipf's message unless set before
	warnings     []string       // Result.Warnings
	observations []string       // Result.Observations
	keyVersions  []string       // getInfo versions, read once (versions)
	runID        string         // Options.RunID
	exchanges    []*Exchange    // the last messages through the case's clients (tap)
	lastRequest  string         // the name of the last of them
	residents    []resident     // discoverable credentials to remove at the end
	pin          string         // the key's PIN, for removing them (UsePIN, Options.PIN)
	algProbe     map[int64]bool // supportsAlg's probes on a key that lists no algorithms

	prompt     func(msg string)                // Options.Prompt on a target without a Controller
	record     func(caseID string, x Exchange) // Options.Record
	promptOnce sync.Once
}

// Run calls f; Fatalf and Skipf end f early.
func (t *T) Run(f func(t *T)) {
	t.cleanup = func() {
		if c := t.target.Controller(); c != nil {
			c.SetPresence(PresenceAuto)
		}
		// Before the atEnd functions, which may reset the key.
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			t.removeResidents(ctx)
		}()
		for _, fn := range t.atEnd {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := fn(ctx); err != nil {
				t.Errorf("cleaning up after the case: %v", err)
			}
			cancel()
		}
		t.mu.Lock()
		devs := t.devs
		t.devs = nil
		t.mu.Unlock()
		for _, d := range devs {
			d.Close()
		}
	}
	f(t)
}

// RunID is a name of the run, different in every run unless
// Options.RunID fixes it: for credentials that must be new each time.
func (t *T) RunID() string { return t.runID }

// Context is the case's context; it ends at the case timeout.
func (t *T) Context() context.Context { return t.ctx }

// Case is the running case.
func (t *T) Case() Case { return t.c }

func (t *T) logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.msgs = append(t.msgs, fmt.Sprintf(format, args...))
}

// Logf records a message.
func (t *T) Logf(format string, args ...any) { t.logf(format, args...) }

// Errorf records a failure and goes on.
func (t *T) Errorf(format string, args ...any) {
	t.logf(format, args...)
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
}

// Fatalf records a failure and ends the case.
func (t *T) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

// Skipf ends the case as skipped.
func (t *T) Skipf(format string, args ...any) {
	t.logf(format, args...)
	t.mu.Lock()
	t.skipped = true
	if t.skipReason == "" {
		t.skipReason = fmt.Sprintf(format, args...)
	}
	t.mu.Unlock()
	runtime.Goexit()
}

// Failed reports whether the case has failed.
func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// OpenDevice opens a new connection (a new CTAPHID channel) that closes
// when the case ends.
func (t *T) OpenDevice() *client.Device {
	d, err := t.target.Open(t.ctx)
	if err != nil {
		t.Fatalf("open device: %v", err)
	}
	t.mu.Lock()
	t.devs = append(t.devs, d)
	t.mu.Unlock()
	return d
}

// Device is the case's main connection, opened on first use.
func (t *T) Device() *client.Device {
	if t.dev == nil {
		t.dev = t.OpenDevice()
	}
	return t.dev
}

// Ctap2 is a CTAP2 client on the case's main connection.
func (t *T) Ctap2() *client.Ctap2 {
	if t.ctap2 == nil {
		// Canonical encoding is checked by its own cases (gi-canonical,
		// *-canonical-response) on raw bodies; the others decode leniently
		// so that one encoding slip does not fail every case.
		opts := []client.Option{client.WithStrictCBOR(false)}
		if t.prompt != nil {
			opts = append(opts, client.WithDefaultKeepalive(t.promptForPresence))
		}
		c, err := client.New(t.ctx, t.Tap(t.Device()), opts...)
		if err != nil {
			t.Fatalf("getInfo: %v", err)
		}
		t.ctap2 = c
	}
	return t.ctap2
}

// promptForPresence is the case's default keepalive handler on a target
// without a Controller: the first STATUS_UPNEEDED asks a person for a touch.
func (t *T) promptForPresence(s ctaphid.KeepaliveStatus) {
	if s != ctaphid.StatusUPNeeded {
		return
	}
	t.promptOnce.Do(func() {
		msg := t.c.ID + ": touch your key now"
		if d, ok := t.ctx.Deadline(); ok {
			msg += fmt.Sprintf(" (the case gives up in %s)", time.Until(d).Round(time.Second))
		}
		t.logf("the key asked for user presence")
		t.prompt(msg)
	})
}

// skipNeeding skips the case for want of capability c.
func (t *T) skipNeeding(c Capability, msg string) {
	t.mu.Lock()
	t.skipReason = needReason(string(c))
	t.mu.Unlock()
	t.Skipf("%s", msg)
}

// reasonDestructive is the Result.SkipReason of a destructive case the
// options did not allow.
const reasonDestructive = "destructive (erase the key or change its PIN)"

// capabilityWords says what a capability lets the suite do.
var capabilityWords = map[Capability]string{
	CapControl:    "control (power cycle, scripted touches)",
	CapPowerCycle: "power cycles",
	CapFresh:      "a factory-new key per case",
	CapClock:      "clock control",
}

// needReason is the skip reason of a case whose target lacks caps.
func needReason(caps ...string) string {
	words := make([]string, len(caps))
	for i, c := range caps {
		words[i] = c
		if w, ok := capabilityWords[Capability(c)]; ok {
			words[i] = w
		}
	}
	return "need " + strings.Join(words, " and ")
}
