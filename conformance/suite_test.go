package conformance_test

import (
	"context"
	"fmt"
	"github.com/virtkey/virtkey/ctap"
	"regexp"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/virtkeytest"
)

func TestRegistry(t *testing.T) {
	cases := conformance.Cases()
	if len(cases) < 60 {
		t.Errorf("%d cases registered, want at least 60", len(cases))
	}
	for _, c := range cases {
		if !strings.Contains(c.Section, "§") {
			t.Errorf("case %s: section %q names no section", c.ID, c.Section)
		}
		if c.Title == "" {
			t.Errorf("case %s has no title", c.ID)
		}
		// Every case says which versions' spec it checks (issue 10: a
		// CTAP 2.1 expectation must not be applied to a CTAP 2.0 key).
		if len(c.Versions) == 0 {
			t.Errorf("case %s declares no Versions", c.ID)
		}
		for _, v := range c.Versions {
			switch v {
			case conformance.U2FV2, conformance.FIDO20, conformance.FIDO21PRE, conformance.FIDO21, conformance.FIDO22, conformance.AnyVersion:
			default:
				t.Errorf("case %s: unknown version %q", c.ID, v)
			}
		}
		if c.Level < conformance.Must || c.Level > conformance.May {
			t.Errorf("case %s: level %v", c.ID, c.Level)
		}
	}
}

// TestSuiteInProcess runs every case against a fresh in-process key.
func TestSuiteInProcess(t *testing.T) {
	t.Parallel() // its hid-msg-timeout waits out the real 3 s: beside the others
	target := virtkeytest.NewTarget(authenticator.Config{}, true)
	results := conformance.Run(context.Background(), target, conformance.Options{})
	for _, r := range results {
		t.Run(r.Case.ID, func(t *testing.T) {
			switch r.Outcome {
			case conformance.Fail:
				t.Errorf("%s (%s): %s", r.Case.Title, r.Case.Section, strings.Join(r.Messages, "; "))
			case conformance.Skip:
				t.Skip(strings.Join(r.Messages, "; "))
			}
		})
	}
}

// TestSuiteSharedKey runs the non-destructive cases one after the other
// against one key, as they run against a daemon or a hardware token.
func TestSuiteSharedKey(t *testing.T) {
	t.Parallel()
	target := quick(virtkeytest.NewTarget(authenticator.Config{}, false))
	results := conformance.Run(context.Background(), target, conformance.Options{})
	for _, r := range results {
		if r.Outcome == conformance.Fail {
			t.Errorf("%s: %s", r.Case.ID, strings.Join(r.Messages, "; "))
		}
	}
}

// TestCaseCanFail checks that the runner reports a failing case as failed.
func TestCaseCanFail(t *testing.T) {
	cases := []conformance.Case{
		{ID: "self-fails", Section: "§0", Run: func(t *conformance.T) { t.Fatalf("deliberate") }},
		{ID: "self-errors", Section: "§0", Run: func(t *conformance.T) { t.Errorf("deliberate") }},
		{ID: "self-panics", Section: "§0", Run: func(t *conformance.T) { panic("deliberate") }},
		{ID: "self-skips", Section: "§0", Run: func(t *conformance.T) { t.Skipf("deliberate") }},
		{ID: "self-needs", Section: "§0", Needs: []conformance.Capability{"teleport"}, Run: func(t *conformance.T) {}},
		{ID: "self-passes", Section: "§0", Run: func(t *conformance.T) {}},
	}
	target := virtkeytest.NewTarget(authenticator.Config{}, true)
	rs := conformance.Run(context.Background(), target, conformance.Options{Cases: cases})
	want := []conformance.Outcome{conformance.Fail, conformance.Fail, conformance.Fail, conformance.Skip, conformance.Skip, conformance.Pass}
	for i, r := range rs {
		if r.Outcome != want[i] {
			t.Errorf("%s: outcome %v, want %v", r.Case.ID, r.Outcome, want[i])
		}
	}
	if p, f, s := conformance.Summary(rs); p != 1 || f != 3 || s != 2 {
		t.Errorf("Summary = %d, %d, %d; want 1, 3, 2", p, f, s)
	}
}

// TestSuiteBuiltInUV runs the built-in user verification cases against a
// key protected by a simulated fingerprint sensor.
func TestSuiteBuiltInUV(t *testing.T) {
	for _, fresh := range []bool{true, false} {
		target := quick(virtkeytest.NewTarget(authenticator.Config{BuiltInUV: true}, fresh))
		// On the shared key the destructive cases (which block UV on
		// purpose) are left out, as they are on a hardware key by default.
		results := conformance.Run(context.Background(), target, conformance.Options{
			Filter: regexp.MustCompile("^uv-")})
		passed, _, _ := conformance.Summary(results)
		if want := map[bool]int{true: 27, false: 15}[fresh]; passed < want {
			t.Errorf("fresh=%t: %d uv cases passed, want at least %d", fresh, passed, want)
		}
		for _, r := range results {
			if r.Outcome == conformance.Fail {
				t.Errorf("fresh=%t %s: %s", fresh, r.Case.ID, strings.Join(r.Messages, "; "))
			}
		}
	}
}

// TestLevelsAndVersions checks that a failed SHOULD case is a warning, a
// failed MAY case an observation, and that a case for a version the key
// does not list is skipped as "not this version".
func TestLevelsAndVersions(t *testing.T) {
	fail := func(t *conformance.T) { t.Fatalf("deliberate") }
	cases := []conformance.Case{
		{ID: "lv-should", Section: "§0", Level: conformance.Should, Versions: conformance.CTAP2, Run: fail},
		{ID: "lv-may", Section: "§0", Level: conformance.May, Versions: conformance.CTAP2, Run: fail},
		{ID: "lv-warnf", Section: "§0", Versions: conformance.CTAP2, Run: func(t *conformance.T) { t.Warnf("deliberate") }},
		{ID: "lv-should-status", Section: "§0", Versions: conformance.CTAP2, Run: func(t *conformance.T) {
			t.ExpectStatusAt(conformance.Should, ctap.StatusInvalidCBOR, ctap.StatusOK, "deliberate")
			t.Fatalf("ExpectStatusAt(Should) did not end the case")
		}},
		{ID: "lv-any-error", Section: "§0", Versions: conformance.CTAP2, Run: func(t *conformance.T) {
			if st := t.ExpectError(fmt.Errorf("wrapped: %w", ctap.StatusInvalidLength), "deliberate"); st != ctap.StatusInvalidLength {
				t.Fatalf("ExpectError = %v", st)
			}
		}},
		{ID: "lv-any-error-ok", Section: "§0", Versions: conformance.CTAP2, Run: func(t *conformance.T) { t.ExpectError(nil, "deliberate") }},
		{ID: "lv-future", Section: "§0", Versions: []conformance.Version{"FIDO_9_9"}, Run: fail},
		{ID: "lv-lists", Section: "§0", Versions: conformance.Any, Run: func(t *conformance.T) {
			if !t.Lists(conformance.FIDO21) || t.Lists("FIDO_9_9") {
				t.Fatalf("Lists disagrees with getInfo")
			}
		}},
	}
	target := virtkeytest.NewTarget(authenticator.Config{}, true)
	rs := conformance.Run(context.Background(), target, conformance.Options{Cases: cases})
	want := map[string]conformance.Outcome{
		"lv-should": conformance.Warn, "lv-may": conformance.Pass, "lv-warnf": conformance.Warn,
		"lv-should-status": conformance.Warn, "lv-any-error": conformance.Pass, "lv-any-error-ok": conformance.Fail,
		"lv-future": conformance.Skip, "lv-lists": conformance.Pass,
	}
	for _, r := range rs {
		if r.Outcome != want[r.Case.ID] {
			t.Errorf("%s: outcome %v, want %v (%v)", r.Case.ID, r.Outcome, want[r.Case.ID], r.Messages)
		}
	}
	if rs[1].Observations == nil || rs[4].Observations == nil {
		t.Errorf("observations not recorded: %q, %q", rs[1].Observations, rs[4].Observations)
	}
	if !strings.HasPrefix(rs[6].SkipReason, "not this version") {
		t.Errorf("skip reason %q", rs[6].SkipReason)
	}
	if n := conformance.Warnings(rs); n != 3 {
		t.Errorf("Warnings = %d, want 3", n)
	}
}
