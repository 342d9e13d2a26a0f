package conformance_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
)

// cmdCrash is a vendor command code after which dyingKey stops answering.
const cmdCrash ctap.Command = 0x50

// dyingKey is an in-process key that stops answering after cmdCrash, as a
// key that crashed: requests in flight get no answer and new connections
// fail, until a power cycle (or a replug) brings it back.
type dyingKey struct {
	*control.Key
	controlled bool

	mu   sync.Mutex
	dead bool
}

func newDyingKey(t *testing.T, controlled bool) *dyingKey {
	k, err := control.NewKey(authenticator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &dyingKey{Key: k, controlled: controlled}
}

func (d *dyingKey) isDead() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}

func (d *dyingKey) setDead(dead bool) {
	d.mu.Lock()
	d.dead = dead
	d.mu.Unlock()
}

func (d *dyingKey) HandleCBOR(ctx context.Context, req []byte) []byte {
	if len(req) > 0 && ctap.Command(req[0]) == cmdCrash {
		d.setDead(true)
	}
	if d.isDead() {
		<-ctx.Done() // no answer; return only when the link closes
		return []byte{byte(ctap.StatusKeepaliveCancel)}
	}
	return d.Key.HandleCBOR(ctx, req)
}

func (d *dyingKey) Open(ctx context.Context) (*client.Device, error) {
	if d.isDead() {
		return nil, errors.New("no such device")
	}
	return client.OpenInProcess(ctx, d, nil)
}

func (d *dyingKey) PowerCycle(ctx context.Context) error {
	d.setDead(false)
	return d.Key.PowerCycle(ctx)
}

func (d *dyingKey) Capabilities() []conformance.Capability { return nil }

func (d *dyingKey) Controller() conformance.Controller {
	if d.controlled {
		return d
	}
	return nil
}

// TestKeyStopsAnswering checks that a key that stops answering is a
// finding of the case that made it stop, and that the run goes on after a
// power cycle or a replug, or stops with the other cases not run.
func TestKeyStopsAnswering(t *testing.T) {
	t.Parallel() // it waits out its short case and probe timeouts
	getInfo := func(t *conformance.T) {
		if _, err := t.Ctap2().GetInfo(t.Context()); err != nil {
			t.Fatalf("getInfo: %v", err)
		}
	}
	cases := []conformance.Case{
		{ID: "dk-before", Section: "§0", Title: "before", Versions: conformance.Any, Run: getInfo},
		{ID: "dk-crash", Section: "§0", Title: "crash", Versions: conformance.Any, Run: func(t *conformance.T) {
			t.Raw(cmdCrash, nil)
		}},
		{ID: "dk-after", Section: "§0", Title: "after", Versions: conformance.Any, Run: getInfo},
		{ID: "dk-last", Section: "§0", Title: "last", Versions: conformance.Any, Run: getInfo},
	}
	P, F, N := conformance.Pass, conformance.Fail, conformance.NotRun
	for _, tc := range []struct {
		name       string
		controlled bool
		replug     bool
		want       []conformance.Outcome
	}{
		{"power cycle", true, false, []conformance.Outcome{P, F, P, P}},
		{"replug", false, true, []conformance.Outcome{P, F, P, P}},
		{"nobody", false, false, []conformance.Outcome{P, F, N, N}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := newDyingKey(t, tc.controlled)
			opts := conformance.Options{Cases: cases, CaseTimeout: 300 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond}
			replugs := 0
			if tc.replug {
				opts.WaitForKey = func(ctx context.Context, probe func(context.Context) error) error {
					replugs++
					if probe(ctx) == nil {
						return errors.New("the key answered before the replug")
					}
					key.PowerCycle(ctx) // the person replugs it
					return probe(ctx)
				}
			}
			rs := conformance.Run(context.Background(), key, opts)
			for i, r := range rs {
				if r.Outcome != tc.want[i] {
					t.Errorf("%s: %v, want %v (%q)", r.Case.ID, r.Outcome, tc.want[i], r.Messages)
				}
			}
			crash := rs[1]
			if !crash.KeyStopped || len(crash.Messages) == 0 ||
				!strings.HasPrefix(crash.Messages[0], "the key stopped answering after CTAPHID_CBOR "+cmdCrash.String()) {
				t.Errorf("crash case: KeyStopped %t, messages %q", crash.KeyStopped, crash.Messages)
			}
			if len(crash.Exchanges) == 0 || crash.Exchanges[len(crash.Exchanges)-1].RequestBytes[0] != byte(cmdCrash) {
				t.Errorf("crash case exchanges %+v, want the crashing request last", crash.Exchanges)
			}
			if tc.replug && replugs != 1 {
				t.Errorf("WaitForKey called %d times, want 1", replugs)
			}
			if !tc.controlled && !tc.replug && !strings.Contains(rs[3].SkipReason, "stopped answering") {
				t.Errorf("not-run reason %q", rs[3].SkipReason)
			}
		})
	}
}
