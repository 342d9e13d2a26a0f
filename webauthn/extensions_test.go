package webauthn_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/webauthn"
)

// TestPRF: prf on create enables hmac-secret and evaluates through
// hmac-secret-mc; on get it evaluates through hmac-secret with the salts
// SHA-256("WebAuthn PRF" || 0x00 || input) (WebAuthn §10.1.4): the same
// input gives the same output on create and get, another input another,
// and evalByCredential picks the credential's input. The salt hashing is
// checked against the key directly with client.HmacSecret.
func TestPRF(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	in1, in2 := []byte("first input"), []byte("second input")
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["extensions"] = map[string]any{"prf": map[string]any{"eval": map[string]any{"first": b64(in1), "second": b64(in2)}}}
	})))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
	prf := reg.resp.ClientExtensionResults.PRF
	if prf == nil || prf.Enabled == nil || !*prf.Enabled || prf.Results == nil || len(prf.Results.First) != 32 || len(prf.Results.Second) != 32 {
		t.Fatalf("create prf output %+v", prf)
	}
	mcFirst := prf.Results.First

	get := func(eval map[string]any, byCred map[string]any) *webauthn.PRFOutputs {
		t.Helper()
		p := map[string]any{}
		if eval != nil {
			p["eval"] = eval
		}
		if byCred != nil {
			p["evalByCredential"] = byCred
		}
		out, err := c.Get(ctx, mustJSON(t, request("example.com", [][]byte{[]byte("another credential"), reg.id}, func(m map[string]any) {
			m["extensions"] = map[string]any{"prf": p}
		})))
		if err != nil {
			t.Fatal(err)
		}
		ar, _ := checkAssertion(t, out, origin, "example.com", getChallenge, reg.key)
		return ar.ClientExtensionResults.PRF
	}
	p := get(map[string]any{"first": b64(in1)}, nil)
	if p == nil || p.Results == nil || !bytes.Equal(p.Results.First, mcFirst) || p.Results.Second != nil {
		t.Fatalf("get prf %+v, want the create output %x", p, mcFirst)
	}
	p = get(map[string]any{"first": b64(in2)}, map[string]any{b64(reg.id): map[string]any{"first": b64(in1)}})
	if p == nil || p.Results == nil || !bytes.Equal(p.Results.First, mcFirst) {
		t.Fatalf("evalByCredential did not take precedence: %+v", p)
	}
	p = get(map[string]any{"first": b64(in2)}, nil)
	if p == nil || p.Results == nil || bytes.Equal(p.Results.First, mcFirst) {
		t.Fatalf("another input gave the same output: %+v", p)
	}

	// The salt is the hash of the input: hmac-secret with that salt, sent
	// by hand, gives the same output.
	cp, err := client.NewClientPin(k.c, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := client.NewHmacSecret(cp)
	salt := sha256.Sum256(append([]byte("WebAuthn PRF\x00"), in1...))
	exts, err := hs.GetAssertionExtensions(ctx, salt[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := k.c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: make([]byte, 32),
		AllowList: []ctap.CredentialDescriptor{{Type: "public-key", ID: reg.id}}, Extensions: exts})
	if err != nil {
		t.Fatal(err)
	}
	o1, _, ok, err := hs.Output(r.AuthData)
	if err != nil || !ok || !bytes.Equal(o1, mcFirst) {
		t.Fatalf("hand-made hmac-secret output %x (ok %v, %v), want %x", o1, ok, err, mcFirst)
	}

	// evalByCredential naming no allowed credential is SyntaxError.
	_, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, func(m map[string]any) {
		m["extensions"] = map[string]any{"prf": map[string]any{"evalByCredential": map[string]any{b64([]byte("nope")): map[string]any{"first": b64(in1)}}}}
	})))
	if !errors.Is(err, webauthn.ErrSyntax) {
		t.Fatalf("evalByCredential for an unknown credential: %v, want SyntaxError", err)
	}
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["extensions"] = map[string]any{"prf": map[string]any{"evalByCredential": map[string]any{b64(reg.id): map[string]any{"first": b64(in1)}}}}
	})))
	if !errors.Is(err, webauthn.ErrNotSupported) {
		t.Fatalf("evalByCredential on create: %v, want NotSupportedError", err)
	}
}

// TestLargeBlob: largeBlob support on create gives a largeBlobKey; write
// and read on get store and return the blob (WebAuthn §10.1.5, CTAP 2.1
// §6.10); read and write together is NotSupportedError.
func TestLargeBlob(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["authenticatorSelection"] = map[string]any{"residentKey": "required"}
		m["extensions"] = map[string]any{"largeBlob": map[string]any{"support": "required"}}
	})))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
	if lb := reg.resp.ClientExtensionResults.LargeBlob; lb == nil || lb.Supported == nil || !*lb.Supported {
		t.Fatalf("largeBlob output %+v", lb)
	}
	blob := bytes.Repeat([]byte("certificate "), 40)
	out, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, func(m map[string]any) {
		m["extensions"] = map[string]any{"largeBlob": map[string]any{"write": b64(blob)}}
	})))
	if err != nil {
		t.Fatal(err)
	}
	ar, _ := checkAssertion(t, out, origin, "example.com", getChallenge, reg.key)
	if lb := ar.ClientExtensionResults.LargeBlob; lb == nil || lb.Written == nil || !*lb.Written {
		t.Fatalf("write output %+v", lb)
	}
	out, err = c.Get(ctx, mustJSON(t, request("example.com", nil, func(m map[string]any) {
		m["extensions"] = map[string]any{"largeBlob": map[string]any{"read": true}}
	})))
	if err != nil {
		t.Fatal(err)
	}
	ar, _ = checkAssertion(t, out, origin, "example.com", getChallenge, reg.key)
	if lb := ar.ClientExtensionResults.LargeBlob; lb == nil || !bytes.Equal(lb.Blob, blob) {
		t.Fatalf("read output %+v", lb)
	}
	_, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, func(m map[string]any) {
		m["extensions"] = map[string]any{"largeBlob": map[string]any{"read": true, "write": b64(blob)}}
	})))
	if !errors.Is(err, webauthn.ErrNotSupported) {
		t.Fatalf("read and write: %v, want NotSupportedError", err)
	}
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["extensions"] = map[string]any{"largeBlob": map[string]any{"read": true}}
	})))
	if !errors.Is(err, webauthn.ErrNotSupported) {
		t.Fatalf("read on create: %v, want NotSupportedError", err)
	}
}

// TestCredBlobCredProtectMinPinLength: credBlob is stored and read back
// with getCredBlob (CTAP 2.1 §12.2); credentialProtectionPolicy
// userVerificationRequired keeps the credential from a login without UV
// (§12.1); minPinLength is sent and answered in the authenticator data
// (§12.4).
func TestCredBlobCredProtectMinPinLength(t *testing.T) {
	k := newKey(t, authenticator.Config{BuiltInUV: true}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["authenticatorSelection"] = map[string]any{"residentKey": "required"}
		m["extensions"] = map[string]any{
			"credBlob":                          b64([]byte("blob!")),
			"credentialProtectionPolicy":        "userVerificationRequired",
			"enforceCredentialProtectionPolicy": true,
		}
	})))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
	if cb := reg.resp.ClientExtensionResults.CredBlob; cb == nil || !*cb {
		t.Fatalf("credBlob output %v", cb)
	}
	ar := &client.AttestationResponse{AuthData: reg.ad}
	co, err := ar.CredentialExtensions()
	if err != nil || co.CredProtect != client.UserVerificationRequired {
		t.Fatalf("credProtect output %+v, %v", co, err)
	}
	out, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, func(m map[string]any) {
		m["extensions"] = map[string]any{"getCredBlob": true}
	})))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := checkAssertion(t, out, origin, "example.com", getChallenge, reg.key)
	if cb := got.ClientExtensionResults.GetCredBlob; cb == nil || string(*cb) != "blob!" {
		t.Fatalf("getCredBlob %v", cb)
	}
	_, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, func(m map[string]any) {
		m["userVerification"] = "discouraged"
	})))
	if !errors.Is(err, webauthn.ErrNotAllowed) || !errors.Is(err, ctap.StatusNoCredentials) {
		t.Fatalf("login without UV to a userVerificationRequired credential: %v", err)
	}
}

// TestU2FOnly: on a CTAP1/U2F-only key, create() gives a fido-u2f
// attestation (CTAP 2.1 §10.2, WebAuthn §8.6) and get() a U2F signature
// (§10.3); a credential registered under an AppID is used with the appid
// extension (WebAuthn §10.1.1), and excludeCredentials works.
func TestU2FOnly(t *testing.T) {
	k := newKey(t, authenticator.Config{}, &ctaphid.ServerConfig{U2FOnly: true})
	c := k.client(t, origin)
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["attestation"] = "direct"
		m["extensions"] = map[string]any{"credProps": true}
	})))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, k.a.AttestationRoots())
	if reg.fmt != "fido-u2f" || *reg.resp.ClientExtensionResults.CredProps.RK {
		t.Fatalf("fmt %s credProps %+v", reg.fmt, reg.resp.ClientExtensionResults.CredProps)
	}
	out, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	checkAssertion(t, out, origin, "example.com", getChallenge, reg.key)
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["excludeCredentials"] = []any{map[string]any{"type": "public-key", "id": b64(reg.id)}}
	})))
	if !errors.Is(err, webauthn.ErrInvalidState) {
		t.Fatalf("excluded: %v, want InvalidStateError", err)
	}

	// A credential a U2F site registered under its AppID.
	appid := "https://login.example.com/u2f-app-id.json"
	app := sha256.Sum256([]byte(appid))
	u2f := client.NewCtap1(k.dev)
	rd, err := u2f.Register(ctx, make([]byte, 32), app[:])
	if err != nil {
		t.Fatal(err)
	}
	legacyKey, err := rd.COSEKey()
	if err != nil {
		t.Fatal(err)
	}
	out, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{rd.KeyHandle}, func(m map[string]any) {
		m["extensions"] = map[string]any{"appid": appid}
	})))
	if err != nil {
		t.Fatal(err)
	}
	ar, _ := checkAssertion(t, out, origin, appid, getChallenge, legacyKey)
	if a := ar.ClientExtensionResults.AppID; a == nil || !*a {
		t.Fatalf("appid output %v", a)
	}
}

// TestAppIDOnCTAP2: on a CTAP2 key the appid extension finds a credential
// registered with U2F under the AppID by a silent probe and signs under
// the AppID; the output says so, and is false for a credential of the RP
// ID.
func TestAppIDOnCTAP2(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	appid := "https://example.com/appid"
	app := sha256.Sum256([]byte(appid))
	rd, err := client.NewCtap1(k.dev).Register(ctx, make([]byte, 32), app[:])
	if err != nil {
		t.Fatal(err)
	}
	legacyKey, err := rd.COSEKey()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Get(ctx, mustJSON(t, request("example.com", [][]byte{rd.KeyHandle}, func(m map[string]any) {
		m["extensions"] = map[string]any{"appid": appid}
	})))
	if err != nil {
		t.Fatal(err)
	}
	ar, _ := checkAssertion(t, out, origin, appid, getChallenge, legacyKey)
	if a := ar.ClientExtensionResults.AppID; a == nil || !*a {
		t.Fatalf("appid output %v", a)
	}
	_, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{rd.KeyHandle}, func(m map[string]any) {
		m["extensions"] = map[string]any{"appid": "https://evil.example.net/appid"}
	})))
	if !errors.Is(err, webauthn.ErrSecurity) {
		t.Fatalf("foreign appid: %v, want SecurityError", err)
	}
}

// TestEnterpriseAttestation: attestation "enterprise" (§5.4.7, CTAP 2.1
// §7.1) asks for platform-managed enterprise attestation for the RP IDs of
// WithEnterpriseAttestation and vendor-facilitated for others; an answer
// without epAtt, and any request on a key without ep, is conveyed as none.
func TestEnterpriseAttestation(t *testing.T) {
	k := newKey(t, authenticator.Config{EnterpriseRPIDs: []string{"vendor.example"}}, nil)
	ctx := context.Background()
	create := func(c *webauthn.Client, rpID string) *registered {
		t.Helper()
		out, err := c.Create(ctx, mustJSON(t, creation(rpID, "alice", func(m map[string]any) { m["attestation"] = "enterprise" })))
		if err != nil {
			t.Fatal(err)
		}
		return checkRegistration(t, out, "https://"+rpID, rpID, createChallenge, k.a.AttestationRoots())
	}
	managed := k.client(t, "https://corp.example", webauthn.WithEnterpriseAttestation("corp.example"))
	if r := create(managed, "corp.example"); r.fmt != "none" {
		t.Fatalf("enterprise on a key without ep: fmt %s, want none", r.fmt)
	}
	// Enable ep with authenticatorConfig (needs a PIN token, CTAP 2.1 §6.11).
	k.setPIN(t, "123456")
	cp, err := client.NewClientPin(k.c, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cp.GetPinToken(ctx, "123456", ctap.PermissionAuthenticatorConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := client.NewConfig(k.c, cp.Protocol(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnableEnterpriseAttestation(ctx); err != nil {
		t.Fatal(err)
	}
	pin := webauthn.WithPIN(func(context.Context, int) (string, error) { return "123456", nil })
	managed = k.client(t, "https://corp.example", webauthn.WithEnterpriseAttestation("corp.example"), pin)
	if r := create(managed, "corp.example"); r.fmt != "packed" || len(r.stmt.X5C) == 0 {
		t.Fatalf("platform-managed: fmt %s", r.fmt)
	}
	vendor := k.client(t, "https://vendor.example", pin)
	if r := create(vendor, "vendor.example"); r.fmt != "packed" || len(r.stmt.X5C) == 0 {
		t.Fatalf("vendor-facilitated for a listed RP ID: fmt %s", r.fmt)
	}
	other := k.client(t, "https://other.example", pin)
	if r := create(other, "other.example"); r.fmt != "none" {
		t.Fatalf("vendor-facilitated for an unlisted RP ID: fmt %s, want none", r.fmt)
	}
}
