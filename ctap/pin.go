package ctap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Errors of the PIN/UV auth protocols and the PIN helpers. Functions wrap
// them with %w; test with errors.Is. An authenticator maps them to statuses:
// ErrSharedSecret and ErrPINBlock from Decrypt and ErrPINPadding from
// UnpadPIN to CTAP1_ERR_INVALID_PARAMETER (CTAP 2.1 §6.5.5.5 steps 6 and 7),
// ErrPINLength and ErrPINEncoding to CTAP2_ERR_PIN_POLICY_VIOLATION.
var (
	// ErrSharedSecret is returned for a shared secret whose length is not
	// the protocol's: 32 bytes for protocol one, 64 for protocol two.
	ErrSharedSecret = errors.New("ctap: PIN/UV shared secret of the wrong length")
	// ErrPINBlock is returned for data that is not a whole number of AES
	// blocks, or a protocol two ciphertext shorter than its IV.
	ErrPINBlock = errors.New("ctap: PIN/UV data is not a whole number of AES blocks")
	// ErrPINPadding is returned for a padded PIN that is not 64 bytes, or
	// that has a nonzero byte after the first zero byte.
	ErrPINPadding = errors.New("ctap: malformed padded PIN")
	// ErrPINLength is returned for a PIN that is empty or longer than 63
	// bytes (CTAP 2.1 §6.5.5.5: "maximum PIN length is 63 bytes").
	ErrPINLength = errors.New("ctap: PIN is empty or longer than 63 bytes")
	// ErrPINEncoding is returned for a PIN that is not valid UTF-8, or that
	// holds a zero byte, which padding could not tell from its end.
	ErrPINEncoding = errors.New("ctap: PIN is not valid UTF-8 without zero bytes")
)

// Sizes of the PIN/UV auth protocols.
const (
	// PaddedPINSize is the length of paddedNewPin (CTAP 2.1 §6.5.5.5).
	PaddedPINSize = 64
	// MaxPINBytes is the longest PIN in UTF-8 bytes (CTAP 2.1 §6.5.5.5).
	MaxPINBytes = PaddedPINSize - 1
	// PINHashSize is the length of LEFT(SHA-256(PIN), 16) (CTAP 2.1 §6.5.5.7).
	PINHashSize = 16
)

// PINProtocol is one PIN/UV auth protocol (CTAP 2.1 §6.5.4), usable by both
// the platform and the authenticator. The key agreement half of the abstract
// interface (initialize, getPublicKey, encapsulate, decapsulate) is
// KeyAgreementKey and Encapsulate; a PINProtocol holds no state and its
// methods may be called concurrently.
type PINProtocol interface {
	// Version is the protocol's number on the wire, 1 or 2
	// (pinUvAuthProtocol, CTAP 2.1 §6.5.5.1).
	Version() uint64
	// KDF derives the shared secret from Z, the 32-byte x-coordinate of the
	// ECDH shared point: SHA-256(Z) for protocol one (32 bytes), the HMAC
	// key followed by the AES key from HKDF-SHA-256 for protocol two (64
	// bytes).
	KDF(z []byte) []byte
	// Encrypt encrypts plaintext, a whole number of AES blocks, under
	// sharedSecret with AES-256-CBC. Protocol one uses a zero IV; protocol
	// two reads a fresh IV from rand (crypto/rand if nil) and prepends it.
	Encrypt(rand io.Reader, sharedSecret, plaintext []byte) ([]byte, error)
	// Decrypt reverses Encrypt. It returns an error wrapping ErrPINBlock for
	// a ciphertext of the wrong length, and ErrSharedSecret for a shared
	// secret of the wrong length.
	Decrypt(sharedSecret, ciphertext []byte) ([]byte, error)
	// Authenticate computes the pinUvAuthParam of message under key, a
	// shared secret or a pinUvAuthToken: the first 16 bytes of
	// HMAC-SHA-256 for protocol one, all 32 for protocol two (which uses
	// the HMAC key half of a 64-byte shared secret).
	Authenticate(key, message []byte) []byte
	// Verify reports whether signature is Authenticate(key, message),
	// comparing in constant time. A signature of another length than
	// Authenticate's (16 bytes for protocol one, 32 for two) is false.
	Verify(key, message, signature []byte) bool
}

// PINProtocolV1 returns PIN/UV auth protocol one (CTAP 2.1 §6.5.6).
func PINProtocolV1() PINProtocol { return pinProtocolOne{} }

// PINProtocolV2 returns PIN/UV auth protocol two (CTAP 2.1 §6.5.7).
func PINProtocolV2() PINProtocol { return pinProtocolTwo{} }

// PINProtocolByVersion returns the protocol with wire number v, if it is
// one this package implements.
func PINProtocolByVersion(v uint64) (PINProtocol, bool) {
	switch v {
	case 1:
		return PINProtocolV1(), true
	case 2:
		return PINProtocolV2(), true
	}
	return nil, false
}

// pinProtocolOne is PIN/UV auth protocol one (CTAP 2.1 §6.5.6).
type pinProtocolOne struct{}

func (pinProtocolOne) Version() uint64 { return 1 }

// KDF returns SHA-256(Z) (CTAP 2.1 §6.5.6, kdf).
func (pinProtocolOne) KDF(z []byte) []byte {
	h := sha256.Sum256(z)
	return h[:]
}

// Encrypt returns AES-256-CBC(key, IV=0, plaintext) (CTAP 2.1 §6.5.6,
// encrypt). The IV is fixed, so rand is not read.
func (pinProtocolOne) Encrypt(_ io.Reader, key, plaintext []byte) ([]byte, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: %d bytes, protocol one needs 32", ErrSharedSecret, len(key))
	}
	return cbcEncrypt(key, make([]byte, aes.BlockSize), plaintext)
}

// Decrypt returns AES-256-CBC-Decrypt(key, IV=0, ciphertext), or an error if
// ciphertext is not a whole number of blocks (CTAP 2.1 §6.5.6, decrypt).
func (pinProtocolOne) Decrypt(key, ciphertext []byte) ([]byte, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: %d bytes, protocol one needs 32", ErrSharedSecret, len(key))
	}
	return cbcDecrypt(key, make([]byte, aes.BlockSize), ciphertext)
}

// Authenticate returns LEFT(HMAC-SHA-256(key, message), 16) (CTAP 2.1
// §6.5.6, authenticate).
func (pinProtocolOne) Authenticate(key, message []byte) []byte {
	return hmacSHA256(key, message)[:16]
}

// Verify reports whether signature is 16 bytes and equals Authenticate's
// output (CTAP 2.1 §6.5.6, verify).
func (p pinProtocolOne) Verify(key, message, signature []byte) bool {
	return len(signature) == 16 && hmac.Equal(p.Authenticate(key, message), signature)
}

// pinProtocolTwo is PIN/UV auth protocol two (CTAP 2.1 §6.5.7).
type pinProtocolTwo struct{}

func (pinProtocolTwo) Version() uint64 { return 2 }

// KDF returns HKDF-SHA-256(salt = 32 zero bytes, IKM = Z, L = 32, info =
// "CTAP2 HMAC key") || HKDF-SHA-256(salt, Z, 32, "CTAP2 AES key") (CTAP 2.1
// §6.5.7, kdf).
func (pinProtocolTwo) KDF(z []byte) []byte {
	salt := make([]byte, 32)
	hmacKey, err1 := hkdf.Key(sha256.New, z, salt, "CTAP2 HMAC key", 32)
	aesKey, err2 := hkdf.Key(sha256.New, z, salt, "CTAP2 AES key", 32)
	if err := errors.Join(err1, err2); err != nil {
		// hkdf.Key fails only for an output over 255 hashes, or in
		// FIPS 140-only mode for a secret under 112 bits; Z is 256.
		panic("ctap: protocol two kdf: " + err.Error())
	}
	return append(hmacKey, aesKey...)
}

// aesKey selects the AES key half of a protocol two shared secret.
func (pinProtocolTwo) aesKey(sharedSecret []byte) ([]byte, error) {
	if len(sharedSecret) != 64 {
		return nil, fmt.Errorf("%w: %d bytes, protocol two needs 64", ErrSharedSecret, len(sharedSecret))
	}
	return sharedSecret[32:], nil
}

// Encrypt returns iv || AES-256-CBC(AES key, iv, plaintext) for a random iv
// read from rand (CTAP 2.1 §6.5.7, encrypt).
func (p pinProtocolTwo) Encrypt(rand io.Reader, sharedSecret, plaintext []byte) ([]byte, error) {
	key, err := p.aesKey(sharedSecret)
	if err != nil {
		return nil, err
	}
	if len(plaintext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: plaintext of %d bytes", ErrPINBlock, len(plaintext))
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("ctap: protocol two IV: %w", err)
	}
	ct, err := cbcEncrypt(key, iv, plaintext)
	if err != nil {
		return nil, err
	}
	return append(iv, ct...), nil
}

// Decrypt splits ciphertext into its IV and the AES-256-CBC ciphertext and
// decrypts the latter under the AES key (CTAP 2.1 §6.5.7, decrypt).
func (p pinProtocolTwo) Decrypt(sharedSecret, ciphertext []byte) ([]byte, error) {
	key, err := p.aesKey(sharedSecret)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < aes.BlockSize {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes is shorter than its IV", ErrPINBlock, len(ciphertext))
	}
	return cbcDecrypt(key, ciphertext[:aes.BlockSize], ciphertext[aes.BlockSize:])
}

// Authenticate returns HMAC-SHA-256(key, message) under the first 32 bytes of
// key: the HMAC key half of a 64-byte shared secret, or all of a 32-byte
// pinUvAuthToken (CTAP 2.1 §6.5.7, authenticate).
func (pinProtocolTwo) Authenticate(key, message []byte) []byte {
	if len(key) > 32 {
		key = key[:32]
	}
	return hmacSHA256(key, message)
}

// Verify reports whether signature is 32 bytes and equals Authenticate's
// output (CTAP 2.1 §6.5.7, verify).
func (p pinProtocolTwo) Verify(key, message, signature []byte) bool {
	return len(signature) == 32 && hmac.Equal(p.Authenticate(key, message), signature)
}

func hmacSHA256(key, message []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(message)
	return m.Sum(nil)
}

// cbcEncrypt is AES-256-CBC without padding; key must be 32 bytes.
func cbcEncrypt(key, iv, plaintext []byte) ([]byte, error) {
	if len(plaintext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: plaintext of %d bytes", ErrPINBlock, len(plaintext))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, plaintext)
	return out, nil
}

// cbcDecrypt reverses cbcEncrypt.
func cbcDecrypt(key, iv, ciphertext []byte) ([]byte, error) {
	if len(ciphertext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes", ErrPINBlock, len(ciphertext))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, ciphertext)
	return out, nil
}

// p256Order is n, the order of the P-256 base point, big-endian.
var p256Order = []byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
	0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
}

// KeyAgreementKey is a P-256 key pair for the key agreement of the PIN/UV
// auth protocols: the authenticator's (CTAP 2.1 §6.5.6, initialize and
// getPublicKey) or the platform's (encapsulate). Both protocols use the same
// key agreement; they differ in the KDF applied to its result.
type KeyAgreementKey struct {
	priv *ecdh.PrivateKey
}

// GenerateKeyAgreementKey generates a key pair from rand (crypto/rand if
// nil). It reads 32-byte big-endian scalars from rand until one is in
// [1, n-1], so the key is a function of rand's bytes: a fixed reader gives
// a fixed key, and a reader holding a scalar gives the key of that scalar.
// (crypto/ecdh's GenerateKey ignores its reader since Go 1.26.)
func GenerateKeyAgreementKey(rand io.Reader) (*KeyAgreementKey, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	scalar := make([]byte, 32)
	// A uniform scalar is rejected with probability under 2^-32, so a
	// reader that fails this often is broken rather than unlucky.
	for range 64 {
		if _, err := io.ReadFull(rand, scalar); err != nil {
			return nil, fmt.Errorf("ctap: key agreement key: %w", err)
		}
		if isZero(scalar) || bytes.Compare(scalar, p256Order) >= 0 {
			continue
		}
		priv, err := ecdh.P256().NewPrivateKey(scalar)
		if err != nil {
			return nil, fmt.Errorf("ctap: key agreement key: %w", err)
		}
		return &KeyAgreementKey{priv: priv}, nil
	}
	return nil, errors.New("ctap: key agreement key: random source gives no scalar below the group order")
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// COSEKey returns the public key as the COSE_Key of getKeyAgreement and of
// the platform's keyAgreement parameter: kty EC2, alg -25
// (ECDH-ES+HKDF-256), crv P-256, x, y (CTAP 2.1 §6.5.6, getPublicKey).
func (k *KeyAgreementKey) COSEKey() COSEKey {
	raw := k.priv.PublicKey().Bytes() // 0x04 || X || Y
	return COSEKey{Kty: KtyEC2, Alg: AlgECDHESHKDF256, Crv: CrvP256,
		X: bytes.Clone(raw[1:33]), Y: bytes.Clone(raw[33:65])}
}

// SharedSecret computes the ECDH shared point with peer, rejecting a key that
// is not a P-256 point on the curve with an error wrapping ErrInvalidKey, and
// returns p's KDF of its x-coordinate (CTAP 2.1 §6.5.6, ecdh; the
// authenticator's decapsulate).
func (k *KeyAgreementKey) SharedSecret(p PINProtocol, peer COSEKey) ([]byte, error) {
	pub, err := peer.ECDHPublicKey()
	if err != nil {
		return nil, err
	}
	z, err := k.priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return p.KDF(z), nil
}

// Encapsulate is the platform's side of the key agreement (CTAP 2.1 §6.5.6,
// encapsulate): it generates a fresh key pair from rand, agrees a shared
// secret with the authenticator's key peer, and returns the platform's
// public key for the keyAgreement parameter along with the shared secret.
func Encapsulate(rand io.Reader, p PINProtocol, peer COSEKey) (platformKey COSEKey, sharedSecret []byte, err error) {
	if _, err := peer.ECDHPublicKey(); err != nil {
		return COSEKey{}, nil, err
	}
	k, err := GenerateKeyAgreementKey(rand)
	if err != nil {
		return COSEKey{}, nil, err
	}
	ss, err := k.SharedSecret(p, peer)
	if err != nil {
		return COSEKey{}, nil, err
	}
	return k.COSEKey(), ss, nil
}

// PINHash returns LEFT(SHA-256(pin), 16), the pinHash of getPinToken and
// changePIN (CTAP 2.1 §6.5.5.6, §6.5.5.7). The platform passes pin as UTF-8
// in Unicode Normalization Form C; PINHash hashes its bytes as they are.
func PINHash(pin string) []byte {
	h := sha256.Sum256([]byte(pin))
	return h[:PINHashSize]
}

// PadPIN returns paddedPin, the UTF-8 bytes of pin followed by zero bytes
// to 64 bytes, which the platform encrypts into newPinEnc (CTAP 2.1
// §6.5.5.5, §6.5.5.6). It returns an error wrapping ErrPINLength for a PIN
// that is empty or over 63 bytes, and ErrPINEncoding for one that is not
// valid UTF-8 or holds a zero byte. It does not enforce minPINLength, which
// is the authenticator's policy.
func PadPIN(pin string) ([]byte, error) {
	if len(pin) == 0 || len(pin) > MaxPINBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrPINLength, len(pin))
	}
	if !utf8.ValidString(pin) || bytes.IndexByte([]byte(pin), 0) >= 0 {
		return nil, ErrPINEncoding
	}
	out := make([]byte, PaddedPINSize)
	copy(out, pin)
	return out, nil
}

// UnpadPIN recovers the PIN from a decrypted paddedNewPin (CTAP 2.1
// §6.5.5.5, §6.5.5.6): the block must be exactly 64 bytes, and the PIN is the
// bytes before the first zero byte, all later bytes being zero. Errors wrap
// ErrPINPadding for a block of another length or with a nonzero byte after
// the first zero, ErrPINLength for an empty PIN or a block with no zero byte
// (a PIN of 64 bytes), and ErrPINEncoding for a PIN that is not valid UTF-8.
func UnpadPIN(block []byte) (string, error) {
	if len(block) != PaddedPINSize {
		return "", fmt.Errorf("%w: %d bytes, want %d", ErrPINPadding, len(block), PaddedPINSize)
	}
	n := bytes.IndexByte(block, 0)
	if n < 0 {
		return "", fmt.Errorf("%w: no zero byte ends the PIN", ErrPINLength)
	}
	if !isZero(block[n:]) {
		return "", fmt.Errorf("%w: nonzero byte after the end of the PIN", ErrPINPadding)
	}
	if n == 0 {
		return "", fmt.Errorf("%w: empty PIN", ErrPINLength)
	}
	if !utf8.Valid(block[:n]) {
		return "", ErrPINEncoding
	}
	return string(block[:n]), nil
}
