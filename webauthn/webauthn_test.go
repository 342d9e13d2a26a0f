package webauthn_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/webauthn"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

var (
	createChallenge = []byte("create-challenge-0123456789abcdef")
	getChallenge    = []byte("get-challenge-0123456789abcdef")
)

const origin = "https://login.example.com"

// TestSecurityKey registers a non-discoverable credential with direct
// attestation (packed, x5c verified against the key's CA) and logs in
// with it (WebAuthn §5.1.3, §5.1.4, §7.1, §7.2).
func TestSecurityKey(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["attestation"] = "direct"
	})))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, k.a.AttestationRoots())
	if reg.fmt != "packed" || len(reg.stmt.X5C) != 1 || reg.ad.AttestedCredential.AAGUID != k.a.AAGUID() {
		t.Fatalf("fmt %s x5c %d aaguid %x", reg.fmt, len(reg.stmt.X5C), reg.ad.AttestedCredential.AAGUID)
	}
	if !reg.ad.Flags.Has(ctap.FlagUP) || reg.ad.Flags.Has(ctap.FlagUV) {
		t.Fatalf("flags %v, want UP without UV", reg.ad.Flags)
	}
	r := reg.resp
	if r.AuthenticatorAttachment != "cross-platform" || r.Response.PublicKeyAlgorithm != ctap.AlgES256 ||
		len(r.Response.PublicKey) == 0 || len(r.Response.Transports) != 1 || r.Response.Transports[0] != "usb" {
		t.Fatalf("response %s", out)
	}
	// The member names and order of toJSON() (§5.1.1).
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(out, &shape); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"id", "rawId", "response", "authenticatorAttachment", "clientExtensionResults", "type"} {
		if _, ok := shape[m]; !ok {
			t.Errorf("member %s missing from %s", m, out)
		}
	}
	if string(shape["clientExtensionResults"]) != "{}" {
		t.Errorf("clientExtensionResults %s, want {}", shape["clientExtensionResults"])
	}
	wantCD := `{"type":"webauthn.create","challenge":"` + b64(createChallenge) + `","origin":"https://login.example.com","crossOrigin":false}`
	if string(r.Response.ClientDataJSON) != wantCD {
		t.Errorf("clientDataJSON\n got %s\nwant %s", r.Response.ClientDataJSON, wantCD)
	}

	out, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ar, ad := checkAssertion(t, out, origin, "example.com", getChallenge, reg.key)
	if ar.ID != b64(reg.id) || ar.Response.UserHandle != nil || !ad.Flags.Has(ctap.FlagUP) || ad.Flags.Has(ctap.FlagUV) {
		t.Fatalf("assertion %s flags %v", out, ad.Flags)
	}
	if ad.SignCount <= reg.ad.SignCount {
		t.Errorf("signCount %d after %d", ad.SignCount, reg.ad.SignCount)
	}
}

// TestAttestationNone: attestation "none" (and absent, the default)
// replaces the statement with the none format and zeroes the AAGUID
// (§5.1.3 step 22, §8.7).
func TestAttestationNone(t *testing.T) {
	for _, conv := range []string{"none", "", "unknown-value"} {
		t.Run(conv, func(t *testing.T) {
			k := newKey(t, authenticator.Config{}, nil)
			c := k.client(t, origin)
			out, err := c.Create(context.Background(), mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
				if conv != "" {
					m["attestation"] = conv
				}
			})))
			if err != nil {
				t.Fatal(err)
			}
			reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
			if reg.fmt != "none" || string(reg.rawObj["attStmt"]) != "\xa0" || reg.ad.AttestedCredential.AAGUID != [16]byte{} {
				t.Fatalf("fmt %q attStmt %x aaguid %x", reg.fmt, reg.rawObj["attStmt"], reg.ad.AttestedCredential.AAGUID)
			}
		})
	}
}

// TestWrappedOptions accepts {"publicKey": …} as Syncthing and
// go-webauthn send it, with rp.id defaulting to the effective domain.
func TestWrappedOptions(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, "http://localhost:8384")
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, map[string]any{"publicKey": creation("", "bob", nil)}))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, "http://localhost:8384", "localhost", createChallenge, nil)
	out, err = c.Get(ctx, mustJSON(t, map[string]any{"publicKey": request("localhost", [][]byte{reg.id}, nil)}))
	if err != nil {
		t.Fatal(err)
	}
	checkAssertion(t, out, "http://localhost:8384", "localhost", getChallenge, reg.key)
}

// TestPasskey registers two discoverable credentials and logs in without
// allowCredentials, with the account chooser picking among them
// (§5.1.4, CTAP 2.1 §6.2.2, §6.3), and with built-in UV.
func TestPasskey(t *testing.T) {
	k := newKey(t, authenticator.Config{BuiltInUV: true}, nil)
	var offered []webauthn.Account
	c := k.client(t, origin, webauthn.WithAccountChooser(func(ctx context.Context, accounts []webauthn.Account) (int, error) {
		offered = accounts
		for i, a := range accounts {
			if a.Name == "alice" {
				return i, nil
			}
		}
		return 0, errors.New("alice not offered")
	}))
	ctx := context.Background()
	keys := map[string]*registered{}
	for _, name := range []string{"alice", "bob"} {
		out, err := c.Create(ctx, mustJSON(t, creation("example.com", name, func(m map[string]any) {
			m["authenticatorSelection"] = map[string]any{"residentKey": "required", "userVerification": "required"}
			m["extensions"] = map[string]any{"credProps": true}
		})))
		if err != nil {
			t.Fatal(err)
		}
		reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
		if !reg.ad.Flags.Has(ctap.FlagUV) {
			t.Fatalf("flags %v, want UV", reg.ad.Flags)
		}
		if cp := reg.resp.ClientExtensionResults.CredProps; cp == nil || cp.RK == nil || !*cp.RK {
			t.Fatalf("credProps %+v, want rk true", cp)
		}
		keys[name] = reg
	}
	out, err := c.Get(ctx, mustJSON(t, request("example.com", nil, func(m map[string]any) {
		m["userVerification"] = "required"
	})))
	if err != nil {
		t.Fatal(err)
	}
	ar, ad := checkAssertion(t, out, origin, "example.com", getChallenge, keys["alice"].key)
	if len(offered) != 2 || string(ar.Response.UserHandle) != "alice" || ar.ID != b64(keys["alice"].id) || !ad.Flags.Has(ctap.FlagUV) {
		t.Fatalf("offered %d accounts, got %s", len(offered), out)
	}
	if _, uvs := k.user.counts(); uvs != 3 {
		t.Errorf("%d built-in UV requests, want 3", uvs)
	}
}

// TestPIN: a PIN-protected key: a discoverable credential with
// userVerification "preferred" asks for the PIN through WithPIN and gets
// a UV token (CTAP 2.1 §6.5.5.7); a wrong PIN is asked again; with no way
// to ask, the ceremony is NotAllowedError wrapping PUAT_REQUIRED.
func TestPIN(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	k.setPIN(t, "123456")
	var asked []int
	pins := []string{"000000", "123456"}
	c := k.client(t, origin, webauthn.WithPIN(func(ctx context.Context, retries int) (string, error) {
		asked = append(asked, retries)
		p := pins[0]
		pins = pins[1:]
		return p, nil
	}))
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "carol", func(m map[string]any) {
		m["authenticatorSelection"] = map[string]any{"residentKey": "required"}
	})))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
	if !reg.ad.Flags.Has(ctap.FlagUV) || len(asked) != 2 || asked[0] != 8 || asked[1] != 7 {
		t.Fatalf("flags %v, PIN asked with retries %v", reg.ad.Flags, asked)
	}
	noPIN := k.client(t, origin)
	_, err = noPIN.Create(ctx, mustJSON(t, creation("example.com", "dave", func(m map[string]any) {
		m["authenticatorSelection"] = map[string]any{"residentKey": "required"}
	})))
	if !errors.Is(err, webauthn.ErrNotAllowed) || !errors.Is(err, ctap.StatusPUATRequired) {
		t.Fatalf("err %v, want NotAllowedError wrapping PUAT_REQUIRED", err)
	}
	// A login with "discouraged" goes without the PIN.
	out, err = noPIN.Get(ctx, mustJSON(t, request("example.com", [][]byte{reg.id}, func(m map[string]any) {
		m["userVerification"] = "discouraged"
	})))
	if err != nil {
		t.Fatal(err)
	}
	if _, ad := checkAssertion(t, out, origin, "example.com", getChallenge, reg.key); ad.Flags.Has(ctap.FlagUV) {
		t.Fatalf("flags %v, want no UV", ad.Flags)
	}
}

// TestUVRequiredWithoutUV: userVerification "required" on a key with
// neither built-in UV nor a PIN is ConstraintError.
func TestUVRequiredWithoutUV(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	_, err := c.Create(context.Background(), mustJSON(t, creation("example.com", "eve", func(m map[string]any) {
		m["authenticatorSelection"] = map[string]any{"userVerification": "required"}
	})))
	if !errors.Is(err, webauthn.ErrConstraint) || webauthn.Name(err) != "ConstraintError" {
		t.Fatalf("err %v, want ConstraintError", err)
	}
}

// TestExcludeCredentials: a credential in excludeCredentials is refused
// with InvalidStateError after the user's touch (§5.1.3 step 20, CTAP 2.1
// §6.1.2 step 4).
func TestExcludeCredentials(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", nil)))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
	before, _ := k.user.counts()
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["excludeCredentials"] = []any{
			map[string]any{"type": "public-key", "id": b64([]byte("some other credential"))},
			map[string]any{"type": "public-key", "id": b64(reg.id)},
		}
	})))
	if !errors.Is(err, webauthn.ErrInvalidState) || !errors.Is(err, ctap.StatusCredentialExcluded) {
		t.Fatalf("err %v, want InvalidStateError wrapping CREDENTIAL_EXCLUDED", err)
	}
	if after, _ := k.user.counts(); after != before+1 {
		t.Errorf("%d touches during the refused create, want 1", after-before)
	}
}

// TestRPIDAndOrigin checks the origin and RP ID rules of §5.1.3 steps 2,
// 3, 7, 8 and the secure-context rule.
func TestRPIDAndOrigin(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	for _, tc := range []struct {
		origin, rpID string
		want         *webauthn.Error // nil: accepted
	}{
		{"https://login.example.com", "example.com", nil},
		{"https://login.example.com", "login.example.com", nil},
		{"https://login.example.com:8443", "example.com", nil},
		{"https://LOGIN.Example.com", "login.example.com", nil},
		{"http://localhost:8384", "localhost", nil},
		{"http://app.localhost", "app.localhost", nil},
		{"https://a.b.example.co.uk", "example.co.uk", nil},
		{"https://login.example.com", "com", webauthn.ErrSecurity},
		{"https://login.example.com", "other.com", webauthn.ErrSecurity},
		{"https://login.example.com", "xample.com", webauthn.ErrSecurity},
		{"https://login.example.com", "evil.login.example.com", webauthn.ErrSecurity},
		{"https://example.co.uk", "co.uk", webauthn.ErrSecurity},
		{"https://me.github.io", "github.io", webauthn.ErrSecurity},
		{"https://login.example.com", "127.0.0.1", webauthn.ErrSecurity},
		{"https://127.0.0.1", "127.0.0.1", webauthn.ErrSecurity},
		{"https://[::1]:8443", "::1", webauthn.ErrSecurity},
		{"http://example.com", "example.com", webauthn.ErrSecurity},
		{"null", "example.com", webauthn.ErrNotAllowed},
		{"file:///home/me/page.html", "example.com", webauthn.ErrNotAllowed},
		{"data:text/html,hi", "example.com", webauthn.ErrNotAllowed},
	} {
		t.Run(tc.origin+"/"+tc.rpID, func(t *testing.T) {
			c, err := webauthn.Open(context.Background(), k.dev, tc.origin)
			if err == nil {
				_, err = c.Create(context.Background(), mustJSON(t, creation(tc.rpID, "alice", nil)))
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %s", err, tc.want.Name)
			}
		})
	}
	// get() applies the same rule (§5.1.4 step 7).
	c := k.client(t, origin)
	_, err := c.Get(context.Background(), mustJSON(t, request("other.com", [][]byte{[]byte("x")}, nil)))
	if !errors.Is(err, webauthn.ErrSecurity) {
		t.Fatalf("get with a foreign RP ID: %v, want SecurityError", err)
	}
}

// TestPublicSuffixList: WithPublicSuffixList replaces the built-in rule.
func TestPublicSuffixList(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, "https://shop.myhost.example", webauthn.WithPublicSuffixList(func(d string) (string, bool) {
		return "myhost.example", true
	}))
	_, err := c.Create(context.Background(), mustJSON(t, creation("myhost.example", "alice", nil)))
	if !errors.Is(err, webauthn.ErrSecurity) {
		t.Fatalf("err %v, want SecurityError for a public suffix from the list", err)
	}
}

// TestRefusals: the user declining is NotAllowedError wrapping
// OPERATION_DENIED; no matching credential is NotAllowedError wrapping
// NO_CREDENTIALS; bad options are TypeError; no supported algorithm is
// NotSupportedError (§5.1.3, §5.1.4).
func TestRefusals(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	k.user.deny = true
	_, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", nil)))
	if !errors.Is(err, webauthn.ErrNotAllowed) || !errors.Is(err, ctap.StatusOperationDenied) {
		t.Fatalf("declined: %v", err)
	}
	k.user.deny = false
	_, err = c.Get(ctx, mustJSON(t, request("example.com", [][]byte{bytes.Repeat([]byte{7}, 63)}, nil)))
	if !errors.Is(err, webauthn.ErrNotAllowed) || !errors.Is(err, ctap.StatusNoCredentials) {
		t.Fatalf("unknown credential: %v", err)
	}
	for name, opts := range map[string]string{
		"not JSON":       `{`,
		"no challenge":   `{"rp":{"name":"x"},"user":{"id":"YQ","name":"a","displayName":"a"},"pubKeyCredParams":[]}`,
		"bad base64":     `{"rp":{"name":"x"},"user":{"id":"YQ","name":"a","displayName":"a"},"challenge":"***","pubKeyCredParams":[]}`,
		"empty user.id":  `{"rp":{"name":"x"},"user":{"id":"","name":"a","displayName":"a"},"challenge":"YQ","pubKeyCredParams":[]}`,
		"long user.id":   `{"rp":{"name":"x"},"user":{"id":"` + b64(make([]byte, 65)) + `","name":"a","displayName":"a"},"challenge":"YQ","pubKeyCredParams":[]}`,
		"wrong type":     `{"rp":{"name":"x"},"user":{"id":"YQ","name":"a","displayName":"a"},"challenge":"YQ","pubKeyCredParams":"ES256"}`,
		"missing user":   `{"rp":{"name":"x"},"challenge":"YQ","pubKeyCredParams":[]}`,
		"null challenge": `{"publicKey":{"rp":{"name":"x"},"user":{"id":"YQ","name":"a","displayName":"a"},"challenge":null,"pubKeyCredParams":[]}}`,
	} {
		if _, err := c.Create(ctx, []byte(opts)); !errors.Is(err, webauthn.ErrType) {
			t.Errorf("%s: %v, want TypeError", name, err)
		}
	}
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["pubKeyCredParams"] = []any{map[string]any{"type": "public-key", "alg": -65535}}
	})))
	if !errors.Is(err, webauthn.ErrNotSupported) || !errors.Is(err, ctap.StatusUnsupportedAlgorithm) {
		t.Fatalf("unsupported algorithm: %v", err)
	}
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["pubKeyCredParams"] = []any{map[string]any{"type": "password", "alg": -7}}
	})))
	if !errors.Is(err, webauthn.ErrNotSupported) {
		t.Fatalf("no public-key type: %v", err)
	}
}

// TestTimeoutAndAbort: a key nobody touches ends in NotAllowedError when
// the options' timeout expires (§5.1.3 step 22), in AbortError when the
// caller cancels and in TimeoutError at the caller's own deadline; each
// sends CTAPHID_CANCEL, so the key is free afterwards.
func TestTimeoutAndAbort(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin, webauthn.WithTimeoutRange(time.Millisecond, time.Hour))
	k.user.wait = true
	_, err := c.Create(context.Background(), mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["timeout"] = 20
	})))
	if !errors.Is(err, webauthn.ErrNotAllowed) {
		t.Fatalf("options timeout: %v, want NotAllowedError", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c2 := k.client(t, origin, webauthn.WithKeepalive(func(s ctaphid.KeepaliveStatus) {
		if s == ctaphid.StatusUPNeeded {
			cancel()
		}
	}))
	_, err = c2.Create(ctx, mustJSON(t, creation("example.com", "alice", nil)))
	if !errors.Is(err, webauthn.ErrAbort) {
		t.Fatalf("cancelled: %v, want AbortError", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer dcancel()
	_, err = c.Create(dctx, mustJSON(t, creation("example.com", "alice", nil)))
	if !errors.Is(err, webauthn.ErrTimeout) {
		t.Fatalf("deadline: %v, want TimeoutError", err)
	}
	k.user.wait = false
	if _, err := c.Create(context.Background(), mustJSON(t, creation("example.com", "alice", nil))); err != nil {
		t.Fatalf("after the cancels: %v", err)
	}
}

// TestAttachment: hints and a "cross-platform" attachment are accepted; a
// "platform" attachment cannot be met by a security key.
func TestAttachment(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	_, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["hints"] = []string{"security-key", "hybrid"}
		m["authenticatorSelection"] = map[string]any{"authenticatorAttachment": "cross-platform"}
	})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["authenticatorSelection"] = map[string]any{"authenticatorAttachment": "platform"}
	})))
	if !errors.Is(err, webauthn.ErrNotAllowed) {
		t.Fatalf("platform attachment: %v, want NotAllowedError", err)
	}
}

// TestCrossOrigin: WithTopOrigin sets crossOrigin and topOrigin in
// clientDataJSON (§5.8.1).
func TestCrossOrigin(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin, webauthn.WithTopOrigin("https://shop.example.net/cart"))
	out, err := c.Create(context.Background(), mustJSON(t, creation("example.com", "alice", nil)))
	if err != nil {
		t.Fatal(err)
	}
	var r webauthn.RegistrationResponseJSON
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"webauthn.create","challenge":"` + b64(createChallenge) + `","origin":"https://login.example.com","crossOrigin":true,"topOrigin":"https://shop.example.net"}`
	if string(r.Response.ClientDataJSON) != want {
		t.Fatalf("clientDataJSON %s", r.Response.ClientDataJSON)
	}
}

// TestLongLists: allowCredentials and excludeCredentials longer than the
// key's maxCredentialCountInList (32) are probed silently in batches; the
// credential the key knows is found in the second batch, signs the login
// and is excluded on create. IDs longer than maxCredentialIdLength are
// left out.
func TestLongLists(t *testing.T) {
	k := newKey(t, authenticator.Config{}, nil)
	c := k.client(t, origin)
	ctx := context.Background()
	out, err := c.Create(ctx, mustJSON(t, creation("example.com", "alice", nil)))
	if err != nil {
		t.Fatal(err)
	}
	reg := checkRegistration(t, out, origin, "example.com", createChallenge, nil)
	var ids [][]byte
	for i := range 40 {
		ids = append(ids, bytes.Repeat([]byte{byte(i + 1)}, 63))
	}
	ids = append(ids, make([]byte, 200)) // too long for the key
	ids[35] = reg.id
	var descs []any
	for _, id := range ids {
		descs = append(descs, map[string]any{"type": "public-key", "id": b64(id)})
	}
	before, _ := k.user.counts()
	out, err = c.Get(ctx, mustJSON(t, request("example.com", ids, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ar, _ := checkAssertion(t, out, origin, "example.com", getChallenge, reg.key)
	if !bytes.Equal(ar.RawID, reg.id) {
		t.Fatalf("signed with %x", ar.RawID)
	}
	if after, _ := k.user.counts(); after != before+1 {
		t.Fatalf("%d touches for one login (the probes must be silent)", after-before)
	}
	_, err = c.Create(ctx, mustJSON(t, creation("example.com", "alice", func(m map[string]any) {
		m["excludeCredentials"] = descs
	})))
	if !errors.Is(err, webauthn.ErrInvalidState) {
		t.Fatalf("excluded in a long list: %v", err)
	}
}
