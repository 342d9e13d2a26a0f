package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/prop"
)

const propUsage = `usage: ctaptest prop [--udp ADDR | --device /dev/hidrawN] [--control SOCKET] [--allow-destructive]
                     [--checks N] [--steps N] [--seed N] [--out FILE] [--replay FILE]

Checks the key against a reference model of a CTAP 2.1 key: random
sequences of makeCredential, getAssertion, clientPIN, credentialManagement,
getInfo and power cycles, each answer compared with what the model says.
A departure is shrunk to the fewest steps that still show it, printed as a
transcript and written to --out; --replay FILE runs such a file again,
against any target. Each sequence starts from a factory-new key: on a key
other than the in-process one that means authenticatorReset, so it needs
--allow-destructive, and --control to power-cycle a virtkey daemon.
`

// runProp is `ctaptest prop`.
func runProp(args []string, stdout, stderr io.Writer) int {
	fs, key := newSubcommand("ctaptest prop", propUsage, "reset the key before each sequence (needed for any key but the in-process one)", stderr)
	var (
		checks  = fs.Int("checks", 100, "number of random sequences")
		steps   = fs.Int("steps", 25, "actions in each sequence")
		seed    = fs.Uint64("seed", 0, "seed of the sequences (0: from the clock, printed)")
		out     = fs.String("out", "ctaptest-prop-failure.json", "where a failing sequence is written")
		replay  = fs.String("replay", "", "run the sequence in this file instead of random ones")
		timeout = fs.Duration("step-timeout", 30*time.Second, "time limit of one action")
	)
	if code, ok := key.parse(fs, args, stderr); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	cfg := prop.Config{Checks: *checks, Steps: *steps, Seed: *seed, StepTimeout: *timeout}
	if key.inProcess() {
		k := &inProcessProp{}
		cfg.Open, cfg.Fresh, cfg.PowerCycle = k.open, k.fresh, k.powerCycle
		fmt.Fprintln(stdout, "target: in-process virtkey (a factory-new key per sequence)")
	} else {
		if !*key.destructive {
			fmt.Fprintln(stderr, "ctaptest prop: every sequence starts with authenticatorReset, which erases the key: pass --allow-destructive")
			return 2
		}
		if cfg.PowerCycle = key.powerCycle(); cfg.PowerCycle == nil {
			fmt.Fprintln(stderr, "ctaptest prop: authenticatorReset is allowed only just after power-up: pass --control SOCKET of a virtkey daemon")
			return 2
		}
		var name string
		cfg.Open, name = key.open()
		cfg.Fresh = func(ctx context.Context) error { return resetAfterPowerCycle(ctx, cfg.Open, cfg.PowerCycle) }
		fmt.Fprintf(stdout, "target: %s\n", name)
	}

	if *replay != "" {
		return replayProp(ctx, cfg, *replay, stdout, stderr)
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	fmt.Fprintf(stdout, "seed %d: %d sequences of %d actions\n", cfg.Seed, cfg.Checks, cfg.Steps)
	f, st, err := prop.Check(ctx, cfg)
	rate := float64(st.Steps) / max(st.Duration.Seconds(), 1e-9)
	if err != nil {
		fmt.Fprintf(stderr, "ctaptest prop: %v\n", err)
		return 1
	}
	if f == nil {
		fmt.Fprintf(stdout, "%d sequences, %d steps in %s (%.0f steps/s): the key followed the model\n",
			st.Sequences, st.Steps, st.Duration.Round(time.Millisecond), rate)
		return 0
	}
	fmt.Fprint(stdout, f)
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintf(stderr, "ctaptest prop: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "written to %s; run it again with: ctaptest prop --replay %s (and the same target flags)\n", *out, *out)
	return 1
}

func replayProp(ctx context.Context, cfg prop.Config, file string, stdout, stderr io.Writer) int {
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "ctaptest prop: %v\n", err)
		return 2
	}
	var saved prop.Failure
	if err := json.Unmarshal(b, &saved); err != nil || len(saved.Actions) == 0 {
		fmt.Fprintf(stderr, "ctaptest prop: %s is not a sequence written by ctaptest prop (%v)\n", file, err)
		return 2
	}
	f, steps, err := prop.Replay(ctx, cfg, saved.Seed, saved.Actions)
	if err != nil {
		fmt.Fprintf(stderr, "ctaptest prop: %v\n", err)
		return 1
	}
	if f != nil {
		fmt.Fprint(stdout, f)
		return 1
	}
	for _, s := range steps {
		fmt.Fprintln(stdout, s)
	}
	fmt.Fprintf(stdout, "the key followed the model on all %d actions of %s\n", len(steps), file)
	return 0
}

// inProcessProp is the in-process key of `ctaptest prop`: a new key for
// each sequence, whose power cycle is a real restart from its store.
type inProcessProp struct{ key *control.Key }

func (k *inProcessProp) fresh(ctx context.Context) error {
	key, err := control.NewKey(authenticator.Config{})
	if err != nil {
		return err
	}
	k.key = key
	return nil
}

func (k *inProcessProp) open(ctx context.Context) (*client.Device, error) { return k.key.Open(ctx) }

func (k *inProcessProp) powerCycle(ctx context.Context) error { return k.key.PowerCycle(ctx) }

// resetAfterPowerCycle brings a shared key to its factory state: a power
// cycle, then authenticatorReset within the window after power-up (CTAP
// 2.1 §6.6), touched by the daemon's user.
func resetAfterPowerCycle(ctx context.Context, open func(context.Context) (*client.Device, error), powerCycle func(context.Context) error) error {
	if err := powerCycle(ctx); err != nil {
		return err
	}
	dev, err := open(ctx)
	if err != nil {
		return err
	}
	defer dev.Close()
	c, err := client.New(ctx, dev)
	if err != nil {
		return err
	}
	return c.Reset(ctx)
}
