package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// CTAP1/U2F, after python-fido2's fido2.ctap1 module: [Ctap1] sends the
// U2F_REGISTER, U2F_AUTHENTICATE and U2F_VERSION request APDUs of FIDO U2F
// Raw Message Formats v1.2 as CTAPHID_MSG messages (CTAP 2.1
// §11.2.9.1.1), [RegistrationData] and [SignatureData] hold the decoded
// responses, and [AttestationResponseFromCTAP1] and
// [AssertionResponseFromCTAP1] turn them into the CTAP2 shapes (CTAP 2.1
// §10.2, §10.3), as AttestationObject.from_ctap1 and
// AssertionResponse.from_ctap1 do.

// APDUError is a U2F response whose status word is not SW_NO_ERROR
// (python-fido2's ApduError). errors.Is matches it against its
// ctap.StatusWord.
type APDUError struct {
	SW   ctap.StatusWord
	Data []byte // response data before the status word, usually none
}

func (e *APDUError) Error() string {
	return fmt.Sprintf("client: APDU error %v, %d bytes of data", e.SW, len(e.Data))
}

// Unwrap returns the status word.
func (e *APDUError) Unwrap() error { return e.SW }

// EncodeAPDU encodes a command APDU (ISO 7816-4 §5.1; U2F Raw Message
// Formats §3.1), always with Le asking for the longest response:
//
//	short:    CLA INS P1 P2 [Lc data] 00
//	extended: CLA INS P1 P2 00 [Lc(2) data] 00 00   (no data: CLA INS P1 P2 00 00 00)
//
// Short encoding carries at most 255 bytes of data: more is an error.
func EncodeAPDU(cla, ins, p1, p2 byte, data []byte, extended bool) ([]byte, error) {
	b := []byte{cla, ins, p1, p2}
	if !extended {
		if len(data) > 255 {
			return nil, fmt.Errorf("client: %d bytes of APDU data need extended length", len(data))
		}
		if len(data) > 0 {
			b = append(b, byte(len(data)))
			b = append(b, data...)
		}
		return append(b, 0), nil
	}
	if len(data) > 65535 {
		return nil, fmt.Errorf("client: %d bytes of APDU data", len(data))
	}
	b = append(b, 0)
	if len(data) > 0 {
		b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
		b = append(b, data...)
	}
	return append(b, 0, 0), nil
}

// Ctap1 sends CTAP1/U2F commands over a Transport as CTAPHID_MSG messages
// (python-fido2's fido2.ctap1.Ctap1). It does not poll: a command that
// needs a touch the key did not get fails with SW_CONDITIONS_NOT_SATISFIED,
// and the caller tries again.
type Ctap1 struct {
	t        Transport
	extended bool
}

// Ctap1Option configures a Ctap1.
type Ctap1Option func(*Ctap1)

// WithExtendedAPDU selects extended length APDUs (as python-fido2 and
// libfido2 send them) instead of the default short ones. Requests with
// more than 255 bytes of data are extended either way.
func WithExtendedAPDU(extended bool) Ctap1Option {
	return func(c *Ctap1) { c.extended = extended }
}

// NewCtap1 returns a Ctap1 on t. It sends nothing.
func NewCtap1(t Transport, opts ...Ctap1Option) *Ctap1 {
	c := &Ctap1{t: t}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Transport returns the transport c sends on.
func (c *Ctap1) Transport() Transport { return c.t }

// SendRaw sends apdu, not checked, as one CTAPHID_MSG message and returns
// the response data and status word. err is for transport failures and
// responses shorter than a status word.
func (c *Ctap1) SendRaw(ctx context.Context, apdu []byte) ([]byte, ctap.StatusWord, error) {
	resp, err := c.t.Call(ctx, ctaphid.CmdMsg, apdu, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("client: CTAPHID_MSG: %w", err)
	}
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("%w: CTAPHID_MSG response of %d bytes", ErrBadResponse, len(resp))
	}
	n := len(resp) - 2
	return resp[:n], ctap.StatusWord(binary.BigEndian.Uint16(resp[n:])), nil
}

// SendAPDU encodes and sends a command APDU and returns the data of a
// SW_NO_ERROR response; any other status word is an *APDUError.
func (c *Ctap1) SendAPDU(ctx context.Context, cla, ins, p1, p2 byte, data []byte) ([]byte, error) {
	apdu, err := EncodeAPDU(cla, ins, p1, p2, data, c.extended || len(data) > 255)
	if err != nil {
		return nil, err
	}
	resp, sw, err := c.SendRaw(ctx, apdu)
	if err != nil {
		return nil, err
	}
	if sw != ctap.SWNoError {
		return nil, &APDUError{SW: sw, Data: resp}
	}
	return resp, nil
}

// GetVersion sends U2F_VERSION (U2F Raw Message Formats §6.1); a U2F key
// answers "U2F_V2".
func (c *Ctap1) GetVersion(ctx context.Context) (string, error) {
	b, err := c.SendAPDU(ctx, 0, ctap.U2FVersion, 0, 0, nil)
	return string(b), err
}

// Register sends U2F_REGISTER (U2F Raw Message Formats §4) with the
// challenge parameter clientParam (SHA-256 of the client data) and the
// application parameter appParam (SHA-256 of the appId), 32 bytes each.
func (c *Ctap1) Register(ctx context.Context, clientParam, appParam []byte) (*RegistrationData, error) {
	if len(clientParam) != 32 || len(appParam) != 32 {
		return nil, fmt.Errorf("client: register: parameters of %d and %d bytes, want 32", len(clientParam), len(appParam))
	}
	b, err := c.SendAPDU(ctx, 0, ctap.U2FRegister, 0, 0, append(append([]byte(nil), clientParam...), appParam...))
	if err != nil {
		return nil, err
	}
	return ParseRegistrationData(b)
}

// Authenticate sends U2F_AUTHENTICATE (U2F Raw Message Formats §5) with
// control byte 0x03 (enforce-user-presence-and-sign), or 0x07
// (check-only) when checkOnly is set; a key that knows the key handle
// answers check-only with SW_CONDITIONS_NOT_SATISFIED, as an *APDUError.
func (c *Ctap1) Authenticate(ctx context.Context, clientParam, appParam, keyHandle []byte, checkOnly bool) (*SignatureData, error) {
	control := ctap.U2FEnforceUserPresence
	if checkOnly {
		control = ctap.U2FCheckOnly
	}
	return c.AuthenticateControl(ctx, control, clientParam, appParam, keyHandle)
}

// AuthenticateControl is Authenticate with any control byte, such as
// ctap.U2FDontEnforceUserPresence (0x08).
func (c *Ctap1) AuthenticateControl(ctx context.Context, control byte, clientParam, appParam, keyHandle []byte) (*SignatureData, error) {
	if len(clientParam) != 32 || len(appParam) != 32 || len(keyHandle) > 255 {
		return nil, fmt.Errorf("client: authenticate: parameters of %d, %d and %d bytes", len(clientParam), len(appParam), len(keyHandle))
	}
	data := make([]byte, 0, 65+len(keyHandle))
	data = append(data, clientParam...)
	data = append(data, appParam...)
	data = append(data, byte(len(keyHandle)))
	data = append(data, keyHandle...)
	b, err := c.SendAPDU(ctx, 0, ctap.U2FAuthenticate, control, 0, data)
	if err != nil {
		return nil, err
	}
	return ParseSignatureData(b)
}

// RegistrationData is a U2F_REGISTER response (U2F Raw Message Formats
// §4.3; python-fido2's RegistrationData).
type RegistrationData struct {
	Raw         []byte
	PublicKey   []byte // 65 bytes: 0x04 || X || Y on P-256
	KeyHandle   []byte
	Certificate []byte // the attestation certificate, DER
	Signature   []byte // ECDSA, ASN.1 DER
}

// ParseRegistrationData parses a registration response: the reserved
// byte 0x05, the public key, the key handle with its length, one DER
// certificate and a signature that is not empty. The certificate is only
// delimited here, not parsed.
func ParseRegistrationData(b []byte) (*RegistrationData, error) {
	fail := func(format string, args ...any) (*RegistrationData, error) {
		return nil, fmt.Errorf("%w: U2F registration: %s", ErrBadResponse, fmt.Sprintf(format, args...))
	}
	if len(b) < 67 || b[0] != ctap.U2FRegisterReserved {
		return fail("%d bytes, reserved byte not 0x05", len(b))
	}
	if b[1] != 0x04 {
		return fail("public key is not an uncompressed point")
	}
	n := int(b[66])
	if len(b) < 67+n {
		return fail("key handle of %d bytes cut short", n)
	}
	rest := b[67+n:]
	var cert asn1.RawValue
	after, err := asn1.Unmarshal(rest, &cert)
	if err != nil || cert.Tag != asn1.TagSequence {
		return fail("attestation certificate is not a DER SEQUENCE")
	}
	if len(after) == 0 {
		return fail("no signature")
	}
	return &RegistrationData{
		Raw:         append([]byte(nil), b...),
		PublicKey:   append([]byte(nil), b[1:66]...),
		KeyHandle:   append([]byte(nil), b[67:67+n]...),
		Certificate: append([]byte(nil), rest[:len(rest)-len(after)]...),
		Signature:   append([]byte(nil), after...),
	}, nil
}

// Verify checks the attestation signature: the certificate's P-256 key
// signs 0x00 || appParam || clientParam || key handle || public key
// (U2F Raw Message Formats §4.3; WebAuthn §8.6). Errors wrap
// ErrAttestation.
func (r *RegistrationData) Verify(appParam, clientParam []byte) error {
	cert, err := x509.ParseCertificate(r.Certificate)
	if err != nil {
		return fmt.Errorf("%w: fido-u2f: certificate: %v", ErrAttestation, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: fido-u2f: certificate key is not P-256", ErrAttestation)
	}
	msg := []byte{0}
	msg = append(msg, appParam...)
	msg = append(msg, clientParam...)
	msg = append(msg, r.KeyHandle...)
	msg = append(msg, r.PublicKey...)
	if err := ctap.VerifySignature(ctap.AlgES256, pub, msg, r.Signature); err != nil {
		return fmt.Errorf("%w: fido-u2f: %w", ErrAttestation, err)
	}
	return nil
}

// COSEKey returns the credential public key as an ES256 COSE key
// (python-fido2's ES256.from_ctap1).
func (r *RegistrationData) COSEKey() (ctap.COSEKey, error) {
	return u2fCOSEKey(r.PublicKey)
}

func u2fCOSEKey(raw []byte) (ctap.COSEKey, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return ctap.COSEKey{}, fmt.Errorf("%w: U2F public key: %v", ErrBadResponse, err)
	}
	return ctap.NewCOSEKey(ctap.AlgES256, pub)
}

// SignatureData is a U2F_AUTHENTICATE response (U2F Raw Message Formats
// §5.4; python-fido2's SignatureData).
type SignatureData struct {
	Raw          []byte
	UserPresence byte
	Counter      uint32
	Signature    []byte
}

// ParseSignatureData parses an authentication response: user presence,
// a big-endian counter and a signature that is not empty.
func ParseSignatureData(b []byte) (*SignatureData, error) {
	if len(b) < 6 {
		return nil, fmt.Errorf("%w: U2F authentication response of %d bytes", ErrBadResponse, len(b))
	}
	return &SignatureData{
		Raw:          append([]byte(nil), b...),
		UserPresence: b[0],
		Counter:      binary.BigEndian.Uint32(b[1:5]),
		Signature:    append([]byte(nil), b[5:]...),
	}, nil
}

// Verify checks the signature over appParam || user presence || counter
// || clientParam with publicKey, the 65-byte key of the registration
// (U2F Raw Message Formats §5.4). Errors wrap ErrAssertion.
func (s *SignatureData) Verify(appParam, clientParam, publicKey []byte) error {
	k, err := u2fCOSEKey(publicKey)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAssertion, err)
	}
	pub, err := k.PublicKey()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAssertion, err)
	}
	msg := append([]byte(nil), appParam...)
	msg = append(msg, s.UserPresence)
	msg = binary.BigEndian.AppendUint32(msg, s.Counter)
	msg = append(msg, clientParam...)
	if err := ctap.VerifySignature(ctap.AlgES256, pub, msg, s.Signature); err != nil {
		return fmt.Errorf("%w: U2F signature: %w", ErrAssertion, err)
	}
	return nil
}

// AssertionResponseFromCTAP1 is python-fido2's AssertionResponse.from_ctap1
// (CTAP 2.1 §10.3): the getAssertion response a platform builds from a
// U2F authentication with appParam, for credential (the allowList entry
// used). authData is appParam || (user presence & UP) || counter, which is
// what the U2F signature covers before clientParam, so Verify with the
// clientParam and the registration's COSEKey checks it.
func AssertionResponseFromCTAP1(appParam []byte, credential ctap.CredentialDescriptor, sig *SignatureData) (*AssertionResponse, error) {
	if len(appParam) != 32 || sig == nil {
		return nil, errors.New("client: AssertionResponseFromCTAP1: appParam must be 32 bytes and sig set")
	}
	ad := &ctap.AuthData{
		RPIDHash:  [32]byte(appParam),
		Flags:     ctap.AuthDataFlags(sig.UserPresence) & ctap.FlagUP,
		SignCount: sig.Counter,
	}
	raw, err := ad.Marshal()
	if err != nil {
		return nil, err
	}
	cred := credential
	cred.ID = append([]byte(nil), credential.ID...)
	return &AssertionResponse{
		Credential:  &cred,
		AuthData:    ad,
		AuthDataRaw: raw,
		Signature:   append([]byte(nil), sig.Signature...),
	}, nil
}

// AttestationResponseFromCTAP1 is python-fido2's
// AttestationObject.from_ctap1 (CTAP 2.1 §10.2): a "fido-u2f" attestation
// object (WebAuthn §8.6) from a U2F registration with appParam. authData
// has rpIdHash appParam, flags UP and AT, counter 0, a zero AAGUID, the key
// handle as credential ID and the ES256 COSE form of the public key; attStmt
// is {"sig": signature, "x5c": [certificate]}. Verify with the clientParam
// checks it.
func AttestationResponseFromCTAP1(appParam []byte, reg *RegistrationData) (*AttestationResponse, error) {
	if len(appParam) != 32 || reg == nil {
		return nil, errors.New("client: AttestationResponseFromCTAP1: appParam must be 32 bytes and reg set")
	}
	key, err := reg.COSEKey()
	if err != nil {
		return nil, err
	}
	ad := &ctap.AuthData{
		RPIDHash: [32]byte(appParam),
		Flags:    ctap.FlagUP | ctap.FlagAT,
		AttestedCredential: &ctap.AttestedCredentialData{
			CredentialID: append([]byte(nil), reg.KeyHandle...),
			PublicKey:    key,
		},
	}
	raw, err := ad.Marshal()
	if err != nil {
		return nil, err
	}
	// Parsed back, so that PublicKeyRaw is the encoded key as in a CTAP2 response.
	parsed, err := ctap.ParseAuthData(raw)
	if err != nil {
		return nil, err
	}
	stmt := ctap.AttestationStatement{
		Sig: append([]byte(nil), reg.Signature...),
		X5C: [][]byte{append([]byte(nil), reg.Certificate...)},
	}
	stmtRaw, err := ctap.Marshal(&stmt)
	if err != nil {
		return nil, err
	}
	return &AttestationResponse{
		Fmt:         ctap.FormatFIDOU2F,
		AuthData:    parsed,
		AuthDataRaw: raw,
		AttStmt:     stmt,
		AttStmtRaw:  stmtRaw,
	}, nil
}
