package authenticator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// AttestationMode selects the attestation statement of makeCredential.
type AttestationMode int

const (
	// AttestationPacked is packed attestation with an x5c chain (WebAuthn
	// §8.2): the statement is signed by the attestation leaf key, and x5c
	// holds the leaf certificate alone, issued by the CA that
	// AttestationCA returns (the root is not sent; relying parties have it
	// from metadata). The default.
	AttestationPacked AttestationMode = iota
	// AttestationSelf is packed self attestation (WebAuthn §8.2): signed by
	// the credential key itself, with alg the credential's algorithm and no
	// x5c.
	AttestationSelf
	// AttestationNone is the "none" format (WebAuthn §8.7) with an empty
	// statement.
	AttestationNone
)

func (m AttestationMode) String() string {
	switch m {
	case AttestationPacked:
		return "packed"
	case AttestationSelf:
		return "self"
	case AttestationNone:
		return "none"
	}
	return fmt.Sprintf("AttestationMode(%d)", int(m))
}

// OIDFIDOGenCEAAGUID is id-fido-gen-ce-aaguid, the attestation certificate
// extension that holds the AAGUID as an OCTET STRING (WebAuthn §8.2.1).
var OIDFIDOGenCEAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// Names in the attestation certificates (WebAuthn §8.2.1: C, O, OU
// "Authenticator Attestation", CN).
const (
	attestationCountry      = "US"
	attestationOrganization = "virtkey"
	attestationUnit         = "Authenticator Attestation"
	attestationCACommonName = "virtkey Attestation Root CA"
	attestationCommonName   = "virtkey Attestation"
)

// The certificates have fixed validity so that a test clock never makes
// them "not yet valid" for a relying party on the real clock; 9999-12-31
// is RFC 5280 §4.1.2.5's "no well-defined expiration date".
var (
	attestationNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	attestationNotAfter  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// attestation is the loaded attestation key material.
type attestation struct {
	ca      *x509.Certificate
	leaf    *x509.Certificate
	leafDER []byte
	key     *ecdsa.PrivateKey
}

func randomSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("authenticator: certificate serial: %w", err)
	}
	b[0] = b[0]&0x3F | 0x40 // positive, always 16 bytes
	return new(big.Int).SetBytes(b), nil
}

// newAttestationState generates a self-signed P-256 attestation CA and a
// leaf it issues for aaguid. Keys and serials come from r.
func newAttestationState(r io.Reader, aaguid [16]byte) (*AttestationState, error) {
	caKey, err := generateKey(r, ctap.AlgES256)
	if err != nil {
		return nil, err
	}
	caPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), caKey.priv)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial(r)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country:            []string{attestationCountry},
			Organization:       []string{attestationOrganization},
			OrganizationalUnit: []string{attestationUnit},
			CommonName:         attestationCACommonName,
		},
		NotBefore:             attestationNotBefore,
		NotAfter:              attestationNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(r, tmpl, tmpl, &caPriv.PublicKey, caPriv)
	if err != nil {
		return nil, fmt.Errorf("authenticator: attestation CA: %w", err)
	}
	st := &AttestationState{CAKey: caKey.priv, CACert: caDER}
	if err := reissueLeaf(r, st, aaguid); err != nil {
		return nil, err
	}
	return st, nil
}

// reissueLeaf generates a new leaf key and certificate for aaguid under
// the CA in st.
func reissueLeaf(r io.Reader, st *AttestationState, aaguid [16]byte) error {
	ca, err := x509.ParseCertificate(st.CACert)
	if err != nil {
		return fmt.Errorf("authenticator: attestation CA: %w", err)
	}
	caPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), st.CAKey)
	if err != nil {
		return fmt.Errorf("authenticator: attestation CA key: %w", err)
	}
	leafKey, err := generateKey(r, ctap.AlgES256)
	if err != nil {
		return err
	}
	leafPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), leafKey.priv)
	if err != nil {
		return err
	}
	serial, err := randomSerial(r)
	if err != nil {
		return err
	}
	ext, err := asn1.Marshal(aaguid[:])
	if err != nil {
		return err
	}
	// WebAuthn §8.2.1: version 3, subject C/O/OU/CN, basic constraints
	// CA=false, and the AAGUID extension, non-critical.
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country:            []string{attestationCountry},
			Organization:       []string{attestationOrganization},
			OrganizationalUnit: []string{attestationUnit},
			CommonName:         attestationCommonName,
		},
		NotBefore:             attestationNotBefore,
		NotAfter:              attestationNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{{Id: OIDFIDOGenCEAAGUID, Value: ext}},
	}
	der, err := x509.CreateCertificate(r, tmpl, ca, &leafPriv.PublicKey, caPriv)
	if err != nil {
		return fmt.Errorf("authenticator: attestation certificate: %w", err)
	}
	st.Key, st.Cert = leafKey.priv, der
	return nil
}

// loadAttestation parses the attestation key material and checks that the
// leaf chains to the CA and matches its key.
func loadAttestation(st *AttestationState) (*attestation, error) {
	if st == nil {
		return nil, errors.New("authenticator: no attestation keys")
	}
	h := sha256.New()
	for _, b := range [][]byte{st.CACert, st.Cert, st.Key} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	return loadedAttestations.get(string(h.Sum(nil)), func() (*attestation, error) { return parseAttestation(st) })
}

// loadedAttestations caches loadAttestation's checked results by their
// inputs: a process that starts many keys from one state (the
// conformance suite makes a fresh key per case) parses the certificates
// and checks the chain once. The values are never changed.
var loadedAttestations = memo[*attestation]{max: 64}

// parseAttestation is loadAttestation without the cache.
func parseAttestation(st *AttestationState) (*attestation, error) {
	ca, err := x509.ParseCertificate(st.CACert)
	if err != nil {
		return nil, fmt.Errorf("authenticator: attestation CA: %w", err)
	}
	leaf, err := x509.ParseCertificate(st.Cert)
	if err != nil {
		return nil, fmt.Errorf("authenticator: attestation certificate: %w", err)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("authenticator: attestation certificate: %w", err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), st.Key)
	if err != nil {
		return nil, fmt.Errorf("authenticator: attestation key: %w", err)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("authenticator: attestation key does not match its certificate")
	}
	return &attestation{ca: ca, leaf: leaf, leafDER: st.Cert, key: key}, nil
}

// CertificateAAGUID returns the AAGUID in an attestation certificate's
// id-fido-gen-ce-aaguid extension.
func CertificateAAGUID(cert *x509.Certificate) (aaguid [16]byte, ok bool) {
	for _, e := range cert.Extensions {
		if !e.Id.Equal(OIDFIDOGenCEAAGUID) {
			continue
		}
		var b []byte
		rest, err := asn1.Unmarshal(e.Value, &b)
		if err != nil || len(rest) != 0 || len(b) != 16 {
			return aaguid, false
		}
		copy(aaguid[:], b)
		return aaguid, true
	}
	return aaguid, false
}

func (att *attestation) matchesAAGUID(aaguid [16]byte) bool {
	got, ok := CertificateAAGUID(att.leaf)
	return ok && bytes.Equal(got[:], aaguid[:])
}

// sign makes the packed attestation signature: ECDSA P-256 with SHA-256
// over authData || clientDataHash (WebAuthn §8.2 "Signing procedure").
func (att *attestation) sign(r io.Reader, authData, clientDataHash []byte) ([]byte, error) {
	h := sha256.New()
	h.Write(authData)
	h.Write(clientDataHash)
	sig, err := ecdsa.SignASN1(r, att.key, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("authenticator: attestation signature: %w", err)
	}
	return sig, nil
}
