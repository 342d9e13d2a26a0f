package authenticator

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

// algES512 is a COSE algorithm this key does not support (ES512).
const algES512 int64 = -36

// verifyStdlib checks sig over msg with the COSE key pub using the
// standard library directly, not ctap.VerifySignature.
func verifyStdlib(t *testing.T, pub ctap.COSEKey, msg, sig []byte) {
	t.Helper()
	switch pub.Alg {
	case ctap.AlgES256, ctap.AlgES384:
		curve, size, h := elliptic.P256(), 32, sha256.Sum256(msg)
		digest := h[:]
		if pub.Alg == ctap.AlgES384 {
			h384 := sha512.Sum384(msg)
			curve, size, digest = elliptic.P384(), 48, h384[:]
		}
		if len(pub.X) != size || len(pub.Y) != size {
			t.Fatalf("alg %d: coordinates of %d, %d bytes", pub.Alg, len(pub.X), len(pub.Y))
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, pub.X...), pub.Y...))
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			t.Errorf("alg %d: ECDSA signature does not verify", pub.Alg)
		}
	case ctap.AlgEdDSA:
		if !ed25519.Verify(ed25519.PublicKey(pub.X), msg, sig) {
			t.Error("EdDSA: ed25519.Verify failed")
		}
	case ctap.AlgRS256:
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(pub.N), E: int(new(big.Int).SetBytes(pub.E).Int64())}
		h := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig); err != nil {
			t.Errorf("RS256: rsa.VerifyPKCS1v15: %v", err)
		}
	default:
		t.Fatalf("alg %d", pub.Alg)
	}
}

// TestAlgorithmsGetInfo: getInfo lists exactly the supported algorithms,
// most preferred first (CTAP 2.1 §6.4).
func TestAlgorithmsGetInfo(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	want := []ctap.CredentialParameter{
		{Type: "public-key", Alg: ctap.AlgES256},
		{Type: "public-key", Alg: ctap.AlgEdDSA},
		{Type: "public-key", Alg: ctap.AlgES384},
		{Type: "public-key", Alg: ctap.AlgRS256},
	}
	if diff := cmp.Diff(want, k.info().Algorithms); diff != "" {
		t.Errorf("algorithms (-want +got):\n%s", diff)
	}
}

// TestAlgorithmsChoice: the first supported element of pubKeyCredParams
// wins (CTAP 2.1 §6.1.2 step 3).
func TestAlgorithmsChoice(t *testing.T) {
	t.Parallel()
	pk := func(algs ...int64) []ctap.CredentialParameter {
		var ps []ctap.CredentialParameter
		for _, a := range algs {
			ps = append(ps, ctap.CredentialParameter{Type: ctap.CredentialTypePublicKey, Alg: a})
		}
		return ps
	}
	for _, tt := range []struct {
		name   string
		params []ctap.CredentialParameter
		want   int64
		status ctap.Status
	}{
		{"ES384 first", pk(ctap.AlgES384, ctap.AlgES256), ctap.AlgES384, ctap.StatusOK},
		{"RS256 first", pk(ctap.AlgRS256, ctap.AlgEdDSA), ctap.AlgRS256, ctap.StatusOK},
		{"unsupported then RS256", pk(algES512, ctap.AlgRS256, ctap.AlgES384), ctap.AlgRS256, ctap.StatusOK},
		{"unsupported then ES384", pk(algES512, -65535, ctap.AlgES384), ctap.AlgES384, ctap.StatusOK},
		{"another type skipped", append([]ctap.CredentialParameter{{Type: "other", Alg: ctap.AlgES256}}, pk(ctap.AlgES384)...), ctap.AlgES384, ctap.StatusOK},
		{"none supported", pk(algES512, -65535), 0, ctap.StatusUnsupportedAlgorithm},
		{"only another type", []ctap.CredentialParameter{{Type: "other", Alg: ctap.AlgRS256}}, 0, ctap.StatusUnsupportedAlgorithm},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t)
			r := mcReq("example.com", []byte{1}, false)
			r.PubKeyCredParams = tt.params
			resp, s := k.makeCredential(r)
			if s != tt.status {
				t.Fatalf("status %v, want %v", s, tt.status)
			}
			if s != ctap.StatusOK {
				return
			}
			ad, err := ctap.ParseAuthData(resp.AuthData)
			if err != nil {
				t.Fatal(err)
			}
			if got := ad.AttestedCredential.PublicKey.Alg; got != tt.want {
				t.Errorf("alg %d, want %d", got, tt.want)
			}
		})
	}
}

// TestAlgorithmsCredentials makes a credential of every algorithm,
// discoverable or not, with self attestation, and gets an assertion; both
// signatures are checked with the standard library.
func TestAlgorithmsCredentials(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithmPreference {
		for _, rk := range []bool{false, true} {
			t.Run(algName(alg)+map[bool]string{false: "", true: " resident"}[rk], func(t *testing.T) {
				t.Parallel()
				k := newTestKey(t, withAttestation(AttestationSelf))
				resp, s := k.makeCredential(mcReq("example.com", []byte{3}, rk, alg))
				if s != ctap.StatusOK {
					t.Fatalf("makeCredential: %v", s)
				}
				ad, err := ctap.ParseAuthData(resp.AuthData)
				if err != nil {
					t.Fatal(err)
				}
				ac := ad.AttestedCredential
				checkCOSEKey(t, ac.PublicKey, alg)
				wantLen := sealedIDLength
				if rk {
					wantLen = residentIDLength
				}
				if len(ac.CredentialID) != wantLen || len(ac.CredentialID) > maxCredentialIDLength {
					t.Errorf("credential ID of %d bytes, want %d", len(ac.CredentialID), wantLen)
				}
				// Packed self attestation: alg is the credential's, signed by it.
				if resp.Fmt != ctap.FormatPacked || resp.AttStmt.Alg == nil || *resp.AttStmt.Alg != alg || resp.AttStmt.X5C != nil {
					t.Fatalf("self attestation %q %+v", resp.Fmt, resp.AttStmt)
				}
				verifyStdlib(t, ac.PublicKey, append(bytes.Clone(resp.AuthData), testCDH...), resp.AttStmt.Sig)

				ga, s := k.getAssertion(gaReq("example.com", ac.CredentialID))
				if s != ctap.StatusOK {
					t.Fatalf("getAssertion: %v", s)
				}
				verifyStdlib(t, ac.PublicKey, append(bytes.Clone(ga.AuthData), testCDH...), ga.Signature)
				if alg == ctap.AlgRS256 && len(ga.Signature) != RSAKeyBits/8 {
					t.Errorf("RS256 signature of %d bytes", len(ga.Signature))
				}
			})
		}
	}
}

func algName(alg int64) string {
	return map[int64]string{ctap.AlgES256: "ES256", ctap.AlgEdDSA: "EdDSA", ctap.AlgES384: "ES384", ctap.AlgRS256: "RS256"}[alg]
}

// checkCOSEKey checks the COSE form of a credential public key (RFC 9053
// §7.1.1, §7.2; RFC 8230 §4).
func checkCOSEKey(t *testing.T, k ctap.COSEKey, alg int64) {
	t.Helper()
	if k.Alg != alg {
		t.Errorf("COSE alg %d, want %d", k.Alg, alg)
	}
	switch alg {
	case ctap.AlgES384:
		if k.Kty != ctap.KtyEC2 || k.Crv != ctap.CrvP384 || len(k.X) != 48 || len(k.Y) != 48 {
			t.Errorf("ES384 key kty %d crv %d", k.Kty, k.Crv)
		}
	case ctap.AlgRS256:
		if k.Kty != ctap.KtyRSA || len(k.N) != 256 || !bytes.Equal(k.E, []byte{1, 0, 1}) {
			t.Errorf("RS256 key kty %d, n of %d bytes, e %x", k.Kty, len(k.N), k.E)
		}
	}
}

// TestAlgorithmsPackedAttestation: with x5c attestation the statement is
// ES256 by the attestation key whatever the credential's algorithm.
func TestAlgorithmsPackedAttestation(t *testing.T) {
	t.Parallel()
	for _, alg := range []int64{ctap.AlgES384, ctap.AlgRS256} {
		k := newTestKey(t)
		resp, s := k.makeCredential(mcReq("example.com", []byte{4}, false, alg))
		if s != ctap.StatusOK {
			t.Fatalf("%s: %v", algName(alg), s)
		}
		verifyPackedAttestation(t, k.a, resp, append(bytes.Clone(resp.AuthData), testCDH...))
	}
}

// TestAlgorithmsDeterministic: keys derive from Config.Rand alone, so two
// keys with the same seed make the same credentials, and a seed gives the
// same key material in every version of this package (stored credentials
// must keep working).
func TestAlgorithmsDeterministic(t *testing.T) {
	t.Parallel()
	for _, alg := range []int64{ctap.AlgES384, ctap.AlgRS256} {
		var keys [2]ctap.COSEKey
		for i := range keys {
			k := newTestKey(t)
			_, ad := k.mustRegister(mcReq("example.com", []byte{5}, true, alg))
			keys[i] = ad.AttestedCredential.PublicKey
		}
		if diff := cmp.Diff(keys[0], keys[1]); diff != "" {
			t.Errorf("%s: keys differ (-first +second):\n%s", algName(alg), diff)
		}
	}

	seed := bytes.Repeat([]byte{0x5e}, 32)
	p384, err := deriveP384Key(seed)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p384.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := deriveRSAKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	nHash := sha256.Sum256(rsaKey.N.Bytes())
	for _, c := range []struct{ what, got, want string }{
		{"P-384 scalar", hex.EncodeToString(d), "35773ae000dc95b25b822bdabc11955d3748e32c61ce5a67ad9281b30abf79b00123ae6c414625f0054cb672ee2d5cd6"},
		{"SHA-256(RSA n)", hex.EncodeToString(nHash[:]), "980444a845ab5f72c91cb5c0e73fe62b4e3387a08dd22f6f50c5286ba4777572"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}
}

// TestDeriveRSAKey checks the derived RSA keys' shape.
func TestDeriveRSAKey(t *testing.T) {
	t.Parallel()
	e := big.NewInt(rsaExponent)
	one := big.NewInt(1)
	for i := range 3 {
		seed := bytes.Repeat([]byte{byte(i)}, 32)
		k, err := deriveRSAKey(seed)
		if err != nil {
			t.Fatal(err)
		}
		if k.N.BitLen() != RSAKeyBits || k.E != rsaExponent || len(k.Primes) != 2 {
			t.Errorf("seed %d: %d-bit n, e %d, %d primes", i, k.N.BitLen(), k.E, len(k.Primes))
		}
		for _, p := range k.Primes {
			if p.BitLen() != RSAKeyBits/2 || !p.ProbablyPrime(20) || new(big.Int).Mod(p, e).Cmp(one) == 0 {
				t.Errorf("seed %d: bad prime", i)
			}
		}
		if err := k.Validate(); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
		again, err := cachedRSAKey(seed)
		if err != nil || !again.Equal(k) {
			t.Errorf("seed %d: cached key differs (%v)", i, err)
		}
	}
}

// TestAlgorithmsSealedID: ES384 and RS256 credentials live in 63-byte
// sealed IDs that open to their algorithm and seed, for their RP only.
func TestAlgorithmsSealedID(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	for _, alg := range []int64{ctap.AlgES384, ctap.AlgRS256} {
		id, _ := k.mustRegister(mcReq("example.com", []byte{6}, false, alg))
		if len(id) != sealedIDLength {
			t.Fatalf("%s: ID of %d bytes", algName(alg), len(id))
		}
		got, ok := openCredentialID(k.a.sealer, rpHash("example.com"), id)
		if !ok || got.alg != alg || len(got.priv) != privateKeyLength {
			t.Errorf("%s: opened %v alg %d", algName(alg), ok, got.alg)
		}
		if _, ok := openCredentialID(k.a.sealer, rpHash("other.example"), id); ok {
			t.Errorf("%s: opened for another RP", algName(alg))
		}
		if _, s := k.getAssertion(gaReq("other.example", id)); s != ctap.StatusNoCredentials {
			t.Errorf("%s: getAssertion for another RP: %v", algName(alg), s)
		}
	}
}

// TestAlgorithmsBadKeyMaterial: a seed of the wrong length is an error,
// never a panic.
func TestAlgorithmsBadKeyMaterial(t *testing.T) {
	t.Parallel()
	for _, alg := range []int64{ctap.AlgES384, ctap.AlgRS256} {
		k := credentialKey{alg: alg, priv: []byte{1, 2, 3}}
		if _, err := k.publicKey(); err == nil {
			t.Errorf("%s: publicKey with a 3-byte seed", algName(alg))
		}
		if _, err := k.sign(nil, []byte("msg")); err == nil {
			t.Errorf("%s: sign with a 3-byte seed", algName(alg))
		}
	}
	if _, err := (credentialKey{alg: algES512, priv: make([]byte, 32)}).seededSigner(); err == nil {
		t.Error("seededSigner for ES512")
	}
}

// TestAlgorithmsResidentSurvivesRestart: a discoverable RS256 or ES384
// credential keeps its 32-byte seed in the state and signs after New from
// the same store.
func TestAlgorithmsResidentSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, alg := range []int64{ctap.AlgES384, ctap.AlgRS256} {
		k := newTestKey(t)
		id, ad := k.mustRegister(mcReq("example.com", []byte{8}, true, alg))
		st := k.store.State()
		if len(st.Credentials) != 1 || st.Credentials[0].Alg != alg || len(st.Credentials[0].PrivateKey) != privateKeyLength {
			t.Fatalf("%s: stored %+v", algName(alg), st.Credentials)
		}
		a2, err := New(Config{Rand: seededRand(2), Now: k.clock.Now, Store: k.store})
		if err != nil {
			t.Fatal(err)
		}
		k.a = a2
		ga, s := k.getAssertion(gaReq("example.com"))
		if s != ctap.StatusOK || !bytes.Equal(ga.Credential.ID, id) {
			t.Fatalf("%s: getAssertion after restart: %v", algName(alg), s)
		}
		verifyStdlib(t, ad.AttestedCredential.PublicKey, append(bytes.Clone(ga.AuthData), testCDH...), ga.Signature)
	}
}

// TestAlgorithmsU2FStaysES256: a U2F authenticate with the key handle of
// an ES384 or RS256 credential is SW_WRONG_DATA (FIDO U2F Raw Message
// Formats §5.1: the handle is not one U2F made).
func TestAlgorithmsU2FStaysES256(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	app := rpHash("example.com")
	for _, alg := range []int64{ctap.AlgES384, ctap.AlgRS256} {
		id, _ := k.mustRegister(mcReq("example.com", []byte{9}, false, alg))
		var challenge [32]byte
		data := append(append(challenge[:], app[:]...), byte(len(id)))
		data = append(data, id...)
		if _, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, ctap.U2FEnforceUserPresence, data, false)); sw != ctap.SWWrongData {
			t.Errorf("%s: U2F authenticate: %v, want SW_WRONG_DATA", algName(alg), sw)
		}
	}
}

// TestES256PublicKey: the COSE public key of an ES256 credential, read
// from the parsed key's coordinates, is the one ctap.NewCOSEKey makes,
// for enough keys that some coordinates have leading zero bytes.
func TestES256PublicKey(t *testing.T) {
	r := seededRand(7)
	short := 0
	for range 500 {
		k, err := generateKey(r, ctap.AlgES256)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.publicKey()
		if err != nil {
			t.Fatal(err)
		}
		want, err := ctap.NewCOSEKey(ctap.AlgES256, &k.ec.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("key %x (-want +got):\n%s", k.priv, diff)
		}
		if k.ec.X.BitLen() <= 248 || k.ec.Y.BitLen() <= 248 {
			short++
		}
		k.ec = nil // parsed again from the scalar
		if again, err := k.publicKey(); err != nil || !cmp.Equal(want, again) {
			t.Fatalf("key %x parsed again: %v %v", k.priv, again, err)
		}
	}
	if short == 0 {
		t.Fatal("no coordinate with a leading zero byte")
	}
}
