package authenticator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// Enterprise attestation (CTAP 2.1 §7.1).
//
// An enterprise attestation is one that may identify the individual key.
// This key is enterprise attestation capable, and getInfo lists "ep" with
// State.EnterpriseAttestation (config.go): false on a new or reset key,
// true once authenticatorConfig enableEnterpriseAttestation ran (§6.11.1).
// It supports both kinds:
//
//   - vendor-facilitated (enterpriseAttestation 1, §7.1.1): an enterprise
//     attestation only for the RP IDs of Config.EnterpriseRPIDs, the list
//     the vendor "burned into" the key (DefaultEnterpriseRPIDs unless the
//     Config says otherwise); for any other RP ID the attestation is the
//     ordinary, privacy-preserving one;
//   - platform-managed (enterpriseAttestation 2, §7.1.2): an enterprise
//     attestation for any RP ID, the enterprise-managed platform having
//     vetted it.
//
// The enterprise attestation is packed (WebAuthn §8.2) with alg ES256,
// signed by an enterprise attestation key whose certificate x5c[0] is a
// leaf of its own under the same attestation CA as the ordinary leaf
// (so Authenticator.AttestationRoots verifies both). Its subject adds a
// serialNumber attribute unique to this key (16 hex digits from
// Config.Rand) and the common name "virtkey Enterprise Attestation"; it
// keeps WebAuthn §8.2.1's C, O and OU "Authenticator Attestation", basic
// constraints CA false and the id-fido-gen-ce-aaguid extension. The key
// and certificate are made the first time they are needed and kept in
// State.Attestation (EnterpriseKey, EnterpriseCert), saved with the
// credential before the response; like the ordinary leaf they survive
// authenticatorReset (which turns "ep" off), and a changed AAGUID gets a
// new one. An enterprise attestation is packed with x5c whatever
// Config.Attestation says: the platform asked for it explicitly, and the
// response says so with epAtt true. Otherwise epAtt is absent ("absent or
// present and set to false" both mean no enterprise attestation, §6.1.2).

// DefaultEnterpriseRPIDs is the vendor-facilitated enterprise attestation
// RP ID list of a key whose Config.EnterpriseRPIDs is nil.
var DefaultEnterpriseRPIDs = []string{"enterprise.example"}

// enterpriseAttestationCommonName is the enterprise leaf's subject CN.
const enterpriseAttestationCommonName = "virtkey Enterprise Attestation"

// enterpriseRPIDs is the list a key with Config.EnterpriseRPIDs list uses.
func enterpriseRPIDs(list []string) []string {
	if list == nil {
		return slices.Clone(DefaultEnterpriseRPIDs)
	}
	return slices.Clone(list)
}

// processEnterpriseAttestation is step 9 of §6.1.2, when the
// enterpriseAttestation parameter is present:
//
//  1. enterprise attestation disabled (this key is capable of it) is
//     CTAP1_ERR_INVALID_PARAMETER;
//  2. a value other than 1 or 2 is CTAP2_ERR_INVALID_OPTION;
//  3. 1 with rp.id in the pre-configured list, or 2, makes the response an
//     enterprise attestation (epAtt true); 1 with another rp.id leaves
//     the ordinary attestation (§7.1.1).
func (hs *makeCredentialState) processEnterpriseAttestation() error {
	ep := hs.req.EnterpriseAttestation
	if ep == nil || hs.a.ctap20() { // CTAP 2.0 §5.1 has no enterpriseAttestation member
		return nil
	}
	if !hs.a.feat.ep || !hs.a.state.EnterpriseAttestation { // 9.1: not capable (Config.NoEnterpriseAttestation), or disabled
		return fmt.Errorf("%w: enterpriseAttestation while enterprise attestation is disabled", ctap.StatusInvalidParameter)
	}
	switch *ep { // 9.2, 9.3
	case ctap.EnterpriseAttestationVendorFacilitated:
		hs.epAtt = slices.Contains(hs.a.epRPIDs, hs.req.RP.ID)
	case ctap.EnterpriseAttestationPlatformManaged:
		hs.epAtt = true
	default:
		return fmt.Errorf("%w: enterpriseAttestation %d", ctap.StatusInvalidOption, *ep)
	}
	return nil
}

// enterpriseAttest is step 19 for an enterprise attestation: packed, ES256,
// signed by the enterprise attestation key, x5c its certificate, and epAtt
// true.
func (hs *makeCredentialState) enterpriseAttest() error {
	a := hs.a
	att, err := a.enterpriseAttestation()
	if err != nil {
		return err
	}
	sig, err := att.sign(a.rand, hs.authData, hs.req.ClientDataHash)
	if err != nil {
		return err
	}
	alg, epAtt := ctap.AlgES256, true
	hs.resp.AuthData = hs.authData
	hs.resp.Fmt = ctap.FormatPacked
	hs.resp.AttStmt = ctap.AttestationStatement{Alg: &alg, Sig: sig, X5C: [][]byte{att.leafDER}}
	hs.resp.EPAtt = &epAtt
	return nil
}

// enterpriseAttestation returns the enterprise attestation key and
// certificate, making them when the state has none or has one for another
// AAGUID. The caller saves the state.
func (a *Authenticator) enterpriseAttestation() (*attestation, error) {
	st := a.state.Attestation
	if st == nil {
		return nil, fmt.Errorf("authenticator: no attestation keys")
	}
	if len(st.EnterpriseCert) > 0 {
		att, err := loadAttestation(&AttestationState{CACert: st.CACert, Key: st.EnterpriseKey, Cert: st.EnterpriseCert})
		if err == nil && att.matchesAAGUID(a.aaguid) {
			return att, nil
		}
	}
	key, cert, err := newEnterpriseLeaf(a, st)
	if err != nil {
		return nil, err
	}
	st.EnterpriseKey, st.EnterpriseCert = key, cert
	return loadAttestation(&AttestationState{CACert: st.CACert, Key: key, Cert: cert})
}

// newEnterpriseLeaf issues an enterprise attestation certificate for a
// new P-256 key under the CA in st (WebAuthn §8.2.1 plus a serialNumber).
func newEnterpriseLeaf(a *Authenticator, st *AttestationState) (key, cert []byte, err error) {
	ca, err := x509.ParseCertificate(st.CACert)
	if err != nil {
		return nil, nil, fmt.Errorf("authenticator: attestation CA: %w", err)
	}
	caPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), st.CAKey)
	if err != nil {
		return nil, nil, fmt.Errorf("authenticator: attestation CA key: %w", err)
	}
	leafKey, err := generateKey(a.rand, ctap.AlgES256)
	if err != nil {
		return nil, nil, err
	}
	leafPriv, err := leafKey.ecdsaKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial(a.rand)
	if err != nil {
		return nil, nil, err
	}
	device, err := a.randomBytes(8)
	if err != nil {
		return nil, nil, err
	}
	ext, err := asn1.Marshal(a.aaguid[:])
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country:            []string{attestationCountry},
			Organization:       []string{attestationOrganization},
			OrganizationalUnit: []string{attestationUnit},
			CommonName:         enterpriseAttestationCommonName,
			SerialNumber:       hex.EncodeToString(device),
		},
		NotBefore:             attestationNotBefore,
		NotAfter:              attestationNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{{Id: OIDFIDOGenCEAAGUID, Value: ext}},
	}
	der, err := x509.CreateCertificate(a.rand, tmpl, ca, &leafPriv.PublicKey, caPriv)
	if err != nil {
		return nil, nil, fmt.Errorf("authenticator: enterprise attestation certificate: %w", err)
	}
	return leafKey.priv, der, nil
}
