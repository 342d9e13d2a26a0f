package ctap

// HMACSecretSaltSize is the length of one hmac-secret salt and of one
// output (CTAP 2.1 §12.5): saltEnc decrypts to one or two salts.
const HMACSecretSaltSize = 32

// HMACSecretInput is the hmac-secret extension input of
// authenticatorGetAssertion (CTAP 2.1 §12.5), which is also the
// hmac-secret-mc input of authenticatorMakeCredential (CTAP 2.2 §12.8):
//
//	keyAgreement (0x01): the platform's key agreement public key
//	saltEnc (0x02): encrypt(shared secret, salt1 [|| salt2])
//	saltAuth (0x03): authenticate(shared secret, saltEnc)
//	pinUvAuthProtocol (0x04): optional, 1 when absent
//
// A missing member decodes as nil, so the authenticator can tell which one
// is absent.
type HMACSecretInput struct {
	KeyAgreement      *COSEKey `cbor:"1,keyasint,omitempty"`
	SaltEnc           []byte   `cbor:"2,keyasint,omitempty"`
	SaltAuth          []byte   `cbor:"3,keyasint,omitempty"`
	PinUvAuthProtocol *uint64  `cbor:"4,keyasint,omitempty"`
}
