package authenticator

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

func TestFileStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	fs := NewFileStore(path)
	if st, err := fs.Load(); st != nil || err != nil {
		t.Fatalf("Load of a missing file: %v, %v", st, err)
	}
	clock := newFakeClock()
	a, err := New(Config{Rand: seededRand(3), Now: clock.Now, Store: fs})
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{t: t, a: a, clock: clock}
	rid, _ := k.mustRegister(mcReq("example.com", []byte{1}, true, ctap.AlgEdDSA))
	nid, _ := k.mustRegister(mcReq("example.com", []byte{2}, false))

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file", len(entries))
	}

	// A new key on the same file (a daemon restart) has the same state.
	a2, err := New(Config{Rand: seededRand(4), Now: clock.Now, Store: NewFileStore(path)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.state, a2.state); diff != "" {
		t.Errorf("reloaded state (-saved +loaded):\n%s", diff)
	}
	if !a.AttestationCA().Equal(a2.AttestationCA()) {
		t.Error("attestation CA changed across restart")
	}
	k2 := &testKey{t: t, a: a2, clock: clock}
	for _, id := range [][]byte{rid, nid} {
		resp, s := k2.getAssertion(gaReq("example.com", id))
		if s != ctap.StatusOK {
			t.Fatalf("after restart: %v", s)
		}
		ad, _ := ctap.ParseAuthData(resp.AuthData)
		if ad.SignCount <= 2 {
			t.Errorf("signCount %d after restart, want > 2", ad.SignCount)
		}
	}
}

func TestFileStoreCorrupt(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"garbage":   "not json",
		"trailing":  `{"version":1,"masterSecret":"AAAA"} {}`,
		"version":   `{"version":99}`,
		"truncated": `{"version":1,"mas`,
	} {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		fs := NewFileStore(path)
		if _, err := fs.Load(); !errors.Is(err, ErrCorruptState) {
			t.Errorf("%s: Load: %v, want ErrCorruptState", name, err)
		}
		if _, err := New(Config{Store: fs}); err == nil {
			t.Errorf("%s: New succeeded on a corrupt state", name)
		}
		got, _ := os.ReadFile(path)
		if string(got) != content {
			t.Errorf("%s: corrupt file was changed", name)
		}
	}
}

func TestFileStoreSaveFailureKeepsOldFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	fs := NewFileStore(path)
	st := &State{Version: StateVersion, MasterSecret: make([]byte, 32), SignCount: 1}
	if err := fs.Save(st); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	st.SignCount = 2
	if err := fs.Save(st); err == nil {
		t.Fatal("Save in a read-only directory succeeded")
	}
	got, err := fs.Load()
	if err != nil || got.SignCount != 1 {
		t.Errorf("after a failed save: %+v, %v", got, err)
	}
}

func TestMemoryStoreCopies(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	st := &State{Version: StateVersion, MasterSecret: []byte{1, 2}, Credentials: []ResidentCredential{{ID: []byte{1}}}}
	if err := m.Save(st); err != nil {
		t.Fatal(err)
	}
	st.MasterSecret[0] = 9
	st.Credentials[0].ID[0] = 9
	got := m.State()
	if got.MasterSecret[0] != 1 || got.Credentials[0].ID[0] != 1 {
		t.Error("MemoryStore kept a reference to the saved state")
	}
	got.MasterSecret[0] = 7
	if m.State().MasterSecret[0] != 1 {
		t.Error("MemoryStore handed out its own copy")
	}
	if m.Saves() != 1 {
		t.Errorf("Saves %d", m.Saves())
	}
}

// TestAAGUIDChange: a key restarted with another AAGUID reissues its
// attestation leaf under the same root.
func TestAAGUIDChange(t *testing.T) {
	t.Parallel()
	store := NewMemoryStore()
	a1, err := New(Config{Rand: seededRand(1), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	aaguid := [16]byte{1, 2, 3}
	a2, err := New(Config{Rand: seededRand(2), Store: store, AAGUID: aaguid})
	if err != nil {
		t.Fatal(err)
	}
	if !a1.AttestationCA().Equal(a2.AttestationCA()) {
		t.Error("root changed")
	}
	if got, _ := CertificateAAGUID(a2.att.leaf); got != aaguid {
		t.Errorf("leaf AAGUID %x", got)
	}
	if got, _ := CertificateAAGUID(a1.att.leaf); got != DefaultAAGUID {
		t.Errorf("leaf AAGUID %x", got)
	}
}

// TestDeterministic: the same seed gives the same state.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	mk := func() *State {
		k := newTestKey(t)
		k.mustRegister(mcReq("example.com", []byte{1}, true))
		return k.store.State()
	}
	s1, s2 := mk(), mk()
	// Certificates hold ECDSA signatures, which use crypto/rand.
	s1.Attestation.CACert, s2.Attestation.CACert, s1.Attestation.Cert, s2.Attestation.Cert = nil, nil, nil, nil
	if diff := cmp.Diff(s1, s2); diff != "" {
		t.Errorf("states differ:\n%s", diff)
	}
}

// TestFileStoreSaveCleansUp: a Save whose rename fails leaves no temporary
// file behind.
func TestFileStoreSaveCleansUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil { // the target is a non-empty directory
		t.Fatal(err)
	}
	if err := NewFileStore(path).Save(&State{Version: StateVersion}); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries left in the directory, want 1", len(entries))
	}
}
