package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/devfuzz"
	"github.com/virtkey/virtkey/virtkeytest"
)

const fuzzUsage = `usage: ctaptest fuzz [--udp ADDR | --device /dev/hidrawN] [--control SOCKET] [--allow-destructive]
                     [--duration D] [--inputs N] [--seed N] [--interval D] [--out DIR] [--replay FILE]

Fuzzes the key over its transport: CTAPHID framing and the CBOR of every
command, mutated from valid requests and the recorded ones of testvectors/.
After each input the key must answer INIT, PING and getInfo as before; a key
that stops answering, answers malformed frames or CBOR, or whose getInfo
changed is a finding, minimized by replay and written to --out as a file
that --replay runs again. Without --allow-destructive, inputs that could
change a shared key (reset, PIN checks, config, deletion, large-blob writes,
enrollment, discoverable credentials) are not sent. With --control, a virtkey
daemon is power-cycled to recover from a finding.
`

// runFuzz is `ctaptest fuzz`.
func runFuzz(args []string, stdout, stderr io.Writer) int {
	fs, key := newSubcommand("ctaptest fuzz", fuzzUsage, "also send inputs that may change the key's state (always on for the in-process key)", stderr)
	var (
		duration   = fs.Duration("duration", time.Minute, "how long to fuzz")
		inputs     = fs.Int("inputs", 0, "stop after this many inputs (0: --duration alone)")
		seed       = fs.Uint64("seed", 0, "seed of the inputs (0: from the clock, printed)")
		interval   = fs.Duration("interval", 0, "least time between inputs (a rate limit for hardware)")
		wait       = fs.Duration("wait", 500*time.Millisecond, "how long to wait for the first answer to an input that is not one well-formed message")
		out        = fs.String("out", ".", "folder for the reproducers of findings")
		replay     = fs.String("replay", "", "send the input of this reproducer once and probe the key")
		suiteSeeds = fs.Bool("suite-seeds", false, "also seed from the requests the conformance suite sends (runs it first on an in-process key)")
	)
	if code, ok := key.parse(fs, args, stderr); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := devfuzz.Config{Seed: *seed, Duration: *duration, MaxInputs: *inputs, Interval: *interval, Wait: *wait, Destructive: *key.destructive}
	if key.inProcess() {
		vk, err := control.NewKey(authenticator.Config{})
		if err != nil {
			fmt.Fprintf(stderr, "ctaptest fuzz: %v\n", err)
			return 1
		}
		// A short transaction timeout: a message an input leaves
		// unfinished holds the key busy only that long.
		p := &devfuzz.Process{Handler: vk, Config: &ctaphid.ServerConfig{TransactionTimeout: 200 * time.Millisecond},
			Crashed: func(v any) { fmt.Fprintf(stdout, "the in-process key crashed: %v\n", v) }}
		defer p.Close()
		cfg.Open, cfg.PowerCycle, cfg.Destructive = p.Open, vk.PowerCycle, true
		if *wait == 500*time.Millisecond {
			cfg.Wait = 200 * time.Millisecond
		}
		fmt.Fprintln(stdout, "target: in-process virtkey")
	} else {
		var name string
		cfg.Open, name = key.open()
		cfg.PowerCycle = key.powerCycle()
		fmt.Fprintf(stdout, "target: %s\n", name)
	}
	if *replay != "" {
		b, err := os.ReadFile(*replay)
		if err != nil {
			fmt.Fprintf(stderr, "ctaptest fuzz: %v\n", err)
			return 2
		}
		var saved devfuzz.Finding
		if err := json.Unmarshal(b, &saved); err != nil || len(saved.Input.Frames) == 0 {
			fmt.Fprintf(stderr, "ctaptest fuzz: %s is not a reproducer written by ctaptest fuzz (%v)\n", *replay, err)
			return 2
		}
		f, err := devfuzz.Replay(ctx, cfg, saved.Input)
		if err != nil {
			fmt.Fprintf(stderr, "ctaptest fuzz: %v\n", err)
			return 1
		}
		if f != nil {
			fmt.Fprint(stdout, f)
			return 1
		}
		fmt.Fprintf(stdout, "the key survived the input of %s\n", *replay)
		return 0
	}
	if *suiteSeeds {
		cfg.Seeds = recordSuite(ctx)
		fmt.Fprintf(stdout, "%d distinct CTAP requests recorded from the conformance suite as seeds\n", len(cfg.Seeds))
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	fmt.Fprintf(stdout, "seed %d, for %s%s\n", cfg.Seed, *duration, map[bool]string{true: "", false: " (shared-key safe inputs only)"}[cfg.Destructive])
	st, findings, err := devfuzz.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ctaptest fuzz: %v\n", err)
		return 1
	}
	for i, f := range findings {
		fmt.Fprint(stdout, f)
		name := filepath.Join(*out, fmt.Sprintf("ctaptest-fuzz-%d-%d.json", cfg.Seed, i+1))
		b, _ := json.MarshalIndent(f, "", "  ")
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "ctaptest fuzz: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "  reproducer: %s (ctaptest fuzz --replay %s, with the same target flags)\n", name, name)
	}
	pairs := make([]string, 0, len(st.Pairs))
	for p := range st.Pairs {
		pairs = append(pairs, p)
	}
	slices.Sort(pairs)
	fmt.Fprintf(stdout, "%d inputs, %d executions in %s (%.0f execs/s), %d distinct (command, status) pairs, %d findings\n",
		st.Inputs, st.Execs, st.Duration.Round(time.Millisecond), float64(st.Execs)/max(st.Duration.Seconds(), 1e-9), len(pairs), len(findings))
	if len(findings) > 0 {
		return 1
	}
	return 0
}

// recordSuite runs the conformance suite on in-process keys and returns
// each distinct CTAPHID_CBOR request it sent, as fuzzing seeds.
func recordSuite(ctx context.Context) []devfuzz.Input {
	var mu sync.Mutex
	seen := map[string]bool{}
	var out []devfuzz.Input
	record := func(id string, x conformance.Exchange) {
		if !strings.HasPrefix(x.Request, ctaphid.CmdCBOR.String()) || len(x.RequestBytes) == 0 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[string(x.RequestBytes)] {
			return
		}
		seen[string(x.RequestBytes)] = true
		if in, ok := devfuzz.Message("suite/"+id, ctaphid.CmdCBOR, x.RequestBytes); ok {
			out = append(out, in)
		}
	}
	conformance.Run(ctx, virtkeytest.NewTarget(authenticator.Config{}, true), conformance.Options{Record: record})
	return out
}
