package conformance

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// RPID is an RP ID of the case's own, so that cases sharing a key do not
// see each other's credentials: the case ID and RPSuffix.
func (t *T) RPID() string { return t.c.ID + RPSuffix }

// Hash returns SHA-256 of the case ID and a label: a stand-in for a
// clientDataHash that differs between requests.
func (t *T) Hash(label string) []byte {
	h := sha256.Sum256([]byte(t.c.ID + "/" + label))
	return h[:]
}

// RPIDHash is SHA-256 of the case's RP ID.
func (t *T) RPIDHash() [32]byte { return sha256.Sum256([]byte(t.RPID())) }

// ES256 is the pubKeyCredParams most cases use.
var ES256 = []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}}

// MakeCredentialRequest returns a valid request for the case's RP: a user
// named after label, ES256, and rk as given. A request for a discoverable
// credential skips the case on a key whose getInfo has rk false or absent
// (needRK).
func (t *T) MakeCredentialRequest(label string, rk bool) *ctap.MakeCredentialRequest {
	if rk {
		t.needRK()
	}
	req := &ctap.MakeCredentialRequest{
		ClientDataHash:   t.Hash("mc/" + label),
		RP:               &ctap.RPEntity{ID: t.RPID(), Name: "virtkey conformance"},
		User:             &ctap.UserEntity{ID: []byte("user:" + label), Name: label + "@example.com", DisplayName: "User " + label},
		PubKeyCredParams: ES256,
	}
	if rk {
		req.Options = map[string]bool{ctap.OptionRK: true}
	}
	return req
}

// verifyForRK adds user verification to a request for a discoverable
// credential on a key "protected by some form of user verification" (a
// PIN set, or built-in UV configured), which refuses such a request
// without it (CTAP 2.1 §6.1.2 step 7, makeCredUvNotRqd): the "uv" option
// on a key with built-in UV, else a pinUvAuthToken from the PIN the run
// knows (Options.PIN, T.UsePIN). Without either the case is skipped: on
// such a key it cannot make a discoverable credential.
func (t *T) verifyForRK(req *ctap.MakeCredentialRequest) {
	info := t.Ctap2().Info()
	uv, _ := info.Option(ctap.OptionUV)
	pinSet, _ := info.Option(ctap.OptionClientPIN)
	t.mu.Lock()
	pin := t.pin
	t.mu.Unlock()
	switch {
	case req.PinUvAuthParam != nil || req.Options[ctap.OptionUV]:
	case uv:
		req.Options[ctap.OptionUV] = true
	case pinSet && pin != "":
		version := listedProtocol(info)
		proto, _ := client.PinProtocolByVersion(version)
		cp, err := client.NewClientPin(t.Ctap2(), proto)
		if err != nil {
			t.Fatalf("clientPin: %v", err)
		}
		tok, err := cp.GetPinToken(t.ctx, pin, ctap.PermissionMakeCredential, req.RP.ID)
		if err != nil {
			t.Fatalf("pinUvAuthToken for a discoverable credential: %v", err)
		}
		req.PinUvAuthParam = proto.AuthParam(tok, req.ClientDataHash)
		req.PinUvAuthProtocol = &version
	case pinSet:
		t.Skipf("the key has a PIN this run does not know, and a discoverable credential needs it (ctaptest --pin)")
	}
}

// Credential is a credential a case made.
type Credential struct {
	ID        []byte
	PublicKey ctap.COSEKey
	User      *ctap.UserEntity
	Response  *client.AttestationResponse
}

// Descriptor describes the credential for an allow or exclude list.
func (c *Credential) Descriptor() ctap.CredentialDescriptor {
	return ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: c.ID}
}

// MustMakeCredential makes a credential and fails the case unless the key
// answers OK with attested credential data that verifies.
//
// A discoverable credential on a key protected by user verification gets
// it (verifyForRK), and is removed at the end of the case when the key
// allows (removeResidents).
func (t *T) MustMakeCredential(req *ctap.MakeCredentialRequest) *Credential {
	if req.Options[ctap.OptionRK] {
		t.verifyForRK(req)
	}
	resp, err := t.Ctap2().MakeCredential(t.ctx, req)
	if err != nil {
		t.Fatalf("makeCredential: %v", err)
	}
	if err := resp.Verify(req.ClientDataHash, nil); err != nil {
		t.Fatalf("attestation does not verify: %v", err)
	}
	ac := resp.AuthData.AttestedCredential
	if ac == nil {
		t.Fatalf("makeCredential response has no attested credential data")
	}
	if req.Options[ctap.OptionRK] && req.RP != nil {
		t.keepResident(req.RP.ID, ac.CredentialID)
	}
	return &Credential{ID: ac.CredentialID, PublicKey: ac.PublicKey, User: req.User, Response: resp}
}

// MakeCredential makes a credential for label with rk as given.
func (t *T) MakeCredential(label string, rk bool) *Credential {
	return t.MustMakeCredential(t.MakeCredentialRequest(label, rk))
}

// GetAssertionRequest returns a request for the case's RP with allow as
// the allowList.
func (t *T) GetAssertionRequest(label string, allow ...*Credential) *ctap.GetAssertionRequest {
	req := &ctap.GetAssertionRequest{RPID: t.RPID(), ClientDataHash: t.Hash("ga/" + label)}
	for _, c := range allow {
		req.AllowList = append(req.AllowList, c.Descriptor())
	}
	return req
}

// MustGetAssertion gets an assertion and fails the case unless it is OK.
func (t *T) MustGetAssertion(req *ctap.GetAssertionRequest) *client.AssertionResponse {
	resp, err := t.Ctap2().GetAssertion(t.ctx, req)
	if err != nil {
		t.Fatalf("getAssertion: %v", err)
	}
	t.fillCredential(resp, req.AllowList)
	return resp
}

// fillCredential sets the response's credential to the allowList's only
// entry when the key left the member out, which it may do when the
// allowList has exactly one credential (CTAP 2.1 §6.2.2 response member
// 0x01; CTAP 2.0 §5.2), so that cases compare IDs either way.
func (t *T) fillCredential(resp *client.AssertionResponse, allow []ctap.CredentialDescriptor) {
	if resp.Credential != nil || len(allow) != 1 {
		return
	}
	d := allow[0]
	resp.Credential = &d
	t.Observef("the key left out the credential member: the allowList named one credential")
}

// ExpectStatus fails the case unless err carries the status want (nil for
// StatusOK).
func (t *T) ExpectStatus(err error, want ctap.Status, what string) {
	t.Helper()
	if want == ctap.StatusOK {
		if err != nil {
			t.Fatalf("%s: got %v, want %v", what, err, want)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, describe(err), want)
	}
}

// ExpectHIDError fails the case unless err is the CTAPHID error want.
func (t *T) ExpectHIDError(err error, want ctaphid.ErrorCode, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want CTAPHID error %v", what, describe(err), want)
	}
}

func describe(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

// Helper does nothing; it keeps the shape of testing.T for readers.
func (t *T) Helper() {}

// Raw sends raw parameter bytes and returns the status and body.
func (t *T) Raw(cmd ctap.Command, params []byte) (ctap.Status, []byte) {
	st, body, err := t.Ctap2().SendRaw(t.ctx, cmd, params)
	if err != nil {
		t.Fatalf("%v: %v", cmd, err)
	}
	return st, body
}

// ExpectRaw sends raw parameters and fails unless the status is want.
func (t *T) ExpectRaw(cmd ctap.Command, params []byte, want ctap.Status) []byte {
	st, body := t.Raw(cmd, params)
	if st != want {
		t.Fatalf("%v with %x: got %v, want %v", cmd, params, st, want)
	}
	return body
}

// Equal fails the case unless got == want.
func Equal[V comparable](t *T, what string, got, want V) {
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// Encode encodes v in canonical CBOR or fails the case.
func (t *T) Encode(v any) []byte {
	b, err := ctap.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	return b
}

// Sprintf is fmt.Sprintf, for brevity in case bodies.
var Sprintf = fmt.Sprintf

// contextWithCancel returns a child of the case's context.
func contextWithCancel(t *T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.ctx)
}

// clientKeepalive is the call option that reports keepalive packets.
func clientKeepalive(f func(ctaphid.KeepaliveStatus)) client.CallOption {
	return client.WithKeepalive(f)
}

type ctaphidStatus = ctaphid.KeepaliveStatus

const upNeeded = ctaphid.StatusUPNeeded

// statusErr is st as an error: nil for StatusOK.
func statusErr(st ctap.Status) error {
	if st == ctap.StatusOK {
		return nil
	}
	return st
}

// credString is a credential descriptor for a message: its ID in hex, or
// "none" when the member is absent.
func credString(c *ctap.CredentialDescriptor) string {
	if c == nil {
		return "none"
	}
	return Sprintf("%s %x", c.Type, c.ID)
}

// deref is what a pointer member holds, for a message: its value, or
// "absent" for nil (never the pointer itself).
func deref[V any](p *V) string {
	if p == nil {
		return "absent"
	}
	return Sprintf("%v", *p)
}

// needRK skips a case that makes a discoverable credential on a key that
// does not make them: getInfo's rk option false or absent (CTAP 2.1 §6.4
// "rk"; CTAP 2.0 §5.4 the same). Such a key answers rk true with
// CTAP2_ERR_UNSUPPORTED_OPTION (§6.1.2 step 5.4), which mc-rk-false-refuses-rk
// checks.
func (t *T) needRK() {
	if rk, _ := t.Ctap2().Info().Option(ctap.OptionRK); !rk {
		t.skipFeature("the key's rk option is false: no discoverable credentials (CTAP 2.1 §6.4)")
	}
}
