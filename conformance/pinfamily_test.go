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

// pinFamily matches the IDs of the PIN-family cases: clientPIN, built-in
// UV, credential management, bio enrollment, config, large blobs and
// enterprise attestation.
var pinFamily = regexp.MustCompile(`^(cp|uv|cm|be|cfg|lb|ep)-`)

// TestPINFamilyVersions checks that every PIN-family case declares the
// versions whose spec it checks.
func TestPINFamilyVersions(t *testing.T) {
	n := 0
	for _, c := range conformance.Cases() {
		if !pinFamily.MatchString(c.ID) {
			continue
		}
		n++
		if len(c.Versions) == 0 {
			t.Errorf("case %s declares no Versions", c.ID)
		}
	}
	if n < 200 {
		t.Errorf("%d PIN-family cases, want at least 200", n)
	}
}

// TestPINFamilyTwice runs the PIN-family cases twice in a row against one
// controlled key, as against a daemon with --control: no case fails, both
// runs give the same outcome per case, and the key holds no credential
// after either run.
func TestPINFamilyTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the PIN family twice")
	}
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  authenticator.Config
	}{
		{"pin", authenticator.Config{}},
		{"uv", authenticator.Config{BuiltInUV: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := virtkeytest.NewTarget(tc.cfg, false)
			opts := conformance.Options{Filter: pinFamily, AllowDestructive: true}
			var runs [2][]conformance.Result
			for i := range runs {
				runs[i] = conformance.Run(context.Background(), target, opts)
				if n := len(target.Store().State().Credentials); n != 0 {
					t.Errorf("run %d leaves %d discoverable credentials on the key", i+1, n)
				}
			}
			if len(runs[0]) != len(runs[1]) {
				t.Fatalf("%d results, then %d", len(runs[0]), len(runs[1]))
			}
			for i, r := range runs[0] {
				if r.Outcome == conformance.Fail {
					t.Errorf("%s: %s", r.Case.ID, strings.Join(r.Messages, "; "))
				}
				if s := runs[1][i]; s.Outcome != r.Outcome {
					t.Errorf("%s: %v, then %v (%s)", r.Case.ID, r.Outcome, s.Outcome, strings.Join(s.Messages, "; "))
				}
			}
		})
	}
}
