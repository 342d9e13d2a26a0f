package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"

	"github.com/virtkey/virtkey/ctap"
)

// Credential algorithm cases (CTAP 2.1 §6.1.2 step 3, §6.4 algorithms;
// COSE key forms of RFC 9053 §7 and RFC 8230 §4). Each case needs the
// algorithm it tests in getInfo's algorithms and is skipped otherwise.
// On a key whose getInfo lists no algorithms (CTAP 2.0) supportsAlg
// probes. Signatures are checked with the standard library directly, not through
// ctap.VerifySignature, so that the suite does not grade the key with the
// code the key uses.

// algES512 is a COSE algorithm (ES512) that cases use as unsupported when
// the key does not list it.
const algES512 int64 = -36

// needAlg skips the case unless getInfo lists alg.
func needAlg(t *T, alg int64) {
	if !supportsAlg(t, alg) {
		t.skipFeature("the key does not support algorithm %d", alg)
	}
}

// params is pubKeyCredParams of "public-key" elements for algs.
func params(algs ...int64) []ctap.CredentialParameter {
	ps := make([]ctap.CredentialParameter, len(algs))
	for i, a := range algs {
		ps[i] = ctap.CredentialParameter{Type: ctap.CredentialTypePublicKey, Alg: a}
	}
	return ps
}

// algCredential makes a credential for label with alg only.
func algCredential(t *T, label string, rk bool, alg int64) *Credential {
	req := t.MakeCredentialRequest(label, rk)
	req.PubKeyCredParams = params(alg)
	cred := t.MustMakeCredential(req)
	Equal(t, "credential key alg", cred.PublicKey.Alg, alg)
	return cred
}

// verifyStdlib checks an assertion signature over authData ||
// clientDataHash with the standard library.
func verifyStdlib(t *T, k ctap.COSEKey, authData, clientDataHash, sig []byte) {
	msg := append(bytes.Clone(authData), clientDataHash...)
	switch k.Alg {
	case ctap.AlgES256, ctap.AlgES384:
		curve, size := elliptic.P256(), 32
		h256 := sha256.Sum256(msg)
		digest := h256[:]
		if k.Alg == ctap.AlgES384 {
			h384 := sha512.Sum384(msg)
			curve, size, digest = elliptic.P384(), 48, h384[:]
		}
		if k.Kty != ctap.KtyEC2 || len(k.X) != size || len(k.Y) != size {
			t.Fatalf("alg %d key: kty %d, coordinates of %d and %d bytes", k.Alg, k.Kty, len(k.X), len(k.Y))
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, k.X...), k.Y...))
		if err != nil {
			t.Fatalf("alg %d key: %v", k.Alg, err)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatalf("alg %d: ECDSA signature does not verify", k.Alg)
		}
	case ctap.AlgEdDSA:
		if len(k.X) != ed25519.PublicKeySize || !ed25519.Verify(ed25519.PublicKey(k.X), msg, sig) {
			t.Fatalf("EdDSA signature does not verify (ed25519.Verify)")
		}
	case ctap.AlgRS256:
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(new(big.Int).SetBytes(k.E).Int64())}
		h := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
			t.Fatalf("RS256 signature does not verify (rsa.VerifyPKCS1v15): %v", err)
		}
	default:
		t.Fatalf("alg %d", k.Alg)
	}
}

// assertAlg gets an assertion with cred (in the allow list unless rk) and
// checks its signature with the standard library.
func assertAlg(t *T, label string, cred *Credential, rk bool) []byte {
	req := t.GetAssertionRequest(label, cred)
	if rk {
		req.AllowList = nil
	}
	a := t.MustGetAssertion(req)
	if a.Credential == nil || !bytes.Equal(a.Credential.ID, cred.ID) {
		t.Fatalf("assertion for another credential")
	}
	verifyStdlib(t, cred.PublicKey, a.AuthDataRaw, req.ClientDataHash, a.Signature)
	return a.Signature
}

func init() {
	Register(
		Case{ID: "alg-getinfo", Section: "CTAP 2.1 §6.4",
			Title:    "getInfo algorithms lists each algorithm once, all of type public-key",
			Versions: CTAP2,
			Run: func(t *T) {
				algs := t.Ctap2().Info().Algorithms
				if len(algs) == 0 {
					t.Skipf("key lists no algorithms")
				}
				seen := map[int64]bool{}
				for _, a := range algs {
					if a.Type != ctap.CredentialTypePublicKey || seen[a.Alg] {
						t.Fatalf("algorithms %v: %q %d", algs, a.Type, a.Alg)
					}
					seen[a.Alg] = true
				}
			}},
		Case{ID: "alg-every-listed", Section: "CTAP 2.1 §6.4, §6.1.2 step 3",
			Title:    "every algorithm getInfo lists makes a credential of that algorithm, with an ID within maxCredentialIdLength",
			Versions: CTAP2,
			Run: func(t *T) {
				info := t.Ctap2().Info()
				for _, a := range info.Algorithms {
					cred := algCredential(t, "every", false, a.Alg)
					if max := info.MaxCredIDLength; max != 0 && uint64(len(cred.ID)) > max {
						t.Fatalf("alg %d: credential ID of %d bytes, maxCredentialIdLength %d", a.Alg, len(cred.ID), max)
					}
				}
			}},
		Case{ID: "alg-first-supported", Section: "CTAP 2.1 §6.1.2 step 3",
			Title:    "the key takes the first supported element of pubKeyCredParams, skipping unsupported ones before it",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgRS256)
				needAlg(t, ctap.AlgES384)
				if supportsAlg(t, algES512) {
					t.Skipf("key supports ES512")
				}
				req := t.MakeCredentialRequest("first", false)
				req.PubKeyCredParams = params(algES512, ctap.AlgRS256, ctap.AlgES384, ctap.AlgES256)
				Equal(t, "credential alg", t.MustMakeCredential(req).PublicKey.Alg, ctap.AlgRS256)
				req.PubKeyCredParams = params(algES512, ctap.AlgES384, ctap.AlgRS256)
				Equal(t, "credential alg", t.MustMakeCredential(req).PublicKey.Alg, ctap.AlgES384)
			}},
		Case{ID: "alg-none-supported", Section: "CTAP 2.1 §6.1.2 step 3",
			Title:    "pubKeyCredParams of ES512 and an unassigned algorithm only gives CTAP2_ERR_UNSUPPORTED_ALGORITHM",
			Versions: CTAP2,
			Run: func(t *T) {
				if supportsAlg(t, algES512) {
					t.Skipf("key supports ES512")
				}
				req := t.MakeCredentialRequest("none", false)
				req.PubKeyCredParams = params(algES512, -65535)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusUnsupportedAlgorithm, "makeCredential with ES512 and -65535")
			}},
		Case{ID: "alg-es384-key", Section: "CTAP 2.1 §6.1.2 step 3; RFC 9053 §7.1.1",
			Title:    "an ES384 credential key is EC2 on P-384 (crv 2) with 48-byte coordinates",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgES384)
				k := algCredential(t, "es384", false, ctap.AlgES384).PublicKey
				if k.Kty != ctap.KtyEC2 || k.Crv != ctap.CrvP384 || len(k.X) != 48 || len(k.Y) != 48 {
					t.Fatalf("ES384 key kty %d crv %d, coordinates of %d and %d bytes", k.Kty, k.Crv, len(k.X), len(k.Y))
				}
			}},
		Case{ID: "alg-es384-assertion", Section: "CTAP 2.1 §6.2.2 step 13; WebAuthn §6.5.6",
			Title:    "getAssertion with a non-discoverable ES384 credential signs ECDSA P-384 SHA-384 (DER)",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgES384)
				assertAlg(t, "es384", algCredential(t, "es384", false, ctap.AlgES384), false)
			}},
		Case{ID: "alg-es384-resident", Section: "CTAP 2.1 §6.1.2 step 17, §6.2.2",
			Title:    "a discoverable ES384 credential is found without an allow list and signs",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgES384)
				assertAlg(t, "es384rk", algCredential(t, "es384rk", true, ctap.AlgES384), true)
			}},
		Case{ID: "alg-rs256-key", Section: "CTAP 2.1 §6.1.2 step 3; RFC 8230 §4",
			Title:    "an RS256 credential key is RSA (kty 3) with a 2048-bit n and e 65537",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgRS256)
				k := algCredential(t, "rs256", false, ctap.AlgRS256).PublicKey
				if k.Kty != ctap.KtyRSA || len(k.N) != 256 || k.N[0]&0x80 == 0 || !bytes.Equal(k.E, []byte{1, 0, 1}) {
					t.Fatalf("RS256 key kty %d, n of %d bytes, e %x", k.Kty, len(k.N), k.E)
				}
			}},
		Case{ID: "alg-rs256-assertion", Section: "CTAP 2.1 §6.2.2 step 13; WebAuthn §6.5.6",
			Title:    "getAssertion with a non-discoverable RS256 credential signs RSASSA-PKCS1-v1_5 SHA-256, 256 bytes",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgRS256)
				sig := assertAlg(t, "rs256", algCredential(t, "rs256", false, ctap.AlgRS256), false)
				Equal(t, "signature length", len(sig), 256)
			}},
		Case{ID: "alg-rs256-resident", Section: "CTAP 2.1 §6.1.2 step 17, §6.2.2",
			Title:    "a discoverable RS256 credential is found without an allow list and signs",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgRS256)
				assertAlg(t, "rs256rk", algCredential(t, "rs256rk", true, ctap.AlgRS256), true)
			}},
		Case{ID: "alg-eddsa-stdlib", Section: "CTAP 2.1 §6.2.2 step 13; RFC 8032 §5.1.6",
			Title:    "an EdDSA assertion verifies with ed25519.Verify",
			Versions: CTAP2,
			Run: func(t *T) {
				needAlg(t, ctap.AlgEdDSA)
				assertAlg(t, "ed", algCredential(t, "ed", false, ctap.AlgEdDSA), false)
			}},
		Case{ID: "alg-packed-attestation", Section: "WebAuthn §8.2; CTAP 2.1 §6.1.2 step 19",
			Title:    "the attestation of ES384 and RS256 credentials verifies, and self attestation names the credential's alg",
			Versions: CTAP2,
			Run: func(t *T) {
				for _, alg := range []int64{ctap.AlgES384, ctap.AlgRS256} {
					if !supportsAlg(t, alg) {
						continue
					}
					// MustMakeCredential verifies the statement.
					cred := algCredential(t, "att", false, alg)
					st := cred.Response.AttStmt
					if cred.Response.Fmt == ctap.FormatPacked && len(st.X5C) == 0 && (st.Alg == nil || *st.Alg != alg) {
						t.Fatalf("self attestation alg %s, want %d", deref(st.Alg), alg)
					}
				}
			}},
	)
}
