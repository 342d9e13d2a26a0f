package virtkeytest

import (
	"bytes"
	"context"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// TestRelyingPartyFaults is what a relying party's own test does with a
// faulty key: Config.Faults names the defect, and the RP's checks must
// refuse what the key sends. Here the checks are the client's own
// verifications and the counter rule of WebAuthn L3 §6.1.1.
func TestRelyingPartyFaults(t *testing.T) {
	ctx := context.Background()
	register := func(t *testing.T, key *Key) (*ctap.GetAssertionRequest, *ctap.AttestedCredentialData, error) {
		req := benchRequest(1)
		att, err := key.Ctap2.MakeCredential(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := key.Key()
		cred := att.AuthData.AttestedCredential
		ga := &ctap.GetAssertionRequest{RPID: req.RP.ID, ClientDataHash: bytes.Repeat([]byte{1}, 32),
			AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: cred.CredentialID}}}
		return ga, cred, att.Verify(req.ClientDataHash, k.AttestationRoots())
	}

	t.Run("correct", func(t *testing.T) {
		key := New(t, authenticator.Config{})
		ga, cred, attErr := register(t, key)
		if attErr != nil {
			t.Fatalf("attestation: %v", attErr)
		}
		a1, err1 := key.Ctap2.GetAssertion(ctx, ga)
		a2, err2 := key.Ctap2.GetAssertion(ctx, ga)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if a2.AuthData.SignCount <= a1.AuthData.SignCount || !bytes.Equal(a2.Credential.ID, cred.CredentialID) {
			t.Fatalf("counters %d, %d; credential %x", a1.AuthData.SignCount, a2.AuthData.SignCount, a2.Credential.ID)
		}
	})
	t.Run(string(authenticator.FaultCounterRepeat), func(t *testing.T) {
		key := New(t, authenticator.Config{Faults: []authenticator.Fault{authenticator.FaultCounterRepeat}})
		ga, _, _ := register(t, key)
		a1, _ := key.Ctap2.GetAssertion(ctx, ga)
		a2, err := key.Ctap2.GetAssertion(ctx, ga)
		if err != nil {
			t.Fatal(err)
		}
		if a2.AuthData.SignCount > a1.AuthData.SignCount {
			t.Fatalf("counter %d after %d: the fault did not repeat it", a2.AuthData.SignCount, a1.AuthData.SignCount)
		}
	})
	t.Run(string(authenticator.FaultBadAttestationSig), func(t *testing.T) {
		key := New(t, authenticator.Config{Faults: []authenticator.Fault{authenticator.FaultBadAttestationSig}})
		if _, _, attErr := register(t, key); attErr == nil {
			t.Fatal("the forged attestation verified")
		}
	})
	t.Run(string(authenticator.FaultWrongCredentialID), func(t *testing.T) {
		key := New(t, authenticator.Config{Faults: []authenticator.Fault{authenticator.FaultWrongCredentialID}})
		ga, cred, _ := register(t, key)
		a, err := key.Ctap2.GetAssertion(ctx, ga)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a.Credential.ID, cred.CredentialID) {
			t.Fatal("the assertion names the credential asked for")
		}
	})
}
