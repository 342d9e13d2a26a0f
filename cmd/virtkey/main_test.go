package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// lockedBuffer is a log sink safe for the daemon's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDaemon runs `virtkey serve` until the returned stop is called.
func startDaemon(t testing.TB, args ...string) (addr string, stop func() int) {
	t.Helper()
	addr, _, stop = startDaemonLogs(t, args...)
	return addr, stop
}

// startDaemonLogs is startDaemon that also returns the daemon's log.
func startDaemonLogs(t testing.TB, args ...string) (addr string, logs *lockedBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	logs = &lockedBuffer{}
	addrs := make(chan net.Addr, 1)
	listening = func(a net.Addr) { addrs <- a }
	go func() {
		done <- run(ctx, append([]string{"serve", "--udp", "127.0.0.1:0", "--log-level", "debug",
			"--control", filepath.Join(t.TempDir(), "control.sock")}, args...), io.Discard, logs)
	}()
	select {
	case a := <-addrs:
		addr = a.String()
	case code := <-done:
		t.Fatalf("daemon exited with %d:\n%s", code, logs.String())
	}
	stop = func() int {
		cancel()
		code := <-done
		if code != 0 {
			t.Logf("daemon log:\n%s", logs.String())
		}
		return code
	}
	t.Cleanup(func() { cancel() })
	return addr, logs, stop
}

// connect opens the daemon, which is listening already.
func connect(t testing.TB, addr string) *client.Ctap2 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev, err := client.OpenUDP(ctx, addr)
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	t.Cleanup(func() { dev.Close() })
	c, err := client.New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServeStateSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.state")
	ctx := context.Background()
	h := sha256.Sum256([]byte("restart"))

	addr, stop := startDaemon(t, "--state", state)
	c := connect(t, addr)
	att, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
		ClientDataHash: h[:], RP: &ctap.RPEntity{ID: "restart.example"},
		User:             &ctap.UserEntity{ID: []byte("u1")},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
		Options:          map[string]bool{ctap.OptionRK: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("daemon exit %d", code)
	}
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}

	addr, stop = startDaemon(t, "--state", state)
	c = connect(t, addr)
	a, err := c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "restart.example", ClientDataHash: h[:]})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !bytes.Equal(a.Credential.ID, att.AuthData.AttestedCredential.CredentialID) {
		t.Fatalf("credential %x after restart, want %x", a.Credential.ID, att.AuthData.AttestedCredential.CredentialID)
	}
	if err := a.Verify(h[:], att.AuthData.AttestedCredential.PublicKey); err != nil {
		t.Fatal(err)
	}
	stop()
}

func TestServeDenyPresence(t *testing.T) {
	addr, stop := startDaemon(t, "--presence", "deny")
	defer stop()
	c := connect(t, addr)
	err := c.Selection(context.Background())
	if !errors.Is(err, ctap.StatusOperationDenied) {
		t.Fatalf("selection with --presence deny: %v", err)
	}
}

func TestCorruptStateRefused(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.state")
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	code := run(context.Background(), []string{"serve", "--udp", "127.0.0.1:0", "--state", state}, io.Discard, &logs)
	if code == 0 {
		t.Fatal("daemon started on a corrupt state file")
	}
	if b, _ := os.ReadFile(state); string(b) != "{not json" {
		t.Fatalf("corrupt state file was changed: %q", b)
	}
}

func TestUsage(t *testing.T) {
	var logs bytes.Buffer
	for _, args := range [][]string{nil, {"frobnicate"}, {"serve", "extra"}, {"serve", "--udp", "x", "--presence", "maybe"}} {
		if code := run(context.Background(), args, io.Discard, &logs); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}
