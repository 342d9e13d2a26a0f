package client

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

var (
	certNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	certNotAfter  = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign signs msg under COSE algorithm alg (ES256 or EdDSA).
func sign(t testing.TB, alg int64, key crypto.Signer, msg []byte) []byte {
	t.Helper()
	switch alg {
	case ctap.AlgES256:
		h := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, key.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case ctap.AlgEdDSA:
		return ed25519.Sign(key.(ed25519.PrivateKey), msg)
	}
	t.Fatalf("sign: algorithm %d", alg)
	return nil
}

type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// createCert signs tmpl for pub by parent, or self-signs with key when
// parent is nil.
func createCert(t testing.TB, tmpl *x509.Certificate, parent *issuer, pub crypto.PublicKey, key crypto.Signer) *issuer {
	t.Helper()
	pc, pk := tmpl, key
	if parent != nil {
		pc, pk = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, pub, pk)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{cert: c, key: key}
}

func caTemplate(serial int64, cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{Organization: []string{"virtkey test"}, CommonName: cn},
		NotBefore:             certNotBefore,
		NotAfter:              certNotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func aaguidExtension(t testing.TB, aaguid [16]byte, critical bool) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(aaguid[:])
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: OIDFIDOGenCEAAGUID, Critical: critical, Value: v}
}

// leafTemplate meets WebAuthn §8.2.1.
func leafTemplate(t testing.TB, aaguid [16]byte) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject: pkix.Name{
			Country:            []string{"US"},
			Organization:       []string{"virtkey test"},
			OrganizationalUnit: []string{AttestationOU},
			CommonName:         "virtkey test attestation",
		},
		NotBefore:             certNotBefore,
		NotAfter:              certNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{aaguidExtension(t, aaguid, false)},
	}
}

// credentialAuthData returns authenticator data attesting a credential
// with public key pub under alg.
func credentialAuthData(t testing.TB, aaguid [16]byte, alg int64, pub crypto.PublicKey) []byte {
	t.Helper()
	k, err := ctap.NewCOSEKey(alg, pub)
	if err != nil {
		t.Fatal(err)
	}
	ad := &ctap.AuthData{
		RPIDHash:  sha256.Sum256([]byte("example.com")),
		Flags:     ctap.FlagUP | ctap.FlagUV,
		SignCount: 1,
		AttestedCredential: &ctap.AttestedCredentialData{
			AAGUID: aaguid, CredentialID: []byte("credential-0001"), PublicKey: k,
		},
	}
	b, err := ad.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attestationBody encodes a makeCredential response.
func attestationBody(t testing.TB, format string, authData []byte, attStmt map[string]any) []byte {
	t.Helper()
	if attStmt == nil {
		attStmt = map[string]any{}
	}
	return mustMarshal(t, map[int]any{1: format, 2: authData, 3: attStmt})
}

func parseAtt(t testing.TB, body []byte) *AttestationResponse {
	t.Helper()
	r, err := ParseAttestationResponse(body)
	if err != nil {
		t.Fatalf("ParseAttestationResponse: %v", err)
	}
	return r
}

func TestVerifyPackedX5C(t *testing.T) {
	t.Parallel()
	rootKey, interKey := newP256(t), newP256(t)
	root := createCert(t, caTemplate(1, "virtkey test root"), nil, rootKey.Public(), rootKey)
	inter := createCert(t, caTemplate(2, "virtkey test intermediate"), root, interKey.Public(), interKey)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	otherKey := newP256(t)
	other := createCert(t, caTemplate(9, "another root"), nil, otherKey.Public(), otherKey)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other.cert)

	credKey := newP256(t)
	authData := credentialAuthData(t, testAAGUID, ctap.AlgES256, credKey.Public())
	clientDataHash := cdh(`{"type":"webauthn.create"}`)
	signed := append(append([]byte(nil), authData...), clientDataHash...)

	tests := []struct {
		name    string
		tmpl    func(*x509.Certificate) // changes the leaf template
		edLeaf  bool                    // Ed25519 attestation key
		alg     *int64
		sig     func([]byte) []byte // changes the signature
		noInter bool                // leave the intermediate out of x5c
		roots   *x509.CertPool
		wantErr string // "" = verifies
		wantIs  error
	}{
		{name: "good chain", roots: roots},
		{name: "good, no roots", roots: nil},
		{name: "good EdDSA leaf", edLeaf: true, alg: i64(ctap.AlgEdDSA), roots: roots},
		{name: "good without AAGUID extension", tmpl: func(c *x509.Certificate) { c.ExtraExtensions = nil }, roots: roots},
		{name: "other root", roots: otherRoots, wantErr: "certificate chain"},
		{name: "missing intermediate", roots: roots, noInter: true, wantErr: "certificate chain"},
		{name: "wrong AAGUID", tmpl: func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{aaguidExtension(t, [16]byte{1, 2, 3}, false)}
		}, wantErr: "differs from authData AAGUID"},
		{name: "critical AAGUID extension", tmpl: func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{aaguidExtension(t, testAAGUID, true)}
		}, wantErr: "is critical"},
		{name: "AAGUID extension not an OCTET STRING", tmpl: func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: OIDFIDOGenCEAAGUID, Value: testAAGUID[:]}}
		}, wantErr: "16-byte OCTET STRING"},
		{name: "CA leaf", tmpl: func(c *x509.Certificate) { c.IsCA = true }, wantErr: "CA is true"},
		{name: "no basic constraints", tmpl: func(c *x509.Certificate) { c.BasicConstraintsValid = false }, wantErr: "basic constraints extension missing"},
		{name: "wrong OU", tmpl: func(c *x509.Certificate) { c.Subject.OrganizationalUnit = []string{"Authenticator"} }, wantErr: "Subject-OU"},
		{name: "two OUs", tmpl: func(c *x509.Certificate) {
			c.Subject.OrganizationalUnit = []string{AttestationOU, "extra"}
		}, wantErr: "Subject-OU"},
		{name: "no country", tmpl: func(c *x509.Certificate) { c.Subject.Country = nil }, wantErr: "Subject-C"},
		{name: "no organization", tmpl: func(c *x509.Certificate) { c.Subject.Organization = nil }, wantErr: "Subject-O "},
		{name: "no common name", tmpl: func(c *x509.Certificate) { c.Subject.CommonName = "" }, wantErr: "Subject-CN"},
		{name: "bad signature", sig: func(s []byte) []byte {
			s = bytes.Clone(s)
			s[len(s)-1] ^= 1
			return s
		}, wantErr: "signature", wantIs: ctap.ErrBadSignature},
		{name: "signature over other data", sig: func([]byte) []byte {
			return nil // replaced below
		}, wantErr: "signature", wantIs: ctap.ErrBadSignature},
		{name: "alg does not fit the key", alg: i64(ctap.AlgEdDSA), wantErr: "signature", wantIs: ctap.ErrInvalidKey},
		{name: "alg missing", alg: i64(0), wantErr: "alg missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl := leafTemplate(t, testAAGUID)
			if tt.tmpl != nil {
				tt.tmpl(tmpl)
			}
			var leafKey crypto.Signer = newP256(t)
			alg := ctap.AlgES256
			if tt.edLeaf {
				leafKey, alg = newEd25519(t), ctap.AlgEdDSA
			}
			leaf := createCert(t, tmpl, inter, leafKey.Public(), leafKey)
			sig := sign(t, alg, leafKey, signed)
			if tt.sig != nil {
				if sig = tt.sig(sig); sig == nil {
					sig = sign(t, alg, leafKey, authData)
				}
			}
			x5c := [][]byte{leaf.cert.Raw, inter.cert.Raw}
			if tt.noInter {
				x5c = x5c[:1]
			}
			stmt := map[string]any{"alg": alg, "sig": sig, "x5c": x5c}
			if tt.alg != nil {
				if *tt.alg == 0 {
					delete(stmt, "alg")
				} else {
					stmt["alg"] = *tt.alg
				}
			}
			r := parseAtt(t, attestationBody(t, ctap.FormatPacked, authData, stmt))
			err := r.Verify(clientDataHash, tt.roots)
			checkVerifyErr(t, err, tt.wantErr, tt.wantIs, ErrAttestation)
		})
	}
}

func checkVerifyErr(t *testing.T, err error, wantErr string, wantIs, sentinel error) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("Verify error %v does not wrap %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("Verify error %q does not mention %q", err, wantErr)
	}
	if wantIs != nil && !errors.Is(err, wantIs) {
		t.Errorf("Verify error %v does not wrap %v", err, wantIs)
	}
}

func TestVerifyPackedSelf(t *testing.T) {
	t.Parallel()
	clientDataHash := cdh(`{"type":"webauthn.create"}`)
	tests := []struct {
		name    string
		ed      bool
		alg     *int64 // attStmt alg; nil = the key's
		tamper  bool
		wantErr string
		wantIs  error
	}{
		{name: "ES256"},
		{name: "EdDSA", ed: true},
		{name: "alg mismatch", alg: i64(ctap.AlgRS256), wantErr: "alg -257, credential key alg -7"},
		{name: "alg mismatch EdDSA", ed: true, alg: i64(ctap.AlgES256), wantErr: "alg -7, credential key alg -8"},
		{name: "bad signature", tamper: true, wantErr: "self attestation", wantIs: ctap.ErrBadSignature},
		{name: "bad signature EdDSA", ed: true, tamper: true, wantErr: "self attestation", wantIs: ctap.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var key crypto.Signer = newP256(t)
			alg := ctap.AlgES256
			if tt.ed {
				key, alg = newEd25519(t), ctap.AlgEdDSA
			}
			authData := credentialAuthData(t, testAAGUID, alg, key.Public())
			sig := sign(t, alg, key, append(append([]byte(nil), authData...), clientDataHash...))
			if tt.tamper {
				sig[5] ^= 0x40
			}
			stmtAlg := alg
			if tt.alg != nil {
				stmtAlg = *tt.alg
			}
			r := parseAtt(t, attestationBody(t, ctap.FormatPacked, authData, map[string]any{"alg": stmtAlg, "sig": sig}))
			checkVerifyErr(t, r.Verify(clientDataHash, nil), tt.wantErr, tt.wantIs, ErrAttestation)
		})
	}
}

func TestVerifyNoneAndFormats(t *testing.T) {
	t.Parallel()
	key := newP256(t)
	authData := credentialAuthData(t, testAAGUID, ctap.AlgES256, key.Public())
	tests := []struct {
		name    string
		format  string
		stmt    map[string]any
		wantErr string
	}{
		{name: "none", format: ctap.FormatNone},
		{name: "none with sig", format: ctap.FormatNone, stmt: map[string]any{"sig": []byte{1}}, wantErr: "1 members"},
		{name: "none with unknown member", format: ctap.FormatNone, stmt: map[string]any{"foo": 1}, wantErr: "1 members"},
		{name: "unknown format", format: "tpm", wantErr: `unsupported format "tpm"`},
		{name: "packed without sig", format: ctap.FormatPacked, stmt: map[string]any{"alg": ctap.AlgES256}, wantErr: "self attestation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := parseAtt(t, attestationBody(t, tt.format, authData, tt.stmt))
			checkVerifyErr(t, r.Verify(cdh("x"), nil), tt.wantErr, nil, ErrAttestation)
		})
	}
	// A response built by hand, without AttStmtRaw.
	r := &AttestationResponse{Fmt: ctap.FormatNone, AuthData: parseAtt(t, attestationBody(t, "none", authData, nil)).AuthData}
	if err := r.Verify(cdh("x"), nil); err != nil {
		t.Errorf("hand-built none: %v", err)
	}
	r.AttStmt.Sig = []byte{1}
	if err := r.Verify(cdh("x"), nil); !errors.Is(err, ErrAttestation) {
		t.Errorf("hand-built none with sig: %v", err)
	}
	if err := (&AttestationResponse{Fmt: "none"}).Verify(cdh("x"), nil); !errors.Is(err, ErrAttestation) {
		t.Errorf("no authData: %v", err)
	}
}

func TestVerifyFIDOU2F(t *testing.T) {
	t.Parallel()
	attKey, credKey := newP256(t), newP256(t)
	tmpl := caTemplate(5, "u2f attestation")
	tmpl.IsCA, tmpl.KeyUsage = false, x509.KeyUsageDigitalSignature
	att := createCert(t, tmpl, nil, attKey.Public(), attKey)
	roots := x509.NewCertPool()
	roots.AddCert(att.cert)
	authData := credentialAuthData(t, [16]byte{}, ctap.AlgES256, credKey.Public())
	clientDataHash := cdh("u2f")
	ad, _ := ctap.ParseAuthData(authData)
	k := ad.AttestedCredential.PublicKey
	msg := bytes.Join([][]byte{{0}, ad.RPIDHash[:], clientDataHash, ad.AttestedCredential.CredentialID, {4}, k.X, k.Y}, nil)
	sig := sign(t, ctap.AlgES256, attKey, msg)

	r := parseAtt(t, attestationBody(t, ctap.FormatFIDOU2F, authData, map[string]any{"sig": sig, "x5c": [][]byte{att.cert.Raw}}))
	if err := r.Verify(clientDataHash, roots); err != nil {
		t.Errorf("good fido-u2f: %v", err)
	}
	if err := r.Verify(cdh("other"), roots); !errors.Is(err, ctap.ErrBadSignature) || !errors.Is(err, ErrAttestation) {
		t.Errorf("fido-u2f over other client data: %v", err)
	}
	r = parseAtt(t, attestationBody(t, ctap.FormatFIDOU2F, authData, map[string]any{"sig": sig, "x5c": [][]byte{att.cert.Raw, att.cert.Raw}}))
	if err := r.Verify(clientDataHash, roots); !errors.Is(err, ErrAttestation) {
		t.Errorf("fido-u2f with two certificates: %v", err)
	}
}

func TestAssertionVerify(t *testing.T) {
	t.Parallel()
	ecKey, edKey := newP256(t), newEd25519(t)
	ecCOSE, err := ctap.NewCOSEKey(ctap.AlgES256, ecKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	edCOSE, err := ctap.NewCOSEKey(ctap.AlgEdDSA, edKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	ecNoAlg, edNoAlg := ecCOSE, edCOSE
	ecNoAlg.Alg, edNoAlg.Alg = 0, 0
	authData := testAuthData(t, 42)
	clientDataHash := cdh(`{"type":"webauthn.get"}`)
	signed := append(append([]byte(nil), authData...), clientDataHash...)
	ecSig := sign(t, ctap.AlgES256, ecKey, signed)
	edSig := sign(t, ctap.AlgEdDSA, edKey, signed)

	tests := []struct {
		name    string
		sig     []byte
		key     ctap.COSEKey
		cdh     []byte
		wantErr string
		wantIs  error
	}{
		{name: "ES256", sig: ecSig, key: ecCOSE},
		{name: "ES256 key without alg", sig: ecSig, key: ecNoAlg},
		{name: "EdDSA", sig: edSig, key: edCOSE},
		{name: "EdDSA key without alg", sig: edSig, key: edNoAlg},
		{name: "ES256 other client data", sig: ecSig, key: ecCOSE, cdh: cdh("x"), wantErr: "signature", wantIs: ctap.ErrBadSignature},
		{name: "EdDSA other client data", sig: edSig, key: edCOSE, cdh: cdh("x"), wantErr: "signature", wantIs: ctap.ErrBadSignature},
		{name: "ES256 wrong key", sig: ecSig, key: func() ctap.COSEKey {
			k, _ := ctap.NewCOSEKey(ctap.AlgES256, newP256(t).Public())
			return k
		}(), wantErr: "signature", wantIs: ctap.ErrBadSignature},
		{name: "EdDSA signature, ES256 key", sig: edSig, key: ecCOSE, wantErr: "signature", wantIs: ctap.ErrBadSignature},
		{name: "truncated EdDSA", sig: edSig[:63], key: edCOSE, wantErr: "signature", wantIs: ctap.ErrBadSignature},
		{name: "invalid key", sig: ecSig, key: ctap.COSEKey{Kty: ctap.KtyEC2, Alg: ctap.AlgES256, Crv: ctap.CrvP256, X: make([]byte, 32), Y: make([]byte, 32)},
			wantErr: "invalid COSE key", wantIs: ctap.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := mustMarshal(t, ctap.GetAssertionResponse{AuthData: authData, Signature: tt.sig})
			r, err := ParseAssertionResponse(body)
			if err != nil {
				t.Fatal(err)
			}
			h := clientDataHash
			if tt.cdh != nil {
				h = tt.cdh
			}
			checkVerifyErr(t, r.Verify(h, tt.key), tt.wantErr, tt.wantIs, ErrAssertion)
		})
	}
}

func TestParseAttestationResponse(t *testing.T) {
	t.Parallel()
	key := newP256(t)
	authData := credentialAuthData(t, testAAGUID, ctap.AlgES256, key.Public())
	full := mustMarshal(t, map[int]any{
		1: "packed", 2: authData, 3: map[string]any{"alg": -7, "sig": []byte{1}},
		4: true, 5: bytes.Repeat([]byte{9}, 32), 6: map[string]any{"x": 1},
	})
	r, err := ParseAttestationResponse(full)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fmt != "packed" || !bytes.Equal(r.AuthDataRaw, authData) || r.AuthData.AttestedCredential.AAGUID != testAAGUID ||
		*r.AttStmt.Alg != -7 || r.EPAtt == nil || !*r.EPAtt || len(r.LargeBlobKey) != 32 ||
		!bytes.Equal(r.UnsignedExtensionOutputs["x"], []byte{0x01}) {
		t.Errorf("parsed %+v", r)
	}
	noAT := testAuthData(t, 1)
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"not a map", []byte{0x80}},
		{"no fmt", mustMarshal(t, map[int]any{2: authData, 3: map[string]any{}})},
		{"no authData", mustMarshal(t, map[int]any{1: "none", 3: map[string]any{}})},
		{"no attStmt", mustMarshal(t, map[int]any{1: "none", 2: authData})},
		{"empty fmt", mustMarshal(t, map[int]any{1: "", 2: authData, 3: map[string]any{}})},
		{"fmt not text", mustMarshal(t, map[int]any{1: 1, 2: authData, 3: map[string]any{}})},
		{"attStmt not a map", mustMarshal(t, map[int]any{1: "none", 2: authData, 3: []int{}})},
		{"attStmt integer keys", mustMarshal(t, map[int]any{1: "none", 2: authData, 3: map[int]int{1: 1}})},
		{"authData short", mustMarshal(t, map[int]any{1: "none", 2: authData[:36], 3: map[string]any{}})},
		{"authData trailing", mustMarshal(t, map[int]any{1: "none", 2: append(bytes.Clone(authData), 0), 3: map[string]any{}})},
		{"authData without credential", mustMarshal(t, map[int]any{1: "none", 2: noAT, 3: map[string]any{}})},
		{"epAtt not bool", mustMarshal(t, map[int]any{1: "none", 2: authData, 3: map[string]any{}, 4: 1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseAttestationResponse(tt.body)
			if !errors.Is(err, ErrBadResponse) || r != nil {
				t.Errorf("ParseAttestationResponse = %v, %v; want nil, ErrBadResponse", r, err)
			}
		})
	}
}

func TestParseAssertionResponseErrors(t *testing.T) {
	t.Parallel()
	ad := testAuthData(t, 1)
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"empty map", []byte{0xa0}},
		{"no signature", mustMarshal(t, map[int]any{2: ad})},
		{"no authData", mustMarshal(t, map[int]any{3: []byte{1}})},
		{"authData short", mustMarshal(t, map[int]any{2: ad[:20], 3: []byte{1}})},
		{"signature text", mustMarshal(t, map[int]any{2: ad, 3: "sig"})},
		{"credential not a map", mustMarshal(t, map[int]any{1: 1, 2: ad, 3: []byte{1}})},
		{"numberOfCredentials negative", mustMarshal(t, map[int]any{2: ad, 3: []byte{1}, 5: -1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseAssertionResponse(tt.body)
			if !errors.Is(err, ErrBadResponse) || r != nil {
				t.Errorf("ParseAssertionResponse = %v, %v; want nil, ErrBadResponse", r, err)
			}
		})
	}
}

// TestParseAssertionOneDecode: parseAssertion, given the top-level keys
// of the item send decoded, answers as ParseAssertionResponse does, for
// good bodies and bad ones, maps with keys that are not unsigned integers
// among them.
func TestParseAssertionOneDecode(t *testing.T) {
	t.Parallel()
	ad := testAuthData(t, 1)
	bodies := map[string][]byte{
		"good":                 mustMarshal(t, ctap.GetAssertionResponse{AuthData: ad, Signature: []byte{1}}),
		"good, all members":    mustMarshal(t, map[int]any{1: map[string]any{"type": "public-key", "id": []byte{7}}, 2: ad, 3: []byte{1}, 4: map[string]any{"id": []byte{1}}, 5: 2, 6: true, 7: make([]byte, 32)}),
		"empty map":            {0xa0},
		"not a map":            mustMarshal(t, []int{2, 3}),
		"byte string":          mustMarshal(t, ad),
		"no signature":         mustMarshal(t, map[int]any{2: ad}),
		"no authData":          mustMarshal(t, map[int]any{3: []byte{1}}),
		"null authData":        mustMarshal(t, map[int]any{2: nil, 3: []byte{1}}),
		"negative key":         mustMarshal(t, map[int]any{-1: 0, 2: ad, 3: []byte{1}}),
		"text key":             mustMarshal(t, map[any]any{"x": 0, 2: ad, 3: []byte{1}}),
		"text key, no members": mustMarshal(t, map[any]any{"x": 0}),
		"signature text":       mustMarshal(t, map[int]any{2: ad, 3: "sig"}),
		"authData short":       mustMarshal(t, map[int]any{2: ad[:20], 3: []byte{1}}),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var item any
			if err := ctap.Unmarshal(body, &item); err != nil {
				t.Fatal(err)
			}
			want, wantErr := ParseAssertionResponse(body)
			got, gotErr := parseAssertion(body, topKeysOf(item))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-ParseAssertionResponse +parseAssertion):\n%s", diff)
			}
			if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
				t.Errorf("error %v, ParseAssertionResponse's %v", gotErr, wantErr)
			}
		})
	}
}
