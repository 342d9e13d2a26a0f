package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// TestStalledTouchTimesOut: with --presence control, a makeCredential that
// nobody touches ends after --touch-timeout with
// CTAP2_ERR_OPERATION_DENIED (CTAP 2.1 §6.1.2 step 14) and frees the key:
// the next request is served, and the daemon says the request timed out.
func TestStalledTouchTimesOut(t *testing.T) {
	addr, sock, logs, stop := startControlled(t, "--presence", "control", "--touch-timeout", "300ms")
	defer stop()
	c := connect(t, addr)
	ctx := context.Background()
	start := time.Now()
	_, err := c.MakeCredential(ctx, makeCredRequest("example.com", "alice"))
	took := time.Since(start)
	if !errors.Is(err, ctap.StatusOperationDenied) {
		t.Fatalf("makeCredential nobody touched: %v, want OPERATION_DENIED", err)
	}
	if took < 300*time.Millisecond {
		t.Errorf("makeCredential gave up after %v, before the 300ms touch timeout", took)
	}
	t.Logf("stalled makeCredential answered after %v", took)
	if !strings.Contains(logs.String(), "touch request timed out") {
		t.Errorf("no timeout in the log:\n%s", logs.String())
	}
	// The key is free again: the next request waits for its own touch.
	touched := async(func() error { return ctlErr(t, sock, "touch", "--wait") })
	if _, err := c.MakeCredential(ctx, makeCredRequest("example.com", "bob")); err != nil {
		t.Fatalf("makeCredential after the timeout: %v", err)
	}
	if err := <-touched; err != nil {
		t.Fatal(err)
	}
}
