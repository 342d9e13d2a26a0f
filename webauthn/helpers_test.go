package webauthn_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/webauthn"
)

// user is the key's user: it touches (or declines, or never answers) and
// passes built-in UV, and counts requests.
type user struct {
	mu      sync.Mutex
	deny    bool
	wait    bool
	uvFail  bool
	touches int
	uvs     int
}

func (u *user) Touch(ctx context.Context, req authenticator.TouchRequest) error {
	u.mu.Lock()
	u.touches++
	deny, wait := u.deny, u.wait
	u.mu.Unlock()
	switch {
	case wait:
		<-ctx.Done()
		return ctx.Err()
	case deny:
		return ctap.StatusOperationDenied
	}
	return nil
}

func (u *user) VerifyUser(ctx context.Context, req authenticator.UVRequest) error {
	u.mu.Lock()
	u.uvs++
	fail := u.uvFail
	u.mu.Unlock()
	if fail {
		return ctap.StatusUVInvalid
	}
	return nil
}

func (u *user) counts() (touches, uvs int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.touches, u.uvs
}

// seededRand is a deterministic reader for a test's key.
type seededRand struct {
	mu  sync.Mutex
	ctr uint64
	buf []byte
	s   string
}

func (r *seededRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := 0; n < len(p); {
		if len(r.buf) == 0 {
			h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", r.s, r.ctr))
			r.ctr++
			r.buf = h[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return len(p), nil
}

type testKey struct {
	a    *authenticator.Authenticator
	c    *client.Ctap2
	dev  *client.Device
	user *user
}

// newKey starts an in-process key with cfg behind CTAPHID framing.
func newKey(t *testing.T, cfg authenticator.Config, srv *ctaphid.ServerConfig) *testKey {
	t.Helper()
	u := &user{}
	cfg.Presence = u
	cfg.Rand = &seededRand{s: t.Name()}
	a, err := authenticator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dev, err := client.OpenInProcess(ctx, a, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	k := &testKey{a: a, dev: dev, user: u}
	if srv == nil || !srv.U2FOnly {
		if k.c, err = client.New(ctx, dev); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func (k *testKey) client(t *testing.T, origin string, opts ...webauthn.Option) *webauthn.Client {
	t.Helper()
	c, err := webauthn.Open(context.Background(), k.dev, origin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setPIN sets the key's PIN.
func (k *testKey) setPIN(t *testing.T, pin string) {
	t.Helper()
	cp, err := client.NewClientPin(k.c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.SetPIN(context.Background(), pin); err != nil {
		t.Fatal(err)
	}
	if _, err := k.c.GetInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func creation(rpID string, userID string, mod func(m map[string]any)) map[string]any {
	m := map[string]any{
		"rp":               map[string]any{"id": rpID, "name": "Example"},
		"user":             map[string]any{"id": b64([]byte(userID)), "name": userID, "displayName": "User " + userID},
		"challenge":        b64([]byte("create-challenge-0123456789abcdef")),
		"pubKeyCredParams": []any{map[string]any{"type": "public-key", "alg": -7}},
	}
	if rpID == "" {
		delete(m["rp"].(map[string]any), "id")
	}
	if mod != nil {
		mod(m)
	}
	return m
}

func request(rpID string, allow [][]byte, mod func(m map[string]any)) map[string]any {
	m := map[string]any{"challenge": b64([]byte("get-challenge-0123456789abcdef")), "rpId": rpID}
	if len(allow) > 0 {
		var l []any
		for _, id := range allow {
			l = append(l, map[string]any{"type": "public-key", "id": b64(id)})
		}
		m["allowCredentials"] = l
	}
	if mod != nil {
		mod(m)
	}
	return m
}

// registered is what a relying party keeps of a registration it checked.
type registered struct {
	resp   webauthn.RegistrationResponseJSON
	id     []byte
	key    ctap.COSEKey
	ad     *ctap.AuthData
	fmt    string
	stmt   ctap.AttestationStatement
	rawObj map[string]ctap.RawMessage
}

// checkRegistration is a relying party's §7.1 steps that matter here:
// clientDataJSON type, challenge and origin; the attestation object's
// rpIdHash; the attestation statement verified with roots (nil: none
// accepted only).
func checkRegistration(t *testing.T, out []byte, origin, rpID string, challenge []byte, roots *x509.CertPool) *registered {
	t.Helper()
	var r registered
	if err := json.Unmarshal(out, &r.resp); err != nil {
		t.Fatalf("response: %v\n%s", err, out)
	}
	var cd struct{ Type, Challenge, Origin string }
	if err := json.Unmarshal(r.resp.Response.ClientDataJSON, &cd); err != nil {
		t.Fatal(err)
	}
	if cd.Type != "webauthn.create" || cd.Challenge != b64(challenge) || cd.Origin != origin {
		t.Fatalf("clientData %s", r.resp.Response.ClientDataJSON)
	}
	if err := ctap.Unmarshal(r.resp.Response.AttestationObject, &r.rawObj); err != nil {
		t.Fatal(err)
	}
	var adRaw []byte
	if err := ctap.Unmarshal(r.rawObj["fmt"], &r.fmt); err != nil {
		t.Fatal(err)
	}
	if err := ctap.Unmarshal(r.rawObj["authData"], &adRaw); err != nil {
		t.Fatal(err)
	}
	if err := ctap.Unmarshal(r.rawObj["attStmt"], &r.stmt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(adRaw, r.resp.Response.AuthenticatorData) {
		t.Fatal("authenticatorData differs from the attestation object's authData")
	}
	ad, err := ctap.ParseAuthData(adRaw)
	if err != nil {
		t.Fatal(err)
	}
	if ad.RPIDHash != sha256.Sum256([]byte(rpID)) {
		t.Fatal("rpIdHash is not SHA-256 of the RP ID")
	}
	ar := &client.AttestationResponse{Fmt: r.fmt, AuthData: ad, AuthDataRaw: adRaw, AttStmt: r.stmt, AttStmtRaw: r.rawObj["attStmt"]}
	cdh := sha256.Sum256(r.resp.Response.ClientDataJSON)
	if err := ar.Verify(cdh[:], roots); err != nil {
		t.Fatalf("attestation %s: %v", r.fmt, err)
	}
	r.ad, r.id, r.key = ad, ad.AttestedCredential.CredentialID, ad.AttestedCredential.PublicKey
	if r.resp.ID != b64(r.id) || !bytes.Equal(r.resp.RawID, r.id) || r.resp.Type != "public-key" {
		t.Fatalf("id %q rawId %x type %q", r.resp.ID, r.resp.RawID, r.resp.Type)
	}
	return &r
}

// checkAssertion is a relying party's §7.2 checks: clientDataJSON,
// rpIdHash and the signature with the registered key.
func checkAssertion(t *testing.T, out []byte, origin, rpID string, challenge []byte, key ctap.COSEKey) (*webauthn.AuthenticationResponseJSON, *ctap.AuthData) {
	t.Helper()
	var r webauthn.AuthenticationResponseJSON
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("response: %v\n%s", err, out)
	}
	var cd struct{ Type, Challenge, Origin string }
	if err := json.Unmarshal(r.Response.ClientDataJSON, &cd); err != nil {
		t.Fatal(err)
	}
	if cd.Type != "webauthn.get" || cd.Challenge != b64(challenge) || cd.Origin != origin {
		t.Fatalf("clientData %s", r.Response.ClientDataJSON)
	}
	ad, err := ctap.ParseAuthData(r.Response.AuthenticatorData)
	if err != nil {
		t.Fatal(err)
	}
	if ad.RPIDHash != sha256.Sum256([]byte(rpID)) {
		t.Fatal("rpIdHash is not SHA-256 of the RP ID")
	}
	cdh := sha256.Sum256(r.Response.ClientDataJSON)
	ar := &client.AssertionResponse{AuthDataRaw: r.Response.AuthenticatorData, Signature: r.Response.Signature}
	if err := ar.Verify(cdh[:], key); err != nil {
		t.Fatal(err)
	}
	return &r, ad
}
