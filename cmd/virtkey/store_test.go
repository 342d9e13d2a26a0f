package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// TestServeStateLocked: a second daemon on the same state file refuses to
// start and names the process that holds it; the first keeps serving.
func TestServeStateLocked(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.state")
	addr, stop := startDaemon(t, "--state", state)
	defer stop()
	var logs bytes.Buffer
	code := run(context.Background(), []string{"serve", "--udp", "127.0.0.1:0", "--control", "off", "--state", state}, io.Discard, &logs)
	if code == 0 {
		t.Fatal("a second daemon started on a state file in use")
	}
	if want := fmt.Sprintf("in use by process %d", os.Getpid()); !strings.Contains(logs.String(), want) {
		t.Errorf("message %q does not say %q", logs.String(), want)
	}
	c := connect(t, addr)
	if _, err := c.GetInfo(context.Background()); err != nil {
		t.Errorf("the first daemon after the second was refused: %v", err)
	}
}

// TestServeMigratesJSONState: a JSON state of the first release starts
// the same key, the old file kept as .bak.
func TestServeMigratesJSONState(t *testing.T) {
	dir := t.TempDir()
	// A key with one discoverable credential, written as the first
	// release's FileStore did: the State as indented JSON.
	mem := authenticator.NewMemoryStore()
	key, err := authenticator.New(authenticator.Config{Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("migrate"))
	mc := &ctap.MakeCredentialRequest{
		ClientDataHash: h[:], RP: &ctap.RPEntity{ID: "migrate.example"},
		User:             &ctap.UserEntity{ID: []byte("u1")},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
		Options:          map[string]bool{ctap.OptionRK: true},
	}
	if s, _ := key.Handle(context.Background(), ctap.CmdMakeCredential, ctap.MustMarshal(mc)); s != ctap.StatusOK {
		t.Fatal(s)
	}
	old, err := json.MarshalIndent(mem.State(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "key.state")
	if err := os.WriteFile(state, old, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, stop := startDaemon(t, "--state", state)
	defer stop()
	c := connect(t, addr)
	a, err := c.GetAssertion(context.Background(), &ctap.GetAssertionRequest{RPID: "migrate.example", ClientDataHash: h[:]})
	if err != nil {
		t.Fatalf("getAssertion on the migrated key: %v", err)
	}
	if want := mem.State().Credentials[0].ID; !bytes.Equal(a.Credential.ID, want) {
		t.Errorf("credential %x, want %x", a.Credential.ID, want)
	}
	if bak, _ := os.ReadFile(state + ".bak"); !bytes.Equal(bak, old) {
		t.Error("the JSON state is not kept as .bak")
	}
}

// TestServeStateIntegrity: states that fail the integrity check do not
// start, and the file stays as it was.
func TestServeStateIntegrity(t *testing.T) {
	for name, content := range map[string]string{
		"version only":    `{"version":1}`,
		"no attestation":  `{"version":1,"masterSecret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","pinHash":"AAAAAAAAAAAAAAAAAAAAAA==","pinRetries":-1}`,
		"journal garbage": "VKSTATE\x00garbage",
	} {
		t.Run(name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "key.state")
			if err := os.WriteFile(state, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			if code := run(context.Background(), []string{"serve", "--udp", "127.0.0.1:0", "--control", "off", "--state", state}, io.Discard, &logs); code == 0 {
				t.Fatal("daemon started")
			}
			if !strings.Contains(logs.String(), "cannot be read") {
				t.Errorf("message: %s", logs.String())
			}
			if b, _ := os.ReadFile(state); string(b) != content {
				t.Errorf("file changed: %q", b)
			}
		})
	}
}

// TestServeMaxCredentials: --max-credentials is the key's capacity, in
// getInfo and in makeCredential.
func TestServeMaxCredentials(t *testing.T) {
	addr, stop := startDaemon(t, "--max-credentials", "2")
	defer stop()
	c := connect(t, addr)
	ctx := context.Background()
	info, err := c.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Raw.RemainingDiscoverableCredentials == nil || *info.Raw.RemainingDiscoverableCredentials != 2 {
		t.Errorf("remainingDiscoverableCredentials %v, want 2", info.Raw.RemainingDiscoverableCredentials)
	}
	for i := range 3 {
		_, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
			ClientDataHash: make([]byte, 32), RP: &ctap.RPEntity{ID: "max.example"},
			User:             &ctap.UserEntity{ID: []byte{byte(i)}},
			PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
			Options:          map[string]bool{ctap.OptionRK: true},
		})
		if i < 2 && err != nil {
			t.Fatalf("credential %d: %v", i, err)
		}
		if i == 2 && !errors.Is(err, ctap.StatusKeyStoreFull) {
			t.Errorf("third credential: %v, want KEY_STORE_FULL", err)
		}
	}
	var logs bytes.Buffer
	if code := run(ctx, []string{"serve", "--udp", "127.0.0.1:0", "--max-credentials", "0"}, io.Discard, &logs); code != 2 {
		t.Errorf("--max-credentials 0: exit %d, want 2", code)
	}
}

// TestWatchedStoreSummary: the status summary follows each commit's
// change: credentials put, replaced, deleted and cleared.
func TestWatchedStoreSummary(t *testing.T) {
	w := &watchedStore{Store: authenticator.NewMemoryStore()}
	st := &authenticator.State{Version: authenticator.StateVersion, SignCount: 7}
	cred := func(id byte, rp string) *authenticator.ResidentCredential {
		return &authenticator.ResidentCredential{ID: []byte{id}, RPID: rp}
	}
	check := func(step string, n int, rps ...string) {
		t.Helper()
		s := w.summary()
		if s.Credentials != n || strings.Join(s.RPs, ",") != strings.Join(rps, ",") || s.SignCount != 7 {
			t.Errorf("%s: %+v, want %d credentials of %q", step, s, n, rps)
		}
	}
	commit := func(ch *authenticator.Change) {
		t.Helper()
		ch.State = st
		if err := w.Commit(ch); err != nil {
			t.Fatal(err)
		}
	}
	commit(&authenticator.Change{Put: []*authenticator.ResidentCredential{cred(1, "b.example"), cred(2, "a.example"), cred(3, "b.example")}})
	check("put", 3, "a.example", "b.example")
	commit(&authenticator.Change{Put: []*authenticator.ResidentCredential{cred(2, "c.example")}})
	check("replaced", 3, "b.example", "c.example")
	commit(&authenticator.Change{Delete: [][]byte{{1}, {9}}})
	check("deleted", 2, "b.example", "c.example")
	commit(&authenticator.Change{Clear: true, Put: []*authenticator.ResidentCredential{cred(4, "d.example")}})
	check("cleared", 1, "d.example")
	w2 := &watchedStore{Store: w.Store}
	if _, err := w2.Load(); err != nil {
		t.Fatal(err)
	}
	if s := w2.summary(); s.Credentials != 1 || len(s.RPs) != 1 || s.RPs[0] != "d.example" {
		t.Errorf("after Load: %+v", s)
	}
}

// TestWatchedStoreRecords: from a FileStore's records the summary counts
// the credentials per RP at load, and a commit that deletes or replaces
// one of them (its RP known only from the records) keeps it right.
func TestWatchedStoreRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	fs, err := authenticator.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authenticator.New(authenticator.Config{Store: fs}); err != nil {
		t.Fatal(err)
	}
	st, err := fs.Load()
	if err != nil {
		t.Fatal(err)
	}
	cred := func(id byte, rp string) *authenticator.ResidentCredential {
		return &authenticator.ResidentCredential{ID: []byte{id}, RPID: rp, Alg: ctap.AlgES256, PrivateKey: make([]byte, 32), Sequence: uint64(id)}
	}
	st.CreationSequence = 9
	if err := fs.Commit(&authenticator.Change{State: st, Put: []*authenticator.ResidentCredential{cred(1, "b.example"), cred(2, "a.example"), cred(3, "b.example")}}); err != nil {
		t.Fatal(err)
	}
	fs.Close()
	if fs, err = authenticator.OpenFileStore(path); err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	w := &watchedStore{Store: fs}
	if _, err := authenticator.New(authenticator.Config{Store: w}); err != nil {
		t.Fatal(err)
	}
	check := func(step string, n int, rps ...string) {
		t.Helper()
		if s := w.summary(); s.Credentials != n || strings.Join(s.RPs, ",") != strings.Join(rps, ",") {
			t.Errorf("%s: %+v, want %d credentials of %q", step, s, n, rps)
		}
	}
	check("loaded", 3, "a.example", "b.example")
	if w.pending == nil {
		t.Error("the records' IDs were mapped at load")
	}
	if err := w.Commit(&authenticator.Change{State: st, Delete: [][]byte{{1}}, Put: []*authenticator.ResidentCredential{cred(2, "c.example")}}); err != nil {
		t.Fatal(err)
	}
	check("deleted and replaced", 2, "b.example", "c.example")
}
