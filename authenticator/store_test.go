package authenticator

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

// memoryState is the running key's whole state, as a Store would hold it.
func memoryState(a *Authenticator) *State {
	st := a.state.metaCopy()
	st.Credentials = a.creds.all()
	return st
}

func openFileStore(t *testing.T, path string) *FileStore {
	t.Helper()
	fs, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestFileStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	fs := openFileStore(t, path)
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
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"state", "state.lock"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}
	fs.Close()

	// A new key on the same file (a daemon restart) has the same state.
	a2, err := New(Config{Rand: seededRand(4), Now: clock.Now, Store: openFileStore(t, path)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(memoryState(a), memoryState(a2)); diff != "" {
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

// TestFileStoreLock: a second open of the same state is refused, naming
// the holder's PID, until the first closes.
func TestFileStoreLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state")
	fs := openFileStore(t, path)
	_, err := OpenFileStore(path)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second open: %v, want a LockedError with PID %d", err, os.Getpid())
	}
	fs.Close()
	fs2, err := OpenFileStore(path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	fs2.Close()
}

// writeKeyState makes a key with a PIN and two discoverable credentials
// in a FileStore at path and returns its state.
func writeKeyState(t *testing.T, path string) *State {
	t.Helper()
	fs := openFileStore(t, path)
	a, err := New(Config{Rand: seededRand(5), Now: newFakeClock().Now, Store: fs})
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{t: t, a: a, clock: newFakeClock()}
	k.mustRegister(mcReq("a.example", []byte{1}, true))
	k.mustRegister(mcReq("b.example", []byte{2}, true))
	fs.Close()
	return memoryState(a)
}

// TestFileStoreIntegrity: a truncated file, any single bit flipped, a
// missing record or an out-of-range value is refused with ErrCorruptState
// and the file is left as it was.
func TestFileStoreIntegrity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	writeKeyState(t, path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseJournal(good); err != nil {
		t.Fatal(err)
	}
	refused := func(name string, b []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		fs, err := OpenFileStore(p)
		if err == nil {
			fs.Close()
			t.Errorf("%s: opened", name)
		} else if !errors.Is(err, ErrCorruptState) {
			t.Errorf("%s: %v, want ErrCorruptState", name, err)
		}
		if got, _ := os.ReadFile(p); string(got) != string(b) {
			t.Errorf("%s: file changed", name)
		}
	}
	for _, n := range []int{0, 10, headerSize, headerSize + 3, len(good) / 2, len(good) - 1} {
		refused("truncated", good[:n])
	}
	// Every single-bit flip (parsed directly: opening each would take
	// long).
	for i := range len(good) * 8 {
		b := slices.Clone(good)
		b[i/8] ^= 1 << (i % 8)
		if _, err := parseJournal(b); !errors.Is(err, ErrCorruptState) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	flipped := slices.Clone(good)
	flipped[len(good)-20] ^= 4
	refused("flipped", flipped)

	// A journal without its meta record.
	j, _ := parseJournal(good)
	st := j.st
	b := make([]byte, headerSize)
	parts, _ := encodeParts(st)
	b = appendRecord(b, kindSecrets, parts[kindSecrets])
	b = appendRecord(b, kindLargeBlob, parts[kindLargeBlob])
	b = appendRecord(b, kindFingerprints, parts[kindFingerprints])
	copy(b, encodeHeader(1, int64(len(b))))
	refused("no-meta", b)

	for name, change := range map[string]func(*State){
		"negative-retries": func(s *State) { s.PINHash, s.PINRetries = make([]byte, 16), -1 },
		"retries-too-many": func(s *State) { s.PINHash, s.PINRetries = make([]byte, 16), 9 },
		"short-secret":     func(s *State) { s.MasterSecret = s.MasterSecret[:16] },
		"no-attestation":   func(s *State) { s.Attestation = nil },
		"bad-sequence":     func(s *State) { s.Credentials[0].Sequence = 99 },
		"bad-alg":          func(s *State) { s.Credentials[0].Alg = 5 },
	} {
		s := j.st.metaCopy()
		s.Credentials = slices.Clone(j.st.Credentials)
		change(s)
		b, err := snapshot(s, 1)
		if err != nil {
			t.Fatal(err)
		}
		refused(name, b)
	}
}

// TestFileStoreMoreCredentialsThanCapacity: a state with more
// credentials than the key holds does not start.
func TestFileStoreMoreCredentialsThanCapacity(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state")
	writeKeyState(t, path)
	_, err := New(Config{Store: openFileStore(t, path), MaxCredentials: 1})
	if !errors.Is(err, ErrCorruptState) {
		t.Errorf("New with 2 credentials and room for 1: %v", err)
	}
}

// legacyJSON is a state file as the first release wrote it.
func legacyJSON(t *testing.T, st *State) []byte {
	b, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestFileStoreMigration: a JSON state of the first release becomes a
// journal once, the old file kept as .bak; the key is the same.
func TestFileStoreMigration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := writeKeyState(t, filepath.Join(dir, "orig"))
	want.PINHash, want.PINRetries = make([]byte, 16), 5
	path := filepath.Join(dir, "state.json")
	old := legacyJSON(t, want)
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	fs := openFileStore(t, path)
	got, err := fs.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("migrated state (-old +new):\n%s", diff)
	}
	if bak, _ := os.ReadFile(path + ".bak"); string(bak) != string(old) {
		t.Error("the old file is not kept as .bak")
	}
	if b, _ := os.ReadFile(path); string(b[:len(fileMagic)]) != fileMagic {
		t.Error("state file not migrated")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("migrated file mode %v", fi.Mode().Perm())
	}
	fs.Close()
	// The second open reads the journal; the .bak stays as it is.
	fs = openFileStore(t, path)
	if got, err := fs.Load(); err != nil || !cmp.Equal(want, got) {
		t.Errorf("after migration: %v", err)
	}
}

// TestFileStoreLegacyRefused: JSON states that fail the check are not
// migrated, nor started as a new key, and stay as they are.
func TestFileStoreLegacyRefused(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"version-only": `{"version":1}`,
		"trailing":     `{"version":1,"masterSecret":"AAAA"} {}`,
		"version":      `{"version":99}`,
		"truncated":    `{"version":1,"mas`,
		"garbage":      "not json",
		"empty":        "",
	} {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if fs, err := OpenFileStore(path); !errors.Is(err, ErrCorruptState) {
			if err == nil {
				fs.Close()
			}
			t.Errorf("%s: open: %v, want ErrCorruptState", name, err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != content {
			t.Errorf("%s: corrupt file was changed", name)
		}
		if _, err := os.Stat(path + ".bak"); err == nil {
			t.Errorf("%s: .bak made", name)
		}
	}
}

// TestFileStoreCompaction: a long run of commits keeps the file near the
// size of the state, and the state survives the compactions.
func TestFileStoreCompaction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	fs := openFileStore(t, path)
	// 4 KiB of slack instead of 64: the same compactions after a tenth of
	// the commits (each one two fsyncs).
	fs.compactSlack = 4 << 10
	a, err := New(Config{Rand: seededRand(6), Now: newFakeClock().Now, Store: fs})
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{t: t, a: a, clock: newFakeClock()}
	id, _ := k.mustRegister(mcReq("example.com", []byte{1}, true))
	before := fs.BytesWritten()
	for range 400 {
		if _, s := k.getAssertion(gaReq("example.com", id)); s != ctap.StatusOK {
			t.Fatal(s)
		}
	}
	fi, _ := os.Stat(path)
	if written := fs.BytesWritten() - before; fi.Size() > 16<<10 || written < 3*fi.Size() {
		t.Errorf("state file of %d bytes after 400 assertions that wrote %d", fi.Size(), written)
	}
	want := memoryState(a)
	fs.Close()
	got, err := openFileStore(t, path).Load()
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("after compactions: %v %s", err, cmp.Diff(want, got))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d directory entries, want the state and its lock", len(entries))
	}
}

// TestFileStoreBytesPerAssertion: a counter bump writes a record and a
// header, not the state.
func TestFileStoreBytesPerAssertion(t *testing.T) {
	t.Parallel()
	fs := openFileStore(t, filepath.Join(t.TempDir(), "state"))
	a, err := New(Config{Rand: seededRand(7), Now: newFakeClock().Now, Store: fs})
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{t: t, a: a, clock: newFakeClock()}
	for i := range 20 {
		k.mustRegister(mcReq("example.com", []byte{byte(i)}, true))
	}
	before := fs.BytesWritten()
	if _, s := k.getAssertion(gaReq("example.com")); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if n := fs.BytesWritten() - before; n > 256 {
		t.Errorf("getAssertion wrote %d bytes", n)
	}
}

func TestMemoryStoreCopies(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore()
	st := &State{Version: StateVersion, MasterSecret: []byte{1, 2}, MinPINLengthRPIDs: []string{"a"}}
	c := &ResidentCredential{ID: []byte{1}, UserName: "a"}
	if err := m.Commit(&Change{State: st, Put: []*ResidentCredential{c}}); err != nil {
		t.Fatal(err)
	}
	st.MinPINLengthRPIDs[0] = "b"
	c.UserName = "b"
	got := m.State()
	if got.MinPINLengthRPIDs[0] != "a" || got.Credentials[0].UserName != "a" {
		t.Error("MemoryStore kept a reference to the committed state")
	}
	got.MinPINLengthRPIDs[0] = "c"
	if m.State().MinPINLengthRPIDs[0] != "a" {
		t.Error("MemoryStore handed out its own copy")
	}
	if m.Saves() != 1 {
		t.Errorf("Saves %d", m.Saves())
	}
	if err := m.Commit(&Change{State: st, Delete: [][]byte{{1}}}); err != nil || len(m.State().Credentials) != 0 {
		t.Errorf("delete: %v", err)
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

// TestFileStoreCreateCleansUp: a first commit whose rename fails leaves
// no temporary file behind.
func TestFileStoreCreateCleansUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil { // the target is a non-empty directory
		t.Fatal(err)
	}
	fs, err := OpenFileStore(path)
	if err == nil {
		defer fs.Close()
		if _, err := New(Config{Store: fs}); err == nil {
			t.Fatal("a new key over a directory started")
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "state" && e.Name() != "state.lock" {
			t.Errorf("%s left in the directory", e.Name())
		}
	}
}

// TestFileStoreRemovedWhileOpen: a state file removed under a running
// daemon is an empty store at the next Load, and the next commit makes a
// new file rather than writing to the removed one.
func TestFileStoreRemovedWhileOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state")
	fs := openFileStore(t, path)
	if _, err := New(Config{Rand: seededRand(8), Store: fs}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if st, err := fs.Load(); st != nil || err != nil {
		t.Fatalf("Load after removal: %v, %v", st, err)
	}
	if _, err := New(Config{Rand: seededRand(9), Store: fs}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("no new state file: %v", err)
	}
}

// TestCredIndexBuild: the index built at start-up holds each RP's
// credentials in Sequence order, each RP's list apart from the others
// (a put into one leaves its neighbours' alone), finds a user's
// credential, and refuses two credentials with one ID.
func TestCredIndexBuild(t *testing.T) {
	t.Parallel()
	var creds []ResidentCredential
	for i := range 12 {
		creds = append(creds, ResidentCredential{ID: []byte{byte(i)}, RPID: []string{"a", "b", "c"}[i%3],
			UserID: []byte{byte(i / 3)}, Sequence: uint64(12 - i), CredProtect: uint64(1 + i%3)})
	}
	x, err := newCredIndex(nil, slices.Clone(creds))
	if err != nil {
		t.Fatal(err)
	}
	seqs := func(rp string) []uint64 {
		var s []uint64
		for _, c := range x.forRP(sha256.Sum256([]byte(rp))) {
			if c.RPID != rp {
				t.Errorf("RP %s lists a credential of %s", rp, c.RPID)
			}
			s = append(s, c.Sequence)
		}
		return s
	}
	if got, want := seqs("a"), []uint64{3, 6, 9, 12}; !slices.Equal(got, want) {
		t.Errorf("RP a: sequences %v, want %v", got, want)
	}
	if r := x.rp(sha256.Sum256([]byte("b"))); r.byProtect != [4]int{0, 0, 4, 0} {
		t.Errorf("RP b: byProtect %v", r.byProtect)
	}
	// c's list is carved first (it holds Sequence 1), b's next to it.
	x.put(&ResidentCredential{ID: []byte{100}, RPID: "c", UserID: []byte{9}, Sequence: 13})
	if got, want := seqs("c"), []uint64{1, 4, 7, 10, 13}; !slices.Equal(got, want) {
		t.Errorf("RP c after a put: sequences %v, want %v", got, want)
	}
	if got, want := seqs("b"), []uint64{2, 5, 8, 11}; !slices.Equal(got, want) {
		t.Errorf("RP b after a put into c: sequences %v, want %v", got, want)
	}
	if c := x.forUser("c", []byte{2}); c == nil || c.ID[0] != 8 {
		t.Errorf("forUser(c, 2) = %v, want credential 8", c)
	}
	if c := x.forUser("c", []byte{9}); c == nil || c.ID[0] != 100 {
		t.Errorf("forUser(c, 9) = %v, want credential 100", c)
	}
	creds[5].ID = []byte{4}
	if _, err := newCredIndex(nil, creds); !errors.Is(err, ErrCorruptState) {
		t.Errorf("two credentials with one ID: %v, want ErrCorruptState", err)
	}
}

// TestParseJournalFirstError: with the checksums verified beside the
// decoding, the error is still the one at the lowest offset, a
// checksum's where one record has both, as when each record was checked
// before it was decoded.
func TestParseJournalFirstError(t *testing.T) {
	t.Parallel()
	data, err := snapshot(scaleState(t, 4, 2), 1)
	if err != nil {
		t.Fatal(err)
	}
	// The offsets of the put records (after the four parts).
	var puts []int
	for off := headerSize; off < len(data); {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if data[off+4] == kindPut {
			puts = append(puts, off)
		}
		off += n + recordOverhead
	}
	if len(puts) != 4 {
		t.Fatalf("%d put records, want 4", len(puts))
	}
	badSum := func(b []byte, off int) { b[off+5] ^= 0x01 } // the payload's first byte, the checksum left as it was
	badPayload := func(b []byte, off int) {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		b[off+5] = 0x80 // an array, not a map; the checksum made anew
		binary.LittleEndian.PutUint32(b[off+5+n:], crc32.Checksum(b[off:off+5+n], castagnoli))
	}
	for name, tc := range map[string]struct {
		corrupt func(b []byte)
		want    string
	}{
		"checksum then payload": {func(b []byte) { badSum(b, puts[1]); badPayload(b, puts[2]) }, fmt.Sprintf("record at %d: checksum mismatch", puts[1])},
		"payload then checksum": {func(b []byte) { badPayload(b, puts[1]); badSum(b, puts[2]) }, fmt.Sprintf("record at %d: credential", puts[1])},
		"checksum only, last":   {func(b []byte) { badSum(b, puts[3]) }, fmt.Sprintf("record at %d: checksum mismatch", puts[3])},
		"both in one record":    {func(b []byte) { badPayload(b, puts[0]); badSum(b, puts[0]) }, fmt.Sprintf("record at %d: checksum mismatch", puts[0])},
	} {
		b := bytes.Clone(data)
		tc.corrupt(b)
		_, err := parseJournal(b)
		if !errors.Is(err, ErrCorruptState) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
