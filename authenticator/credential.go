package authenticator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/virtkey/virtkey/ctap"
)

// Credential IDs.
//
// A non-discoverable credential lives entirely in its ID (CTAP 2.1 §6.1.2
// step 18): the private key is sealed with AES-256-GCM under a key derived
// from State.MasterSecret, bound to the relying party by its rpIdHash:
//
//	id = version (0x01) || nonce (12 bytes) || AES-256-GCM(k, nonce, plaintext, ad)
//	plaintext = algorithm (1 byte: 1 ES256, 2 EdDSA, 3 ES384, 4 RS256) || flags (1 byte, 0) || private key (32 bytes)
//	ad = version || SHA-256(rpId)
//	k = HKDF-SHA256(MasterSecret, salt = none, info = "virtkey authenticator credential ID v1")
//
// That is 63 bytes. An ID sealed for another relying party, by another key
// or before a reset, or changed in any bit, fails to open. The flags byte
// is room for per-credential policy that later features add (credProtect).
// For ES384 and RS256 the 32 bytes are the seed the key is derived from
// (algorithms.go).
//
// A discoverable credential's ID is 32 random bytes that index
// State.Credentials; it carries no key, so a deleted or overwritten
// discoverable credential is gone for good.

const (
	sealedIDVersion  = 0x01
	sealedIDLength   = 1 + 12 + 34 + 16
	residentIDLength = 32
	privateKeyLength = 32

	// maxCredentialIDLength is advertised in getInfo; IDs this key makes
	// are at most this long, with room for later formats.
	maxCredentialIDLength = 128

	algCodeES256 = 1
	algCodeEdDSA = 2
)

var sealInfo = "virtkey authenticator credential ID v1"

// credentialKey is a credential's private key with its COSE algorithm.
type credentialKey struct {
	alg  int64
	priv []byte // P-256 scalar or Ed25519 seed
	// flags is the flags byte sealed in a non-discoverable ID: the
	// sealedFlag* bits of extensions.go.
	flags byte
	ec    *ecdsa.PrivateKey // parsed ES256 key, when already at hand
}

// ecdsaKey returns the parsed ES256 private key.
func (k credentialKey) ecdsaKey() (*ecdsa.PrivateKey, error) {
	if k.ec != nil {
		return k.ec, nil
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.priv)
	if err != nil {
		return nil, fmt.Errorf("authenticator: credential key: %w", err)
	}
	return priv, nil
}

// supportedAlgorithm reports whether alg is one this key generates
// (algorithms.go).
func supportedAlgorithm(alg int64) bool {
	return isSupportedAlgorithm(alg)
}

// generateKey makes a private key for alg from r: a P-256 scalar by
// rejection sampling, or an Ed25519 seed. Reading the bytes ourselves keeps
// keys reproducible under a test Rand (crypto/ecdsa ignores its reader).
func generateKey(r io.Reader, alg int64) (credentialKey, error) {
	buf := make([]byte, privateKeyLength)
	switch alg {
	case ctap.AlgES256:
		for range 64 {
			if _, err := io.ReadFull(r, buf); err != nil {
				return credentialKey{}, fmt.Errorf("authenticator: generating key: %w", err)
			}
			if ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), buf); err == nil {
				return credentialKey{alg: alg, priv: buf, ec: ec}, nil
			}
		}
		return credentialKey{}, errors.New("authenticator: generating key: no valid P-256 scalar from the random source")
	case ctap.AlgEdDSA:
		if _, err := io.ReadFull(r, buf); err != nil {
			return credentialKey{}, fmt.Errorf("authenticator: generating key: %w", err)
		}
		return credentialKey{alg: alg, priv: buf}, nil
	case ctap.AlgES384, ctap.AlgRS256:
		return generateSeededKey(r, alg) // algorithms.go
	}
	return credentialKey{}, fmt.Errorf("authenticator: generating key: %w", ctap.StatusUnsupportedAlgorithm)
}

// publicKey returns the COSE form of the key's public half.
func (k credentialKey) publicKey() (ctap.COSEKey, error) {
	switch k.alg {
	case ctap.AlgES256:
		priv, err := k.ecdsaKey()
		if err != nil {
			return ctap.COSEKey{}, err
		}
		// The point is ParseRawPrivateKey's, computed from the scalar:
		// its coordinates are read as they are, without the conversion
		// and curve check of ctap.NewCOSEKey (PublicKey.Bytes).
		xy := make([]byte, 2*privateKeyLength)
		priv.X.FillBytes(xy[:privateKeyLength])
		priv.Y.FillBytes(xy[privateKeyLength:])
		return ctap.COSEKey{Kty: ctap.KtyEC2, Alg: k.alg, Crv: ctap.CrvP256,
			X: xy[:privateKeyLength:privateKeyLength], Y: xy[privateKeyLength:]}, nil
	case ctap.AlgEdDSA:
		priv := ed25519.NewKeyFromSeed(k.priv)
		return ctap.NewCOSEKey(k.alg, priv.Public())
	case ctap.AlgES384, ctap.AlgRS256:
		return k.seededPublicKey() // algorithms.go
	}
	return ctap.COSEKey{}, fmt.Errorf("authenticator: credential key: algorithm %d", k.alg)
}

// sign signs msg as the COSE algorithm says: ES256 is an ASN.1 DER ECDSA
// signature over SHA-256(msg), EdDSA an Ed25519 signature over msg.
func (k credentialKey) sign(r io.Reader, msg []byte) ([]byte, error) {
	switch k.alg {
	case ctap.AlgES256:
		priv, err := k.ecdsaKey()
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(r, priv, h[:])
		if err != nil {
			return nil, fmt.Errorf("authenticator: signing: %w", err)
		}
		return sig, nil
	case ctap.AlgEdDSA:
		if len(k.priv) != ed25519.SeedSize {
			return nil, errors.New("authenticator: credential key: bad Ed25519 seed")
		}
		return ed25519.Sign(ed25519.NewKeyFromSeed(k.priv), msg), nil
	case ctap.AlgES384, ctap.AlgRS256:
		return k.seededSign(r, msg) // algorithms.go
	}
	return nil, fmt.Errorf("authenticator: signing: algorithm %d", k.alg)
}

// newSealer derives the credential ID sealing AEAD from a master secret.
func newSealer(masterSecret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, masterSecret, nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("authenticator: deriving credential ID key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("authenticator: deriving credential ID key: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealCredentialID returns the ID of a non-discoverable credential for the
// relying party whose SHA-256(rpId) is rpIDHash.
func sealCredentialID(aead cipher.AEAD, r io.Reader, rpIDHash [32]byte, k credentialKey) ([]byte, error) {
	var code byte
	switch k.alg {
	case ctap.AlgES256:
		code = algCodeES256
	case ctap.AlgEdDSA:
		code = algCodeEdDSA
	case ctap.AlgES384:
		code = algCodeES384
	case ctap.AlgRS256:
		code = algCodeRS256
	default:
		return nil, fmt.Errorf("authenticator: sealing credential ID: algorithm %d", k.alg)
	}
	if len(k.priv) != privateKeyLength {
		return nil, errors.New("authenticator: sealing credential ID: key length")
	}
	id := make([]byte, 1+aead.NonceSize(), sealedIDLength)
	id[0] = sealedIDVersion
	if _, err := io.ReadFull(r, id[1:]); err != nil {
		return nil, fmt.Errorf("authenticator: sealing credential ID: %w", err)
	}
	plain := make([]byte, 0, 2+privateKeyLength)
	plain = append(plain, code, k.flags)
	plain = append(plain, k.priv...)
	ad := append([]byte{sealedIDVersion}, rpIDHash[:]...)
	return aead.Seal(id, id[1:], plain, ad), nil
}

// openCredentialID recovers the key sealed in id for rpIDHash. ok is false
// for an ID this key did not seal for that relying party.
func openCredentialID(aead cipher.AEAD, rpIDHash [32]byte, id []byte) (k credentialKey, ok bool) {
	if len(id) != sealedIDLength || id[0] != sealedIDVersion {
		return credentialKey{}, false
	}
	ns := aead.NonceSize()
	ad := append([]byte{sealedIDVersion}, rpIDHash[:]...)
	plain, err := aead.Open(nil, id[1:1+ns], id[1+ns:], ad)
	if err != nil || len(plain) != 2+privateKeyLength || plain[1]&^sealedFlagsKnown != 0 {
		return credentialKey{}, false
	}
	switch plain[0] {
	case algCodeES256:
		k.alg = ctap.AlgES256
	case algCodeEdDSA:
		k.alg = ctap.AlgEdDSA
	case algCodeES384:
		k.alg = ctap.AlgES384
	case algCodeRS256:
		k.alg = ctap.AlgRS256
	default:
		return credentialKey{}, false
	}
	k.priv, k.flags = plain[2:], plain[1]
	return k, true
}
