package conformance_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/virtkeytest"
)

// ctap22Config is a CTAP 2.2 key: the default one with FIDO_2_2 listed.
func ctap22Config() authenticator.Config {
	return authenticator.Config{Versions: append(slices.Clone(authenticator.Versions), ctap.VersionFIDO22)}
}

// TestSuiteCTAP22 runs the CTAP 2.2 cases against a 2.2 key: every one
// passes, none is skipped.
func TestSuiteCTAP22(t *testing.T) {
	uv := ctap22Config()
	uv.BuiltInUV = true
	for name, cfg := range map[string]authenticator.Config{"pin": ctap22Config(), "uv": uv} {
		target := virtkeytest.NewTarget(cfg, true)
		results := conformance.Run(context.Background(), target, conformance.Options{Filter: regexp.MustCompile("^ctap22-")})
		if len(results) == 0 {
			t.Fatal("no ctap22 cases")
		}
		for _, r := range results {
			if r.Outcome == conformance.Skip && (r.Case.ID == "ctap22-pcmr-uv" || r.Case.ID == "ctap22-uv-count") && !cfg.BuiltInUV {
				continue
			}
			if r.Outcome != conformance.Pass {
				t.Errorf("%s: %s %v: %s", name, r.Case.ID, r.Outcome, strings.Join(r.Messages, "; "))
			}
		}
	}
}

// TestCTAP22CasesSkipOn21Key: on a key that does not list FIDO_2_2 the
// 2.2 cases are skipped as "not this version".
func TestCTAP22CasesSkipOn21Key(t *testing.T) {
	target := virtkeytest.NewTarget(authenticator.Config{}, true)
	for _, r := range conformance.Run(context.Background(), target, conformance.Options{Filter: regexp.MustCompile("^ctap22-")}) {
		if r.Outcome != conformance.Skip || !strings.HasPrefix(r.SkipReason, "not this version") {
			t.Errorf("%s on a 2.1 key: %v (%s)", r.Case.ID, r.Outcome, r.SkipReason)
		}
	}
}

// TestCTAP22FaultsCaught: each CTAP 2.2 fault fails at least one ctap22
// case (the quick form of TestEveryFaultCaught for these faults).
func TestCTAP22FaultsCaught(t *testing.T) {
	for _, f := range authenticator.Faults() {
		if f.Family != "ctap22" {
			continue
		}
		t.Run(string(f.Name), func(t *testing.T) {
			cfg := ctap22Config()
			cfg.Faults = []authenticator.Fault{f.Name}
			target := virtkeytest.NewTarget(cfg, true)
			var caught []string
			for _, r := range conformance.Run(context.Background(), target, conformance.Options{Filter: regexp.MustCompile("^ctap22-")}) {
				if r.Outcome == conformance.Fail || r.Outcome == conformance.Warn {
					caught = append(caught, r.Case.ID)
				}
			}
			if len(caught) == 0 {
				t.Errorf("fault %s caught by no ctap22 case", f.Name)
			}
			t.Logf("%s caught by %v", f.Name, caught)
		})
	}
}
