package conformance

import (
	"bytes"
	"crypto/x509"

	"github.com/virtkey/virtkey/ctap"
)

// Enterprise attestation cases (CTAP 2.1 §6.1.2 step 9, §7.1, §6.11.1).
// Each starts from a factory-new key with a PIN, enables enterprise
// attestation with an acfg token when the case needs it, and is skipped on
// a key whose getInfo has no "ep" option (not enterprise attestation
// capable). The attestation roots are not on the wire, so the cases check
// the chain's structure: the enterprise leaf is issued by the same CA as
// the ordinary one (issuer and authority key identifier) and meets WebAuthn
// §8.2.1 (MustMakeCredential verifies the statement).

// EnterpriseRPID is the RP ID the vendor-facilitated cases expect in the
// key's pre-configured RP ID list (§7.1.1): virtkey's default list holds
// it. A key with another list needs this changed before the run.
var EnterpriseRPID = "enterprise.example"

// epCase starts an enterprise attestation case: a factory-new key with a
// PIN, and ep enabled when enable.
func (t *T) epCase(enable bool) *cfgCase {
	c := t.configCase(true, ctap.OptionEP)
	if enable {
		t.ExpectStatus(c.acfg().EnableEnterpriseAttestation(t.ctx), ctap.StatusOK, "enableEnterpriseAttestation")
		expectOption(t, t.info(), ctap.OptionEP, true)
	}
	return c
}

// epRequest is a non-discoverable makeCredential for rpID with
// enterpriseAttestation ep.
func (t *T) epRequest(label, rpID string, ep uint64) *ctap.MakeCredentialRequest {
	req := t.MakeCredentialRequest(label, false)
	req.RP.ID = rpID
	req.EnterpriseAttestation = &ep
	return req
}

// ordinaryLeaf makes a credential for rpID without enterpriseAttestation
// and returns its attestation certificate.
func (t *T) ordinaryLeaf(rpID string) *x509.Certificate {
	req := t.MakeCredentialRequest("ordinary", false)
	req.RP.ID = rpID
	cred := t.MustMakeCredential(req)
	if cred.Response.EPAtt != nil && *cred.Response.EPAtt {
		t.Fatalf("epAtt true without enterpriseAttestation")
	}
	return attLeaf(t, cred)
}

// attLeaf parses x5c[0] of a packed statement.
func attLeaf(t *T, cred *Credential) *x509.Certificate {
	r := cred.Response
	if r.Fmt != ctap.FormatPacked || len(r.AttStmt.X5C) == 0 {
		t.Fatalf("attestation %q with %d certificates, want packed with x5c", r.Fmt, len(r.AttStmt.X5C))
	}
	c, err := x509.ParseCertificate(r.AttStmt.X5C[0])
	if err != nil {
		t.Fatalf("x5c[0]: %v", err)
	}
	return c
}

// expectEnterprise makes a credential with req and checks that it came
// with an enterprise attestation: epAtt true, packed with x5c, a leaf
// other than ordinary from the same CA. It returns the leaf.
func (t *T) expectEnterprise(req *ctap.MakeCredentialRequest, ordinary *x509.Certificate) *x509.Certificate {
	cred := t.MustMakeCredential(req)
	if ep := cred.Response.EPAtt; ep == nil || !*ep {
		t.Fatalf("epAtt %v, want true", deref(ep))
	}
	leaf := attLeaf(t, cred)
	if leaf.Equal(ordinary) {
		t.Fatalf("enterprise attestation with the ordinary attestation certificate")
	}
	if bytes.Equal(leaf.RawSubject, ordinary.RawSubject) {
		t.Fatalf("enterprise certificate subject %q is the ordinary one", leaf.Subject)
	}
	if !bytes.Equal(leaf.RawIssuer, ordinary.RawIssuer) || !bytes.Equal(leaf.AuthorityKeyId, ordinary.AuthorityKeyId) {
		t.Fatalf("enterprise certificate issued by %q (key ID %x), ordinary by %q (key ID %x)",
			leaf.Issuer, leaf.AuthorityKeyId, ordinary.Issuer, ordinary.AuthorityKeyId)
	}
	return leaf
}

func init() {
	Register(
		Case{ID: "ep-disabled", Section: "CTAP 2.1 §6.1.2 step 9.1, §7.1", Versions: CTAP21, Destructive: true,
			Title: "before enableEnterpriseAttestation, enterpriseAttestation 1 or 2 gives CTAP1_ERR_INVALID_PARAMETER",
			Run: func(t *T) {
				t.epCase(false)
				expectOption(t, t.info(), ctap.OptionEP, false)
				for _, ep := range []uint64{ctap.EnterpriseAttestationVendorFacilitated, ctap.EnterpriseAttestationPlatformManaged} {
					_, err := t.Ctap2().MakeCredential(t.ctx, t.epRequest("off", EnterpriseRPID, ep))
					t.ExpectStatus(err, ctap.StatusInvalidParameter, "enterpriseAttestation with ep disabled")
				}
			}},
		Case{ID: "ep-disabled-before-value", Section: "CTAP 2.1 §6.1.2 steps 9.1, 9.2", Versions: CTAP21, Destructive: true,
			Title: "with ep disabled, enterpriseAttestation 3 gives CTAP1_ERR_INVALID_PARAMETER: the ep check comes first",
			Run: func(t *T) {
				t.epCase(false)
				_, err := t.Ctap2().MakeCredential(t.ctx, t.epRequest("off3", EnterpriseRPID, 3))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "enterpriseAttestation 3 with ep disabled")
			}},
		Case{ID: "ep-vendor-listed", Section: "CTAP 2.1 §6.1.2 step 9, §7.1.1", Versions: CTAP21, Destructive: true,
			Title: "enterpriseAttestation 1 for an RP ID in the pre-configured list gives epAtt true and an enterprise certificate from the same CA",
			Run: func(t *T) {
				t.epCase(true)
				ordinary := t.ordinaryLeaf(EnterpriseRPID)
				t.expectEnterprise(t.epRequest("vendor", EnterpriseRPID, ctap.EnterpriseAttestationVendorFacilitated), ordinary)
			}},
		Case{ID: "ep-vendor-unlisted", Section: "CTAP 2.1 §6.1.2 step 9, §7.1.1", Versions: CTAP21, Destructive: true,
			Title: "enterpriseAttestation 1 for an RP ID not in the list gives the ordinary attestation, epAtt absent or false",
			Run: func(t *T) {
				t.epCase(true)
				ordinary := t.ordinaryLeaf(t.RPID())
				cred := t.MustMakeCredential(t.epRequest("unlisted", t.RPID(), ctap.EnterpriseAttestationVendorFacilitated))
				if ep := cred.Response.EPAtt; ep != nil && *ep {
					t.Fatalf("epAtt true for an RP ID outside the list")
				}
				if cred.Response.Fmt == ctap.FormatPacked && len(cred.Response.AttStmt.X5C) > 0 && !attLeaf(t, cred).Equal(ordinary) {
					t.Fatalf("not the ordinary attestation certificate")
				}
			}},
		Case{ID: "ep-platform-managed", Section: "CTAP 2.1 §6.1.2 step 9, §7.1.2", Versions: CTAP21, Destructive: true,
			Title: "enterpriseAttestation 2 gives epAtt true and an enterprise certificate for any RP ID",
			Run: func(t *T) {
				t.epCase(true)
				ordinary := t.ordinaryLeaf(t.RPID())
				t.expectEnterprise(t.epRequest("platform", t.RPID(), ctap.EnterpriseAttestationPlatformManaged), ordinary)
			}},
		Case{ID: "ep-invalid-value", Section: "CTAP 2.1 §6.1.2 step 9.2", Versions: CTAP21, Destructive: true,
			Title: "with ep enabled, enterpriseAttestation 3 or 0 gives CTAP2_ERR_INVALID_OPTION",
			Run: func(t *T) {
				t.epCase(true)
				for _, ep := range []uint64{3, 0} {
					_, err := t.Ctap2().MakeCredential(t.ctx, t.epRequest("bad", EnterpriseRPID, ep))
					t.ExpectStatus(err, ctap.StatusInvalidOption, "enterpriseAttestation outside 1 and 2")
				}
			}},
		Case{ID: "ep-same-certificate", Section: "CTAP 2.1 §7.1", Versions: CTAP21, Destructive: true,
			Title: "vendor-facilitated and platform-managed enterprise attestations use the same enterprise certificate, the key's identity",
			Run: func(t *T) {
				t.epCase(true)
				ordinary := t.ordinaryLeaf(EnterpriseRPID)
				a := t.expectEnterprise(t.epRequest("same1", EnterpriseRPID, ctap.EnterpriseAttestationVendorFacilitated), ordinary)
				b := t.expectEnterprise(t.epRequest("same2", t.RPID(), ctap.EnterpriseAttestationPlatformManaged), ordinary)
				if !a.Equal(b) {
					t.Fatalf("two enterprise certificates: serial %v and %v", a.SerialNumber, b.SerialNumber)
				}
			}},
		Case{ID: "ep-credential-works", Section: "CTAP 2.1 §6.2.2, §7.1", Versions: CTAP21, Destructive: true,
			Title: "a credential made with an enterprise attestation gives assertions as any other",
			Run: func(t *T) {
				t.epCase(true)
				req := t.epRequest("use", t.RPID(), ctap.EnterpriseAttestationPlatformManaged)
				cred := t.MustMakeCredential(req)
				a := t.MustGetAssertion(t.GetAssertionRequest("use", cred))
				if err := a.Verify(t.Hash("ga/use"), cred.PublicKey); err != nil {
					t.Fatalf("assertion: %v", err)
				}
			}},
		Case{ID: "ep-reset-disables", Section: "CTAP 2.1 §6.6, §7.1", Versions: CTAP21, Destructive: true, Needs: []Capability{CapPowerCycle},
			Title: "authenticatorReset disables enterprise attestation: ep false, and enterpriseAttestation 2 gives CTAP1_ERR_INVALID_PARAMETER",
			Run: func(t *T) {
				t.epCase(true)
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				expectOption(t, t.info(), ctap.OptionEP, false)
				_, err := t.Ctap2().MakeCredential(t.ctx, t.epRequest("reset", t.RPID(), ctap.EnterpriseAttestationPlatformManaged))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "enterpriseAttestation after reset")
			}},
	)
}
