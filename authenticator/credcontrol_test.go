package authenticator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

type eventLog struct {
	mu  sync.Mutex
	evs []CredentialEvent
}

func (l *eventLog) add(ev CredentialEvent) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) kinds() []CredentialEventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []CredentialEventKind
	for _, e := range l.evs {
		out = append(out, e.Kind)
	}
	return out
}

func withEvents(l *eventLog) keyOption {
	return func(c *Config) { c.OnCredentialEvent = l.add }
}

// verifyAssertion checks resp's signature over authData || testCDH with pub.
func verifyAssertion(t *testing.T, resp *ctap.GetAssertionResponse, pub ctap.COSEKey) *ctap.AuthData {
	t.Helper()
	pk, err := pub.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctap.VerifySignature(pub.Alg, pk, append(bytes.Clone(resp.AuthData), testCDH...), resp.Signature); err != nil {
		t.Fatalf("signature: %v", err)
	}
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	return ad
}

// TestImportCredential adds credentials with given private keys,
// discoverable and not, ES256 and EdDSA, and signs with them through
// getAssertion; the store holds the discoverable one before
// ImportCredential returns.
func TestImportCredential(t *testing.T) {
	var log eventLog
	k := newTestKey(t, withEvents(&log))
	ctx := context.Background()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), seededRand(7))
	if err != nil {
		t.Fatal(err)
	}
	edKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	rid, err := k.a.ImportCredential(ctx, ImportedCredential{RPID: "example.com", Resident: true, ID: []byte("my-credential"),
		UserID: []byte("user-1"), UserName: "alice", PrivateKey: ecKey})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rid, []byte("my-credential")) {
		t.Fatalf("ID %q", rid)
	}
	if st := k.store.State(); len(st.Credentials) != 1 || !bytes.Equal(st.Credentials[0].ID, rid) {
		t.Fatalf("store holds %d credentials", len(st.Credentials))
	}
	nid, err := k.a.ImportCredential(ctx, ImportedCredential{RPID: "example.com", PrivateKey: edKey})
	if err != nil {
		t.Fatal(err)
	}
	ecPub, _ := ctap.NewCOSEKey(ctap.AlgES256, &ecKey.PublicKey)
	edPub, _ := ctap.NewCOSEKey(ctap.AlgEdDSA, edKey.Public())

	// Discoverable: found without an allow list, user handle returned.
	resp, s := k.getAssertion(gaReq("example.com"))
	if s != ctap.StatusOK {
		t.Fatalf("discoverable getAssertion: %v", s)
	}
	verifyAssertion(t, resp, ecPub)
	if resp.User == nil || string(resp.User.ID) != "user-1" || !bytes.Equal(resp.Credential.ID, rid) {
		t.Fatalf("user %+v credential %x", resp.User, resp.Credential.ID)
	}
	// Non-discoverable: sealed for example.com only.
	resp, s = k.getAssertion(gaReq("example.com", nid))
	if s != ctap.StatusOK {
		t.Fatalf("non-discoverable getAssertion: %v", s)
	}
	verifyAssertion(t, resp, edPub)
	if _, s = k.getAssertion(gaReq("other.example", nid)); s != ctap.StatusNoCredentials {
		t.Fatalf("sealed ID under another RP: %v", s)
	}

	creds, err := k.a.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || !bytes.Equal(creds[0].ID, rid) || creds[0].UserName != "alice" || creds[0].PublicKey.X == nil ||
		!bytes.Equal(creds[0].PublicKey.X, ecPub.X) {
		t.Fatalf("Credentials %+v", creds)
	}
	n, err := k.a.SignCount(ctx)
	if err != nil || n != 2 {
		t.Fatalf("SignCount %d, %v; want 2", n, err)
	}
	want := []CredentialEventKind{CredentialAdded, CredentialAdded, CredentialAsserted, CredentialAsserted}
	if got := log.kinds(); !equalKinds(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}

	// Refusals.
	for name, c := range map[string]ImportedCredential{
		"P-384":          {RPID: "example.com", PrivateKey: mustP384(t)},
		"no RP":          {PrivateKey: ecKey},
		"sealed with ID": {RPID: "example.com", ID: []byte("x")},
		"no user":        {RPID: "example.com", Resident: true},
		"BS without BE":  {RPID: "example.com", Backup: &BackupFlags{State: true}},
	} {
		if _, err := k.a.ImportCredential(ctx, c); err == nil {
			t.Errorf("%s: imported", name)
		}
	}
}

func mustP384(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), seededRand(3))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func equalKinds(a, b []CredentialEventKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRemoveAndClearCredentials: RemoveCredential deletes one
// discoverable credential durably and refuses a non-discoverable ID;
// ClearCredentials kills both kinds and keeps the PIN.
func TestRemoveAndClearCredentials(t *testing.T) {
	var log eventLog
	k := newTestKey(t, withEvents(&log))
	ctx := context.Background()
	r1, _ := k.mustRegister(mcReq("example.com", []byte("u1"), true))
	r2, _ := k.mustRegister(mcReq("example.com", []byte("u2"), true))
	nr, _ := k.mustRegister(mcReq("example.com", []byte("u3"), false))
	k.a.state.PINHash = bytes.Repeat([]byte{1}, 16) // a PIN is set
	k.a.state.PINRetries = 8

	if err := k.a.RemoveCredential(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if err := k.a.RemoveCredential(ctx, nr); !errors.Is(err, ErrNotDiscoverable) {
		t.Fatalf("removing a non-discoverable credential: %v", err)
	}
	if st := k.store.State(); len(st.Credentials) != 1 || !bytes.Equal(st.Credentials[0].ID, r2) {
		t.Fatal("the store does not reflect the removal")
	}
	if _, s := k.getAssertion(gaReq("example.com", r1)); s != ctap.StatusNoCredentials {
		t.Fatalf("removed credential: %v", s)
	}
	if err := k.a.ClearCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range [][]byte{r2, nr} {
		if _, s := k.getAssertion(gaReq("example.com", id)); s != ctap.StatusNoCredentials {
			t.Fatalf("credential %x after ClearCredentials: %v", id, s)
		}
	}
	if st := k.store.State(); len(st.Credentials) != 0 || len(st.PINHash) != 16 {
		t.Fatalf("after ClearCredentials the store has %d credentials, PIN hash %x", len(st.Credentials), st.PINHash)
	}
	want := []CredentialEventKind{CredentialAdded, CredentialAdded, CredentialAdded, CredentialDeleted, CredentialDeleted, CredentialsCleared}
	if got := log.kinds(); !equalKinds(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestBackupFlags: BE and BS (WebAuthn §6.1) come from the key-wide
// Config.Backup, SetBackupFlags, or a credential's own flags, in both
// makeCredential's and getAssertion's authenticator data; BS without BE is
// refused.
func TestBackupFlags(t *testing.T) {
	k := newTestKey(t, func(c *Config) { c.Backup = BackupFlags{Eligible: true} })
	ctx := context.Background()
	id, ad := k.mustRegister(mcReq("example.com", []byte("u1"), true))
	if !ad.Flags.Has(ctap.FlagBE) || ad.Flags.Has(ctap.FlagBS) {
		t.Fatalf("makeCredential flags %v, want BE without BS", ad.Flags)
	}
	flags := func(allow ...[]byte) ctap.AuthDataFlags {
		t.Helper()
		resp, s := k.getAssertion(gaReq("example.com", allow...))
		if s != ctap.StatusOK {
			t.Fatalf("getAssertion: %v", s)
		}
		ad, err := ctap.ParseAuthData(resp.AuthData)
		if err != nil {
			t.Fatal(err)
		}
		return ad.Flags
	}
	if f := flags(id); f&(ctap.FlagBE|ctap.FlagBS) != ctap.FlagBE {
		t.Fatalf("getAssertion flags %v, want BE", f)
	}
	if err := k.a.SetBackupFlags(BackupFlags{Eligible: true, State: true}); err != nil {
		t.Fatal(err)
	}
	if f := flags(id); f&(ctap.FlagBE|ctap.FlagBS) != ctap.FlagBE|ctap.FlagBS {
		t.Fatalf("after SetBackupFlags: %v, want BE|BS", f)
	}
	other, _ := k.mustRegister(mcReq("example.com", []byte("u2"), false))
	if err := k.a.SetCredentialBackupFlags(other, BackupFlags{}); err != nil {
		t.Fatal(err)
	}
	if f := flags(other); f&(ctap.FlagBE|ctap.FlagBS) != 0 {
		t.Fatalf("credential without backup: %v", f)
	}
	if f := flags(id); f&(ctap.FlagBE|ctap.FlagBS) != ctap.FlagBE|ctap.FlagBS {
		t.Fatalf("the other credential changed too: %v", f)
	}
	creds, err := k.a.Credentials(ctx)
	if err != nil || len(creds) != 1 || creds[0].Backup != (BackupFlags{Eligible: true, State: true}) {
		t.Fatalf("Credentials %+v, %v", creds, err)
	}
	if err := k.a.SetBackupFlags(BackupFlags{State: true}); err == nil {
		t.Fatal("BS without BE accepted")
	}
	if _, err := New(Config{Backup: BackupFlags{State: true}}); err == nil {
		t.Fatal("Config with BS without BE accepted")
	}
}

// TestResetEvents: authenticatorReset reports each discoverable
// credential deleted, then that every credential is gone.
func TestResetEvents(t *testing.T) {
	var log eventLog
	k := newTestKey(t, withEvents(&log))
	k.mustRegister(mcReq("example.com", []byte("u1"), true))
	k.mustRegister(mcReq("example.com", []byte("u2"), false))
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatalf("reset: %v", s)
	}
	want := []CredentialEventKind{CredentialAdded, CredentialAdded, CredentialDeleted, CredentialsCleared}
	if got := log.kinds(); !equalKinds(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestCredentialAddedEvent: makeCredential's credentialAdded event carries
// the credential ID, public key and signature counter of the
// authenticator data it answered with, for each algorithm, discoverable
// or not.
func TestCredentialAddedEvent(t *testing.T) {
	for _, alg := range []int64{ctap.AlgES256, ctap.AlgEdDSA} {
		for _, rk := range []bool{false, true} {
			var log eventLog
			k := newTestKey(t, withEvents(&log))
			k.mustRegister(mcReq("example.com", []byte("u0"), rk, alg)) // the counter moves on
			id, ad := k.mustRegister(mcReq("example.com", []byte("u1"), rk, alg))
			if len(log.evs) != 2 {
				t.Fatalf("alg %d rk %v: %d events", alg, rk, len(log.evs))
			}
			want := CredentialEvent{Kind: CredentialAdded, CredentialID: id, RPID: "example.com",
				RPIDHash: rpHash("example.com"), Resident: rk, SignCount: ad.SignCount, PublicKey: ad.AttestedCredential.PublicKey}
			if rk {
				want.UserID = []byte("u1")
			}
			if diff := cmp.Diff(want, log.evs[1]); diff != "" {
				t.Errorf("alg %d rk %v: event (-want +got):\n%s", alg, rk, diff)
			}
		}
	}
}
