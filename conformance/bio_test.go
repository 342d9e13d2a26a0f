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

// TestSuiteBio runs the bioEnrollment cases (and the uv cases) against a
// key whose fingerprint sensor enrolls (Config.BioEnrollment).
func TestSuiteBio(t *testing.T) {
	target := virtkeytest.NewTarget(authenticator.Config{BuiltInUV: true, BioEnrollment: true}, true)
	results := conformance.Run(context.Background(), target, conformance.Options{Filter: regexp.MustCompile("^be-")})
	passed, failed, skipped := conformance.Summary(results)
	if passed < 40 || failed != 0 || skipped != 0 {
		t.Errorf("bio cases: %d passed, %d failed, %d skipped; want at least 40 passed, none failed or skipped", passed, failed, skipped)
	}
	for _, r := range results {
		if r.Outcome != conformance.Pass {
			t.Errorf("%s %v: %s", r.Case.ID, r.Outcome, strings.Join(r.Messages, "; "))
		}
	}
}
