package conformance_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/prop"
	"github.com/virtkey/virtkey/virtkeytest"
)

// faultCatch is what caught one fault: the conformance cases that failed
// against a key with it, and whether the property checker (ctaptest prop)
// found a sequence the model refuses.
type faultCatch struct {
	fault authenticator.FaultInfo
	cases []string
	ran   int    // how many cases ran: those that reach the fault
	prop  string // the shrunk failure's reason, "" when prop found none
}

// TestEveryFaultCaught is the suite's score: every named fault of the
// key (authenticator.Faults), each on its own, must be caught by at least
// one conformance case. The property checker runs against the same key
// as a second catcher and is reported beside the cases, but a fault only
// prop catches still fails the test: a missing case is added to the
// suite (faults_cases.go), the fault is never dropped. Each fault gets a
// fresh in-process key per case.
//
// A faulty key runs only the cases that come to its fault's place on a
// correct key (reaching): until it comes there a key with the fault does
// what a correct key does (authenticator.Config.FaultReached), so the
// cases left out cannot catch the fault. Leaving them out can only lose
// a catch, never make one, so the score is not flattered by it. The
// property checker likewise runs only against the faults its sequences
// come to on a correct key.
//
// The faults run faultWorkers at a time, not as parallel subtests: a
// fault's run spends part of its time waiting (the touch and keepalive
// cases), and -parallel, GOMAXPROCS by default, would let only two of
// them wait at once.
func TestEveryFaultCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite once per fault")
	}
	t.Parallel() // beside TestSuiteEveryProfile, the other long one
	faults := authenticator.Faults()
	caught := make([]faultCatch, len(faults))
	errs := make([]error, len(faults))
	sem := make(chan struct{}, faultWorkers)
	var wg sync.WaitGroup
	for i, f := range faults {
		if f.Family == "crash" {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			caught[i], errs[i] = catchFault(f)
		})
	}
	wg.Wait()
	t.Run("faults", func(t *testing.T) {
		for i, f := range faults {
			t.Run(string(f.Name), func(t *testing.T) {
				if f.Family == "crash" {
					// A crash ends the process that runs the key: here,
					// this test. ctaptest fuzz catches it against a
					// daemon (cmd/ctaptest TestFuzzCatchesCrashOverUDP).
					t.Skip("a crash fault ends the test process; caught by ctaptest fuzz over UDP")
				}
				c := caught[i]
				if errs[i] != nil {
					t.Errorf("prop against %s: %v", f.Name, errs[i])
				}
				if len(c.cases) == 0 {
					t.Errorf("fault %s (%s) is caught by no conformance case; prop: %s", f.Name, f.Section, orNothing(c.prop))
				}
			})
		}
	})
	var b strings.Builder
	n := 0
	crashes := 0
	for _, c := range caught {
		if c.fault.Name == "" { // a crash fault, skipped above
			crashes++
			continue
		}
		if len(c.cases) > 0 {
			n++
		}
		fmt.Fprintf(&b, "%-28s %-60s %3d ran, prop: %s\n", c.fault.Name, strings.Join(c.cases, ","), c.ran, orNothing(firstLine(c.prop)))
	}
	t.Logf("fault → catching cases, of the cases that reach it\n%sscore: %d of %d faults caught by the suite (%d crash faults left to ctaptest fuzz)", b.String(), n, len(faults)-crashes, crashes)
}

// faultWorkers is how many faults TestEveryFaultCaught runs at once.
const faultWorkers = 12

func catchFault(f authenticator.FaultInfo) (faultCatch, error) {
	reaching := reachingDefault
	cfg := authenticator.Config{Faults: []authenticator.Fault{f.Name}}
	if f.Family == "ctap22" {
		reaching = reaching22
		cfg = ctap22Config() // a CTAP 2.2 fault shows on a key that implements 2.2
		cfg.Faults = []authenticator.Fault{f.Name}
	}
	r := reaching()
	cases := r.cases(f.Name)
	target := quick(virtkeytest.NewTarget(cfg, true))
	c := faultCatch{fault: f, ran: len(cases)}
	for _, r := range conformance.Run(context.Background(), target, conformance.Options{Cases: cases}) {
		switch r.Outcome {
		case conformance.Fail:
			c.cases = append(c.cases, r.Case.ID)
		case conformance.Warn:
			c.cases = append(c.cases, r.Case.ID+"(warn)")
		}
	}
	slices.Sort(c.cases)

	if r.prop != nil && !r.prop[f.Name] {
		return c, nil // the checker's sequences never come to the fault
	}
	pf, _, err := prop.Check(context.Background(), propConfig(cfg))
	if pf != nil {
		c.prop = pf.Reason
	}
	return c, err
}

// propConfig is the property checker's run against fresh keys of cfg.
func propConfig(cfg authenticator.Config) prop.Config {
	pt := virtkeytest.NewTarget(cfg, true)
	return prop.Config{
		Open:       pt.Open,
		Fresh:      pt.Fresh,
		PowerCycle: pt.PowerCycle,
		Seed:       1,
		Checks:     20,
		Steps:      25,
		MaxShrinks: 40,
	}
}

// reach is what comes to each fault's place on a correct key of the
// Config TestEveryFaultCaught puts the fault in.
type reach struct {
	// cases gives the cases that come to a fault's place, in the
	// suite's order.
	cases func(authenticator.Fault) []conformance.Case
	// prop holds the faults whose place the property checker's run
	// (propConfig) comes to; nil when that run failed against the
	// correct key, and then it runs against every faulty key.
	prop map[authenticator.Fault]bool
}

// The reach of the CTAP 2.2 key, for the ctap22 family, and of the
// default key, for the others.
var (
	reachingDefault = sync.OnceValue(func() reach { return reaching(authenticator.Config{}) })
	reaching22      = sync.OnceValue(func() reach { return reaching(ctap22Config()) })
)

func reaching(cfg authenticator.Config) reach {
	r := reach{cases: casesReaching(cfg), prop: map[authenticator.Fault]bool{}}
	var mu sync.Mutex
	cfg.FaultReached = func(f authenticator.Fault) {
		mu.Lock()
		defer mu.Unlock()
		r.prop[f] = true
	}
	if pf, _, err := prop.Check(context.Background(), propConfig(cfg)); pf != nil || err != nil {
		r.prop = nil
	}
	return r
}

// casesReaching runs every case, one at a time, against a fresh correct
// key of cfg that reports each fault's place it comes to
// (authenticator.Config.FaultReached), and returns a function giving the
// cases, in the suite's order, that came to a fault's place. A place
// reached outside a case (making a key, which every case does) counts
// for every case.
func casesReaching(cfg authenticator.Config) func(authenticator.Fault) []conformance.Case {
	var (
		mu      sync.Mutex
		current string // the running case's ID; "" while making a key
		reached = map[authenticator.Fault]map[string]bool{}
	)
	cfg.FaultReached = func(f authenticator.Fault) {
		mu.Lock()
		defer mu.Unlock()
		if reached[f] == nil {
			reached[f] = map[string]bool{}
		}
		reached[f][current] = true
	}
	set := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		current = id
	}
	target := reachTarget{quickTarget: quick(virtkeytest.NewTarget(cfg, true)), set: set}
	all := conformance.Cases()
	for _, c := range all {
		target.id = c.ID
		set(c.ID)
		conformance.Run(context.Background(), target, conformance.Options{Cases: []conformance.Case{c}, RunID: "reach"})
		set("")
	}
	return func(f authenticator.Fault) []conformance.Case {
		mu.Lock()
		defer mu.Unlock()
		if reached[f][""] {
			return all
		}
		var out []conformance.Case
		for _, c := range all {
			if reached[f][c.ID] {
				out = append(out, c)
			}
		}
		return out
	}
}

// reachTarget is a fresh quick in-process target whose Fresh, and the first
// key Capabilities makes, count as outside any case for casesReaching.
type reachTarget struct {
	quickTarget
	id  string
	set func(caseID string)
}

func (r reachTarget) Fresh(ctx context.Context) error {
	r.set("")
	defer r.set(r.id)
	return r.Target.Fresh(ctx)
}

func (r reachTarget) Capabilities() []conformance.Capability {
	r.set("")
	defer r.set(r.id)
	return r.Target.Capabilities()
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 70 {
		s = s[:70] + "…"
	}
	return s
}

// TestFaultsNoneIsCorrect: an empty fault list is the correct key, and an
// unknown name is refused by authenticator.New.
func TestFaultsUnknownRefused(t *testing.T) {
	if _, err := authenticator.New(authenticator.Config{Faults: []authenticator.Fault{"no-such-fault"}}); err == nil {
		t.Fatal("New accepted an unknown fault")
	}
	if _, err := authenticator.ParseFaults("counter-zero,no-such-fault"); err == nil {
		t.Fatal("ParseFaults accepted an unknown fault")
	}
	fs, err := authenticator.ParseFaults(" counter-zero , reset-keeps-pin ")
	if err != nil || !slices.Equal(fs, []authenticator.Fault{authenticator.FaultCounterZero, authenticator.FaultResetKeepsPIN}) {
		t.Fatalf("ParseFaults = %v, %v", fs, err)
	}
}
