package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// OIDFIDOGenCEAAGUID is id-fido-gen-ce-aaguid, the certificate extension
// holding the authenticator's AAGUID as an OCTET STRING (WebAuthn §8.2.1).
var OIDFIDOGenCEAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// AttestationOU is the Subject-OU of a packed attestation certificate
// (WebAuthn §8.2.1).
const AttestationOU = "Authenticator Attestation"

// Verify runs the verification procedure of the attestation statement
// format r.Fmt over AuthDataRaw || clientDataHash. Errors wrap
// ErrAttestation (and ctap.ErrBadSignature for a signature that does not
// verify).
//
//   - "packed" with x5c (WebAuthn §8.2, basic or attestation-CA
//     attestation): alg is present, sig verifies with the public key of the
//     leaf x5c[0] under alg, the leaf meets §8.2.1 (version 3; Subject C, O
//     and CN present and OU "Authenticator Attestation"; basic constraints
//     present with CA false; an id-fido-gen-ce-aaguid extension, if
//     present, not critical and equal to authData's AAGUID), and, when
//     roots is not nil, the leaf chains to roots through the intermediates
//     x5c[1:] at the current time.
//   - "packed" without x5c (self attestation): alg equals the credential
//     public key's alg and sig verifies with the credential public key.
//   - "fido-u2f" (WebAuthn §8.6): one P-256 certificate in x5c whose key
//     verifies sig over 0x00 || rpIdHash || clientDataHash || credentialId
//     || the credential key as an uncompressed point; chained to roots when
//     roots is not nil.
//   - "none" (WebAuthn §8.7): attStmt is the empty map.
//
// Any other format is an error.
func (r *AttestationResponse) Verify(clientDataHash []byte, roots *x509.CertPool) error {
	if r.AuthData == nil || r.AuthData.AttestedCredential == nil {
		return fmt.Errorf("%w: no attested credential data", ErrAttestation)
	}
	signed := append(append([]byte(nil), r.AuthDataRaw...), clientDataHash...)
	switch r.Fmt {
	case ctap.FormatNone:
		return r.verifyNone()
	case ctap.FormatPacked:
		if len(r.AttStmt.X5C) > 0 {
			return r.verifyPackedX5C(signed, roots)
		}
		return r.verifyPackedSelf(signed)
	case ctap.FormatFIDOU2F:
		return r.verifyU2F(clientDataHash, roots)
	}
	return fmt.Errorf("%w: unsupported format %q", ErrAttestation, r.Fmt)
}

// verifyNone: WebAuthn §8.7, attStmt is an empty map.
func (r *AttestationResponse) verifyNone() error {
	if r.AttStmtRaw != nil {
		var m map[string]ctap.RawMessage
		if err := ctap.Unmarshal(r.AttStmtRaw, &m); err != nil {
			return fmt.Errorf("%w: none: attStmt: %v", ErrAttestation, err)
		}
		if len(m) != 0 {
			return fmt.Errorf("%w: none: attStmt has %d members, want none", ErrAttestation, len(m))
		}
		return nil
	}
	s := r.AttStmt
	if s.Alg != nil || s.Sig != nil || s.X5C != nil {
		return fmt.Errorf("%w: none: attStmt is not empty", ErrAttestation)
	}
	return nil
}

// verifyPackedX5C: WebAuthn §8.2 verification procedure, x5c present.
func (r *AttestationResponse) verifyPackedX5C(signed []byte, roots *x509.CertPool) error {
	s := r.AttStmt
	if s.Alg == nil {
		return fmt.Errorf("%w: packed: alg missing", ErrAttestation)
	}
	certs, err := parseX5C(s.X5C)
	if err != nil {
		return err
	}
	leaf := certs[0]
	if err := ctap.VerifySignature(*s.Alg, leaf.PublicKey, signed, s.Sig); err != nil {
		return fmt.Errorf("%w: packed: attestation certificate signature: %w", ErrAttestation, err)
	}
	if err := checkPackedCert(leaf, r.AuthData.AttestedCredential.AAGUID); err != nil {
		return err
	}
	return verifyChain(certs, roots)
}

// verifyPackedSelf: WebAuthn §8.2 verification procedure, self attestation.
func (r *AttestationResponse) verifyPackedSelf(signed []byte) error {
	s := r.AttStmt
	if s.Alg == nil {
		return fmt.Errorf("%w: packed: alg missing", ErrAttestation)
	}
	key := r.AuthData.AttestedCredential.PublicKey
	if *s.Alg != key.Alg {
		return fmt.Errorf("%w: packed self attestation: alg %d, credential key alg %d", ErrAttestation, *s.Alg, key.Alg)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return fmt.Errorf("%w: packed self attestation: %w", ErrAttestation, err)
	}
	if err := ctap.VerifySignature(*s.Alg, pub, signed, s.Sig); err != nil {
		return fmt.Errorf("%w: packed self attestation: %w", ErrAttestation, err)
	}
	return nil
}

// checkPackedCert checks the requirements of WebAuthn §8.2.1 on a packed
// attestation certificate.
func checkPackedCert(c *x509.Certificate, aaguid [16]byte) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: packed attestation certificate: %s", ErrAttestation, fmt.Sprintf(format, args...))
	}
	if c.Version != 3 {
		return fail("version %d, want 3", c.Version)
	}
	subj := c.Subject
	if len(subj.Country) == 0 || subj.Country[0] == "" {
		return fail("Subject-C missing")
	}
	if len(subj.Organization) == 0 || subj.Organization[0] == "" {
		return fail("Subject-O missing")
	}
	if !slices.Equal(subj.OrganizationalUnit, []string{AttestationOU}) {
		return fail("Subject-OU %q, want %q", subj.OrganizationalUnit, AttestationOU)
	}
	if subj.CommonName == "" {
		return fail("Subject-CN missing")
	}
	if !c.BasicConstraintsValid {
		return fail("basic constraints extension missing")
	}
	if c.IsCA {
		return fail("basic constraints CA is true")
	}
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(OIDFIDOGenCEAAGUID) {
			continue
		}
		if ext.Critical {
			return fail("id-fido-gen-ce-aaguid extension is critical")
		}
		var v []byte
		rest, err := asn1.Unmarshal(ext.Value, &v)
		if err != nil || len(rest) != 0 || len(v) != 16 {
			return fail("id-fido-gen-ce-aaguid extension is not a 16-byte OCTET STRING")
		}
		if [16]byte(v) != aaguid {
			return fail("id-fido-gen-ce-aaguid %x differs from authData AAGUID %x", v, aaguid)
		}
	}
	return nil
}

func parseX5C(x5c [][]byte) ([]*x509.Certificate, error) {
	if len(x5c) == 0 {
		return nil, fmt.Errorf("%w: x5c empty", ErrAttestation)
	}
	certs := make([]*x509.Certificate, len(x5c))
	for i, der := range x5c {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrAttestation, i, err)
		}
		certs[i] = c
	}
	return certs, nil
}

// verifyChain checks that certs[0] chains to roots through certs[1:]; a nil
// roots skips the check.
func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if roots == nil {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%w: certificate chain: %v", ErrAttestation, err)
	}
	return nil
}

// verifyU2F: WebAuthn §8.6 verification procedure.
func (r *AttestationResponse) verifyU2F(clientDataHash []byte, roots *x509.CertPool) error {
	s := r.AttStmt
	if len(s.X5C) != 1 {
		return fmt.Errorf("%w: fido-u2f: x5c has %d certificates, want 1", ErrAttestation, len(s.X5C))
	}
	certs, err := parseX5C(s.X5C)
	if err != nil {
		return err
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: fido-u2f: certificate key is not P-256", ErrAttestation)
	}
	ac := r.AuthData.AttestedCredential
	k := ac.PublicKey
	if k.Kty != ctap.KtyEC2 || k.Crv != ctap.CrvP256 || len(k.X) != 32 || len(k.Y) != 32 {
		return fmt.Errorf("%w: fido-u2f: credential key is not P-256", ErrAttestation)
	}
	msg := []byte{0}
	msg = append(msg, r.AuthData.RPIDHash[:]...)
	msg = append(msg, clientDataHash...)
	msg = append(msg, ac.CredentialID...)
	msg = append(msg, 4)
	msg = append(msg, k.X...)
	msg = append(msg, k.Y...)
	if err := ctap.VerifySignature(ctap.AlgES256, pub, msg, s.Sig); err != nil {
		return fmt.Errorf("%w: fido-u2f: %w", ErrAttestation, err)
	}
	return verifyChain(certs, roots)
}
