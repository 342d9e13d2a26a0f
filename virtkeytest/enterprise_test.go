package virtkeytest

import (
	"bytes"
	"context"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// TestEnterpriseAttestationRoots: an enterprise attestation (CTAP 2.1
// §7.1) and the attestations of ES384 and RS256 credentials verify with
// the client against the key's own attestation root.
func TestEnterpriseAttestationRoots(t *testing.T) {
	key := New(t, authenticator.Config{})
	ctx := context.Background()
	k, err := key.Key()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := client.NewConfig(key.Ctap2, nil, nil) // no PIN: no token needed (§6.11)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.EnableEnterpriseAttestation(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rpID  string
		ep    uint64
		alg   int64
		epAtt bool
	}{
		{"enterprise.example", ctap.EnterpriseAttestationVendorFacilitated, ctap.AlgES256, true},
		{"other.example", ctap.EnterpriseAttestationVendorFacilitated, ctap.AlgES384, false},
		{"other.example", ctap.EnterpriseAttestationPlatformManaged, ctap.AlgRS256, true},
	} {
		req := benchRequest(int(tt.ep))
		req.RP.ID = tt.rpID
		req.EnterpriseAttestation = &tt.ep
		req.PubKeyCredParams = []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: tt.alg}}
		att, err := key.Ctap2.MakeCredential(ctx, req)
		if err != nil {
			t.Fatalf("%s %d: %v", tt.rpID, tt.ep, err)
		}
		if got := att.EPAtt != nil && *att.EPAtt; got != tt.epAtt {
			t.Errorf("%s %d: epAtt %v, want %v", tt.rpID, tt.ep, got, tt.epAtt)
		}
		if err := att.Verify(req.ClientDataHash, k.AttestationRoots()); err != nil {
			t.Fatalf("%s %d: attestation: %v", tt.rpID, tt.ep, err)
		}
		cred := att.AuthData.AttestedCredential
		ga := &ctap.GetAssertionRequest{RPID: tt.rpID, ClientDataHash: bytes.Repeat([]byte{2}, 32),
			AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: cred.CredentialID}}}
		a, err := key.Ctap2.GetAssertion(ctx, ga)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Verify(ga.ClientDataHash, cred.PublicKey); err != nil {
			t.Fatalf("alg %d assertion: %v", tt.alg, err)
		}
	}
}
