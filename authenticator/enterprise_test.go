package authenticator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// epReq is mcReq with enterpriseAttestation ep.
func epReq(rpID string, ep uint64) *ctap.MakeCredentialRequest {
	r := mcReq(rpID, []byte{1}, false)
	r.EnterpriseAttestation = &ep
	return r
}

// enableEP runs authenticatorConfig enableEnterpriseAttestation on a key
// without a PIN (no authorization needed, §6.11).
func enableEP(t *testing.T, k *testKey) {
	t.Helper()
	if s := newPlatform(k, 2).config(nil, ctap.ConfigEnableEnterpriseAttestation, nil); s != ctap.StatusOK {
		t.Fatalf("enableEnterpriseAttestation: %v", s)
	}
}

// leafOf parses x5c[0] of a packed statement.
func leafOf(t *testing.T, resp *ctap.MakeCredentialResponse) *x509.Certificate {
	t.Helper()
	if len(resp.AttStmt.X5C) != 1 {
		t.Fatalf("x5c of %d certificates", len(resp.AttStmt.X5C))
	}
	c, err := x509.ParseCertificate(resp.AttStmt.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEnterpriseDisabled: before enableEnterpriseAttestation any
// enterpriseAttestation value is CTAP1_ERR_INVALID_PARAMETER (§6.1.2 step
// 9.1), checked before the value (9.2), and no touch is asked for.
func TestEnterpriseDisabled(t *testing.T) {
	t.Parallel()
	for _, ep := range []uint64{0, 1, 2, 3} {
		p := NewScriptedPresence(nil) // a touch, so that a wrong answer does not hang
		k := newTestKey(t, withPresence(p))
		if _, s := k.makeCredential(epReq(DefaultEnterpriseRPIDs[0], ep)); s != ctap.StatusInvalidParameter {
			t.Errorf("enterpriseAttestation %d: %v, want CTAP1_ERR_INVALID_PARAMETER", ep, s)
		}
		if n := len(p.Requests()); n != 0 {
			t.Errorf("enterpriseAttestation %d: %d touches", ep, n)
		}
	}
}

// TestEnterpriseAttestation covers §6.1.2 step 9 and §7.1 with ep enabled.
func TestEnterpriseAttestation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		cfg    []string // Config.EnterpriseRPIDs
		rpID   string
		ep     uint64
		status ctap.Status
		epAtt  bool
	}{
		{"vendor-facilitated, listed RP", nil, "enterprise.example", 1, ctap.StatusOK, true},
		{"vendor-facilitated, unlisted RP", nil, "example.com", 1, ctap.StatusOK, false},
		{"vendor-facilitated, subdomain of a listed RP", nil, "sub.enterprise.example", 1, ctap.StatusOK, false},
		{"platform-managed, unlisted RP", nil, "example.com", 2, ctap.StatusOK, true},
		{"platform-managed, listed RP", nil, "enterprise.example", 2, ctap.StatusOK, true},
		{"configured list", []string{"corp.example"}, "corp.example", 1, ctap.StatusOK, true},
		{"configured list replaces the default", []string{"corp.example"}, "enterprise.example", 1, ctap.StatusOK, false},
		{"empty list", []string{}, "enterprise.example", 1, ctap.StatusOK, false},
		{"value 0", nil, "enterprise.example", 0, ctap.StatusInvalidOption, false},
		{"value 3", nil, "enterprise.example", 3, ctap.StatusInvalidOption, false},
		{"value 256", nil, "enterprise.example", 256, ctap.StatusInvalidOption, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t, func(c *Config) { c.EnterpriseRPIDs = tt.cfg })
			enableEP(t, k)
			ordinary, s := k.makeCredential(mcReq(tt.rpID, []byte{2}, false))
			if s != ctap.StatusOK || ordinary.EPAtt != nil {
				t.Fatalf("without enterpriseAttestation: %v, epAtt %v", s, ordinary.EPAtt)
			}
			resp, s := k.makeCredential(epReq(tt.rpID, tt.ep))
			if s != tt.status {
				t.Fatalf("status %v, want %v", s, tt.status)
			}
			if s != ctap.StatusOK {
				return
			}
			signed := append(bytes.Clone(resp.AuthData), testCDH...)
			verifyPackedAttestation(t, k.a, resp, signed)
			leaf, ordinaryLeaf := leafOf(t, resp), leafOf(t, ordinary)
			if !tt.epAtt {
				if resp.EPAtt != nil {
					t.Errorf("epAtt %v, want absent", *resp.EPAtt)
				}
				if !leaf.Equal(ordinaryLeaf) {
					t.Error("not the ordinary attestation certificate")
				}
				return
			}
			if resp.EPAtt == nil || !*resp.EPAtt {
				t.Fatalf("epAtt %v, want true", resp.EPAtt)
			}
			if leaf.Equal(ordinaryLeaf) || leaf.PublicKey.(*ecdsa.PublicKey).Equal(ordinaryLeaf.PublicKey) {
				t.Error("enterprise attestation with the ordinary certificate or key")
			}
			if leaf.Subject.CommonName != enterpriseAttestationCommonName || len(leaf.Subject.SerialNumber) != 16 {
				t.Errorf("enterprise subject %v", leaf.Subject)
			}
			if !bytes.Equal(leaf.RawIssuer, ordinaryLeaf.RawIssuer) || !bytes.Equal(leaf.AuthorityKeyId, ordinaryLeaf.AuthorityKeyId) {
				t.Error("enterprise leaf has another issuer")
			}
		})
	}
}

// TestEnterpriseCertificateKept: the enterprise key and certificate are
// made once, saved with the first enterprise attestation, reused after a
// restart and a reset, and reset turns ep off again (§7.1).
func TestEnterpriseCertificateKept(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	if st := k.store.State(); st.Attestation.EnterpriseCert != nil {
		t.Fatal("enterprise certificate before it was needed")
	}
	enableEP(t, k)
	first, s := k.makeCredential(epReq("example.com", 2))
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	st := k.store.State()
	if !bytes.Equal(st.Attestation.EnterpriseCert, first.AttStmt.X5C[0]) || len(st.Attestation.EnterpriseKey) != 32 {
		t.Fatal("enterprise certificate not saved")
	}
	a2, err := New(Config{Rand: seededRand(3), Now: k.clock.Now, Store: k.store})
	if err != nil {
		t.Fatal(err)
	}
	k.a = a2
	second, s := k.makeCredential(epReq("example.com", 2))
	if s != ctap.StatusOK || !bytes.Equal(second.AttStmt.X5C[0], first.AttStmt.X5C[0]) {
		t.Fatalf("after restart: %v, same certificate %v", s, s == ctap.StatusOK && bytes.Equal(second.AttStmt.X5C[0], first.AttStmt.X5C[0]))
	}
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatalf("reset: %v", s)
	}
	if _, s := k.makeCredential(epReq("example.com", 2)); s != ctap.StatusInvalidParameter {
		t.Fatalf("after reset: %v, want CTAP1_ERR_INVALID_PARAMETER", s)
	}
	enableEP(t, k)
	third, s := k.makeCredential(epReq("example.com", 2))
	if s != ctap.StatusOK || !bytes.Equal(third.AttStmt.X5C[0], first.AttStmt.X5C[0]) {
		t.Fatalf("after reset: %v, certificate changed", s)
	}
}

// TestEnterpriseNewAAGUID: a key whose AAGUID changed issues a new
// enterprise certificate carrying it.
func TestEnterpriseNewAAGUID(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	enableEP(t, k)
	if _, s := k.makeCredential(epReq("example.com", 2)); s != ctap.StatusOK {
		t.Fatal(s)
	}
	aaguid := [16]byte{1, 2, 3}
	a2, err := New(Config{Rand: seededRand(4), Now: k.clock.Now, Store: k.store, AAGUID: aaguid})
	if err != nil {
		t.Fatal(err)
	}
	k.a = a2
	resp, s := k.makeCredential(epReq("example.com", 2))
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	if got, ok := CertificateAAGUID(leafOf(t, resp)); !ok || got != aaguid {
		t.Errorf("AAGUID extension %x, want %x", got, aaguid)
	}
	verifyPackedAttestation(t, k.a, resp, append(bytes.Clone(resp.AuthData), testCDH...))
}

// TestEnterpriseWithOtherAttestationModes: an enterprise attestation is
// packed with x5c even on a key configured for self or no attestation;
// an unlisted RP gets the configured kind.
func TestEnterpriseWithOtherAttestationModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []AttestationMode{AttestationSelf, AttestationNone} {
		k := newTestKey(t, withAttestation(mode))
		enableEP(t, k)
		resp, s := k.makeCredential(epReq("enterprise.example", 1))
		if s != ctap.StatusOK || resp.EPAtt == nil || !*resp.EPAtt {
			t.Fatalf("%v: %v", mode, s)
		}
		verifyPackedAttestation(t, k.a, resp, append(bytes.Clone(resp.AuthData), testCDH...))
		resp, s = k.makeCredential(epReq("example.com", 1))
		if s != ctap.StatusOK || resp.EPAtt != nil || len(resp.AttStmt.X5C) != 0 {
			t.Errorf("%v, unlisted RP: %v epAtt %v x5c %d", mode, s, resp.EPAtt, len(resp.AttStmt.X5C))
		}
	}
}

// TestEnterpriseFailedSave: when the save fails, the response is an error
// and the enterprise certificate is not kept.
func TestEnterpriseFailedSave(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	enableEP(t, k)
	k.store.FailSaves(errors.New("disk full"))
	if _, s := k.makeCredential(epReq("example.com", 2)); s != ctap.StatusOther {
		t.Fatalf("status %v, want CTAP1_ERR_OTHER", s)
	}
	k.store.FailSaves(nil)
	if k.a.state.Attestation.EnterpriseCert != nil || k.store.State().Attestation.EnterpriseCert != nil {
		t.Error("enterprise certificate kept after a failed save")
	}
}
