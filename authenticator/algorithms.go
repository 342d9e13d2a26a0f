package authenticator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"sync"

	"github.com/virtkey/virtkey/ctap"
)

// Credential algorithms (CTAP 2.1 §6.1.2 step 3, §6.4 algorithms).
//
// The key supports four COSE algorithms, in this order of preference:
// ES256 (P-256, ECDSA with SHA-256), EdDSA (Ed25519), ES384 (P-384, ECDSA
// with SHA-384) and RS256 (RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256).
// makeCredential takes the first element of pubKeyCredParams that is one of
// them; getInfo lists them in this order. Config.Algorithms narrows the
// list (features.go). Signatures are ASN.1 DER for ECDSA, raw for
// Ed25519, and the 256-byte PKCS #1 v1.5 block for RSA (WebAuthn §6.5.6).
// U2F (ctap1.go) stays ES256: its key handles only
// ever hold P-256 keys, and a U2F authenticate with the handle of another
// algorithm's credential is SW_WRONG_DATA.
//
// Every credential keeps 32 bytes of private key material, in the sealed
// non-discoverable ID (credential.go) and in ResidentCredential.PrivateKey
// alike. For ES256 and EdDSA they are the key itself (the P-256 scalar,
// the Ed25519 seed). For ES384 and RS256 they are a seed read from
// Config.Rand from which the key is derived deterministically:
//
//   - ES384: d = (c mod (n−1)) + 1, where c is 56 bytes of
//     HKDF-SHA-384(seed, info "virtkey ES384 key v1") and n the P-384
//     order: the "extra random bits" method of FIPS 186-5 §A.2.1, so no
//     rejection loop is needed.
//   - RS256: e = 65537 and two 1024-bit primes, each the first probable
//     prime (sieved by the odd primes below 2^14, then
//     big.Int.ProbablyPrime(20), Miller–Rabin and Baillie–PSW) at or
//     after an odd 128-byte start with its top two bits set, read from
//     HKDF-SHA-256(seed, info "virtkey RS256 key v1 p|q <attempt>"); a
//     start whose search runs 2^16 past it, or a prime with
//     p ≡ 1 (mod e), moves to the next attempt. With the top two bits set
//     n = p·q has exactly 2048 bits.
//
// So an RSA key, whose private half could never fit the 128 bytes of
// maxCredentialIdLength, still lives in a 63-byte credential ID: the ID
// seals the seed, as it seals the other algorithms' keys, and every
// algorithm works for discoverable and non-discoverable credentials alike.
// Keys are reproducible under a seeded Config.Rand (Go's crypto/ecdsa and
// crypto/rsa key generation ignore custom readers). Deriving an RSA key
// takes some tens of milliseconds, so derived RSA keys are kept in a small
// process-wide cache (rsaKeyCacheSize entries) keyed by their seed.
// ES384 signatures, like ES256 ones, use crypto/rand internally; RS256 and
// EdDSA signatures are deterministic.

// algorithmPreference lists the supported COSE algorithms, most preferred
// first: getInfo's algorithms on a key whose Config.Algorithms is nil.
var algorithmPreference = []int64{ctap.AlgES256, ctap.AlgEdDSA, ctap.AlgES384, ctap.AlgRS256}

// Algorithm codes of the sealed credential ID (credential.go) for the
// seed-derived algorithms.
const (
	algCodeES384 = 3
	algCodeRS256 = 4
)

// RSAKeyBits is the modulus size of RS256 credential keys.
const RSAKeyBits = 2048

// rsaKeyCacheSize bounds the cache of derived RSA keys.
const rsaKeyCacheSize = 64

// isSupportedAlgorithm reports whether alg is in algorithmPreference.
func isSupportedAlgorithm(alg int64) bool { return slices.Contains(algorithmPreference, alg) }

// generateSeededKey reads a 32-byte seed from r for ES384 or RS256 and
// derives the key once, so that a bad seed fails here and an RSA key is
// in the cache for the response.
func generateSeededKey(r io.Reader, alg int64) (credentialKey, error) {
	seed := make([]byte, privateKeyLength)
	if _, err := io.ReadFull(r, seed); err != nil {
		return credentialKey{}, fmt.Errorf("authenticator: generating key: %w", err)
	}
	k := credentialKey{alg: alg, priv: seed}
	if _, err := k.seededSigner(); err != nil {
		return credentialKey{}, err
	}
	return k, nil
}

// seededSigner derives the private key of an ES384 or RS256 credential
// from its seed.
func (k credentialKey) seededSigner() (crypto.Signer, error) {
	if len(k.priv) != privateKeyLength {
		return nil, errors.New("authenticator: credential key: seed length")
	}
	switch k.alg {
	case ctap.AlgES384:
		return deriveP384Key(k.priv)
	case ctap.AlgRS256:
		return cachedRSAKey(k.priv)
	}
	return nil, fmt.Errorf("authenticator: credential key: algorithm %d", k.alg)
}

// seededPublicKey is publicKey for ES384 and RS256.
func (k credentialKey) seededPublicKey() (ctap.COSEKey, error) {
	s, err := k.seededSigner()
	if err != nil {
		return ctap.COSEKey{}, err
	}
	return ctap.NewCOSEKey(k.alg, s.Public())
}

// seededSign is sign for ES384 (ASN.1 DER ECDSA over SHA-384(msg)) and
// RS256 (PKCS #1 v1.5 over SHA-256(msg)).
func (k credentialKey) seededSign(r io.Reader, msg []byte) ([]byte, error) {
	s, err := k.seededSigner()
	if err != nil {
		return nil, err
	}
	var sig []byte
	switch priv := s.(type) {
	case *ecdsa.PrivateKey:
		h := sha512.Sum384(msg)
		sig, err = ecdsa.SignASN1(r, priv, h[:])
	case *rsa.PrivateKey:
		h := sha256.Sum256(msg)
		sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, h[:])
	}
	if err != nil {
		return nil, fmt.Errorf("authenticator: signing: %w", err)
	}
	return sig, nil
}

// deriveP384Key derives a P-384 key from seed (FIPS 186-5 §A.2.1).
func deriveP384Key(seed []byte) (*ecdsa.PrivateKey, error) {
	c, err := hkdf.Key(sha512.New384, seed, nil, "virtkey ES384 key v1", 384/8+8)
	if err != nil {
		return nil, fmt.Errorf("authenticator: deriving ES384 key: %w", err)
	}
	nMinus1 := new(big.Int).Sub(elliptic.P384().Params().N, big.NewInt(1))
	d := new(big.Int).SetBytes(c)
	d.Mod(d, nMinus1).Add(d, big.NewInt(1))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P384(), d.FillBytes(make([]byte, 48)))
	if err != nil {
		return nil, fmt.Errorf("authenticator: deriving ES384 key: %w", err)
	}
	return priv, nil
}

// rsaKeys caches derived RSA keys by seed.
var rsaKeys = memo[*rsa.PrivateKey]{max: rsaKeyCacheSize}

// cachedRSAKey returns deriveRSAKey(seed), from the cache when it is
// there.
func cachedRSAKey(seed []byte) (*rsa.PrivateKey, error) {
	return rsaKeys.get(string(seed), func() (*rsa.PrivateKey, error) { return deriveRSAKey(seed) })
}

// rsaExponent is the public exponent of RS256 keys.
const rsaExponent = 65537

// deriveRSAKey derives an RSA-2048 key from seed, as the comment at the
// top of this file describes.
func deriveRSAKey(seed []byte) (*rsa.PrivateKey, error) {
	p, err := derivePrime(seed, "p")
	if err != nil {
		return nil, err
	}
	q, err := derivePrime(seed, "q")
	if err != nil {
		return nil, err
	}
	if p.Cmp(q) == 0 {
		return nil, errors.New("authenticator: deriving RS256 key: equal primes")
	}
	n := new(big.Int).Mul(p, q)
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(big.NewInt(rsaExponent), phi)
	if d == nil || n.BitLen() != RSAKeyBits {
		return nil, errors.New("authenticator: deriving RS256 key: bad primes")
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n, E: rsaExponent},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	priv.Precompute()
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("authenticator: deriving RS256 key: %w", err)
	}
	return priv, nil
}

// smallPrimes are the odd primes below 2^14, for sieving prime candidates.
var smallPrimes = sync.OnceValue(func() []uint64 {
	const limit = 1 << 14
	composite := make([]bool, limit)
	var ps []uint64
	for i := 3; i < limit; i += 2 {
		if composite[i] {
			continue
		}
		ps = append(ps, uint64(i))
		for j := i * i; j < limit; j += 2 * i {
			composite[j] = true
		}
	}
	return ps
})

// maxPrimeAttempts bounds derivePrime; the chance that a search from a
// random start finds no prime within 2^16 is negligible, so it is never
// reached in practice.
const maxPrimeAttempts = 64

// derivePrime returns a 1024-bit probable prime p with p ≢ 1 (mod 65537)
// from seed and label.
func derivePrime(seed []byte, label string) (*big.Int, error) {
	const size = RSAKeyBits / 2 / 8
	ps := smallPrimes()
	residues := make([]uint64, len(ps))
	e := big.NewInt(rsaExponent)
	m, c, small := new(big.Int), new(big.Int), new(big.Int)
	one := big.NewInt(1)
	for attempt := range maxPrimeAttempts {
		b, err := hkdf.Key(sha256.New, seed, nil, "virtkey RS256 key v1 "+label+" "+strconv.Itoa(attempt), size)
		if err != nil {
			return nil, fmt.Errorf("authenticator: deriving RS256 key: %w", err)
		}
		b[0] |= 0xc0
		b[size-1] |= 1
		start := new(big.Int).SetBytes(b)
		for i, sp := range ps {
			residues[i] = m.Mod(start, small.SetUint64(sp)).Uint64()
		}
	search:
		for delta := uint64(0); delta < 1<<16; delta += 2 {
			for i, sp := range ps {
				if (residues[i]+delta)%sp == 0 {
					continue search
				}
			}
			c.Add(start, small.SetUint64(delta))
			if c.BitLen() != size*8 {
				break
			}
			if m.Mod(c, e).Cmp(one) == 0 {
				continue
			}
			if c.ProbablyPrime(20) {
				return new(big.Int).Set(c), nil
			}
		}
	}
	return nil, errors.New("authenticator: deriving RS256 key: no prime found")
}
