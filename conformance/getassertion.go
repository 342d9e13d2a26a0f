package conformance

import (
	"bytes"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// authenticatorGetAssertion and authenticatorGetNextAssertion cases
// (CTAP 2.1 §6.2, §6.3).

func init() {
	Register(
		Case{ID: "ga-allow-list-signature", Section: "CTAP 2.1 §6.2.2",
			Title:    "an assertion with an allowList: credential, flags, rpIdHash and signature",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("sig", false)
				a := t.MustGetAssertion(t.GetAssertionRequest("sig", cred))
				if a.Credential == nil || !bytes.Equal(a.Credential.ID, cred.ID) || a.Credential.Type != ctap.CredentialTypePublicKey {
					t.Fatalf("credential %s, want public-key %x", credString(a.Credential), cred.ID)
				}
				Equal(t, "rpIdHash", a.AuthData.RPIDHash, t.RPIDHash())
				Equal(t, "flags", a.AuthData.Flags&(ctap.FlagUP|ctap.FlagAT|ctap.FlagED), ctap.FlagUP)
				if err := a.Verify(t.Hash("ga/sig"), cred.PublicKey); err != nil {
					t.Fatalf("signature: %v", err)
				}
				if err := a.Verify(t.Hash("ga/other"), cred.PublicKey); err == nil {
					t.Fatalf("signature verified over another clientDataHash")
				}
			}},
		Case{ID: "ga-no-credentials", Section: "CTAP 2.1 §6.2.2 step 12",
			Title:    "an RP with no credentials gives CTAP2_ERR_NO_CREDENTIALS",
			Versions: CTAP2,
			Run: func(t *T) {
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("none"))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion for an unused RP")
			}},
		Case{ID: "ga-foreign-credential-id", Section: "CTAP 2.1 §6.2.2 step 12",
			Title:    "an allowList of IDs the key never made gives CTAP2_ERR_NO_CREDENTIALS",
			Versions: CTAP2,
			Run: func(t *T) {
				t.MakeCredential("real", false)
				req := t.GetAssertionRequest("foreign")
				for _, n := range []int{16, 32, 70, 128} {
					req.AllowList = append(req.AllowList, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: bytes.Repeat([]byte{byte(n)}, n)})
				}
				_, err := t.Ctap2().GetAssertion(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion with foreign IDs")
			}},
		Case{ID: "ga-tampered-credential-id", Section: "CTAP 2.1 §6.2.2 step 12",
			Title:    "a credential ID with one bit flipped gives CTAP2_ERR_NO_CREDENTIALS",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("tamper", false)
				for _, i := range []int{0, len(cred.ID) / 2, len(cred.ID) - 1} {
					id := bytes.Clone(cred.ID)
					id[i] ^= 0x01
					req := t.GetAssertionRequest("tamper")
					req.AllowList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: id}}
					_, err := t.Ctap2().GetAssertion(t.ctx, req)
					t.ExpectStatus(err, ctap.StatusNoCredentials, Sprintf("ID with byte %d flipped", i))
				}
			}},
		Case{ID: "ga-other-rp", Section: "CTAP 2.1 §6.2.2 step 12",
			Title:    "a credential is not usable for another RP ID",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("rp", false)
				req := t.GetAssertionRequest("rp", cred)
				req.RPID = "other." + t.RPID()
				_, err := t.Ctap2().GetAssertion(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion for another RP")
			}},
		Case{ID: "ga-allow-list-mixed", Section: "CTAP 2.1 §6.2.2 step 12",
			Title:    "an allowList with foreign IDs and unknown types around a real one finds the real one",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("mixed", false)
				req := t.GetAssertionRequest("mixed")
				req.AllowList = []ctap.CredentialDescriptor{
					{Type: ctap.CredentialTypePublicKey, ID: bytes.Repeat([]byte{1}, 32)},
					{Type: "future-type", ID: cred.ID},
					cred.Descriptor(),
				}
				a := t.MustGetAssertion(req)
				if !bytes.Equal(a.Credential.ID, cred.ID) {
					t.Fatalf("credential %x, want %x", a.Credential.ID, cred.ID)
				}
			}},
		Case{ID: "ga-up-false", Section: "CTAP 2.1 §6.2.2 step 13",
			Title:    "up=false gives an assertion without the UP flag and without a touch",
			Needs:    []Capability{CapControl},
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("silent", false)
				t.SetPresence(PresenceDeny)
				req := t.GetAssertionRequest("silent", cred)
				req.Options = map[string]bool{ctap.OptionUP: false}
				a := t.MustGetAssertion(req)
				if a.AuthData.Flags.Has(ctap.FlagUP) {
					t.Fatalf("UP flag set with up=false")
				}
				if err := a.Verify(t.Hash("ga/silent"), cred.PublicKey); err != nil {
					t.Fatalf("signature: %v", err)
				}
			}},
		Case{ID: "ga-user-denied", Section: "CTAP 2.1 §6.2.2 step 13",
			Title:    "a declined touch gives CTAP2_ERR_OPERATION_DENIED",
			Needs:    []Capability{CapControl},
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("deny", false)
				t.SetPresence(PresenceDeny)
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("deny", cred))
				t.ExpectStatus(err, ctap.StatusOperationDenied, "getAssertion declined")
			}},
		Case{ID: "ga-user-timeout", Section: "CTAP 2.1 §6.2.2 step 13",
			Title:    "no touch in time gives CTAP2_ERR_OPERATION_DENIED",
			Needs:    []Capability{CapControl},
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("timeout", false)
				t.SetPresence(PresenceTimeout)
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("timeout", cred))
				t.ExpectStatus(err, ctap.StatusOperationDenied, "getAssertion without a touch")
			}},
		Case{ID: "ga-missing-rpid", Section: "CTAP 2.1 §6.2.2 step 1",
			Title:    "no rpId gives CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdGetAssertion, t.Encode(map[int]any{2: t.Hash("x")}), ctap.StatusMissingParameter)
			}},
		Case{ID: "ga-missing-client-data-hash", Section: "CTAP 2.1 §6.2.2 step 1",
			Title:    "no clientDataHash gives CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdGetAssertion, t.Encode(map[int]any{1: t.RPID()}), ctap.StatusMissingParameter)
			}},
		Case{ID: "ga-rpid-type", Section: "CTAP 2.1 §6.2.1, §8.2",
			Title:    "a byte-string rpId gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdGetAssertion, t.Encode(map[int]any{1: []byte(t.RPID()), 2: t.Hash("x")}), ctap.StatusCBORUnexpectedType)
			}},
		Case{ID: "ga-allow-list-type", Section: "CTAP 2.1 §6.2.1, §8.2",
			Title:    "an allowList that is not an array gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
			Versions: CTAP2,
			Run: func(t *T) {
				t.ExpectRaw21(ctap.CmdGetAssertion, t.Encode(map[int]any{1: t.RPID(), 2: t.Hash("x"), 3: map[string]any{"id": []byte{1}}}), ctap.StatusCBORUnexpectedType)
			}},
		Case{ID: "ga-invalid-cbor", Section: "CTAP 2.1 §8 (CTAP2 canonical CBOR)",
			Title:    "a request map with a duplicate key should give CTAP2_ERR_INVALID_CBOR",
			Versions: CTAP2, Level: Should,
			Run: func(t *T) {
				// {1: rpId, 1: rpId, 2: clientDataHash}: a whole request
				// but for the repeated key, so that only the duplicate can
				// be refused. §8 asks for canonical CBOR, which has no
				// duplicate keys, without naming the status a key that
				// meets one returns.
				rp := t.Encode(t.RPID())
				params := append([]byte{0xa3, 0x01}, rp...)
				params = append(params, 0x01)
				params = append(params, rp...)
				params = append(params, 0x02)
				params = append(params, t.Encode(t.Hash("dup"))...)
				st, _ := t.Raw(ctap.CmdGetAssertion, params)
				t.ExpectStatusAt(Should, statusErr(st), ctap.StatusInvalidCBOR, "getAssertion with rpId twice")
			}},
		Case{ID: "ga-discoverable-order", Section: "CTAP 2.1 §6.2.2 step 12; §6.3",
			Title:    "discoverable credentials come newest first, with numberOfCredentials, then by getNextAssertion",
			Versions: CTAP2,
			Run: func(t *T) {
				var creds []*Credential
				for _, l := range []string{"u1", "u2", "u3"} {
					creds = append(creds, t.MakeCredential(l, true))
				}
				first := t.MustGetAssertion(t.GetAssertionRequest("order"))
				if first.NumberOfCredentials == nil || *first.NumberOfCredentials != 3 {
					t.Fatalf("numberOfCredentials %s, want 3", deref(first.NumberOfCredentials))
				}
				got := []*Credential{}
				check := func(i int, c *ctap.CredentialDescriptor, sigOK func(ctap.COSEKey) error) {
					if c == nil {
						t.Fatalf("assertion %d has no credential member (required without an allowList, §6.2.2)", i)
					}
					id := c.ID
					want := creds[len(creds)-1-i]
					if !bytes.Equal(id, want.ID) {
						t.Fatalf("assertion %d: credential %x, want %x (newest first)", i, id, want.ID)
					}
					if err := sigOK(want.PublicKey); err != nil {
						t.Fatalf("assertion %d: %v", i, err)
					}
					got = append(got, want)
				}
				check(0, first.Credential, func(k ctap.COSEKey) error { return first.Verify(t.Hash("ga/order"), k) })
				for i := 1; i < 3; i++ {
					next, err := t.Ctap2().GetNextAssertion(t.ctx)
					if err != nil {
						t.Fatalf("getNextAssertion %d: %v", i, err)
					}
					if next.NumberOfCredentials != nil {
						t.Fatalf("getNextAssertion %d carries numberOfCredentials", i)
					}
					check(i, next.Credential, func(k ctap.COSEKey) error { return next.Verify(t.Hash("ga/order"), k) })
				}
			}},
		Case{ID: "ga-user-id-only-without-uv", Section: "CTAP 2.1 §6.2.2 step 12",
			Title:    "without user verification a discoverable credential's user has only its id",
			Versions: CTAP2,
			Run: func(t *T) {
				t.MakeCredential("u1", true)
				t.MakeCredential("u2", true)
				all, err := t.Ctap2().GetAssertions(t.ctx, t.GetAssertionRequest("ids"))
				if err != nil {
					t.Fatalf("getAssertions: %v", err)
				}
				for i, a := range all {
					if a.AuthData.Flags.Has(ctap.FlagUV) {
						t.Skipf("the key verified the user")
					}
					if a.User == nil || len(a.User.ID) == 0 {
						t.Fatalf("assertion %d has no user id", i)
					}
					if a.User.Name != "" || a.User.DisplayName != "" {
						t.Fatalf("assertion %d: user %+v carries identifying information without UV", i, a.User)
					}
				}
			}},
		Case{ID: "ga-allow-list-discoverable", Section: "CTAP 2.1 §6.2.2 step 12",
			Title:    "a discoverable credential named in allowList is used, with one response",
			Versions: CTAP2,
			Run: func(t *T) {
				a1 := t.MakeCredential("a1", true)
				t.MakeCredential("a2", true)
				a := t.MustGetAssertion(t.GetAssertionRequest("one", a1))
				if !bytes.Equal(a.Credential.ID, a1.ID) {
					t.Fatalf("credential %x, want %x", a.Credential.ID, a1.ID)
				}
				if a.NumberOfCredentials != nil && *a.NumberOfCredentials != 1 {
					t.Fatalf("numberOfCredentials %d with an allowList of one", *a.NumberOfCredentials)
				}
			}},
		Case{ID: "ga-counter-grows", Section: "WebAuthn §6.1.1",
			Title:    "each assertion's signature counter is above the previous one (a key without a counter keeps it at 0)",
			Versions: CTAP2, Level: Should,
			Run: func(t *T) {
				cred := t.MakeCredential("ctr", false)
				last := cred.Response.AuthData.SignCount
				for i := 0; i < 3; i++ {
					a := t.MustGetAssertion(t.GetAssertionRequest("ctr", cred))
					c := a.AuthData.SignCount
					switch {
					case c == 0 && last == 0:
						// "Authenticators SHOULD implement a signature
						// counter"; one that does not sends 0.
						t.Warnf("signature counter stays 0: the key implements none")
						return
					case c <= last:
						t.Fatalf("counter %d after %d", c, last)
					}
					last = c
				}
			}},
		Case{ID: "ga-uv-flag-clear", Section: "CTAP 2.1 §6.2.2 step 14",
			Title:    "without PIN or built-in UV, an assertion does not claim UV",
			Versions: CTAP2,
			Run: func(t *T) {
				info := t.Ctap2().Info()
				if info.Options["uv"] || info.Options["clientPin"] {
					t.Skipf("key has user verification configured")
				}
				cred := t.MakeCredential("uv", false)
				a := t.MustGetAssertion(t.GetAssertionRequest("uv", cred))
				if a.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("UV flag set")
				}
			}},
		Case{ID: "ga-canonical-response", Section: "CTAP 2.1 §8",
			Title:    "the getAssertion response is canonical CBOR",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("canon", false)
				st, body := t.Raw(ctap.CmdGetAssertion, t.Encode(t.GetAssertionRequest("canon", cred)))
				Equal(t, "status", st, ctap.StatusOK)
				if !ctap.IsCanonical(body) {
					t.Fatalf("response is not canonical CBOR: %x", body)
				}
			}},
		Case{ID: "gna-without-get-assertion", Section: "CTAP 2.1 §6.3",
			Title:    "getNextAssertion with nothing pending gives CTAP2_ERR_NOT_ALLOWED",
			Versions: CTAP2,
			Run: func(t *T) {
				_, err := t.Ctap2().GetNextAssertion(t.ctx)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "getNextAssertion first")
			}},
		Case{ID: "gna-past-end", Section: "CTAP 2.1 §6.3",
			Title:    "getNextAssertion after the last credential gives CTAP2_ERR_NOT_ALLOWED",
			Versions: CTAP2,
			Run: func(t *T) {
				t.MakeCredential("e1", true)
				t.MakeCredential("e2", true)
				t.MustGetAssertion(t.GetAssertionRequest("end"))
				if _, err := t.Ctap2().GetNextAssertion(t.ctx); err != nil {
					t.Fatalf("second: %v", err)
				}
				_, err := t.Ctap2().GetNextAssertion(t.ctx)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "third of two")
			}},
		Case{ID: "gna-single-credential", Section: "CTAP 2.1 §6.3",
			Title:    "getNextAssertion after an assertion with one credential gives CTAP2_ERR_NOT_ALLOWED",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("single", false)
				t.MustGetAssertion(t.GetAssertionRequest("single", cred))
				_, err := t.Ctap2().GetNextAssertion(t.ctx)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "getNextAssertion after one")
			}},
		Case{ID: "gna-cleared-by-other-command", Section: "CTAP 2.1 §6.3",
			Title:    "any other command between getAssertion and getNextAssertion clears the state",
			Versions: CTAP2,
			Run: func(t *T) {
				t.MakeCredential("c1", true)
				t.MakeCredential("c2", true)
				t.MustGetAssertion(t.GetAssertionRequest("clear"))
				if _, err := t.Ctap2().GetInfo(t.ctx); err != nil {
					t.Fatalf("getInfo: %v", err)
				}
				_, err := t.Ctap2().GetNextAssertion(t.ctx)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "getNextAssertion after getInfo")
			}},
		Case{ID: "gna-timer-expired", Section: "CTAP 2.1 §6.3",
			Title:    "getNextAssertion 31 s after the last response gives CTAP2_ERR_NOT_ALLOWED",
			Needs:    []Capability{CapClock},
			Versions: CTAP2,
			Run: func(t *T) {
				t.MakeCredential("t1", true)
				t.MakeCredential("t2", true)
				t.MakeCredential("t3", true)
				t.MustGetAssertion(t.GetAssertionRequest("timer"))
				t.Advance(29 * time.Second)
				if _, err := t.Ctap2().GetNextAssertion(t.ctx); err != nil {
					t.Fatalf("getNextAssertion after 29 s: %v", err)
				}
				t.Advance(31 * time.Second)
				_, err := t.Ctap2().GetNextAssertion(t.ctx)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "getNextAssertion 31 s later")
			}},
		Case{ID: "gna-cleared-by-power-cycle", Section: "CTAP 2.1 §6.3",
			Title:    "a power cycle clears the getNextAssertion state",
			Needs:    []Capability{CapPowerCycle},
			Versions: CTAP2,
			Run: func(t *T) {
				t.MakeCredential("p1", true)
				t.MakeCredential("p2", true)
				t.MustGetAssertion(t.GetAssertionRequest("power"))
				t.PowerCycle()
				_, err := t.Ctap2().GetNextAssertion(t.ctx)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "getNextAssertion after a power cycle")
			}},
	)
}
