package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/control"
)

// daemonTarget is a conformance target over a daemon this test started:
// the key over UDP, driven through its control socket, as ctaptest
// --udp --control sees it.
type daemonTarget struct {
	addr string
	ctl  *control.Client
}

func (d *daemonTarget) Open(ctx context.Context) (*client.Device, error) {
	return client.OpenUDP(ctx, d.addr)
}
func (d *daemonTarget) Capabilities() []conformance.Capability { return d.ctl.Capabilities() }
func (d *daemonTarget) Controller() conformance.Controller     { return d.ctl }

// TestPINFamilyOnProfiles runs the PIN-family conformance cases (clientPIN,
// UV, credential management, bio enrollment, config, large blobs,
// enterprise attestation) twice against a controlled daemon per profile.
// No case fails, the second run gives the outcomes of the first, and on
// the CTAP 2.0 model no case that checks CTAP 2.1 alone runs.
func TestPINFamilyOnProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the PIN family against daemons")
	}
	family := regexp.MustCompile(`^(cp|uv|cm|be|cfg|lb|ep)-`)
	for _, profile := range []string{"fido20-pin", "fido21"} {
		t.Run(profile, func(t *testing.T) {
			addr, sock, _, stop := startControlled(t, "--profile", profile)
			defer stop()
			target := &daemonTarget{addr: addr, ctl: control.Dial(sock)}
			opts := conformance.Options{Filter: family, AllowDestructive: true}
			first := conformance.Run(context.Background(), target, opts)
			second := conformance.Run(context.Background(), target, opts)
			if len(first) != len(second) || len(first) == 0 {
				t.Fatalf("%d results, then %d", len(first), len(second))
			}
			ran := 0
			for i, r := range first {
				if r.Outcome == conformance.Fail {
					t.Errorf("%s: %s", r.Case.ID, strings.Join(r.Messages, "; "))
				}
				if s := second[i]; s.Outcome != r.Outcome {
					t.Errorf("%s: %v, then %v (%s)", r.Case.ID, r.Outcome, s.Outcome, strings.Join(s.Messages, "; "))
				}
				if r.Outcome != conformance.Skip {
					ran++
					if profile == "fido20-pin" && !slices.Contains(r.Case.Versions, conformance.FIDO20) {
						t.Errorf("%s checks %v only, yet ran on a FIDO_2_0 key: %v", r.Case.ID, r.Case.Versions, r.Outcome)
					}
				}
			}
			if ran < 30 {
				t.Errorf("%d of %d cases ran", ran, len(first))
			}
		})
	}
}
