// Package junit checks ctaptest's JUnit XML with a consumer's parser,
// github.com/joshdk/go-junit, in a module of its own so that the main
// module does not depend on it.
package junit

import (
	"bytes"
	"context"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/virtkeytest"
)

func TestJUnitParses(t *testing.T) {
	cases := []conformance.Case{
		{ID: "ju-pass", Section: "§0", Title: "passes", Versions: conformance.Any, Run: func(t *conformance.T) {}},
		{ID: "ju-fail", Section: "CTAP 2.1 §6.4", Title: "fails after getInfo", Versions: conformance.CTAP2, Run: func(t *conformance.T) {
			t.ExpectRaw(ctap.CmdGetInfo, nil, ctap.StatusInvalidCBOR)
		}},
		{ID: "ju-warn", Section: "§0", Title: "warns", Versions: conformance.Any, Level: conformance.Should, Run: func(t *conformance.T) {
			t.Fatalf("deliberate")
		}},
		{ID: "jv-skip", Section: "§0", Title: "skips", Versions: conformance.Any, Run: func(t *conformance.T) { t.Skipf("deliberate") }},
	}
	// A real run of real cases too, so that every kind of message the
	// suite writes goes through the parser.
	target := virtkeytest.NewTarget(authenticator.Config{}, true)
	rs := conformance.Run(context.Background(), target, conformance.Options{Cases: cases})
	real := conformance.Select(conformance.Options{})
	var some []conformance.Case
	for _, c := range real {
		if conformance.AreaOf(c.ID) == "gi" || conformance.AreaOf(c.ID) == "hid" {
			some = append(some, c)
		}
	}
	rs = append(rs, conformance.Run(context.Background(), target, conformance.Options{Cases: some})...)

	var buf bytes.Buffer
	dev := conformance.Device{Transport: "in-process", AAGUID: "00000000-0000-0000-0000-000000000000"}
	if err := conformance.WriteJUnit(&buf, dev, time.Unix(0, 0), rs); err != nil {
		t.Fatal(err)
	}
	suites, err := junit.Ingest(buf.Bytes())
	if err != nil {
		t.Fatalf("go-junit: %v\n%s", err, buf.Bytes())
	}
	got := map[string]junit.Status{}
	var tests int
	for _, s := range suites {
		tests += s.Totals.Tests
		for _, c := range s.Tests {
			got[c.Name] = c.Status
			if c.Classname != "ctaptest."+conformance.AreaOf(c.Name) || s.Name != c.Classname {
				t.Errorf("%s: classname %q in suite %q", c.Name, c.Classname, s.Name)
			}
		}
	}
	if tests != len(rs) || len(got) != len(rs) {
		t.Errorf("parser found %d tests (%d names), want %d", tests, len(got), len(rs))
	}
	want := map[string]junit.Status{
		"ju-pass": junit.StatusPassed, "ju-fail": junit.StatusFailed,
		"ju-warn": junit.StatusPassed, "jv-skip": junit.StatusSkipped,
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: parsed status %q, want %q", id, got[id], st)
		}
	}
	for _, r := range rs[len(cases):] {
		if w := map[conformance.Outcome]junit.Status{conformance.Pass: junit.StatusPassed, conformance.Warn: junit.StatusPassed,
			conformance.Fail: junit.StatusFailed, conformance.Skip: junit.StatusSkipped}[r.Outcome]; got[r.Case.ID] != w {
			t.Errorf("%s: parsed %q, ran %v", r.Case.ID, got[r.Case.ID], r.Outcome)
		}
	}
	for _, s := range suites {
		for _, c := range s.Tests {
			if c.Name == "ju-fail" && (c.Error == nil || c.Message != "fails after getInfo") {
				t.Errorf("ju-fail: message %q, error %v", c.Message, c.Error)
			}
		}
	}
}
