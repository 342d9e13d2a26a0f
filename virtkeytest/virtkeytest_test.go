package virtkeytest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
)

func TestKeyEndToEnd(t *testing.T) {
	key := New(t, authenticator.Config{})
	ctx := context.Background()
	req := benchRequest(1)
	att, err := key.Ctap2.MakeCredential(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	k, err := key.Key()
	if err != nil {
		t.Fatal(err)
	}
	// The x5c chain verifies up to the key's own attestation root.
	if err := att.Verify(req.ClientDataHash, k.AttestationRoots()); err != nil {
		t.Fatalf("attestation: %v", err)
	}
	cred := att.AuthData.AttestedCredential
	ga := &ctap.GetAssertionRequest{RPID: req.RP.ID, ClientDataHash: bytes.Repeat([]byte{1}, 32),
		AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: cred.CredentialID}}}
	a, err := key.Ctap2.GetAssertion(ctx, ga)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(ga.ClientDataHash, cred.PublicKey); err != nil {
		t.Fatalf("assertion: %v", err)
	}

	key.Presence().SetPresence(control.PresenceDeny)
	if _, err := key.Ctap2.GetAssertion(ctx, ga); !errors.Is(err, ctap.StatusOperationDenied) {
		t.Fatalf("declined: %v", err)
	}
	if n := len(key.Presence().Requests()); n != 3 {
		t.Fatalf("%d presence requests, want 3", n)
	}
}

func TestRandDeterministic(t *testing.T) {
	a, b := make([]byte, 100), make([]byte, 100)
	NewRand("x").Read(a)
	NewRand("x").Read(b)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different bytes")
	}
	NewRand("y").Read(b)
	if bytes.Equal(a, b) {
		t.Fatal("different seeds, same bytes")
	}
}
