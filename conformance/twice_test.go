package conformance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/virtkeytest"
)

// TestSuiteTwiceOnSharedKey runs the non-destructive suite twice in a row
// on one shared key, as on a hardware key without a controller: the second
// run gives the same outcome for every case, and the key holds no
// discoverable credential of the suite afterwards (the key has built-in
// UV, so the cases can remove what they made through
// credentialManagement).
func TestSuiteTwiceOnSharedKey(t *testing.T) {
	if testing.Short() {
		t.Skip("two whole runs")
	}
	t.Parallel()
	target := virtkeytest.NewTarget(authenticator.Config{BuiltInUV: true}, false)
	noControl := sharedNoControl{quick(target)}
	run := func() map[string]conformance.Result {
		out := map[string]conformance.Result{}
		for _, r := range conformance.Run(context.Background(), noControl, conformance.Options{}) {
			out[r.Case.ID] = r
		}
		return out
	}
	first := run()
	if n := residentCount(t, target); n != 0 {
		t.Errorf("after the first run the key holds %d discoverable credentials", n)
	}
	second := run()
	if n := residentCount(t, target); n != 0 {
		t.Errorf("after the second run the key holds %d discoverable credentials", n)
	}
	ran := 0
	for id, a := range first {
		b := second[id]
		if a.Outcome != b.Outcome {
			t.Errorf("%s: %v then %v (%q, then %q)", id, a.Outcome, b.Outcome, a.Messages, b.Messages)
		}
		if a.Outcome == conformance.Fail {
			t.Errorf("%s failed: %s", id, strings.Join(a.Messages, "; "))
		}
		if a.Outcome != conformance.Skip {
			ran++
		}
		for _, o := range a.Observations {
			if strings.HasPrefix(o, "left ") {
				t.Errorf("%s: %s", id, o)
			}
		}
	}
	if ran < 100 {
		t.Errorf("%d cases ran, want at least 100", ran)
	}
}

// sharedNoControl is a shared key without a controller, like a hardware
// key: only the cases that need nothing from a person run.
type sharedNoControl struct{ quickTarget }

func (s sharedNoControl) Capabilities() []conformance.Capability { return nil }
func (s sharedNoControl) Controller() conformance.Controller     { return nil }

// residentCount counts the discoverable credentials in the key's state.
func residentCount(t *testing.T, target *virtkeytest.Target) int {
	t.Helper()
	return len(target.Store().State().Credentials)
}
