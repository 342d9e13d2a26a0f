package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/control"
)

// TestServeFaults starts a daemon with --fault for one fault of each
// family and drives it over UDP with the conformance cases that name the
// defect: each must fail on the faulty daemon with the message of that
// defect. The same cases pass on a correct daemon (TestPINFamilyOnProfiles
// and the in-process suite).
func TestServeFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon per fault family")
	}
	for _, tc := range []struct {
		family string
		fault  authenticator.Fault
		args   []string
		cases  string // the cases that must catch it
		want   string // in a failing case's messages
	}{
		{"rp", authenticator.FaultCounterRepeat, nil, `^ga-sign-counter-increases$`, "signature counter 1 after 1"},
		{"rp", authenticator.FaultCounterNotPersisted, nil, `^ga-sign-counter-survives-power-cycle$`, "power cycle: signature counter"},
		{"rp", authenticator.FaultCounterNotPersisted, []string{"--state", "STATE"}, `^ga-sign-counter-survives-power-cycle$`, "power cycle: signature counter"},
		{"rp", authenticator.FaultBSWithoutBE, nil, `^ga-backup-state-needs-eligibility$`, "BS (backed up) without BE"},
		{"clientpin", authenticator.FaultPINRetriesNotDecremented, nil, `^cp-v2-token-wrong-pin$`, "pinRetries = 8, want 7"},
		{"mc", authenticator.FaultExcludeListIgnored, nil, `^mc-excluded-credential$`, "CREDENTIAL_EXCLUDED"},
		{"ga", authenticator.FaultUserPIIWithoutUV, nil, `^ga-user-id-only-without-uv$`, ""},
		{"credman", authenticator.FaultCredManDeleteNoop, nil, `^cm-41-delete$`, ""},
		{"largeblobs", authenticator.FaultLargeBlobHashUnchecked, nil, `^lb-bad-hash$`, "INTEGRITY_FAILURE"},
		{"config", authenticator.FaultAlwaysUVToggleNoop, nil, `^cfg-toggle-always-uv$`, "alwaysUv"},
		{"ext", authenticator.FaultCredProtectIgnored, nil, `^ext-credprotect-l3-no-uv$`, "NO_CREDENTIALS"},
		{"reset", authenticator.FaultResetKeepsPIN, nil, `^cp-v2-reset-clears-pin$`, ""},
		{"u2f", authenticator.FaultU2FCheckOnlySigns, nil, `^u2f-check-only-known$`, "CONDITIONS_NOT_SATISFIED"},
	} {
		t.Run(tc.family+"/"+string(tc.fault), func(t *testing.T) {
			args := []string{"--fault", string(tc.fault)}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "STATE", filepath.Join(t.TempDir(), "key.state")))
			}
			addr, sock, logs, stop := startControlled(t, args...)
			defer stop()
			if !strings.Contains(logs.String(), "faults="+string(tc.fault)) {
				t.Errorf("the daemon's log does not name its fault:\n%s", logs.String())
			}
			target := &daemonTarget{addr: addr, ctl: control.Dial(sock)}
			rs := conformance.Run(context.Background(), target, conformance.Options{Filter: regexp.MustCompile(tc.cases), AllowDestructive: true})
			if len(rs) == 0 {
				t.Fatalf("no case matches %s", tc.cases)
			}
			for _, r := range rs {
				msg := strings.Join(r.Messages, "; ")
				switch {
				case r.Outcome != conformance.Fail:
					t.Errorf("%s: %v on a key with %s (%s)", r.Case.ID, r.Outcome, tc.fault, msg)
				case !strings.Contains(msg, tc.want):
					t.Errorf("%s failed, but not with %q: %s", r.Case.ID, tc.want, msg)
				}
			}
		})
	}
}

// TestFaultsCommand: virtkey faults lists every fault with its section,
// and serve refuses an unknown one as a usage error.
func TestFaultsCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"faults"}, &out, &errb); code != 0 {
		t.Fatalf("virtkey faults: exit %d: %s", code, errb.String())
	}
	for _, f := range authenticator.Faults() {
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, string(f.Name)+" ") {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, f.Section) || !strings.Contains(line, f.Description) {
			t.Errorf("virtkey faults: no line for %s with its section and description:\n%s", f.Name, line)
		}
	}
	errb.Reset()
	code := run(context.Background(), []string{"serve", "--udp", "127.0.0.1:0", "--control", filepath.Join(t.TempDir(), "c.sock"), "--fault", "counter-zero,no-such-fault"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), `unknown fault "no-such-fault"`) {
		t.Errorf("serve --fault no-such-fault: exit %d, %q; want 2 and the unknown name", code, errb.String())
	}
}
