package conformance

import (
	"github.com/virtkey/virtkey/ctap"
)

// Cases that the key's named faults (authenticator.Faults) showed the
// suite was missing: what a relying party relies on in every assertion
// (the signature counter and its persistence, the backup flags), checked
// against values computed here rather than only for being different.

func init() {
	Register(
		Case{ID: "ga-sign-counter-increases", Section: "W3C WebAuthn L3 §6.1.1; CTAP 2.1 §6.2.2 step 13",
			Title:    "successive assertions carry a strictly increasing signature counter (a counter that stays 0 is a warning)",
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("counter", false)
				counters := make([]uint32, 3)
				for i := range counters {
					a := t.MustGetAssertion(t.GetAssertionRequest("counter", cred))
					if err := a.Verify(t.Hash("ga/counter"), cred.PublicKey); err != nil {
						t.Fatalf("assertion %d: signature: %v", i+1, err)
					}
					counters[i] = a.AuthData.SignCount
				}
				checkCounters(t, counters, "successive assertions")
			}},
		Case{ID: "ga-sign-counter-survives-power-cycle", Section: "W3C WebAuthn L3 §6.1.1; CTAP 2.1 §6.2.2 step 13",
			Title:    "the signature counter after a power cycle is above the last one before it",
			Needs:    []Capability{CapPowerCycle},
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("counter-power", false)
				before := t.MustGetAssertion(t.GetAssertionRequest("counter-power", cred)).AuthData.SignCount
				t.PowerCycle()
				a := t.MustGetAssertion(t.GetAssertionRequest("counter-power", cred))
				if err := a.Verify(t.Hash("ga/counter-power"), cred.PublicKey); err != nil {
					t.Fatalf("assertion after the power cycle: signature: %v", err)
				}
				checkCounters(t, []uint32{before, a.AuthData.SignCount}, "assertions either side of a power cycle")
			}},
		Case{ID: "ga-backup-state-needs-eligibility", Section: "W3C WebAuthn L3 §6.1 (flags bit 4: BS; §6.1.3)",
			Title:    "no credential is backed up (BS) without being backup eligible (BE), in makeCredential and getAssertion",
			Versions: CTAP2,
			Run: func(t *T) {
				for _, rk := range []bool{false, true} {
					label := map[bool]string{false: "backup-nonrk", true: "backup-rk"}[rk]
					cred := t.MakeCredential(label, rk)
					checkBackupFlags(t, "makeCredential", cred.Response.AuthData.Flags)
					a := t.MustGetAssertion(t.GetAssertionRequest(label, cred))
					checkBackupFlags(t, "getAssertion", a.AuthData.Flags)
					// §6.1.3: BE is fixed when the credential is made.
					if got, want := a.AuthData.Flags.Has(ctap.FlagBE), cred.Response.AuthData.Flags.Has(ctap.FlagBE); got != want {
						t.Errorf("%s: BE %v in the assertion, %v when the credential was made", label, got, want)
					}
				}
			}},
	)
	Register(perProtocol("cp",
		protocolCase{Case{ID: "token-used-up-by-ga", Section: "CTAP 2.1 §6.2.2 step 9; §6.5.2 clearUserVerifiedFlag, clearPinUvAuthTokenPermissionsExceptLbw", Versions: CTAP21,
			Title: "after a getAssertion with a touch, the same token gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, t.RPID())
				att, err := pc.mc("ga-once", false, tok)
				if err != nil {
					t.Fatalf("makeCredential: %v", err)
				}
				cred := &Credential{ID: att.AuthData.AttestedCredential.CredentialID}
				tok = pc.token(ctap.PermissionGetAssertion, t.RPID())
				if _, err := pc.ga("ga-once", tok, cred); err != nil {
					t.Fatalf("first use: %v", err)
				}
				_, err = pc.ga("ga-twice", tok, cred)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "second getAssertion with the token")
			}},
	)...)
	Register(perCommandCode(
		credManCase{Case{ID: "legacy-token-refused", Section: "CTAP 2.1 §6.5.5.7.1 (getPinToken: mc and ga permissions), §6.8.2",
			Title: "a getPinToken (0x05) token, which has no cm permission, gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a")
				c.useToken(0, "") // permissions 0: getPinToken
				_, err := c.call(ctap.CredMgmtGetCredsMetadata, nil)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "getCredsMetadata with a getPinToken token")
			}},
	)...)
}

// checkCounters requires each counter above the one before (WebAuthn L3
// §6.1.1: "incremented ... by some positive value"); a key whose counters
// are all 0 does not implement one, which §6.1.1 allows but recommends
// against (a warning).
func checkCounters(t *T, counters []uint32, what string) {
	allZero := true
	for _, c := range counters {
		allZero = allZero && c == 0
	}
	if allZero {
		t.Warnf("signature counter 0 in all %d %s: the key implements no counter (WebAuthn L3 §6.1.1: SHOULD)", len(counters), what)
		return
	}
	for i := 1; i < len(counters); i++ {
		if counters[i] <= counters[i-1] {
			t.Fatalf("%s: signature counter %d after %d (counters %v)", what, counters[i], counters[i-1], counters)
		}
	}
}

// checkBackupFlags is WebAuthn L3 §6.1: BS may be 1 only when BE is 1.
func checkBackupFlags(t *T, cmd string, f ctap.AuthDataFlags) {
	if f.Has(ctap.FlagBS) && !f.Has(ctap.FlagBE) {
		t.Errorf("%s: flags %#02x have BS (backed up) without BE (backup eligible)", cmd, byte(f))
	}
}
