package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
)

// TestControlScriptsTheDaemon: over the socket a test tool scripts
// presence, moves the clock and power-cycles; the --presence mode comes
// back with presence "default".
func TestControlScriptsTheDaemon(t *testing.T) {
	addr, sock, _, stop := startControlled(t, "--presence", "deny")
	defer stop()
	c := connect(t, addr)
	ctl := control.Dial(sock)
	ctx := context.Background()

	if _, err := c.MakeCredential(ctx, makeCredRequest("example.com", "a")); !errors.Is(err, ctap.StatusOperationDenied) {
		t.Fatalf("makeCredential under --presence deny: %v", err)
	}
	if err := ctl.SetPresence(control.PresenceAuto); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MakeCredential(ctx, makeCredRequest("example.com", "a")); err != nil {
		t.Fatalf("makeCredential with scripted presence auto: %v", err)
	}
	if err := ctl.SetPresence(control.PresenceTimeout); err != nil {
		t.Fatal(err)
	}
	// CTAP 2.1 §6.9: no touch in time is USER_ACTION_TIMEOUT.
	if err := c.Selection(ctx); !errors.Is(err, ctap.StatusUserActionTimeout) {
		t.Errorf("selection with scripted presence timeout: %v", err)
	}
	if err := ctl.DefaultPresence(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MakeCredential(ctx, makeCredRequest("example.com", "c")); !errors.Is(err, ctap.StatusOperationDenied) {
		t.Errorf("makeCredential back under --presence deny: %v", err)
	}

	if err := ctl.Advance(11 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := ctl.SetUV(control.UVMatch); !errors.Is(err, control.ErrUnsupported) {
		t.Errorf("SetUV on the default profile: %v, want ErrUnsupported", err)
	}
	st, err := ctl.Status(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClockOffset != int64(11*time.Minute) || st.Scripted != "" || st.Credentials != 1 {
		t.Errorf("status: clock offset %v, scripted %q, %d credentials", time.Duration(st.ClockOffset), st.Scripted, st.Credentials)
	}
}

// TestPowerCycleReloadsState: the daemon's power cycle builds the key
// again from its state file, so it knows what the file holds and nothing
// else.
func TestPowerCycleReloadsState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.state")
	addr, sock, _, stop := startControlled(t, "--state", state)
	defer stop()
	c := connect(t, addr)
	ctl := control.Dial(sock)
	ctx := context.Background()
	if _, err := c.MakeCredential(ctx, makeCredRequest("example.com", "a")); err != nil {
		t.Fatal(err)
	}
	if err := ctl.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	c = connect(t, addr)
	if _, err := c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: make([]byte, 32)}); err != nil {
		t.Fatalf("getAssertion after a power cycle: %v", err)
	}
	// What the file does not hold, the key after the next power cycle
	// does not know.
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	if err := ctl.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	c = connect(t, addr)
	if _, err := c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: make([]byte, 32)}); !errors.Is(err, ctap.StatusNoCredentials) {
		t.Errorf("getAssertion after the state file was removed and the key power-cycled: %v, want %v", err, ctap.StatusNoCredentials)
	}
	st, err := ctl.Status(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.PowerCycles != 2 {
		t.Errorf("status: %d power cycles, want 2", st.PowerCycles)
	}
}
