package conformance

import (
	"bytes"
	"crypto/sha256"
	"errors"

	"github.com/virtkey/virtkey/ctap"
)

// authenticatorMakeCredential cases (CTAP 2.1 §6.1).

// mcParams encodes a makeCredential parameter map built from generic
// values, for requests the typed messages cannot express.
func (t *T) mcParams(drop int, override map[int]any) []byte {
	req := t.MakeCredentialRequest("raw", false)
	m := map[int]any{1: req.ClientDataHash, 2: req.RP, 3: req.User, 4: req.PubKeyCredParams}
	delete(m, drop)
	for k, v := range override {
		m[k] = v
	}
	return t.Encode(m)
}

func init() {
	Register(
		Case{ID: "mc-es256-packed", Section: "CTAP 2.1 §6.1.2; WebAuthn §8.2",
			Title:    "an ES256 credential: attestation that verifies, flags, rpIdHash, AAGUID, key",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("alice", false)
				cred := t.MustMakeCredential(req)
				resp := cred.Response
				// The attestation format is the key's choice (WebAuthn §8);
				// MustMakeCredential verified the statement.
				if resp.Fmt != ctap.FormatPacked {
					t.Observef("attestation format %q", resp.Fmt)
				}
				ad := resp.AuthData
				Equal(t, "rpIdHash", ad.RPIDHash, t.RPIDHash())
				Equal(t, "flags UP|AT", ad.Flags&(ctap.FlagUP|ctap.FlagAT|ctap.FlagED), ctap.FlagUP|ctap.FlagAT)
				Equal(t, "AAGUID", ad.AttestedCredential.AAGUID, t.Ctap2().Info().AAGUID)
				k := cred.PublicKey
				if k.Kty != ctap.KtyEC2 || k.Alg != ctap.AlgES256 || k.Crv != ctap.CrvP256 {
					t.Fatalf("credential key kty %d alg %d crv %d, want EC2 ES256 P-256", k.Kty, k.Alg, k.Crv)
				}
				if _, err := k.PublicKey(); err != nil {
					t.Fatalf("credential public key: %v", err)
				}
				if resp.Fmt == ctap.FormatPacked && (resp.AttStmt.Alg == nil || *resp.AttStmt.Alg != ctap.AlgES256 && *resp.AttStmt.Alg != ctap.AlgEdDSA) {
					t.Fatalf("attStmt alg %s", deref(resp.AttStmt.Alg))
				}
			}},
		Case{ID: "mc-eddsa", Section: "CTAP 2.1 §6.1.2 step 3",
			Title:    "an EdDSA credential has an OKP Ed25519 key and verifies",
			Versions: CTAP2,
			Run: func(t *T) {
				if !supportsAlg(t, ctap.AlgEdDSA) {
					t.skipFeature("the key does not support EdDSA")
				}
				req := t.MakeCredentialRequest("ed", false)
				req.PubKeyCredParams = []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgEdDSA}}
				cred := t.MustMakeCredential(req)
				k := cred.PublicKey
				if k.Kty != ctap.KtyOKP || k.Alg != ctap.AlgEdDSA || k.Crv != ctap.CrvEd25519 || len(k.X) != 32 {
					t.Fatalf("credential key kty %d alg %d crv %d, want OKP EdDSA Ed25519", k.Kty, k.Alg, k.Crv)
				}
				a := t.MustGetAssertion(t.GetAssertionRequest("ed", cred))
				if err := a.Verify(t.Hash("ga/ed"), k); err != nil {
					t.Fatalf("EdDSA assertion: %v", err)
				}
			}},
		Case{ID: "mc-first-supported-alg", Section: "CTAP 2.1 §6.1.2 step 3",
			Title:    "the key takes the first algorithm of pubKeyCredParams that it supports",
			Versions: CTAP2,
			Run: func(t *T) {
				algs := t.Ctap2().Info().Algorithms
				if len(algs) < 2 {
					t.Skipf("key lists fewer than two algorithms")
				}
				want := algs[len(algs)-1].Alg
				req := t.MakeCredentialRequest("first", false)
				req.PubKeyCredParams = []ctap.CredentialParameter{
					{Type: ctap.CredentialTypePublicKey, Alg: -65535},
					{Type: ctap.CredentialTypePublicKey, Alg: want},
					{Type: ctap.CredentialTypePublicKey, Alg: algs[0].Alg},
				}
				cred := t.MustMakeCredential(req)
				Equal(t, "credential alg", cred.PublicKey.Alg, want)
			}},
		Case{ID: "mc-unsupported-alg", Section: "CTAP 2.1 §6.1.2 step 3",
			Title:    "no supported algorithm gives CTAP2_ERR_UNSUPPORTED_ALGORITHM",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("alg", false)
				req.PubKeyCredParams = []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: -65535}}
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusUnsupportedAlgorithm, "makeCredential with alg -65535")
			}},
		Case{ID: "mc-unknown-type-ignored", Section: "CTAP 2.1 §6.1.2 step 3",
			Title:    "pubKeyCredParams entries of an unknown type are ignored",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("type", false)
				req.PubKeyCredParams = []ctap.CredentialParameter{{Type: "future-type", Alg: ctap.AlgEdDSA}, ES256[0]}
				cred := t.MustMakeCredential(req)
				Equal(t, "credential alg", cred.PublicKey.Alg, ctap.AlgES256)
				req.PubKeyCredParams = req.PubKeyCredParams[:1]
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusUnsupportedAlgorithm, "only an unknown type")
			}},
		Case{ID: "mc-missing-client-data-hash", Section: "CTAP 2.1 §6.1.2 step 1",
			Title:    "no clientDataHash gives CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdMakeCredential, t.mcParams(1, nil), ctap.StatusMissingParameter)
			}},
		Case{ID: "mc-missing-rp", Section: "CTAP 2.1 §6.1.2 step 1",
			Title:    "no rp gives CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdMakeCredential, t.mcParams(2, nil), ctap.StatusMissingParameter)
			}},
		Case{ID: "mc-missing-user", Section: "CTAP 2.1 §6.1.2 step 1",
			Title:    "no user gives CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdMakeCredential, t.mcParams(3, nil), ctap.StatusMissingParameter)
			}},
		Case{ID: "mc-missing-params", Section: "CTAP 2.1 §6.1.2 step 1",
			Title:    "no pubKeyCredParams gives CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdMakeCredential, t.mcParams(4, nil), ctap.StatusMissingParameter)
			}},
		Case{ID: "mc-client-data-hash-type", Section: "CTAP 2.1 §6.1.1, §8.2",
			Title:    "a text clientDataHash gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdMakeCredential, t.mcParams(0, map[int]any{1: "not bytes"}), ctap.StatusCBORUnexpectedType)
			}},
		Case{ID: "mc-user-type", Section: "CTAP 2.1 §6.1.1, §8.2",
			Title:    "a user that is not a map gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdMakeCredential, t.mcParams(0, map[int]any{3: []byte("user")}), ctap.StatusCBORUnexpectedType)
			}},
		Case{ID: "mc-options-type", Section: "CTAP 2.1 §6.1.1, §8.2",
			Title:    "an option whose value is not a boolean gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdMakeCredential, t.mcParams(0, map[int]any{7: map[string]any{"rk": 1}}), ctap.StatusCBORUnexpectedType)
			}},
		Case{ID: "mc-invalid-cbor", Section: "CTAP 2.1 §8",
			Title:    "a truncated request gives CTAP2_ERR_INVALID_CBOR",
			Versions: CTAP2,
			Run: func(t *T) {
				p := t.mcParams(0, nil)
				t.ExpectRaw21(ctap.CmdMakeCredential, p[:len(p)-2], ctap.StatusInvalidCBOR)
			}},
		Case{ID: "mc-trailing-bytes", Section: "CTAP 2.1 §8",
			Title:    "a byte after the request map gives CTAP2_ERR_INVALID_CBOR",
			Versions: CTAP2, Level: Should,
			Run: func(t *T) {
				// §8 asks for one CBOR map after the command byte but names
				// no status for bytes after it: a key that ignores them
				// departs from a SHOULD, not a MUST.
				st, _ := t.Raw(ctap.CmdMakeCredential, append(t.mcParams(0, nil), 0x00))
				if st != ctap.StatusInvalidCBOR {
					t.ExpectStatusAt(Should, statusErr(st), ctap.StatusInvalidCBOR, "makeCredential with a trailing byte")
				}
			}},
		Case{ID: "mc-up-false", Section: "CTAP 2.1 §6.1.2 step 5",
			Title:    "the up option false gives CTAP2_ERR_INVALID_OPTION",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("up", false)
				req.Options = map[string]bool{ctap.OptionUP: false}
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusInvalidOption, "makeCredential up=false")
			}},
		Case{ID: "mc-unknown-option-ignored", Section: "CTAP 2.1 §6.1.2 step 5",
			Title:    "an unknown option is ignored",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("opt", false)
				req.Options = map[string]bool{"futureOption": true}
				t.MustMakeCredential(req)
			}},
		Case{ID: "mc-unknown-extension-ignored", Section: "CTAP 2.1 §6.1.2 step 6; §12",
			Title:    "an unknown extension is ignored and gives no extension output",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("ext", false)
				req.Extensions = map[string]ctap.RawMessage{"future-extension": t.Encode(true)}
				cred := t.MustMakeCredential(req)
				if cred.Response.AuthData.Flags.Has(ctap.FlagED) {
					t.Fatalf("ED flag set for an unknown extension")
				}
			}},
		Case{ID: "mc-entity-extra-members", Section: "CTAP 2.1 §6.1.2 step 1",
			Title:    "unknown members of rp and user are ignored",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("extra", false)
				rp := map[string]any{"id": t.RPID(), "name": "x", "future": 1}
				user := map[string]any{"id": req.User.ID, "name": "n", "future": []byte{1}}
				st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(map[int]any{1: req.ClientDataHash, 2: rp, 3: user, 4: ES256}))
				Equal(t, "status", st, ctap.StatusOK)
			}},
		Case{ID: "mc-user-denied", Section: "CTAP 2.1 §6.1.2 step 13",
			Title:    "a declined touch gives CTAP2_ERR_OPERATION_DENIED",
			Needs:    []Capability{CapControl},
			Versions: CTAP2,
			Run: func(t *T) {
				t.SetPresence(PresenceDeny)
				_, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("deny", false))
				t.ExpectStatus(err, ctap.StatusOperationDenied, "makeCredential declined")
			}},
		Case{ID: "mc-user-timeout", Section: "CTAP 2.1 §6.1.2 step 13",
			Title:    "no touch in time gives CTAP2_ERR_OPERATION_DENIED",
			Needs:    []Capability{CapControl},
			Versions: CTAP2,
			Run: func(t *T) {
				t.SetPresence(PresenceTimeout)
				_, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("timeout", false))
				t.ExpectStatus(err, ctap.StatusOperationDenied, "makeCredential without a touch")
			}},
		Case{ID: "mc-excluded-credential", Section: "CTAP 2.1 §6.1.2 step 7",
			Title:    "a credential of this RP in excludeList gives CTAP2_ERR_CREDENTIAL_EXCLUDED",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("excl", false)
				req := t.MakeCredentialRequest("excl2", false)
				req.ExcludeList = []ctap.CredentialDescriptor{
					{Type: ctap.CredentialTypePublicKey, ID: bytes.Repeat([]byte{7}, 32)},
					cred.Descriptor(),
				}
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusCredentialExcluded, "makeCredential excluding an existing credential")
			}},
		Case{ID: "mc-excluded-resident", Section: "CTAP 2.1 §6.1.2 step 7",
			Title:    "a discoverable credential in excludeList gives CTAP2_ERR_CREDENTIAL_EXCLUDED",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("exclrk", true)
				req := t.MakeCredentialRequest("exclrk", true)
				req.ExcludeList = []ctap.CredentialDescriptor{cred.Descriptor()}
				t.verifyForRK(req)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusCredentialExcluded, "makeCredential excluding a discoverable credential")
			}},
		Case{ID: "mc-exclude-other-rp", Section: "CTAP 2.1 §6.1.2 step 7",
			Title:    "a credential of another RP in excludeList does not exclude",
			Versions: CTAP2,
			Run: func(t *T) {
				other := t.MakeCredentialRequest("other", false)
				other.RP = &ctap.RPEntity{ID: "other." + t.RPID()}
				cred := t.MustMakeCredential(other)
				req := t.MakeCredentialRequest("mine", false)
				req.ExcludeList = []ctap.CredentialDescriptor{cred.Descriptor()}
				t.MustMakeCredential(req)
			}},
		Case{ID: "mc-exclude-unknown-ignored", Section: "CTAP 2.1 §6.1.2 step 7",
			Title:    "unknown IDs and unknown types in excludeList are ignored",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("unk", false)
				req.ExcludeList = []ctap.CredentialDescriptor{
					{Type: ctap.CredentialTypePublicKey, ID: bytes.Repeat([]byte{9}, 64)},
					{Type: "future-type", ID: []byte{1, 2, 3}},
				}
				t.MustMakeCredential(req)
			}},
		Case{ID: "mc-resident-discoverable", Section: "CTAP 2.1 §6.1.2 step 10; §6.2.2",
			Title:    "an rk credential is found by getAssertion without allowList",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("rk", true)
				a := t.MustGetAssertion(t.GetAssertionRequest("rk"))
				if a.Credential == nil || !bytes.Equal(a.Credential.ID, cred.ID) {
					t.Fatalf("assertion credential %s, want %x", credString(a.Credential), cred.ID)
				}
				if a.User == nil || !bytes.Equal(a.User.ID, cred.User.ID) {
					t.Fatalf("assertion user %s, want id %x", deref(a.User), cred.User.ID)
				}
				if err := a.Verify(t.Hash("ga/rk"), cred.PublicKey); err != nil {
					t.Fatalf("signature: %v", err)
				}
			}},
		Case{ID: "mc-resident-replaces-same-user", Section: "CTAP 2.1 §6.1.2 step 10",
			Title:    "a second rk credential for the same RP and user ID replaces the first",
			Versions: CTAP2,
			Run: func(t *T) {
				first := t.MakeCredential("same", true)
				second := t.MakeCredential("same", true)
				if bytes.Equal(first.ID, second.ID) {
					t.Fatalf("both credentials have ID %x", first.ID)
				}
				all, err := t.Ctap2().GetAssertions(t.ctx, t.GetAssertionRequest("same"))
				if err != nil {
					t.Fatalf("getAssertion: %v", err)
				}
				Equal(t, "assertions", len(all), 1)
				if all[0].Credential == nil || !bytes.Equal(all[0].Credential.ID, second.ID) {
					t.Fatalf("found credential %s, want the newer %x", credString(all[0].Credential), second.ID)
				}
			}},
		Case{ID: "mc-resident-not-found-as-nonresident", Section: "CTAP 2.1 §6.1.2 step 10",
			Title:    "an rk=false credential is not discoverable",
			Versions: CTAP21,
			Run: func(t *T) {
				t.MakeCredential("nonrk", false)
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("nonrk"))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion without allowList")
			}},
		Case{ID: "mc-rk-false-explicit", Section: "CTAP 2.1 §6.1.2 step 5",
			Title:    "an explicit rk=false makes a non-discoverable credential",
			Versions: CTAP21,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("rkfalse", false)
				req.Options = map[string]bool{ctap.OptionRK: false}
				t.MustMakeCredential(req)
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("rkfalse"))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion without allowList")
			}},
		Case{ID: "mc-credential-id-length", Section: "CTAP 2.1 §6.4 maxCredentialIdLength",
			Title:    "credential IDs are no longer than getInfo's maxCredentialIdLength",
			Versions: CTAP2,
			Run: func(t *T) {
				max := t.Ctap2().Info().MaxCredIDLength
				for _, rk := range []bool{false, true} {
					cred := t.MakeCredential(Sprintf("len-%t", rk), rk)
					if max > 0 && uint64(len(cred.ID)) > max {
						t.Fatalf("rk=%t credential ID of %d bytes, maxCredentialIdLength %d", rk, len(cred.ID), max)
					}
					if len(cred.ID) < 16 {
						t.Fatalf("rk=%t credential ID of %d bytes: too short to be unguessable", rk, len(cred.ID))
					}
				}
			}},
		Case{ID: "mc-distinct-keys", Section: "CTAP 2.1 §6.1.2 step 9",
			Title:    "two credentials get different IDs and different keys",
			Versions: CTAP2,
			Run: func(t *T) {
				a, b := t.MakeCredential("a", false), t.MakeCredential("b", false)
				if bytes.Equal(a.ID, b.ID) || bytes.Equal(a.PublicKey.X, b.PublicKey.X) {
					t.Fatalf("credentials share an ID or a key")
				}
			}},
		Case{ID: "mc-canonical-response", Section: "CTAP 2.1 §8",
			Title:    "the makeCredential response is canonical CBOR with integer keys 1, 2, 3",
			Versions: CTAP2,
			Run: func(t *T) {
				st, body := t.Raw(ctap.CmdMakeCredential, t.Encode(t.MakeCredentialRequest("canon", false)))
				Equal(t, "status", st, ctap.StatusOK)
				if !ctap.IsCanonical(body) {
					t.Fatalf("response is not canonical CBOR: %x", body)
				}
				var m map[int]ctap.RawMessage
				if err := ctap.Unmarshal(body, &m); err != nil {
					t.Fatalf("response: %v", err)
				}
				for _, k := range []int{1, 2, 3} {
					if _, ok := m[k]; !ok {
						t.Fatalf("response lacks member %d", k)
					}
				}
			}},
		Case{ID: "mc-counter-grows", Section: "WebAuthn §6.1.1",
			Title:    "the signature counter of each new credential is above the previous one's or zero",
			Versions: CTAP2, Level: May,
			Run: func(t *T) {
				a := t.MakeCredential("c1", false).Response.AuthData.SignCount
				b := t.MakeCredential("c2", false).Response.AuthData.SignCount
				if b <= a && !(a == 0 && b == 0) {
					t.Fatalf("counters %d then %d", a, b)
				}
			}},
		Case{ID: "mc-rpid-hash-binding", Section: "WebAuthn §6.1",
			Title:    "rpIdHash is SHA-256 of the request's rp.id",
			Versions: CTAP2,
			Run: func(t *T) {
				req := t.MakeCredentialRequest("bind", false)
				req.RP.ID = "sub." + t.RPID()
				cred := t.MustMakeCredential(req)
				Equal(t, "rpIdHash", cred.Response.AuthData.RPIDHash, sha256.Sum256([]byte(req.RP.ID)))
			}},
	)
}

// supportsAlg reports whether the key makes credentials with alg: from
// getInfo's algorithms when the key lists them, else by a probe, since
// CTAP 2.0 keys have no algorithms member (CTAP 2.1 §6.4 0x0A) and an
// absent list says nothing about what the key supports. The probe is a
// non-discoverable makeCredential with alg alone: CTAP2_ERR_UNSUPPORTED_ALGORITHM
// (§6.1.2 step 3) means no.
func supportsAlg(t *T, alg int64) bool {
	if algs := t.Ctap2().Info().Algorithms; len(algs) > 0 {
		for _, a := range algs {
			if a.Alg == alg {
				return true
			}
		}
		return false
	}
	if ok, done := t.algProbe[alg]; done {
		return ok
	}
	req := t.MakeCredentialRequest(Sprintf("probe-alg%d", alg), false)
	req.PubKeyCredParams = []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: alg}}
	_, err := t.Ctap2().MakeCredential(t.ctx, req)
	if err != nil && !errors.Is(err, ctap.StatusUnsupportedAlgorithm) {
		t.Fatalf("probing algorithm %d (getInfo lists none): %v", alg, err)
	}
	if t.algProbe == nil {
		t.algProbe = map[int64]bool{}
	}
	t.algProbe[alg] = err == nil
	t.Observef("getInfo lists no algorithms; a probe says algorithm %d is %s", alg, map[bool]string{true: "supported", false: "not supported"}[err == nil])
	return err == nil
}
