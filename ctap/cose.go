package ctap

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// COSE key types and curves (RFC 9053 §7, IANA COSE registries).
const (
	KtyOKP int64 = 1
	KtyEC2 int64 = 2
	KtyRSA int64 = 3

	CrvP256    int64 = 1
	CrvP384    int64 = 2
	CrvEd25519 int64 = 6
)

// COSE key labels.
const (
	coseKty = 1
	coseAlg = 3
	coseCrv = -1 // EC2, OKP
	coseX   = -2 // EC2, OKP
	coseY   = -3 // EC2
	coseN   = -1 // RSA
	coseE   = -2 // RSA
)

// ErrInvalidKey is returned for a COSE key that is malformed, of an
// unsupported type, or whose point is not on its curve.
var ErrInvalidKey = errors.New("ctap: invalid COSE key")

// COSEKey is a COSE_Key public key (RFC 9052 §7) of type EC2 (P-256,
// P-384), OKP (Ed25519) or RSA. The labels in use depend on Kty: EC2 and OKP
// use Crv and X (and Y for EC2), RSA uses N and E.
type COSEKey struct {
	Kty int64
	Alg int64
	Crv int64
	X   []byte
	Y   []byte
	N   []byte
	E   []byte
}

// MarshalCBOR encodes the key as a COSE_Key map in canonical form. It
// writes the bytes itself, without reflection: every makeCredential and
// every credential that credentialManagement lists encodes one. The labels
// it writes (1, 3, -1, -2, -3) are already in canonical order; a nil byte
// string is null, as the generic encoder writes it.
func (k COSEKey) MarshalCBOR() ([]byte, error) {
	var labels [3]int64
	var values [3][]byte
	var n int
	switch k.Kty {
	case KtyEC2:
		labels, values, n = [3]int64{coseCrv, coseX, coseY}, [3][]byte{nil, k.X, k.Y}, 3
	case KtyOKP:
		labels, values, n = [3]int64{coseCrv, coseX}, [3][]byte{nil, k.X}, 2
	case KtyRSA:
		labels, values, n = [3]int64{coseN, coseE}, [3][]byte{k.N, k.E}, 2
	default:
		return nil, fmt.Errorf("%w: key type %d", ErrInvalidKey, k.Kty)
	}
	pairs := 1 + n
	if k.Alg != 0 {
		pairs++
	}
	b := make([]byte, 0, 16+len(k.X)+len(k.Y)+len(k.N)+len(k.E))
	b = appendCBORHead(b, 5, uint64(pairs))
	b = appendCBORInt(appendCBORInt(b, coseKty), k.Kty)
	if k.Alg != 0 {
		b = appendCBORInt(appendCBORInt(b, coseAlg), k.Alg)
	}
	for i := range n {
		b = appendCBORInt(b, labels[i])
		switch {
		case k.Kty != KtyRSA && i == 0:
			b = appendCBORInt(b, k.Crv)
		case values[i] == nil:
			b = append(b, 0xf6)
		default:
			b = append(appendCBORHead(b, 2, uint64(len(values[i]))), values[i]...)
		}
	}
	return b, nil
}

// appendCBORHead appends a CBOR head of major type major and argument v
// in its shortest form (RFC 8949 §4.2.1).
func appendCBORHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= 0xff:
		return append(b, m|24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), v)
}

// appendCBORInt appends v as a CBOR integer.
func appendCBORInt(b []byte, v int64) []byte {
	if v < 0 {
		return appendCBORHead(b, 1, uint64(-1-v))
	}
	return appendCBORHead(b, 0, uint64(v))
}

// UnmarshalCBOR decodes a COSE_Key map. It checks the types of the labels it
// knows and ignores others; it does not check the point (see PublicKey).
func (k *COSEKey) UnmarshalCBOR(b []byte) error {
	var m map[int64]RawMessage
	if err := decMode.Unmarshal(b, &m); err != nil {
		return err
	}
	var out COSEKey
	get := func(label int64, v any) error {
		raw, ok := m[label]
		if !ok {
			return fmt.Errorf("%w: missing label %d", ErrInvalidKey, label)
		}
		return decMode.Unmarshal(raw, v)
	}
	if err := get(coseKty, &out.Kty); err != nil {
		return err
	}
	if _, ok := m[coseAlg]; ok {
		if err := get(coseAlg, &out.Alg); err != nil {
			return err
		}
	}
	var err error
	switch out.Kty {
	case KtyEC2:
		err = errors.Join(get(coseCrv, &out.Crv), get(coseX, &out.X), get(coseY, &out.Y))
	case KtyOKP:
		err = errors.Join(get(coseCrv, &out.Crv), get(coseX, &out.X))
	case KtyRSA:
		err = errors.Join(get(coseN, &out.N), get(coseE, &out.E))
	default:
		err = fmt.Errorf("%w: key type %d", ErrInvalidKey, out.Kty)
	}
	if err != nil {
		return err
	}
	*k = out
	return nil
}

// NewCOSEKey describes pub for algorithm alg. It accepts *ecdsa.PublicKey
// (P-256, P-384), ed25519.PublicKey and *rsa.PublicKey.
func NewCOSEKey(alg int64, pub crypto.PublicKey) (COSEKey, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		var crv int64
		var size int
		switch p.Curve {
		case elliptic.P256():
			crv, size = CrvP256, 32
		case elliptic.P384():
			crv, size = CrvP384, 48
		default:
			return COSEKey{}, fmt.Errorf("%w: curve %s", ErrInvalidKey, p.Curve.Params().Name)
		}
		raw, err := p.Bytes() // 0x04 || X || Y
		if err != nil {
			return COSEKey{}, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		return COSEKey{Kty: KtyEC2, Alg: alg, Crv: crv,
			X: raw[1 : 1+size], Y: raw[1+size:]}, nil
	case *ecdh.PublicKey:
		if p.Curve() != ecdh.P256() {
			return COSEKey{}, fmt.Errorf("%w: ECDH curve", ErrInvalidKey)
		}
		raw := p.Bytes()
		return COSEKey{Kty: KtyEC2, Alg: alg, Crv: CrvP256, X: raw[1:33], Y: raw[33:]}, nil
	case ed25519.PublicKey:
		return COSEKey{Kty: KtyOKP, Alg: alg, Crv: CrvEd25519, X: append([]byte(nil), p...)}, nil
	case *rsa.PublicKey:
		return COSEKey{Kty: KtyRSA, Alg: alg, N: p.N.Bytes(),
			E: big.NewInt(int64(p.E)).Bytes()}, nil
	}
	return COSEKey{}, fmt.Errorf("%w: key of type %T", ErrInvalidKey, pub)
}

// PublicKey returns the Go public key: *ecdsa.PublicKey, ed25519.PublicKey
// or *rsa.PublicKey. An EC2 point that is not on its curve is an error.
func (k COSEKey) PublicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case KtyEC2:
		var curve elliptic.Curve
		var size int
		switch k.Crv {
		case CrvP256:
			curve, size = elliptic.P256(), 32
		case CrvP384:
			curve, size = elliptic.P384(), 48
		default:
			return nil, fmt.Errorf("%w: EC2 curve %d", ErrInvalidKey, k.Crv)
		}
		if len(k.X) != size || len(k.Y) != size {
			return nil, fmt.Errorf("%w: coordinate length", ErrInvalidKey)
		}
		raw := append(append([]byte{4}, k.X...), k.Y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		return pub, nil
	case KtyOKP:
		if k.Crv != CrvEd25519 || len(k.X) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: OKP curve %d", ErrInvalidKey, k.Crv)
		}
		return ed25519.PublicKey(append([]byte(nil), k.X...)), nil
	case KtyRSA:
		e := new(big.Int).SetBytes(k.E)
		if len(k.N) < 256 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("%w: RSA parameters", ErrInvalidKey)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(e.Int64())}, nil
	}
	return nil, fmt.Errorf("%w: key type %d", ErrInvalidKey, k.Kty)
}

// ECDHPublicKey returns the P-256 key agreement key of a PIN/UV auth
// protocol (CTAP 2.1 §6.5.6), rejecting a point not on the curve.
func (k COSEKey) ECDHPublicKey() (*ecdh.PublicKey, error) {
	if k.Kty != KtyEC2 || k.Crv != CrvP256 || len(k.X) != 32 || len(k.Y) != 32 {
		return nil, fmt.Errorf("%w: not a P-256 key", ErrInvalidKey)
	}
	raw := append(append([]byte{4}, k.X...), k.Y...)
	pub, err := ecdh.P256().NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return pub, nil
}

// ErrBadSignature is returned by VerifySignature for a signature that does
// not verify.
var ErrBadSignature = errors.New("ctap: signature does not verify")

// VerifySignature checks sig over msg with pub under COSE algorithm alg:
// ES256 and ES384 take ASN.1 DER ECDSA signatures over SHA-256 and SHA-384,
// EdDSA an Ed25519 signature over msg itself, RS256 PKCS #1 v1.5 over SHA-256.
func VerifySignature(alg int64, pub crypto.PublicKey, msg, sig []byte) error {
	ok := false
	switch alg {
	case AlgES256:
		p, isEC := pub.(*ecdsa.PublicKey)
		if !isEC {
			return fmt.Errorf("%w: ES256 with %T", ErrInvalidKey, pub)
		}
		h := sha256.Sum256(msg)
		ok = ecdsa.VerifyASN1(p, h[:], sig)
	case AlgES384:
		p, isEC := pub.(*ecdsa.PublicKey)
		if !isEC {
			return fmt.Errorf("%w: ES384 with %T", ErrInvalidKey, pub)
		}
		h := sha512.Sum384(msg)
		ok = ecdsa.VerifyASN1(p, h[:], sig)
	case AlgEdDSA:
		p, isEd := pub.(ed25519.PublicKey)
		if !isEd {
			return fmt.Errorf("%w: EdDSA with %T", ErrInvalidKey, pub)
		}
		ok = ed25519.Verify(p, msg, sig)
	case AlgRS256:
		p, isRSA := pub.(*rsa.PublicKey)
		if !isRSA {
			return fmt.Errorf("%w: RS256 with %T", ErrInvalidKey, pub)
		}
		h := sha256.Sum256(msg)
		ok = rsa.VerifyPKCS1v15(p, crypto.SHA256, h[:], sig) == nil
	default:
		return fmt.Errorf("%w: algorithm %d", ErrInvalidKey, alg)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}
