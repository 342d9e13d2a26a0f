package client

import (
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// Member keys of the makeCredential response (CTAP 2.1 §6.1.2).
const (
	attFmt      uint64 = 0x01
	attAuthData uint64 = 0x02
	attAttStmt  uint64 = 0x03
)

// Member keys of the getAssertion response (CTAP 2.1 §6.2.2).
const (
	asnAuthData  uint64 = 0x02
	asnSignature uint64 = 0x03
)

// AttestationResponse is the authenticatorMakeCredential output
// (CTAP 2.1 §6.1.2): an attestation object (WebAuthn §6.5).
type AttestationResponse struct {
	Fmt string // 0x01
	// AuthData is the parsed authenticator data (WebAuthn §6.1); it always
	// has AttestedCredential.
	AuthData *ctap.AuthData
	// AuthDataRaw is authData (0x02) as sent: the signed bytes.
	AuthDataRaw []byte
	AttStmt     ctap.AttestationStatement // 0x03
	// AttStmtRaw is attStmt as sent, so that members AttStmt does not
	// model are seen (the none format requires an empty map).
	AttStmtRaw               ctap.RawMessage
	EPAtt                    *bool                      // 0x04
	LargeBlobKey             []byte                     // 0x05
	UnsignedExtensionOutputs map[string]ctap.RawMessage // 0x06
}

// ParseAttestationResponse parses a makeCredential response body
// (CTAP 2.1 §6.1.2) with ctap.Unmarshal: fmt, authData and attStmt are
// required, fmt is not empty, and authData parses with ctap.ParseAuthData
// and carries attested credential data (AT flag). On error it returns nil.
func ParseAttestationResponse(body []byte) (*AttestationResponse, error) {
	var keys map[uint64]ctap.RawMessage
	if err := ctap.Unmarshal(body, &keys); err != nil {
		return nil, fmt.Errorf("%w: makeCredential: %v", ErrBadResponse, err)
	}
	for _, k := range []uint64{attFmt, attAuthData, attAttStmt} {
		if _, ok := keys[k]; !ok {
			return nil, fmt.Errorf("%w: makeCredential: member 0x%02x missing", ErrBadResponse, k)
		}
	}
	var m ctap.MakeCredentialResponse
	if err := ctap.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: makeCredential: %v", ErrBadResponse, err)
	}
	if m.Fmt == "" {
		return nil, fmt.Errorf("%w: makeCredential: empty fmt", ErrBadResponse)
	}
	// attStmt is a map whatever the format (WebAuthn §6.5.4).
	var stmt map[string]ctap.RawMessage
	if err := ctap.Unmarshal(keys[attAttStmt], &stmt); err != nil {
		return nil, fmt.Errorf("%w: makeCredential: attStmt: %v", ErrBadResponse, err)
	}
	ad, err := ctap.ParseAuthData(m.AuthData)
	if err != nil {
		return nil, fmt.Errorf("%w: makeCredential: %v", ErrBadResponse, err)
	}
	if ad.AttestedCredential == nil {
		return nil, fmt.Errorf("%w: makeCredential: authData has no attested credential data", ErrBadResponse)
	}
	return &AttestationResponse{
		Fmt:                      m.Fmt,
		AuthData:                 ad,
		AuthDataRaw:              m.AuthData,
		AttStmt:                  m.AttStmt,
		AttStmtRaw:               append(ctap.RawMessage(nil), keys[attAttStmt]...),
		EPAtt:                    m.EPAtt,
		LargeBlobKey:             m.LargeBlobKey,
		UnsignedExtensionOutputs: m.UnsignedExtensionOutputs,
	}, nil
}

// AssertionResponse is the authenticatorGetAssertion and
// authenticatorGetNextAssertion output (CTAP 2.1 §6.2.2, §6.3).
type AssertionResponse struct {
	// Credential (0x01) is nil when the authenticator omitted it, which it
	// may when the allow list had exactly one entry.
	Credential *ctap.CredentialDescriptor
	AuthData   *ctap.AuthData // parsed authData (0x02)
	// AuthDataRaw is authData as sent: the signed bytes.
	AuthDataRaw              []byte
	Signature                []byte                     // 0x03
	User                     *ctap.UserEntity           // 0x04
	NumberOfCredentials      *uint64                    // 0x05
	UserSelected             *bool                      // 0x06
	LargeBlobKey             []byte                     // 0x07
	UnsignedExtensionOutputs map[string]ctap.RawMessage // 0x08
}

// ParseAssertionResponse parses a getAssertion or getNextAssertion response
// body (CTAP 2.1 §6.2.2) with ctap.Unmarshal: authData and signature are
// required and authData parses with ctap.ParseAuthData. On error it returns
// nil.
func ParseAssertionResponse(body []byte) (*AssertionResponse, error) {
	var keys map[uint64]ctap.RawMessage
	if err := ctap.Unmarshal(body, &keys); err != nil {
		return nil, fmt.Errorf("%w: getAssertion: %v", ErrBadResponse, err)
	}
	for _, k := range []uint64{asnAuthData, asnSignature} {
		if _, ok := keys[k]; !ok {
			return nil, fmt.Errorf("%w: getAssertion: member 0x%02x missing", ErrBadResponse, k)
		}
	}
	return parseAssertionMembers(body)
}

// parseAssertion is ParseAssertionResponse for a body whose top-level
// keys sendItem found: when it is a map whose keys are all unsigned
// integers, those are the members the first decode of
// ParseAssertionResponse would find, and the body is decoded only once;
// when it is canonical (fastCanonical), by decodeAssertion, and the
// response shares body's bytes: the caller hands body over.
func parseAssertion(body []byte, t topKeys) (*AssertionResponse, error) {
	if !t.uintMap {
		return ParseAssertionResponse(body)
	}
	for _, k := range []uint64{asnAuthData, asnSignature} {
		if !t.has(k) {
			return nil, fmt.Errorf("%w: getAssertion: member 0x%02x missing", ErrBadResponse, k)
		}
	}
	if t.canonical {
		// The response and its credential in one allocation.
		x := new(struct {
			r    AssertionResponse
			cred ctap.CredentialDescriptor
		})
		if m, ok := decodeAssertion(body, &x.cred); ok {
			return assertionInto(&x.r, &m)
		}
	}
	return parseAssertionMembers(body)
}

// parseAssertionMembers decodes a getAssertion response body known to be
// a map with authData and signature.
func parseAssertionMembers(body []byte) (*AssertionResponse, error) {
	var m ctap.GetAssertionResponse
	if err := ctap.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: getAssertion: %v", ErrBadResponse, err)
	}
	return assertionInto(new(AssertionResponse), &m)
}

// assertionInto parses the authData of a decoded getAssertion response
// and makes r the response, which it returns; on error it returns nil.
func assertionInto(r *AssertionResponse, m *ctap.GetAssertionResponse) (*AssertionResponse, error) {
	ad, err := ctap.ParseAuthData(m.AuthData)
	if err != nil {
		return nil, fmt.Errorf("%w: getAssertion: %v", ErrBadResponse, err)
	}
	*r = AssertionResponse{
		Credential:               m.Credential,
		AuthData:                 ad,
		AuthDataRaw:              m.AuthData,
		Signature:                m.Signature,
		User:                     m.User,
		NumberOfCredentials:      m.NumberOfCredentials,
		UserSelected:             m.UserSelected,
		LargeBlobKey:             m.LargeBlobKey,
		UnsignedExtensionOutputs: m.UnsignedExtensionOutputs,
	}
	return r, nil
}

// Verify checks the assertion signature over AuthDataRaw || clientDataHash
// with the credential public key (WebAuthn §6.3.3 step 11, §7.2 step 21).
// The algorithm is publicKey.Alg, or when that is 0 the usual one for the
// key type (ES256, ES384, EdDSA, RS256). Errors wrap ErrAssertion.
func (r *AssertionResponse) Verify(clientDataHash []byte, publicKey ctap.COSEKey) error {
	pub, err := publicKey.PublicKey()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAssertion, err)
	}
	alg := publicKey.Alg
	if alg == 0 {
		alg = defaultAlg(publicKey)
	}
	msg := append(append([]byte(nil), r.AuthDataRaw...), clientDataHash...)
	if err := ctap.VerifySignature(alg, pub, msg, r.Signature); err != nil {
		return fmt.Errorf("%w: %w", ErrAssertion, err)
	}
	return nil
}

// defaultAlg is the algorithm a key of k's type and curve is used with.
func defaultAlg(k ctap.COSEKey) int64 {
	switch {
	case k.Kty == ctap.KtyEC2 && k.Crv == ctap.CrvP256:
		return ctap.AlgES256
	case k.Kty == ctap.KtyEC2 && k.Crv == ctap.CrvP384:
		return ctap.AlgES384
	case k.Kty == ctap.KtyOKP:
		return ctap.AlgEdDSA
	case k.Kty == ctap.KtyRSA:
		return ctap.AlgRS256
	}
	return 0
}
