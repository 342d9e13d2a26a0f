package conformance_test

import (
	"context"
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
	}
}

// TestSuiteInProcess runs every case against a fresh in-process key.
func TestSuiteInProcess(t *testing.T) {
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
	target := virtkeytest.NewTarget(authenticator.Config{}, false)
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
		target := virtkeytest.NewTarget(authenticator.Config{BuiltInUV: true}, fresh)
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
