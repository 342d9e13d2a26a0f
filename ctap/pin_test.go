package ctap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/testvectors"
)

func loadPINVectors(t testing.TB) []testvectors.Vector {
	vs, err := testvectors.Load("pin")
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// pinVectorKeys are the header keys the pin vectors may hold; any other is
// a typo that would silently skip a check.
var pinVectorKeys = map[string]bool{
	"source": true, "comment": true, "protocol": true,
	"z": true, "shared-secret": true, "hmac-key": true, "aes-key": true,
	"iv": true, "plaintext": true, "ciphertext": true,
	"key": true, "message": true, "hmac": true,
	"authenticator-scalar": true, "authenticator-x": true, "authenticator-y": true,
	"platform-scalar": true, "platform-x": true, "platform-y": true,
	"pin": true, "pin-utf8": true, "pin-hash": true, "padded-pin": true,
}

// pinVector gives typed access to one vector's header.
type pinVector struct {
	t testing.TB
	v testvectors.Vector
}

// bytes decodes the hex header key; ok is false if the header lacks it.
func (pv pinVector) bytes(key string) (b []byte, ok bool) {
	s, ok := pv.v.Header[key]
	if !ok {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		pv.t.Fatalf("%s: %v", key, err)
	}
	return b, true
}

func (pv pinVector) has(keys ...string) bool {
	for _, k := range keys {
		if _, ok := pv.v.Header[k]; !ok {
			return false
		}
	}
	return true
}

func (pv pinVector) must(key string) []byte {
	b, ok := pv.bytes(key)
	if !ok {
		pv.t.Fatalf("vector has no %s", key)
	}
	return b
}

func (pv pinVector) protocol() PINProtocol {
	s, ok := pv.v.Header["protocol"]
	if !ok {
		pv.t.Fatal("vector has no protocol")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		pv.t.Fatal(err)
	}
	p, ok := PINProtocolByVersion(n)
	if !ok {
		pv.t.Fatalf("no protocol %d", n)
	}
	return p
}

// failReader fails every read, to show that an operation reads no randomness.
type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("unexpected read") }

// TestPINVectors checks every operation whose inputs and expected outputs a
// vector's header holds, against values computed by pyca/cryptography.
func TestPINVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadPINVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			for k := range v.Header {
				if !pinVectorKeys[k] {
					t.Fatalf("unknown header key %q", k)
				}
			}
			pv := pinVector{t, v}
			checks := 0
			eq := func(what string, got, want []byte) {
				t.Helper()
				checks++
				if !bytes.Equal(got, want) {
					t.Errorf("%s = %x, want %x", what, got, want)
				}
			}
			if pv.has("z") {
				ss := pv.protocol().KDF(pv.must("z"))
				eq("KDF", ss, pv.must("shared-secret"))
				if pv.has("hmac-key", "aes-key") {
					eq("KDF HMAC key half", ss[:32], pv.must("hmac-key"))
					eq("KDF AES key half", ss[32:], pv.must("aes-key"))
				}
			}
			if pv.has("authenticator-scalar") {
				checkECDHVector(t, pv, eq)
			}
			if pv.has("plaintext", "ciphertext") {
				p := pv.protocol()
				ss, pt, ct := pv.must("shared-secret"), pv.must("plaintext"), pv.must("ciphertext")
				var rnd io.Reader = failReader{}
				if iv, ok := pv.bytes("iv"); ok {
					rnd = bytes.NewReader(iv)
				}
				got, err := p.Encrypt(rnd, ss, pt)
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				eq("Encrypt", got, ct)
				got, err = p.Decrypt(ss, ct)
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				eq("Decrypt", got, pt)
			}
			if pv.has("message", "hmac") {
				p := pv.protocol()
				key, ok := pv.bytes("key")
				if !ok {
					key = pv.must("shared-secret")
				}
				msg, mac := pv.must("message"), pv.must("hmac")
				eq("Authenticate", p.Authenticate(key, msg), mac)
				if !p.Verify(key, msg, mac) {
					t.Error("Verify rejects the expected signature")
				}
			}
			if pv.has("pin") {
				checkPINVector(t, pv, eq)
			}
			if checks == 0 {
				t.Fatal("vector exercises nothing")
			}
		})
	}
}

func checkECDHVector(t *testing.T, pv pinVector, eq func(string, []byte, []byte)) {
	t.Helper()
	p := pv.protocol()
	want := pv.must("shared-secret")
	auth, err := GenerateKeyAgreementKey(bytes.NewReader(pv.must("authenticator-scalar")))
	if err != nil {
		t.Fatal(err)
	}
	authCOSE := COSEKey{Kty: KtyEC2, Alg: AlgECDHESHKDF256, Crv: CrvP256,
		X: pv.must("authenticator-x"), Y: pv.must("authenticator-y")}
	if diff := cmp.Diff(authCOSE, auth.COSEKey()); diff != "" {
		t.Errorf("authenticator COSEKey (-want +got):\n%s", diff)
	}
	plat, err := GenerateKeyAgreementKey(bytes.NewReader(pv.must("platform-scalar")))
	if err != nil {
		t.Fatal(err)
	}
	platCOSE := COSEKey{Kty: KtyEC2, Alg: AlgECDHESHKDF256, Crv: CrvP256,
		X: pv.must("platform-x"), Y: pv.must("platform-y")}
	if diff := cmp.Diff(platCOSE, plat.COSEKey()); diff != "" {
		t.Errorf("platform COSEKey (-want +got):\n%s", diff)
	}
	ssA, err := auth.SharedSecret(p, platCOSE)
	if err != nil {
		t.Fatal(err)
	}
	eq("authenticator SharedSecret", ssA, want)
	ssP, err := plat.SharedSecret(p, authCOSE)
	if err != nil {
		t.Fatal(err)
	}
	eq("platform SharedSecret", ssP, want)
	gotKey, ssE, err := Encapsulate(bytes.NewReader(pv.must("platform-scalar")), p, authCOSE)
	if err != nil {
		t.Fatal(err)
	}
	eq("Encapsulate shared secret", ssE, want)
	if diff := cmp.Diff(platCOSE, gotKey); diff != "" {
		t.Errorf("Encapsulate platform key (-want +got):\n%s", diff)
	}
}

func checkPINVector(t *testing.T, pv pinVector, eq func(string, []byte, []byte)) {
	t.Helper()
	pin := pv.v.Header["pin"]
	if b, ok := pv.bytes("pin-utf8"); ok {
		eq("PIN bytes", []byte(pin), b)
	}
	if b, ok := pv.bytes("pin-hash"); ok {
		eq("PINHash", PINHash(pin), b)
	}
	if b, ok := pv.bytes("padded-pin"); ok {
		got, err := PadPIN(pin)
		if err != nil {
			t.Fatalf("PadPIN: %v", err)
		}
		eq("PadPIN", got, b)
		back, err := UnpadPIN(b)
		if err != nil || back != pin {
			t.Errorf("UnpadPIN = %q, %v; want %q", back, err, pin)
		}
	}
}

func TestPINProtocolByVersion(t *testing.T) {
	t.Parallel()
	for v := range uint64(5) {
		p, ok := PINProtocolByVersion(v)
		if want := v == 1 || v == 2; ok != want {
			t.Fatalf("PINProtocolByVersion(%d) ok = %v", v, ok)
		}
		if ok && p.Version() != v {
			t.Errorf("PINProtocolByVersion(%d).Version() = %d", v, p.Version())
		}
	}
	if PINProtocolV1().Version() != 1 || PINProtocolV2().Version() != 2 {
		t.Error("wrong versions")
	}
}

// protocols names the protocols for subtests.
var protocols = []struct {
	name       string
	p          PINProtocol
	secretSize int
	macSize    int
	overhead   int
}{
	{"v1", PINProtocolV1(), 32, 16, 0},
	{"v2", PINProtocolV2(), 64, 32, 16},
}

func TestPINRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pc := range protocols {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			rnd := rand.NewChaCha8([32]byte{1})
			auth, err := GenerateKeyAgreementKey(rnd)
			if err != nil {
				t.Fatal(err)
			}
			platKey, ss, err := Encapsulate(rnd, pc.p, auth.COSEKey())
			if err != nil {
				t.Fatal(err)
			}
			if len(ss) != pc.secretSize {
				t.Fatalf("shared secret of %d bytes, want %d", len(ss), pc.secretSize)
			}
			ssA, err := auth.SharedSecret(pc.p, platKey)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ss, ssA) {
				t.Fatalf("platform and authenticator disagree: %x, %x", ss, ssA)
			}
			for _, n := range []int{0, 16, 32, 64, 256} {
				pt := make([]byte, n)
				rnd.Read(pt)
				ct, err := pc.p.Encrypt(rnd, ss, pt)
				if err != nil {
					t.Fatalf("Encrypt(%d bytes): %v", n, err)
				}
				if len(ct) != n+pc.overhead {
					t.Errorf("Encrypt(%d bytes) gave %d bytes", n, len(ct))
				}
				got, err := pc.p.Decrypt(ss, ct)
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if !bytes.Equal(got, pt) {
					t.Errorf("Decrypt(Encrypt(%x)) = %x", pt, got)
				}
				mac := pc.p.Authenticate(ss, ct)
				if len(mac) != pc.macSize || !pc.p.Verify(ss, ct, mac) {
					t.Errorf("Authenticate gave %d bytes, Verify = %v", len(mac), pc.p.Verify(ss, ct, mac))
				}
			}
		})
	}
}

// TestPINEncryptFreshIV checks that protocol two draws a new IV per call and
// protocol one reads nothing.
func TestPINEncryptFreshIV(t *testing.T) {
	t.Parallel()
	ss := bytes.Repeat([]byte{7}, 64)
	pt := make([]byte, 32)
	a, err := PINProtocolV2().Encrypt(nil, ss, pt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := PINProtocolV2().Encrypt(nil, ss, pt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two protocol two encryptions are equal")
	}
	if _, err := PINProtocolV1().Encrypt(failReader{}, ss[:32], pt); err != nil {
		t.Errorf("protocol one Encrypt read its reader: %v", err)
	}
	if _, err := PINProtocolV2().Encrypt(failReader{}, ss, pt); err == nil {
		t.Error("protocol two Encrypt ignored a failing reader")
	}
}

func TestPINVerifyRejects(t *testing.T) {
	t.Parallel()
	for _, pc := range protocols {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			key := bytes.Repeat([]byte{0x42}, pc.secretSize)
			msg := []byte("clientDataHash or subcommand parameters")
			sig := pc.p.Authenticate(key, msg)
			if !pc.p.Verify(key, msg, sig) {
				t.Fatal("Verify rejects a good signature")
			}
			full := hmacSHA256(key[:32], msg)
			for _, bad := range [][]byte{nil, {}, sig[:len(sig)-1], append(bytes.Clone(sig), 0), full[:16], full, append(bytes.Clone(full), full...)} {
				if len(bad) == pc.macSize && bytes.Equal(bad, sig) {
					continue
				}
				if pc.p.Verify(key, msg, bad) {
					t.Errorf("Verify accepts a %d-byte signature %x", len(bad), bad)
				}
			}
			for i := range len(sig) * 8 {
				bad := bytes.Clone(sig)
				bad[i/8] ^= 1 << (i % 8)
				if pc.p.Verify(key, msg, bad) {
					t.Errorf("Verify accepts the signature with bit %d flipped", i)
				}
			}
			for i := range len(msg) * 8 {
				bad := bytes.Clone(msg)
				bad[i/8] ^= 1 << (i % 8)
				if pc.p.Verify(key, bad, sig) {
					t.Errorf("Verify accepts the message with bit %d flipped", i)
				}
			}
			// Protocol two keys on the first 32 bytes only (§6.5.7).
			for i := range min(len(key), 32) * 8 {
				bad := bytes.Clone(key)
				bad[i/8] ^= 1 << (i % 8)
				if pc.p.Verify(bad, msg, sig) {
					t.Errorf("Verify accepts the key with bit %d flipped", i)
				}
			}
		})
	}
}

func TestPINAuthenticateKeyHalves(t *testing.T) {
	t.Parallel()
	ss := make([]byte, 64)
	for i := range ss {
		ss[i] = byte(i)
	}
	msg := []byte("m")
	p := PINProtocolV2()
	if !bytes.Equal(p.Authenticate(ss, msg), p.Authenticate(ss[:32], msg)) {
		t.Error("protocol two does not authenticate with the HMAC key half")
	}
	other := bytes.Clone(ss)
	other[63] ^= 1
	if !bytes.Equal(p.Authenticate(ss, msg), p.Authenticate(other, msg)) {
		t.Error("protocol two authentication depends on the AES key half")
	}
}

func TestPINDecryptErrors(t *testing.T) {
	t.Parallel()
	v1, v2 := PINProtocolV1(), PINProtocolV2()
	ss1, ss2 := make([]byte, 32), make([]byte, 64)
	tests := []struct {
		name string
		p    PINProtocol
		ss   []byte
		ct   []byte
		want error
	}{
		{"v1 unaligned 15", v1, ss1, make([]byte, 15), ErrPINBlock},
		{"v1 unaligned 17", v1, ss1, make([]byte, 17), ErrPINBlock},
		{"v1 64-byte secret", v1, ss2, make([]byte, 16), ErrSharedSecret},
		{"v1 empty secret", v1, nil, make([]byte, 16), ErrSharedSecret},
		{"v2 empty", v2, ss2, nil, ErrPINBlock},
		{"v2 short", v2, ss2, make([]byte, 15), ErrPINBlock},
		{"v2 unaligned 17", v2, ss2, make([]byte, 17), ErrPINBlock},
		{"v2 unaligned 33", v2, ss2, make([]byte, 33), ErrPINBlock},
		{"v2 32-byte secret", v2, ss1, make([]byte, 32), ErrSharedSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.p.Decrypt(tt.ss, tt.ct)
			if !errors.Is(err, tt.want) || got != nil {
				t.Errorf("Decrypt = %x, %v; want nil, %v", got, err, tt.want)
			}
		})
	}
	// The IV alone is an empty ciphertext, not an error.
	if got, err := v2.Decrypt(ss2, make([]byte, 16)); err != nil || len(got) != 0 {
		t.Errorf("Decrypt(IV only) = %x, %v", got, err)
	}
}

func TestPINEncryptErrors(t *testing.T) {
	t.Parallel()
	v1, v2 := PINProtocolV1(), PINProtocolV2()
	ss1, ss2 := make([]byte, 32), make([]byte, 64)
	tests := []struct {
		name string
		p    PINProtocol
		ss   []byte
		pt   []byte
		want error
	}{
		{"v1 unaligned", v1, ss1, make([]byte, 63), ErrPINBlock},
		{"v1 64-byte secret", v1, ss2, make([]byte, 16), ErrSharedSecret},
		{"v2 unaligned", v2, ss2, make([]byte, 1), ErrPINBlock},
		{"v2 32-byte secret", v2, ss1, make([]byte, 16), ErrSharedSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.p.Encrypt(failReader{}, tt.ss, tt.pt)
			if !errors.Is(err, tt.want) || got != nil {
				t.Errorf("Encrypt = %x, %v; want nil, %v", got, err, tt.want)
			}
		})
	}
}

func TestKeyAgreementInvalidPeer(t *testing.T) {
	t.Parallel()
	k, err := GenerateKeyAgreementKey(rand.NewChaCha8([32]byte{2}))
	if err != nil {
		t.Fatal(err)
	}
	good := k.COSEKey()
	offCurve := good
	offCurve.Y = bytes.Clone(good.Y)
	offCurve.Y[31] ^= 1
	wrongCurve := good
	wrongCurve.Crv = CrvP384
	wrongType := good
	wrongType.Kty = KtyOKP
	short := good
	short.X = good.X[:31]
	zero := good
	zero.X, zero.Y = make([]byte, 32), make([]byte, 32)
	for name, peer := range map[string]COSEKey{
		"off curve": offCurve, "P-384": wrongCurve, "OKP": wrongType,
		"short x": short, "point at infinity": zero, "empty": {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, pc := range protocols {
				ss, err := k.SharedSecret(pc.p, peer)
				if !errors.Is(err, ErrInvalidKey) || ss != nil {
					t.Errorf("%s SharedSecret = %x, %v; want ErrInvalidKey", pc.name, ss, err)
				}
				pk, ss, err := Encapsulate(rand.NewChaCha8([32]byte{3}), pc.p, peer)
				if !errors.Is(err, ErrInvalidKey) || ss != nil || pk.X != nil {
					t.Errorf("%s Encapsulate = %v, %x, %v; want ErrInvalidKey", pc.name, pk, ss, err)
				}
			}
		})
	}
}

func TestGenerateKeyAgreementKeyDeterministic(t *testing.T) {
	t.Parallel()
	gen := func(r io.Reader) COSEKey {
		t.Helper()
		k, err := GenerateKeyAgreementKey(r)
		if err != nil {
			t.Fatal(err)
		}
		return k.COSEKey()
	}
	a := gen(rand.NewChaCha8([32]byte{9}))
	b := gen(rand.NewChaCha8([32]byte{9}))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different keys (-a +b):\n%s", diff)
	}
	if c := gen(rand.NewChaCha8([32]byte{10})); cmp.Equal(a, c) {
		t.Error("different seeds, same key")
	}
	if x := gen(nil); cmp.Equal(a, x) {
		t.Error("crypto/rand gave the seeded key")
	}

	// Scalars of zero, n and 2^256-1 are skipped; the next one is used.
	one := make([]byte, 32)
	one[31] = 1
	stream := append(append(append(make([]byte, 32), p256Order...), bytes.Repeat([]byte{0xff}, 32)...), one...)
	got := gen(bytes.NewReader(stream))
	// 1·G is the base point.
	wantX, _ := hex.DecodeString("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
	wantY, _ := hex.DecodeString("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
	if !bytes.Equal(got.X, wantX) || !bytes.Equal(got.Y, wantY) {
		t.Errorf("scalar 1 after rejections gave %x, %x", got.X, got.Y)
	}
	if diff := cmp.Diff(COSEKey{Kty: KtyEC2, Alg: AlgECDHESHKDF256, Crv: CrvP256, X: wantX, Y: wantY}, got); diff != "" {
		t.Errorf("COSEKey (-want +got):\n%s", diff)
	}

	// A source that never yields a valid scalar, or runs dry, is an error.
	for name, r := range map[string]io.Reader{
		"all ones": bytes.NewReader(bytes.Repeat([]byte{0xff}, 32*100)),
		"short":    bytes.NewReader(make([]byte, 31)),
		"failing":  failReader{},
	} {
		if k, err := GenerateKeyAgreementKey(r); err == nil || k != nil {
			t.Errorf("%s: GenerateKeyAgreementKey = %v, %v; want an error", name, k, err)
		}
	}
}

func TestPINHash(t *testing.T) {
	t.Parallel()
	for _, pin := range []string{"", "1234", "Pïñ"} {
		h := sha256sum([]byte(pin))
		if got := PINHash(pin); !bytes.Equal(got, h[:16]) {
			t.Errorf("PINHash(%q) = %x", pin, got)
		}
	}
}

func padded(prefix string) []byte {
	b := make([]byte, PaddedPINSize)
	copy(b, prefix)
	return b
}

func TestPadPIN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pin  string
		want []byte
		err  error
	}{
		{"four digits", "1234", padded("1234"), nil},
		{"non-ASCII", "ĉapelo", padded("ĉapelo"), nil},
		{"63 bytes", strings.Repeat("a", 63), padded(strings.Repeat("a", 63)), nil},
		{"62 bytes and a 2-byte rune", strings.Repeat("a", 61) + "é", padded(strings.Repeat("a", 61) + "é"), nil},
		{"64 bytes", strings.Repeat("a", 64), nil, ErrPINLength},
		{"63 bytes and a 2-byte rune", strings.Repeat("a", 62) + "é", nil, ErrPINLength},
		{"empty", "", nil, ErrPINLength},
		{"invalid UTF-8", "12\xff4", nil, ErrPINEncoding},
		{"zero byte", "12\x0034", nil, ErrPINEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := PadPIN(tt.pin)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("PadPIN error = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PadPIN (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnpadPIN(t *testing.T) {
	t.Parallel()
	garbage := padded("1234")
	garbage[10] = 'x'
	lastByte := padded("1234")
	lastByte[63] = 1
	leading := padded("")
	leading[5] = '1'
	badUTF8 := padded("12\xc3")
	tests := []struct {
		name  string
		block []byte
		want  string
		err   error
	}{
		{"four digits", padded("1234"), "1234", nil},
		{"non-ASCII", padded("ĉapelo 🔑"), "ĉapelo 🔑", nil},
		{"63 bytes", padded(strings.Repeat("7", 63)), strings.Repeat("7", 63), nil},
		{"64 bytes of PIN", []byte(strings.Repeat("7", 64)), "", ErrPINLength},
		{"empty PIN", padded(""), "", ErrPINLength},
		{"garbage after the zero", garbage, "", ErrPINPadding},
		{"nonzero last byte", lastByte, "", ErrPINPadding},
		{"zero then PIN", leading, "", ErrPINPadding},
		{"invalid UTF-8", badUTF8, "", ErrPINEncoding},
		{"63-byte block", padded("1234")[:63], "", ErrPINPadding},
		{"65-byte block", append(padded("1234"), 0), "", ErrPINPadding},
		{"128-byte block", append(padded("1234"), make([]byte, 64)...), "", ErrPINPadding},
		{"nil", nil, "", ErrPINPadding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := UnpadPIN(tt.block)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("UnpadPIN error = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("UnpadPIN (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzUnpadPIN checks that UnpadPIN never panics, returns no PIN with an
// error, and that a PIN it accepts pads back to the same block.
func FuzzUnpadPIN(f *testing.F) {
	for _, v := range loadPINVectors(f) {
		pv := pinVector{f, v}
		for _, k := range []string{"padded-pin", "plaintext"} {
			if b, ok := pv.bytes(k); ok {
				f.Add(b)
			}
		}
	}
	f.Add(padded(""))
	f.Add(padded("1234\x001"))
	f.Fuzz(func(t *testing.T, block []byte) {
		pin, err := UnpadPIN(block)
		if err != nil {
			if pin != "" {
				t.Fatalf("UnpadPIN returned %q with error %v", pin, err)
			}
			return
		}
		again, err := PadPIN(pin)
		if err != nil {
			t.Fatalf("PadPIN(UnpadPIN(%x)) = %v", block, err)
		}
		if !bytes.Equal(again, block) {
			t.Fatalf("PadPIN(UnpadPIN(%x)) = %x", block, again)
		}
	})
}

// FuzzDecrypt checks that Decrypt never panics, returns nothing with an
// error, and that what it decrypts encrypts back to the same ciphertext.
func FuzzDecrypt(f *testing.F) {
	for _, v := range loadPINVectors(f) {
		pv := pinVector{f, v}
		if !pv.has("protocol", "shared-secret") {
			continue
		}
		ss := pv.must("shared-secret")
		n, _ := strconv.ParseUint(v.Header["protocol"], 10, 8)
		if ct, ok := pv.bytes("ciphertext"); ok {
			f.Add(uint8(n), ss, ct)
			f.Add(uint8(n), ss, ct[:len(ct)-1])
		}
		f.Add(uint8(n), ss, []byte{})
	}
	f.Fuzz(func(t *testing.T, version uint8, ss, ct []byte) {
		p, ok := PINProtocolByVersion(uint64(version))
		if !ok {
			return
		}
		pt, err := p.Decrypt(ss, ct)
		if err != nil {
			if pt != nil {
				t.Fatalf("Decrypt returned %x with error %v", pt, err)
			}
			return
		}
		var rnd io.Reader = failReader{}
		if version == 2 {
			rnd = bytes.NewReader(ct[:16])
		}
		again, err := p.Encrypt(rnd, ss, pt)
		if err != nil {
			t.Fatalf("Encrypt(Decrypt(%x)) = %v", ct, err)
		}
		if !bytes.Equal(again, ct) {
			t.Fatalf("Encrypt(Decrypt(%x)) = %x", ct, again)
		}
	})
}
