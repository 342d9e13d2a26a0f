package virtkeytest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/webauthn"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func createJSON(user string, rk bool) []byte {
	sel := map[string]any{"residentKey": "discouraged"}
	if rk {
		sel["residentKey"] = "required"
	}
	b, _ := json.Marshal(map[string]any{"publicKey": map[string]any{
		"rp":                     map[string]any{"id": "example.com", "name": "Example"},
		"user":                   map[string]any{"id": b64([]byte(user)), "name": user, "displayName": user},
		"challenge":              b64([]byte("challenge-challenge")),
		"pubKeyCredParams":       []any{map[string]any{"type": "public-key", "alg": -7}},
		"authenticatorSelection": sel,
	}})
	return b
}

func getJSON(allow ...[]byte) []byte {
	m := map[string]any{"challenge": b64([]byte("challenge-challenge")), "rpId": "example.com"}
	var l []any
	for _, id := range allow {
		l = append(l, map[string]any{"type": "public-key", "id": b64(id)})
	}
	if l != nil {
		m["allowCredentials"] = l
	}
	b, _ := json.Marshal(map[string]any{"publicKey": m})
	return b
}

// authData returns the authenticator data of a response JSON.
func authData(t *testing.T, out []byte) *ctap.AuthData {
	t.Helper()
	var r struct {
		Response struct {
			AuthenticatorData webauthn.Base64URL `json:"authenticatorData"`
		} `json:"response"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	ad, err := ctap.ParseAuthData(r.Response.AuthenticatorData)
	if err != nil {
		t.Fatal(err)
	}
	return ad
}

// TestTwoKeysShareNothing: two keys in one test have different master
// secrets, attestation keys and credential keys; neither signs for the
// other's credentials; and a given Config.Rand is used, not replaced.
func TestTwoKeysShareNothing(t *testing.T) {
	ctx := context.Background()
	k1, k2 := New(t, authenticator.Config{}), New(t, authenticator.Config{})
	s1, s2 := k1.Store().State(), k2.Store().State()
	if bytes.Equal(s1.MasterSecret, s2.MasterSecret) || bytes.Equal(s1.Attestation.CAKey, s2.Attestation.CAKey) ||
		bytes.Equal(s1.Attestation.Key, s2.Attestation.Key) || bytes.Equal(s1.Attestation.CACert, s2.Attestation.CACert) {
		t.Fatal("two keys share a master secret or attestation keys")
	}
	w1, w2 := k1.WebAuthn("https://example.com"), k2.WebAuthn("https://example.com")
	var ids [2][]byte
	var pubs [2]ctap.COSEKey
	for i, w := range []*webauthn.Client{w1, w2} {
		out, err := w.Create(ctx, createJSON("alice", false))
		if err != nil {
			t.Fatal(err)
		}
		ad := authData(t, out)
		ids[i], pubs[i] = ad.AttestedCredential.CredentialID, ad.AttestedCredential.PublicKey
	}
	if bytes.Equal(ids[0], ids[1]) || bytes.Equal(pubs[0].X, pubs[1].X) {
		t.Fatal("the same request gave the same credential on both keys")
	}
	if _, err := w2.Get(ctx, getJSON(ids[0])); !errors.Is(err, webauthn.ErrNotAllowed) || !errors.Is(err, ctap.StatusNoCredentials) {
		t.Fatalf("key 2 with key 1's credential: %v, want NotAllowedError (NO_CREDENTIALS)", err)
	}
	if _, err := w1.Get(ctx, getJSON(ids[0])); err != nil {
		t.Fatal(err)
	}

	// A given Rand is honoured: two keys with the same seeded Rand are
	// the same key, which is what the test asked for.
	k3 := New(t, authenticator.Config{Rand: NewRand("fixed")})
	k4 := New(t, authenticator.Config{Rand: NewRand("fixed")})
	if !bytes.Equal(k3.Store().State().MasterSecret, k4.Store().State().MasterSecret) {
		t.Fatal("Config.Rand was not used")
	}
	if bytes.Equal(k3.Store().State().MasterSecret, s1.MasterSecret) {
		t.Fatal("Config.Rand was ignored")
	}
}

// TestKeysDifferAcrossTests: keys of different tests differ, and the
// same test's first key is the same on every run (seeded from the name).
func TestKeysDifferAcrossTests(t *testing.T) {
	var secrets [][]byte
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			secrets = append(secrets, New(t, authenticator.Config{}).Store().State().MasterSecret)
		})
	}
	if bytes.Equal(secrets[0], secrets[1]) {
		t.Fatal("two tests' keys are clones")
	}
	again := NewTarget(authenticator.Config{}, false)
	again.Seed = t.Name() + "/0#1" // the first key of subtest 0
	if _, err := again.Key(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Store().State().MasterSecret, secrets[0]) {
		t.Fatal("a key is not reproducible from its test's name")
	}
}

// TestCredentialControls adds credentials with given keys, lists them
// with sign counts, removes one and clears all, with events a test waits
// on, and a WebAuthn login with an added credential.
func TestCredentialControls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := New(t, authenticator.Config{})
	w := k.WebAuthn("https://login.example.com")
	priv, err := ecdsa.GenerateKey(elliptic.P256(), NewRand("imported key"))
	if err != nil {
		t.Fatal(err)
	}
	rid := k.AddCredential(authenticator.ImportedCredential{RPID: "example.com", Resident: true, UserID: []byte("u-imported"),
		UserName: "imported", PrivateKey: priv})
	if ev, err := k.WaitEvent(ctx, authenticator.CredentialAdded); err != nil || !bytes.Equal(ev.CredentialID, rid) || !ev.Resident {
		t.Fatalf("added event %+v, %v", ev, err)
	}
	nid := k.AddCredential(authenticator.ImportedCredential{RPID: "example.com", PrivateKey: priv})
	out, err := w.Create(ctx, createJSON("made", false))
	if err != nil {
		t.Fatal(err)
	}
	made := authData(t, out).AttestedCredential.CredentialID
	// Log in with the imported discoverable credential; the RP checks
	// the signature with the key it gave.
	out, err = w.Get(ctx, getJSON())
	if err != nil {
		t.Fatal(err)
	}
	var ar webauthn.AuthenticationResponseJSON
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	pub, _ := ctap.NewCOSEKey(ctap.AlgES256, &priv.PublicKey)
	cdh := sha256.Sum256(ar.Response.ClientDataJSON)
	resp := &client.AssertionResponse{AuthDataRaw: ar.Response.AuthenticatorData, Signature: ar.Response.Signature}
	if err := resp.Verify(cdh[:], pub); err != nil || !bytes.Equal(ar.RawID, rid) || string(ar.Response.UserHandle) != "u-imported" {
		t.Fatalf("login with the imported credential: %v, %s", err, out)
	}
	ev, err := k.WaitEvent(ctx, authenticator.CredentialAsserted)
	if err != nil || !bytes.Equal(ev.CredentialID, rid) {
		t.Fatalf("asserted event %+v, %v", ev, err)
	}
	if _, err := w.Get(ctx, getJSON(nid)); err != nil {
		t.Fatal(err)
	}

	creds := k.Credentials()
	if len(creds) != 3 || !bytes.Equal(creds[0].ID, rid) || !bytes.Equal(creds[1].ID, nid) || !bytes.Equal(creds[2].ID, made) {
		t.Fatalf("Credentials: %d", len(creds))
	}
	if creds[0].SignCount != ev.SignCount || creds[1].SignCount <= creds[0].SignCount || creds[2].SignCount == 0 ||
		creds[0].UserName != "imported" || creds[1].Resident || !creds[0].Resident {
		t.Fatalf("Credentials %+v", creds)
	}

	if err := k.RemoveCredential(nid); !errors.Is(err, authenticator.ErrNotDiscoverable) {
		t.Fatalf("removing a non-discoverable credential: %v", err)
	}
	if err := k.RemoveCredential(rid); err != nil {
		t.Fatal(err)
	}
	if ev, err := k.WaitEvent(ctx, authenticator.CredentialDeleted); err != nil || !bytes.Equal(ev.CredentialID, rid) {
		t.Fatalf("deleted event %+v, %v", ev, err)
	}
	if _, err := w.Get(ctx, getJSON()); !errors.Is(err, webauthn.ErrNotAllowed) {
		t.Fatalf("login after the removal: %v", err)
	}
	if n := len(k.Credentials()); n != 2 {
		t.Fatalf("%d credentials after the removal", n)
	}
	k.ClearCredentials()
	if n := len(k.Credentials()); n != 0 {
		t.Fatalf("%d credentials after ClearCredentials", n)
	}
	for _, id := range [][]byte{nid, made} {
		if _, err := w.Get(ctx, getJSON(id)); !errors.Is(err, ctap.StatusNoCredentials) {
			t.Fatalf("login after ClearCredentials: %v", err)
		}
	}
	// The events a test waits on survive a power cycle.
	if err := k.PowerCycle(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(ctx, createJSON("after", true)); err != nil {
		t.Fatal(err)
	}
	if ev, err := k.WaitEvent(ctx, authenticator.CredentialAdded); err != nil || !ev.Resident {
		t.Fatalf("event after a power cycle %+v, %v", ev, err)
	}
}

// TestBackupFlagsControl: BE/BS per key (Config.Backup, SetBackupFlags)
// and per credential reach the relying party in the authenticator data
// (WebAuthn §6.1), and Credentials reports them.
func TestBackupFlagsControl(t *testing.T) {
	ctx := context.Background()
	k := New(t, authenticator.Config{Backup: authenticator.BackupFlags{Eligible: true, State: true}})
	w := k.WebAuthn("https://example.com")
	out, err := w.Create(ctx, createJSON("synced", true))
	if err != nil {
		t.Fatal(err)
	}
	ad := authData(t, out)
	if f := ad.Flags & (ctap.FlagBE | ctap.FlagBS); f != ctap.FlagBE|ctap.FlagBS {
		t.Fatalf("create flags %v, want BE|BS", ad.Flags)
	}
	id := ad.AttestedCredential.CredentialID
	if err := k.SetCredentialBackupFlags(id, authenticator.BackupFlags{Eligible: true}); err != nil {
		t.Fatal(err)
	}
	out, err = w.Get(ctx, getJSON(id))
	if err != nil {
		t.Fatal(err)
	}
	if f := authData(t, out).Flags & (ctap.FlagBE | ctap.FlagBS); f != ctap.FlagBE {
		t.Fatalf("get flags %v, want BE (not backed up any more)", f)
	}
	if c := k.Credentials(); len(c) != 1 || c[0].Backup != (authenticator.BackupFlags{Eligible: true}) {
		t.Fatalf("Credentials %+v", c)
	}
	if err := k.SetBackupFlags(authenticator.BackupFlags{}); err != nil {
		t.Fatal(err)
	}
	out, err = w.Create(ctx, createJSON("device-bound", false))
	if err != nil {
		t.Fatal(err)
	}
	if f := authData(t, out).Flags & (ctap.FlagBE | ctap.FlagBS); f != 0 {
		t.Fatalf("device-bound credential flags %v", f)
	}
	if err := k.SetBackupFlags(authenticator.BackupFlags{State: true}); err == nil {
		t.Fatal("BS without BE accepted")
	}
}

// TestUserVerifiedControl: SetUserVerified(false) makes built-in UV fail,
// so a login that requires UV is NotAllowedError.
func TestUserVerifiedControl(t *testing.T) {
	ctx := context.Background()
	k := New(t, authenticator.Config{BuiltInUV: true})
	w := k.WebAuthn("https://example.com")
	out, err := w.Create(ctx, createJSON("alice", true))
	if err != nil {
		t.Fatal(err)
	}
	if !authData(t, out).Flags.Has(ctap.FlagUV) {
		t.Fatal("no UV with a matching user")
	}
	if err := k.SetUserVerified(false); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]any{"challenge": "YWJj", "rpId": "example.com", "userVerification": "required"})
	if _, err := w.Get(ctx, req); !errors.Is(err, webauthn.ErrNotAllowed) || !errors.Is(err, ctap.StatusUVInvalid) {
		t.Fatalf("UV not matching: %v", err)
	}
}

// TestEventsKeepRecent: past maxEvents, Events returns the last maxEvents
// and WaitEvent goes on from where it was, over the events still held.
func TestEventsKeepRecent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEvents(&authenticator.Config{})
	k := &Key{events: e}
	ev := func(i int) authenticator.CredentialEvent {
		kind := authenticator.CredentialAsserted
		if i%3 == 0 {
			kind = authenticator.CredentialAdded
		}
		return authenticator.CredentialEvent{Kind: kind, SignCount: uint32(i)}
	}
	e.add(ev(0))
	if got, err := k.WaitEvent(ctx, authenticator.CredentialAdded); err != nil || got.SignCount != 0 {
		t.Fatalf("WaitEvent = %+v, %v; want event 0", got, err)
	}
	const n = 2*maxEvents + 5
	var want []authenticator.CredentialEvent
	for i := 1; i < n; i++ {
		e.add(ev(i))
		want = append(want, ev(i))
	}
	if diff := cmp.Diff(want[len(want)-maxEvents:], k.Events()); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
	// The oldest Added event still held, then the next.
	first := e.first
	for first%3 != 0 {
		first++
	}
	for _, w := range []int{first, first + 3} {
		if got, err := k.WaitEvent(ctx, authenticator.CredentialAdded); err != nil || got.SignCount != uint32(w) {
			t.Fatalf("WaitEvent = %+v, %v; want event %d", got, err, w)
		}
	}
	if got, err := k.WaitEvent(ctx, authenticator.CredentialAsserted); err != nil || got.SignCount != uint32(first+4) {
		t.Fatalf("WaitEvent = %+v, %v; want event %d", got, err, first+4)
	}
}
