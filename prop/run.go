package prop

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/virtkey/virtkey/client"
)

// Config says what to check and how.
type Config struct {
	// Open connects to the key on a new channel.
	Open func(ctx context.Context) (*client.Device, error)
	// Fresh brings the key to a factory-new state before each sequence:
	// a new in-process key, or a power cycle and authenticatorReset.
	Fresh func(ctx context.Context) error
	// PowerCycle unplugs the key and plugs it back in; nil leaves power
	// cycles out of the sequences.
	PowerCycle func(ctx context.Context) error
	// Seed makes the run reproducible: the same seed draws the same
	// sequences (and, on a deterministic key, gets the same answers).
	Seed uint64
	// Checks is the number of sequences (default 100); Steps the actions
	// in each (default 25).
	Checks, Steps int
	// StepTimeout bounds one action (default 30 s).
	StepTimeout time.Duration
	// MaxShrinks bounds the replays spent shrinking a failure (default 300).
	MaxShrinks int
	// Log, when set, receives a line per sequence.
	Log io.Writer
}

// Step is one action of a transcript with what the model expected and
// what the key did.
type Step struct {
	N      int    `json:"n"`
	Action Action `json:"action"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	// Failed marks the step where the key departed from the model.
	Failed bool `json:"failed,omitempty"`
	// Skipped marks an action whose precondition did not hold in this
	// sequence (after shrinking removed what it needed); it sent nothing.
	Skipped bool `json:"skipped,omitempty"`
}

func (s Step) String() string {
	mark := "  "
	switch {
	case s.Failed:
		mark = "!!"
	case s.Skipped:
		return fmt.Sprintf("   %2d. %s (skipped: %s)", s.N, s.Action, s.Got)
	}
	return fmt.Sprintf("%s %2d. %s\n         expected: %s\n         got:      %s", mark, s.N, s.Action, s.Want, s.Got)
}

// Failure is a sequence on which the key departed from the model, shrunk.
type Failure struct {
	Seed  uint64 `json:"seed"`
	Check int    `json:"check"`
	// Actions is the shrunk sequence; replaying it reproduces the failure.
	Actions []Action `json:"actions"`
	// Original is the number of actions before shrinking.
	Original   int    `json:"original"`
	Transcript []Step `json:"transcript"`
	Reason     string `json:"reason"`
}

// Transcript prints the failing sequence for a person.
func (f *Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the key departed from the model (seed %d, sequence %d, shrunk from %d to %d actions):\n", f.Seed, f.Check, f.Original, len(f.Actions))
	for _, s := range f.Transcript {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "reason: %s\n", f.Reason)
	return b.String()
}

// Stats counts what a run did.
type Stats struct {
	Sequences, Steps int
	Duration         time.Duration
}

func (c *Config) defaults() {
	if c.Checks == 0 {
		c.Checks = 100
	}
	if c.Steps == 0 {
		c.Steps = 25
	}
	if c.StepTimeout == 0 {
		c.StepTimeout = 30 * time.Second
	}
	if c.MaxShrinks == 0 {
		c.MaxShrinks = 300
	}
}

// errTarget is an error of the target rather than of the key: it ends the
// run instead of being a finding.
type errTarget struct{ err error }

func (e errTarget) Error() string { return e.err.Error() }
func (e errTarget) Unwrap() error { return e.err }

// Check runs cfg.Checks random sequences. It returns the first failure,
// shrunk, or nil; an error means the target could not be driven.
func Check(ctx context.Context, cfg Config) (*Failure, Stats, error) {
	cfg.defaults()
	start := time.Now()
	var st Stats
	for i := range cfg.Checks {
		seqSeed := cfg.Seed*1_000_003 + uint64(i)
		r := rand.New(rand.NewPCG(seqSeed, 0x70726f70))
		steps, fail, err := execute(ctx, &cfg, seqSeed, nil, r)
		st.Sequences++
		st.Steps += len(steps)
		if err != nil {
			st.Duration = time.Since(start)
			return nil, st, err
		}
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "sequence %d: %d steps, %s\n", i+1, len(steps), map[bool]string{true: "FAIL", false: "ok"}[fail != ""])
		}
		if fail != "" {
			actions := make([]Action, len(steps))
			for j, s := range steps {
				actions[j] = s.Action
			}
			f, err := shrink(ctx, &cfg, seqSeed, actions, firstRun{steps, fail})
			st.Duration = time.Since(start)
			if err != nil {
				return nil, st, err
			}
			f.Seed, f.Check = cfg.Seed, i
			return f, st, nil
		}
	}
	st.Duration = time.Since(start)
	return nil, st, nil
}

// Replay runs actions once against the target. It returns the failure, or
// nil when the key now behaves as the model says, and the transcript.
func Replay(ctx context.Context, cfg Config, seed uint64, actions []Action) (*Failure, []Step, error) {
	cfg.defaults()
	steps, reason, err := execute(ctx, &cfg, seed, actions, nil)
	if err != nil || reason == "" {
		return nil, steps, err
	}
	return &Failure{Seed: seed, Actions: actions, Original: len(actions), Transcript: steps, Reason: reason}, steps, nil
}

// shrink removes actions from a failing sequence while it still fails
// (delta debugging: chunks of halving size, then single actions).
func shrink(ctx context.Context, cfg *Config, seed uint64, actions []Action, first firstRun) (*Failure, error) {
	orig := len(actions)
	replays := 0
	fails := func(as []Action) ([]Step, string, error) {
		replays++
		return execute(ctx, cfg, seed, as, nil)
	}
	best := actions
	steps, reason, err := fails(best)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		// Not reproducible: a key whose answers depend on more than the
		// sequence (time, a touch, the transport). Report it unshrunk,
		// with the transcript of the run that failed.
		return &Failure{Actions: actions, Original: orig, Reason: first.reason + " (did not reproduce on replay; unshrunk)", Transcript: first.steps}, nil
	}
	best = cut(best, steps)
	for chunk := len(best) / 2; chunk >= 1 && replays < cfg.MaxShrinks; {
		shrunk := false
		for i := 0; i+chunk <= len(best) && replays < cfg.MaxShrinks; {
			try := slices.Concat(best[:i], best[i+chunk:])
			s, r, err := fails(try)
			if err != nil {
				return nil, err
			}
			if r != "" {
				best, steps, reason, shrunk = cut(try, s), s, r, true
				continue
			}
			i += chunk
		}
		if !shrunk {
			chunk /= 2
		}
	}
	return &Failure{Actions: best, Original: orig, Transcript: steps, Reason: reason}, nil
}

// firstRun is the run that failed, as it went.
type firstRun struct {
	steps  []Step
	reason string
}

// cut drops the actions after the failing step.
func cut(actions []Action, steps []Step) []Action {
	for i, s := range steps {
		if s.Failed {
			return actions[:i+1]
		}
	}
	return actions
}

// execute runs one sequence on a fresh key: the given actions, or
// cfg.Steps actions drawn from r. It returns the steps run and, when the
// key departed from the model, why.
func execute(ctx context.Context, cfg *Config, seed uint64, actions []Action, r *rand.Rand) ([]Step, string, error) {
	if err := cfg.Fresh(ctx); err != nil {
		return nil, "", errTarget{fmt.Errorf("bringing the key to a factory-new state: %w", err)}
	}
	ex := &executor{cfg: cfg, m: newModel(), rand: rand.NewChaCha8(sha256.Sum256(binary.BigEndian.AppendUint64(nil, seed)))}
	if err := ex.open(ctx); err != nil {
		return nil, "", err
	}
	defer func() { ex.dev.Close() }()
	n := len(actions)
	if r != nil {
		n = cfg.Steps
	}
	var steps []Step
	for i := range n {
		var a Action
		if r != nil {
			a = ex.m.generate(r, cfg.PowerCycle != nil, ex.pinSupported)
		} else {
			a = actions[i]
		}
		sctx, cancel := context.WithTimeout(ctx, cfg.StepTimeout)
		s, err := ex.step(sctx, i+1, a)
		cancel()
		if err != nil {
			return steps, "", err
		}
		steps = append(steps, s)
		if s.Failed {
			return steps, fmt.Sprintf("step %d: %s: expected %s, got %s", s.N, s.Action, s.Want, s.Got), nil
		}
	}
	return steps, "", nil
}
