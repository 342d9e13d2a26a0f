package main

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// TestLogLevels: at the default level (info) the daemon logs start-up,
// shut-down and state changes (a credential created or deleted with its
// RP ID, the PIN set, a reset), but not every command: per-command lines
// are at debug, so a local client cannot grow the log by sending commands.
func TestLogLevels(t *testing.T) {
	addr, logs, stop := startDaemonLogs(t, "--log-level", "info")
	c := connect(t, addr)
	ctx := context.Background()
	if _, err := c.MakeCredential(ctx, makeCredRequest("example.com", "alice")); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("assert"))
	for range 5 {
		if _, err := c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: h[:]}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetInfo(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := client.PinProtocolByVersion(2)
	cp, err := client.NewClientPin(c, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.SetPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	if err := cp.ChangePIN(ctx, "1234", "98765"); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	out := logs.String()
	for _, want := range []string{
		"msg=serving",
		`msg="credential created" rp=example.com resident=true`,
		`msg="PIN set"`,
		`msg="PIN changed"`,
		`msg="credential deleted" rp=example.com`,
		`msg=reset`,
		"msg=stopped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "msg=ctap ") || strings.Contains(line, "level=DEBUG") {
			t.Errorf("per-command line at the default level: %s", line)
		}
	}
	if n := strings.Count(out, "\n"); n > 12 {
		t.Errorf("%d log lines for 15 commands:\n%s", n, out)
	}
	if t.Failed() {
		t.Logf("log:\n%s", out)
	}
}
