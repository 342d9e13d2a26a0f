package conformance

import (
	"slices"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// authenticatorGetInfo, authenticatorReset, authenticatorSelection and
// command dispatch cases (CTAP 2.1 §6.4, §6.6, §6.9, §8.2).

func init() {
	Register(
		Case{ID: "gi-versions", Section: "CTAP 2.1 §6.4 versions (0x01)",
			Title:    "versions lists FIDO_2_0, and FIDO_2_0 beside FIDO_2_1; unknown strings are recorded",
			Versions: CTAP2,
			Run: func(t *T) {
				v := t.Ctap2().Info().Versions
				// Every CTAP2 key lists FIDO_2_0; a CTAP 2.1 key lists
				// FIDO_2_1 as well (§6.4: "FIDO_2_1" ... MUST also list
				// "FIDO_2_0").
				if !slices.Contains(v, ctap.VersionFIDO20) {
					t.Fatalf("versions %v lack %s", v, ctap.VersionFIDO20)
				}
				known := []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21, ctap.VersionFIDO22}
				for _, s := range v {
					if !slices.Contains(known, s) {
						t.Observef("version %q is not one this suite knows", s)
					}
				}
			}},
		Case{ID: "gi-aaguid", Section: "CTAP 2.1 §6.4",
			Title:    "aaguid is 16 bytes and not all zero",
			Versions: CTAP2,
			Run: func(t *T) {
				raw := t.Ctap2().Info().Raw.AAGUID
				Equal(t, "aaguid length", len(raw), 16)
				if slices.Equal(raw, make([]byte, 16)) {
					t.Fatalf("aaguid is all zero")
				}
			}},
		Case{ID: "gi-options", Section: "CTAP 2.1 §6.4",
			Title:    "options: up absent or true, plat absent or false on a roaming key; rk recorded",
			Versions: CTAP2,
			Run: func(t *T) {
				o := t.Ctap2().Info().Options
				// rk absent or false is allowed: the key stores no
				// discoverable credentials (§6.4 options, rk).
				t.Observef("rk option %t", o[ctap.OptionRK])
				if up, ok := o[ctap.OptionUP]; ok && !up {
					t.Fatalf("up option false")
				}
				if o[ctap.OptionPlat] {
					t.Fatalf("plat option true on a roaming key")
				}
			}},
		Case{ID: "gi-algorithms", Section: "CTAP 2.1 §6.4",
			Title:    "algorithms lists ES256 and only public-key entries",
			Versions: CTAP2,
			Run: func(t *T) {
				algs := t.Ctap2().Info().Algorithms
				if len(algs) == 0 {
					t.Skipf("key lists no algorithms (optional; the member came with CTAP 2.1)")
				}
				if !supportsAlg(t, ctap.AlgES256) {
					t.Fatalf("algorithms %v lack ES256", algs)
				}
				for _, a := range algs {
					Equal(t, "algorithm type", a.Type, ctap.CredentialTypePublicKey)
				}
			}},
		Case{ID: "gi-algorithms-work", Section: "CTAP 2.1 §6.4",
			Title:    "every listed algorithm makes a credential whose key has that algorithm",
			Versions: CTAP2,
			Run: func(t *T) {
				for _, a := range t.Ctap2().Info().Algorithms {
					req := t.MakeCredentialRequest(Sprintf("alg%d", a.Alg), false)
					req.PubKeyCredParams = []ctap.CredentialParameter{a}
					cred := t.MustMakeCredential(req)
					Equal(t, "credential alg", cred.PublicKey.Alg, a.Alg)
				}
			}},
		Case{ID: "gi-transports", Section: "CTAP 2.1 §6.4",
			Title:    "transports includes usb for a USB HID key",
			Versions: CTAP2,
			Run: func(t *T) {
				tr := t.Ctap2().Info().Transports
				if len(tr) > 0 && !slices.Contains(tr, "usb") {
					t.Fatalf("transports %v lack usb", tr)
				}
			}},
		Case{ID: "gi-max-msg-size", Section: "CTAP 2.1 §6.4",
			Title:    "maxMsgSize is at least 1024 and a request of that size is accepted",
			Versions: CTAP2,
			Run: func(t *T) {
				max := t.Ctap2().Info().MaxMsgSize
				if max == 0 {
					max = 1024
				}
				if max < 1024 {
					t.Fatalf("maxMsgSize %d", max)
				}
				req := t.MakeCredentialRequest("big", false)
				for len(t.Encode(req)) < 900 {
					req.ExcludeList = append(req.ExcludeList, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: make([]byte, 40)})
				}
				t.MustMakeCredential(req)
			}},
		Case{ID: "gi-canonical", Section: "CTAP 2.1 §6.4, §8",
			Title:    "the getInfo response is canonical CBOR with versions and aaguid",
			Versions: CTAP2,
			Run: func(t *T) {
				st, body := t.Raw(ctap.CmdGetInfo, nil)
				Equal(t, "status", st, ctap.StatusOK)
				if !ctap.IsCanonical(body) {
					t.Fatalf("getInfo response is not canonical: %x", body)
				}
				var m map[int]ctap.RawMessage
				if err := ctap.Unmarshal(body, &m); err != nil {
					t.Fatalf("getInfo: %v", err)
				}
				if m[1] == nil || m[3] == nil {
					t.Fatalf("getInfo lacks versions (1) or aaguid (3)")
				}
			}},
		Case{ID: "gi-remaining-discoverable", Section: "CTAP 2.1 §6.4 remainingDiscoverableCredentials (0x14)",
			Title:    "remainingDiscoverableCredentials does not grow after an rk credential, and should drop by one",
			Versions: CTAP21,
			Run: func(t *T) {
				before := t.Ctap2().Info().RemainingDiscCreds
				if before == nil {
					t.skipFeature("the key does not report remainingDiscoverableCredentials")
				}
				// A user of its own per run, so that the credential is new
				// even when an earlier run left one for this case's RP; the
				// case removes it again at its end.
				t.MakeCredential("count-"+t.RunID(), true)
				info, err := t.Ctap2().GetInfo(t.ctx)
				if err != nil {
					t.Fatalf("getInfo: %v", err)
				}
				after := info.RemainingDiscCreds
				switch {
				case after == nil:
					t.Fatalf("remainingDiscoverableCredentials absent after an rk credential (it was %d)", *before)
				case *before == 0:
					t.Fatalf("makeCredential succeeded with remainingDiscoverableCredentials 0")
				case *after > *before:
					t.Fatalf("remainingDiscoverableCredentials grew from %d to %d after an rk credential", *before, *after)
				case *after != *before-1:
					// §6.4 calls the member an estimate.
					t.Warnf("remainingDiscoverableCredentials went from %d to %d after an rk credential, want %d", *before, *after, *before-1)
				}
			}},
		Case{ID: "gi-stable", Section: "CTAP 2.1 §6.4",
			Title:    "two getInfo calls give the same answer",
			Versions: CTAP2, Level: Should,
			Run: func(t *T) {
				_, a := t.Raw(ctap.CmdGetInfo, nil)
				_, b := t.Raw(ctap.CmdGetInfo, nil)
				if !slices.Equal(a, b) {
					t.Fatalf("getInfo changed between calls")
				}
			}},
		Case{ID: "cmd-unknown", Section: "CTAP 2.1 §8.2",
			Title:    "an unassigned command code gives CTAP1_ERR_INVALID_COMMAND",
			Versions: CTAP2,
			Run: func(t *T) {
				// Unassigned codes only: 0x40 to 0xBF are vendor commands
				// a key may implement (§6, authenticatorVendorFirst/Last).
				for _, c := range []ctap.Command{0x03, 0x05, 0x3F, 0xC0, 0xFE} {
					st, _ := t.Raw(c, nil)
					Equal(t, Sprintf("status of command 0x%02X", byte(c)), st, ctap.StatusInvalidCommand)
				}
			}},
		Case{ID: "rst-erases-credentials", Section: "CTAP 2.1 §6.6",
			Title: "reset within the power-up window erases discoverable credentials",
			Needs: []Capability{CapPowerCycle}, Destructive: true,
			Versions: CTAP2,
			Run: func(t *T) {
				t.MakeCredential("gone", true)
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("gone"))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion after reset")
			}},
		Case{ID: "rst-invalidates-non-resident", Section: "CTAP 2.1 §6.6",
			Title: "after reset a non-discoverable credential ID no longer works",
			Needs: []Capability{CapPowerCycle}, Destructive: true,
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("old", false)
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("old", cred))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion with a pre-reset ID")
			}},
		Case{ID: "rst-after-window", Section: "CTAP 2.1 §6.6",
			Title: "reset more than 10 s after power-up gives CTAP2_ERR_NOT_ALLOWED",
			Needs: []Capability{CapControl, CapClock}, Destructive: true,
			Versions: CTAP2,
			Run: func(t *T) {
				t.PowerCycle()
				t.Advance(11 * time.Second)
				err := t.Ctap2().Reset(t.ctx)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "reset 11 s after power-up")
			}},
		Case{ID: "rst-user-denied", Section: "CTAP 2.1 §6.6",
			Title: "reset with a declined touch gives CTAP2_ERR_OPERATION_DENIED and keeps credentials",
			Needs: []Capability{CapControl}, Destructive: true,
			Versions: CTAP2,
			Run: func(t *T) {
				cred := t.MakeCredential("kept", true)
				t.PowerCycle()
				t.SetPresence(PresenceDeny)
				err := t.Ctap2().Reset(t.ctx)
				t.ExpectStatus(err, ctap.StatusOperationDenied, "reset declined")
				t.SetPresence(PresenceAuto)
				a := t.MustGetAssertion(t.GetAssertionRequest("kept"))
				Equal(t, "credential still there", string(a.Credential.ID), string(cred.ID))
			}},
		Case{ID: "rst-user-timeout", Section: "CTAP 2.1 §6.6",
			Title: "reset without a touch gives CTAP2_ERR_USER_ACTION_TIMEOUT",
			Needs: []Capability{CapControl}, Destructive: true,
			Versions: CTAP2,
			Run: func(t *T) {
				t.PowerCycle()
				t.SetPresence(PresenceTimeout)
				err := t.Ctap2().Reset(t.ctx)
				t.ExpectStatus(err, ctap.StatusUserActionTimeout, "reset without a touch")
			}},
		Case{ID: "rst-key-usable-after", Section: "CTAP 2.1 §6.6",
			Title: "reset then makeCredential works: the key is usable after a reset",
			Needs: []Capability{CapPowerCycle}, Destructive: true,
			Versions: CTAP2,
			Run: func(t *T) {
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				cred := t.MakeCredential("after", true)
				a := t.MustGetAssertion(t.GetAssertionRequest("after"))
				if err := a.Verify(t.Hash("ga/after"), cred.PublicKey); err != nil {
					t.Fatalf("assertion after reset: %v", err)
				}
			}},
		Case{ID: "sel-touched", Section: "CTAP 2.1 §6.9",
			Title:    "selection with a touch answers CTAP2_OK with no body",
			Versions: CTAP21,
			Run: func(t *T) {
				st, body := t.Raw(ctap.CmdSelection, nil)
				Equal(t, "status", st, ctap.StatusOK)
				Equal(t, "body length", len(body), 0)
			}},
		Case{ID: "sel-denied", Section: "CTAP 2.1 §6.9",
			Title:    "selection declined gives CTAP2_ERR_OPERATION_DENIED",
			Needs:    []Capability{CapControl},
			Versions: CTAP21,
			Run: func(t *T) {
				t.SetPresence(PresenceDeny)
				t.ExpectStatus(t.Ctap2().Selection(t.ctx), ctap.StatusOperationDenied, "selection declined")
			}},
		Case{ID: "sel-timeout", Section: "CTAP 2.1 §6.9",
			Title:    "selection without a touch gives CTAP2_ERR_USER_ACTION_TIMEOUT",
			Needs:    []Capability{CapControl},
			Versions: CTAP21,
			Run: func(t *T) {
				t.SetPresence(PresenceTimeout)
				t.ExpectStatus(t.Ctap2().Selection(t.ctx), ctap.StatusUserActionTimeout, "selection without a touch")
			}},
		Case{ID: "sel-cancel", Section: "CTAP 2.1 §6.9; §11.2.9.1.5",
			Title:    "selection cancelled by the platform gives CTAP2_ERR_KEEPALIVE_CANCEL",
			Needs:    []Capability{CapControl},
			Versions: CTAP21,
			Run: func(t *T) {
				t.SetPresence(PresenceWait)
				ctx, cancel := contextWithCancel(t)
				defer cancel()
				err := t.Ctap2().Selection(ctx, clientKeepalive(func(s ctaphidStatus) {
					if s == upNeeded {
						cancel()
					}
				}))
				t.ExpectStatus(err, ctap.StatusKeepaliveCancel, "selection cancelled")
			}},
	)
}
