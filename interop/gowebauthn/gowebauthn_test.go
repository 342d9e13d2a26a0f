package gowebauthn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/virtkeytest"
	vwebauthn "github.com/virtkey/virtkey/webauthn"
)

const origin = "https://example.com"

// kinds are the device kinds the CI can run: a key in the test's process
// behind CTAPHID framing, and the same reached over UDP sockets.
var kinds = []string{"in-process", "udp"}

// rig is a go-webauthn relying party, a key and a browser.
type rig struct {
	t       *testing.T
	rp      *webauthn.WebAuthn
	key     *virtkeytest.Key
	browser *vwebauthn.Client
	alice   *user
}

func newRig(t *testing.T, kind string, cfg authenticator.Config, opts ...vwebauthn.Option) *rig {
	t.Helper()
	rp, err := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	k := virtkeytest.New(t, cfg)
	r := &rig{t: t, rp: rp, key: k, alice: &user{}}
	r.browser = r.open(kind, origin, opts...)
	return r
}

// open returns a browser at origin on the rig's key, in-process or over
// UDP.
func (r *rig) open(kind, origin string, opts ...vwebauthn.Option) *vwebauthn.Client {
	t := r.t
	t.Helper()
	if kind == "in-process" {
		return r.key.WebAuthn(origin, opts...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pd, err := ctaphid.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pd.Close() })
	ck, err := r.key.Controlled()
	if err != nil {
		t.Fatal(err)
	}
	go ctaphid.Serve(ctx, pd, ck, nil)
	dev, err := client.OpenUDP(ctx, pd.(interface{ LocalAddr() net.Addr }).LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	b, err := vwebauthn.Open(ctx, dev, origin, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register runs a registration with the RP's options for u; it returns
// the RP's credential record and the parsed response, or the browser's
// or the RP's error.
func (r *rig) register(b *vwebauthn.Client, u *user, opts ...webauthn.RegistrationOption) (*webauthn.Credential, *protocol.ParsedCredentialCreationData, error) {
	r.t.Helper()
	creation, session, err := r.rp.BeginRegistration(u, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := b.Create(context.Background(), must(json.Marshal(creation)))
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		return nil, nil, err
	}
	cred, err := r.rp.CreateCredential(u, *session, parsed)
	if err == nil {
		u.creds = append(u.creds, *cred)
	}
	return cred, parsed, err
}

// login runs a login for u (nil: a discoverable login) and returns the
// RP's updated credential, the parsed response and the raw response.
func (r *rig) login(b *vwebauthn.Client, u *user, opts ...webauthn.LoginOption) (*webauthn.Credential, *protocol.ParsedCredentialAssertionData, []byte, error) {
	r.t.Helper()
	var assertion *protocol.CredentialAssertion
	var session *webauthn.SessionData
	var err error
	if u == nil {
		assertion, session, err = r.rp.BeginDiscoverableLogin(opts...)
	} else {
		assertion, session, err = r.rp.BeginLogin(u, opts...)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := b.Get(context.Background(), must(json.Marshal(assertion)))
	if err != nil {
		return nil, nil, nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		return nil, nil, nil, err
	}
	var cred *webauthn.Credential
	if u == nil {
		cred, err = r.rp.ValidateDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			if !bytes.Equal(userHandle, r.alice.WebAuthnID()) {
				return nil, errors.New("unknown user handle")
			}
			return r.alice, nil
		}, *session, parsed)
	} else {
		cred, err = r.rp.ValidateLogin(u, *session, parsed)
	}
	return cred, parsed, resp, err
}

func (r *rig) ok(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// TestSecurityKey: a non-discoverable credential with direct attestation
// (go-webauthn verifies the packed statement and its x5c leaf), then a
// login; over both device kinds.
func TestSecurityKey(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			r := newRig(t, kind, authenticator.Config{})
			cred, parsed, err := r.register(r.browser, r.alice,
				webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged),
				webauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
				webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
			r.ok(err)
			if cred.AttestationFormat != "packed" || cred.AttestationType != "basic_full" || !bytes.Equal(cred.Authenticator.AAGUID, aaguid()) {
				t.Fatalf("attestation %s/%s, AAGUID %x", cred.AttestationFormat, cred.AttestationType, cred.Authenticator.AAGUID)
			}
			if rk := credPropsRK(t, parsed.ClientExtensionResults); rk {
				t.Fatal("credProps.rk true for a non-discoverable credential")
			}
			got, _, _, err := r.login(r.browser, r.alice)
			r.ok(err)
			if got.Authenticator.SignCount <= cred.Authenticator.SignCount || got.Authenticator.CloneWarning {
				t.Fatalf("sign count %d after %d", got.Authenticator.SignCount, cred.Authenticator.SignCount)
			}
		})
	}
}

func aaguid() []byte { a := authenticator.DefaultAAGUID; return a[:] }

func credPropsRK(t *testing.T, ext protocol.AuthenticationExtensionsClientOutputs) bool {
	t.Helper()
	if ext.CredProps == nil || ext.CredProps.RK == nil {
		t.Fatalf("no credProps.rk in %+v", ext)
	}
	return *ext.CredProps.RK
}

// TestAttestationNone: with attestation "none" the RP gets the none
// format and a zero AAGUID.
func TestAttestationNone(t *testing.T) {
	r := newRig(t, "in-process", authenticator.Config{})
	cred, _, err := r.register(r.browser, r.alice, webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	r.ok(err)
	if cred.AttestationFormat != "none" || !bytes.Equal(cred.Authenticator.AAGUID, make([]byte, 16)) {
		t.Fatalf("attestation %s, AAGUID %x", cred.AttestationFormat, cred.Authenticator.AAGUID)
	}
}

// TestPasskeyBuiltInUV: a discoverable credential with user verification
// by the key's built-in UV, and a login without allowCredentials.
func TestPasskeyBuiltInUV(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			r := newRig(t, kind, authenticator.Config{BuiltInUV: true})
			cred, parsed, err := r.register(r.browser, r.alice,
				webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
					ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}),
				webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
			r.ok(err)
			if !cred.Flags.UserVerified || !credPropsRK(t, parsed.ClientExtensionResults) {
				t.Fatalf("flags %+v", cred.Flags)
			}
			got, parsedA, _, err := r.login(r.browser, nil, webauthn.WithUserVerification(protocol.VerificationRequired))
			r.ok(err)
			if !bytes.Equal(got.ID, cred.ID) || !parsedA.Response.AuthenticatorData.Flags.HasUserVerified() {
				t.Fatal("the discoverable login used another credential or no UV")
			}
		})
	}
}

// TestPasskeyPIN: a discoverable credential on a key with a PIN; the
// browser asks for the PIN and uses a pinUvAuthToken.
func TestPasskeyPIN(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			r := newRig(t, kind, authenticator.Config{}, vwebauthn.WithPIN(func(ctx context.Context, retries int) (string, error) {
				return "correct horse", nil
			}))
			cp, err := client.NewClientPin(r.key.Ctap2, nil)
			r.ok(err)
			r.ok(cp.SetPIN(context.Background(), "correct horse"))
			cred, _, err := r.register(r.browser, r.alice,
				webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
					ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}))
			r.ok(err)
			if !cred.Flags.UserVerified {
				t.Fatal("no UV with the PIN")
			}
			_, parsed, _, err := r.login(r.browser, nil, webauthn.WithUserVerification(protocol.VerificationRequired))
			r.ok(err)
			if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
				t.Fatal("login without UV")
			}
		})
	}
}

// TestExcludeCredentials: registering again with the RP's exclusions is
// refused with InvalidStateError.
func TestExcludeCredentials(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			r := newRig(t, kind, authenticator.Config{})
			_, _, err := r.register(r.browser, r.alice)
			r.ok(err)
			_, _, err = r.register(r.browser, r.alice,
				webauthn.WithExclusions(webauthn.Credentials(r.alice.creds).CredentialDescriptors()))
			if !errors.Is(err, vwebauthn.ErrInvalidState) || !errors.Is(err, ctap.StatusCredentialExcluded) {
				t.Fatalf("err %v, want InvalidStateError", err)
			}
		})
	}
}

// TestPRF: prf on registration (evaluated through hmac-secret-mc) and on
// login give the same output for the same input, as go-webauthn reports
// them.
func TestPRF(t *testing.T) {
	r := newRig(t, "in-process", authenticator.Config{})
	in := protocol.PRFValues{First: []byte("salt input")}
	_, parsed, err := r.register(r.browser, r.alice, webauthn.WithExtensions(webauthn.WithExtensionPRF(in)))
	r.ok(err)
	regPRF := prfFirst(t, parsed.ClientExtensionResults, true)
	_, parsedA, _, err := r.login(r.browser, r.alice, webauthn.WithAssertionExtensions(webauthn.WithExtensionPRF(in)))
	r.ok(err)
	if got := prfFirst(t, parsedA.ClientExtensionResults, false); got != regPRF {
		t.Fatalf("prf on login %x, on registration %x", got, regPRF)
	}
	other := protocol.PRFValues{First: []byte("another input")}
	_, parsedB, _, err := r.login(r.browser, r.alice, webauthn.WithAssertionExtensions(webauthn.WithExtensionPRF(other)))
	r.ok(err)
	if got := prfFirst(t, parsedB.ClientExtensionResults, false); got == regPRF {
		t.Fatal("another input gave the same prf output")
	}
}

func prfFirst(t *testing.T, ext protocol.AuthenticationExtensionsClientOutputs, create bool) string {
	t.Helper()
	p := ext.PRF
	if p == nil {
		t.Fatalf("no prf output in %+v", ext)
	}
	if create && (p.Enabled == nil || !*p.Enabled) {
		t.Fatalf("prf %+v, want enabled", p)
	}
	if p.Results == nil || len(p.Results.First) != 32 {
		t.Fatalf("prf results %+v", p.Results)
	}
	return string(p.Results.First)
}

// TestLargeBlob: largeBlob support on registration, then write and read
// on logins.
func TestLargeBlob(t *testing.T) {
	r := newRig(t, "in-process", authenticator.Config{})
	_, parsed, err := r.register(r.browser, r.alice,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExtensions(webauthn.WithExtensionLargeBlobSupport(protocol.LargeBlobSupportRequired)))
	r.ok(err)
	if lb := parsed.ClientExtensionResults.LargeBlob; lb == nil || lb.Supported == nil || !*lb.Supported {
		t.Fatalf("largeBlob %+v", lb)
	}
	blob := bytes.Repeat([]byte("a certificate "), 30)
	_, parsedW, _, err := r.login(r.browser, r.alice, webauthn.WithAssertionExtensions(webauthn.WithExtensionLargeBlobWrite(blob)))
	r.ok(err)
	if lb := parsedW.ClientExtensionResults.LargeBlob; lb == nil || lb.Written == nil || !*lb.Written {
		t.Fatalf("largeBlob write %+v", lb)
	}
	_, parsedR, _, err := r.login(r.browser, r.alice, webauthn.WithAssertionExtensions(webauthn.WithExtensionLargeBlobRead()))
	r.ok(err)
	if lb := parsedR.ClientExtensionResults.LargeBlob; lb == nil || !bytes.Equal(lb.Blob, blob) {
		t.Fatalf("largeBlob read %+v", lb)
	}
}

// TestRefusedByRP: the RP refuses a response from an origin it does not
// list (a subdomain may use the RP ID, but the RP checks the origin), a
// credential made for another RP ID, and an assertion replayed into a new
// login.
func TestRefusedByRP(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			r := newRig(t, kind, authenticator.Config{})
			_, _, err := r.register(r.browser, r.alice)
			r.ok(err)

			sub := r.open(kind, "https://evil.example.com")
			if _, _, _, err := r.login(sub, r.alice); err == nil || !strings.Contains(err.Error(), "origin") {
				t.Fatal("the RP accepted an assertion from an origin it does not list")
			}
			if _, _, err := r.register(sub, &user{}); err == nil || !strings.Contains(err.Error(), "origin") {
				t.Fatal("the RP accepted a registration from an origin it does not list")
			}

			// An RP that serves login.example.com too, so that only the
			// RP ID tells: the browser there was asked for RP ID
			// login.example.com, which it may claim, and the key signed
			// for that; the RP wants example.com.
			rp2, err := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example",
				RPOrigins: []string{origin, "https://login.example.com"}})
			r.ok(err)
			other := r.open(kind, "https://login.example.com")
			creation, session, _ := rp2.BeginRegistration(&user{})
			creation.Response.RelyingParty.ID = "login.example.com"
			resp, err := other.Create(context.Background(), must(json.Marshal(creation)))
			r.ok(err)
			parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
			r.ok(err)
			if _, err := rp2.CreateCredential(&user{}, *session, parsed); err == nil || !strings.Contains(protocolDetail(err), "RP Hash") {
				t.Fatalf("the RP accepted a credential for another RP ID (%v)", err)
			}

			// Replay: a good assertion, sent again for a new login.
			_, _, raw, err := r.login(r.browser, r.alice)
			r.ok(err)
			_, session2, _ := r.rp.BeginLogin(r.alice)
			replayed, err := protocol.ParseCredentialRequestResponseBytes(raw)
			r.ok(err)
			if _, err := r.rp.ValidateLogin(r.alice, *session2, replayed); err == nil || !strings.Contains(protocolDetail(err), "challenge") {
				t.Fatalf("the RP accepted a replayed assertion (%v)", err)
			}
		})
	}
}

// TestBackupFlags: a synced passkey (BE and BS) is recorded so by the RP.
func TestBackupFlags(t *testing.T) {
	r := newRig(t, "in-process", authenticator.Config{Backup: authenticator.BackupFlags{Eligible: true, State: true}})
	cred, _, err := r.register(r.browser, r.alice)
	r.ok(err)
	if !cred.Flags.BackupEligible || !cred.Flags.BackupState {
		t.Fatalf("flags %+v", cred.Flags)
	}
	_, _, _, err = r.login(r.browser, r.alice)
	r.ok(err)
}

// protocolDetail is the error with go-webauthn's detail text.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Error() + ": " + pe.Details + " " + pe.DevInfo
	}
	return err.Error()
}
