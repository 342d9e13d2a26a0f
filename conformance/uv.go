package conformance

import (
	"bytes"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// Built-in user verification cases (CTAP 2.1 §6.5.5.3, §6.5.5.7.3, the
// "uv" option of §6.1.2 and §6.2.2, getInfo §6.4). They run against a key
// whose getInfo lists "uv" true; those that script the user's finger
// skip without a UVControl when they come to script it, so that on a key
// without the feature the summary says so, and on a hardware key a person
// verifies where a case needs only a matching finger.
// The uv option of makeCredential and getAssertion is CTAP 2.0's too; the
// UV tokens, uvRetries and the statuses of a failed verification are CTAP
// 2.1's. Every case puts the sensor back to UVMatch when it ends, and
// deletes the discoverable credentials it made where the key can
// (removeAfter).

// needUV skips the case unless getInfo lists "uv" true: built-in user
// verification supported and configured (§6.4).
func (t *T) needUV() {
	if !t.Ctap2().Info().Options[ctap.OptionUV] {
		t.skipFeature("the key has no configured built-in user verification (uv option)")
	}
}

// uvProtocol is pinProtocol for a key with built-in UV whose tokens come
// from getPinUvAuthTokenUsingUvWithPermissions, a CTAP 2.1 subcommand that
// needs the pinUvAuthToken option (§6.4).
func (t *T) uvProtocol(v uint64) *pinCase {
	t.needUV()
	t.needTokenOption()
	return t.pinProtocol(v)
}

// uvPreferred is uvProtocol with the key's preferred protocol.
func (t *T) uvPreferred() *pinCase {
	t.needUV()
	return t.uvProtocol(t.preferredProtocol())
}

// uvToken gets a pinUvAuthToken with getPinUvAuthTokenUsingUvWithPermissions.
func (pc *pinCase) uvToken(permissions uint64, rpID string) ([]byte, error) {
	return pc.cp.GetUVToken(pc.t.ctx, permissions, rpID)
}

// mustUVToken is uvToken that fails the case on error.
func (pc *pinCase) mustUVToken(permissions uint64, rpID string) []byte {
	tok, err := pc.uvToken(permissions, rpID)
	if err != nil {
		pc.t.Fatalf("getPinUvAuthTokenUsingUvWithPermissions (permissions %#x): %v", permissions, err)
	}
	return tok
}

// uvRetries returns the key's uvRetries.
func (pc *pinCase) uvRetries() int {
	n, err := pc.cp.GetUVRetries(pc.t.ctx)
	if err != nil {
		pc.t.Fatalf("getUVRetries: %v", err)
	}
	return n
}

// uvTokenRequest builds getPinUvAuthTokenUsingUvWithPermissions with
// permissions and rpId as given (nil leaves them out).
func (pc *pinCase) uvTokenRequest(permissions *uint64, rpID *string) *ctap.ClientPINRequest {
	key, _, err := pc.cp.KeyAgreement(pc.t.ctx)
	if err != nil {
		pc.t.Fatalf("key agreement: %v", err)
	}
	req := pc.cp.Request(ctap.PINGetPinUvAuthTokenUsingUvWithPermissions)
	req.KeyAgreement = &key
	req.Permissions = permissions
	req.RPID = rpID
	return req
}

// blockUV fails verification until the key answers CTAP2_ERR_UV_BLOCKED,
// checking that every attempt before the last is CTAP2_ERR_UV_INVALID.
func (pc *pinCase) blockUV() {
	t := pc.t
	t.SetUV(UVNoMatch)
	n := pc.uvRetries()
	for i := 1; i <= n; i++ {
		_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
		want := ctap.StatusUVInvalid
		if i == n {
			want = ctap.StatusUVBlocked
		}
		t.ExpectStatus(err, want, Sprintf("failed verification %d of %d", i, n))
	}
	Equal(t, "uvRetries once blocked", pc.uvRetries(), 0)
	t.SetUV(UVMatch)
}

// uvMC makes a credential for label with the "uv" option.
func (t *T) uvMC(label string, rk bool) (*client.AttestationResponse, error) {
	req := t.MakeCredentialRequest(label, rk)
	if req.Options == nil {
		req.Options = map[string]bool{}
	}
	req.Options[ctap.OptionUV] = true
	resp, err := t.Ctap2().MakeCredential(t.ctx, req)
	if err == nil && rk && resp.AuthData.AttestedCredential != nil {
		t.removeAfter(resp.AuthData.AttestedCredential.CredentialID)
	}
	return resp, err
}

// uvGA gets an assertion for label with the "uv" option and opts.
func (t *T) uvGA(label string, opts map[string]bool, allow ...*Credential) (*client.AssertionResponse, error) {
	req := t.GetAssertionRequest(label, allow...)
	req.Options = map[string]bool{ctap.OptionUV: true}
	for k, v := range opts {
		req.Options[k] = v
	}
	return t.Ctap2().GetAssertion(t.ctx, req)
}

// uvFailureStatus is what makeCredential and getAssertion answer when the
// built-in UV of their "uv" option fails without a timeout and with
// retries left (§6.1.2 step 11.2, §6.2.2 step 6.2): CTAP2_ERR_PUAT_REQUIRED
// when the key has a PIN (clientPin true, noMcGaPermissionsWithClientPin
// absent or false), else CTAP2_ERR_OPERATION_DENIED.
func (t *T) uvFailureStatus() ctap.Status {
	info, err := t.Ctap2().GetInfo(t.ctx)
	if err != nil {
		t.Fatalf("getInfo: %v", err)
	}
	if info.Options[ctap.OptionClientPIN] && !info.Options[ctap.OptionNoMcGaPermissionsWithClientPin] {
		return ctap.StatusPUATRequired
	}
	return ctap.StatusOperationDenied
}

// expectUVFlags fails the case unless flags has both UP and UV.
func expectUVFlags(t *T, what string, flags ctap.AuthDataFlags) {
	if !flags.Has(ctap.FlagUP | ctap.FlagUV) {
		t.Fatalf("%s: flags %v, want UP and UV", what, flags)
	}
}

// uvCases makes every case put the key's sensor back to UVMatch when it
// ends, so that the next case meets a finger that matches.
func uvCases(cs ...Case) []Case {
	for i := range cs {
		run := cs[i].Run
		cs[i].Run = func(t *T) {
			defer func() {
				if c := uvControl(t.target); c != nil {
					c.SetUV(UVMatch)
				}
			}()
			run(t)
		}
	}
	return cs
}

func init() {
	for _, v := range []uint64{1, 2} {
		Register(uvCases(
			Case{ID: Sprintf("uv-v%d-token-mc", v), Section: "CTAP 2.1 §6.5.5.7.3; §6.1.2 step 11.1", Versions: CTAP21,
				Title: Sprintf("protocol %d: a token from built-in UV with mc makes a credential with the UP and UV flags", v),
				Run: func(t *T) {
					pc := t.uvProtocol(v)
					tok := pc.mustUVToken(ctap.PermissionMakeCredential, t.RPID())
					if v == 2 && len(tok) != 32 || v == 1 && len(tok) != 16 && len(tok) != 32 {
						t.Fatalf("token of %d bytes for protocol %d", len(tok), v)
					}
					att, err := pc.mc("token", false, tok)
					if err != nil {
						t.Fatalf("makeCredential with the UV token: %v", err)
					}
					expectUVFlags(t, "makeCredential", att.AuthData.Flags)
				}},
			Case{ID: Sprintf("uv-v%d-token-ga", v), Section: "CTAP 2.1 §6.5.5.7.3; §6.2.2 steps 6.1, 12", Versions: CTAP21,
				Title: Sprintf("protocol %d: a token from built-in UV with ga gives an assertion with UV and the user's id", v),
				Run: func(t *T) {
					pc := t.uvProtocol(v)
					att, err := t.uvMC("named", true)
					if err != nil {
						t.Fatalf("makeCredential uv=true rk=true: %v", err)
					}
					a, err := pc.ga("named", pc.mustUVToken(ctap.PermissionGetAssertion, t.RPID()))
					if err != nil {
						t.Fatalf("getAssertion with the UV token: %v", err)
					}
					expectUVFlags(t, "getAssertion", a.AuthData.Flags)
					expectUser(t, a.User, t.MakeCredentialRequest("named", true).User)
					if a.Credential != nil && !bytes.Equal(a.Credential.ID, att.AuthData.AttestedCredential.CredentialID) {
						t.Fatalf("credential %x, want the one made", a.Credential.ID)
					}
				}},
		)...)
	}
	Register(uvCases(
		Case{ID: "uv-info-options", Section: "CTAP 2.1 §6.4", Versions: CTAP2,
			Title: "with uv true, a FIDO_2_1 key lists pinUvAuthToken true; preferredPlatformUvAttempts and uvModality, when listed, are above 0",
			Run: func(t *T) {
				t.needUV()
				info := t.Ctap2().Info()
				if t.Lists(FIDO21) && !info.Options[ctap.OptionPinUvAuthToken] {
					t.Fatalf("FIDO_2_1 key with uv but pinUvAuthToken %v", info.Options)
				}
				if info.HasMember(client.InfoPreferredPlatformUvAttempts) && info.PreferredPlatformUVAttempts == 0 {
					t.Fatalf("preferredPlatformUvAttempts 0: it MUST be greater than zero")
				}
				if info.HasMember(client.InfoUVModality) && info.UVModality == 0 {
					t.Fatalf("uvModality 0 names no modality")
				}
				t.Logf("preferredPlatformUvAttempts %d, uvModality %#x", info.PreferredPlatformUVAttempts, info.UVModality)
			}},
		Case{ID: "uv-retries-initial", Section: "CTAP 2.1 §6.5.5.3; §6.5.2.2", Versions: CTAP21, Destructive: true,
			Title: "a new key's uvRetries is maxUvRetries, between 1 and 25, and a match keeps it",
			Run: func(t *T) {
				pc := t.uvPreferred()
				pc.freshKey()
				n := pc.uvRetries()
				if n < 1 || n > 25 {
					t.Fatalf("uvRetries %d, want maxUvRetries in 1..25", n)
				}
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
				Equal(t, "uvRetries after a match", pc.uvRetries(), n)
				t.Logf("maxUvRetries %d", n)
			}},
		Case{ID: "uv-token-no-match", Section: "CTAP 2.1 §6.5.5.7.3 step 10.3", Versions: CTAP21,
			Title: "a sample that does not match gives CTAP2_ERR_UV_INVALID and uvRetries drops by one; a match restores it",
			Run: func(t *T) {
				pc := t.uvPreferred()
				before := pc.uvRetries()
				if before < 2 {
					t.Skipf("uvRetries %d: too few to spend one", before)
				}
				t.SetUV(UVNoMatch)
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusUVInvalid, "token with a sample that does not match")
				Equal(t, "uvRetries after a mismatch", pc.uvRetries(), before-1)
				t.SetUV(UVMatch)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
				if n := pc.uvRetries(); n < before {
					t.Fatalf("uvRetries %d after a match, want at least %d", n, before)
				}
			}},
		Case{ID: "uv-token-blocked", Section: "CTAP 2.1 §6.5.5.7.3 steps 7, 10.2", Versions: CTAP21, Destructive: true,
			Title: "the failure that uses the last retry gives CTAP2_ERR_UV_BLOCKED, and so does a match after it",
			Run: func(t *T) {
				pc := t.uvPreferred()
				pc.freshKey()
				pc.blockUV()
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusUVBlocked, "token with a matching sample while blocked")
			}},
		Case{ID: "uv-blocked-pin-restores", Section: "CTAP 2.1 §6.5.2.2; §6.5.5.7.2 step 9", Versions: CTAP21, Destructive: true,
			Title: "with UV blocked, a correct PIN still gives a token and restores uvRetries",
			Run: func(t *T) {
				pc := t.uvPreferred()
				pc.freshKey()
				initial := pc.uvRetries()
				pc.blockUV()
				pc.setPIN()
				Equal(t, "uvRetries after setPIN", pc.uvRetries(), 0)
				pc.token(ctap.PermissionGetAssertion, "")
				Equal(t, "uvRetries after a correct PIN", pc.uvRetries(), initial)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		Case{ID: "uv-token-decline", Section: "CTAP 2.1 §6.5.5.7.3 step 8", Versions: CTAP21,
			Title: "a user who declines gives CTAP2_ERR_OPERATION_DENIED and costs no retry",
			Run: func(t *T) {
				pc := t.uvPreferred()
				before := pc.uvRetries()
				t.SetUV(UVDecline)
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusOperationDenied, "token the user declines")
				Equal(t, "uvRetries", pc.uvRetries(), before)
			}},
		Case{ID: "uv-token-timeout", Section: "CTAP 2.1 §6.5.5.7.3 step 10.1", Versions: CTAP21,
			Title: "no sample in time gives CTAP2_ERR_USER_ACTION_TIMEOUT",
			Run: func(t *T) {
				pc := t.uvPreferred()
				if pc.uvRetries() < 2 {
					t.Skipf("too few uvRetries to spend one")
				}
				t.SetUV(UVTimeout)
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusUserActionTimeout, "token without a sample")
				t.SetUV(UVMatch)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		Case{ID: "uv-token-permissions-zero", Section: "CTAP 2.1 §6.5.5.7.3 step 3", Versions: CTAP21,
			Title: "permissions 0 gives CTAP1_ERR_INVALID_PARAMETER",
			Run: func(t *T) {
				pc := t.uvPreferred()
				_, err := pc.send(pc.uvTokenRequest(u64(0), nil))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "UV token with no permission")
			}},
		Case{ID: "uv-token-permissions-missing", Section: "CTAP 2.1 §6.5.5.7.3 step 1", Versions: CTAP21,
			Title: "getPinUvAuthTokenUsingUvWithPermissions without permissions gives CTAP2_ERR_MISSING_PARAMETER",
			Run: func(t *T) {
				pc := t.uvPreferred()
				_, err := pc.send(pc.uvTokenRequest(nil, nil))
				t.ExpectStatus(err, ctap.StatusMissingParameter, "UV token request without permissions")
			}},
		Case{ID: "uv-token-be-unsupported", Section: "CTAP 2.1 §6.5.5.7.3 step 4", Versions: CTAP21,
			Title: "the be permission without uvBioEnroll gives CTAP2_ERR_UNAUTHORIZED_PERMISSION",
			Run: func(t *T) {
				pc := t.uvPreferred()
				if t.Ctap2().Info().Options[ctap.OptionUVBioEnroll] {
					t.skipFeature("the key grants be with built-in UV (uvBioEnroll)")
				}
				_, err := pc.send(pc.uvTokenRequest(u64(ctap.PermissionBioEnrollment), nil))
				t.ExpectStatus(err, ctap.StatusUnauthorizedPermission, "UV token with be")
			}},
		Case{ID: "uv-token-rpid-binding", Section: "CTAP 2.1 §6.5.5.7.3 step 15; §6.1.2 step 11.1", Versions: CTAP21,
			Title: "a UV token bound to another RP ID gives CTAP2_ERR_PIN_AUTH_INVALID",
			Run: func(t *T) {
				pc := t.uvPreferred()
				tok := pc.mustUVToken(ctap.PermissionMakeCredential, "elsewhere.example")
				_, err := pc.mc("bound", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential for another RP")
			}},
		Case{ID: "uv-token-spares-touch", Section: "CTAP 2.1 §6.5.5.7.3 step 13; §6.1.2 step 14", Versions: CTAP21,
			Title: "a fingerprint token is evidence of presence: makeCredential with it needs no further touch",
			Run: func(t *T) {
				pc := t.uvPreferred()
				tok := pc.mustUVToken(ctap.PermissionMakeCredential, t.RPID())
				t.SetPresence(PresenceDeny)
				att, err := pc.mc("no-touch", false, tok)
				if err != nil {
					t.Fatalf("makeCredential with the UV token and touches declined: %v", err)
				}
				expectUVFlags(t, "makeCredential", att.AuthData.Flags)
			}},
		Case{ID: "uv-mc-option", Section: "CTAP 2.1 §6.1.2 steps 11.2, 13; CTAP 2.0 §5.1 step 8", Versions: CTAP2,
			Title: "makeCredential with uv=true verifies the user, sets UP and UV, and needs no separate touch",
			Run: func(t *T) {
				t.needUV()
				t.SetPresence(PresenceDeny)
				att, err := t.uvMC("uv", true)
				if err != nil {
					t.Fatalf("makeCredential uv=true with touches declined: %v", err)
				}
				expectUVFlags(t, "makeCredential", att.AuthData.Flags)
			}},
		Case{ID: "uv-ga-option", Section: "CTAP 2.1 §6.2.2 steps 6.2, 8, 12; CTAP 2.0 §5.2", Versions: CTAP2,
			Title: "getAssertion with uv=true sets UP and UV and returns the user's id",
			Run: func(t *T) {
				t.needUV()
				if _, err := t.uvMC("named", true); err != nil {
					t.Fatalf("makeCredential uv=true rk=true: %v", err)
				}
				a, err := t.uvGA("named", nil)
				if err != nil {
					t.Fatalf("getAssertion uv=true: %v", err)
				}
				expectUVFlags(t, "getAssertion", a.AuthData.Flags)
				expectUser(t, a.User, t.MakeCredentialRequest("named", true).User)
			}},
		Case{ID: "uv-ga-option-up-false", Section: "CTAP 2.1 §6.2.2 step 8", Versions: CTAP21,
			Title: "getAssertion with uv=true and up=false still sets UP: the fingerprint was evidence of presence",
			Run: func(t *T) {
				t.needUV()
				cred := t.MakeCredential("silent", false)
				a, err := t.uvGA("silent", map[string]bool{ctap.OptionUP: false}, cred)
				if err != nil {
					t.Fatalf("getAssertion uv=true up=false: %v", err)
				}
				expectUVFlags(t, "getAssertion", a.AuthData.Flags)
			}},
		Case{ID: "uv-mc-option-no-match", Section: "CTAP 2.1 §6.1.2 step 11.2", Versions: CTAP21,
			Title: "makeCredential uv=true with a sample that does not match gives CTAP2_ERR_OPERATION_DENIED (PUAT_REQUIRED with a PIN) and costs a retry",
			Run: func(t *T) {
				pc := t.uvPreferred()
				before := pc.uvRetries()
				if before < 2 {
					t.Skipf("uvRetries %d: too few to spend one", before)
				}
				want := t.uvFailureStatus()
				t.SetUV(UVNoMatch)
				_, err := t.uvMC("nomatch", false)
				t.ExpectStatus(err, want, "makeCredential uv=true without a match")
				if n := pc.uvRetries(); n >= before {
					t.Fatalf("uvRetries %d after a mismatch, was %d", n, before)
				}
				t.SetUV(UVMatch)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		Case{ID: "uv-mc-option-no-match-pin-set", Section: "CTAP 2.1 §6.1.2 step 11.2", Versions: CTAP21, Destructive: true,
			Title: "with a PIN set, makeCredential uv=true without a match gives CTAP2_ERR_PUAT_REQUIRED",
			Run: func(t *T) {
				pc := t.uvPreferred()
				pc.freshKey()
				pc.setPIN()
				t.SetUV(UVNoMatch)
				_, err := t.uvMC("nomatch", false)
				t.ExpectStatus(err, ctap.StatusPUATRequired, "makeCredential uv=true without a match, PIN set")
			}},
		Case{ID: "uv-mc-option-blocked", Section: "CTAP 2.1 §6.1.2 step 11.2", Versions: CTAP21, Destructive: true,
			Title: "with UV blocked and no PIN, makeCredential uv=true gives CTAP2_ERR_PIN_BLOCKED (the status the spec names)",
			Run: func(t *T) {
				pc := t.uvPreferred()
				pc.freshKey()
				pc.blockUV()
				_, err := t.uvMC("blocked", false)
				t.ExpectStatus(err, ctap.StatusPINBlocked, "makeCredential uv=true while blocked")
			}},
		Case{ID: "uv-mc-option-timeout", Section: "CTAP 2.1 §6.1.2 step 11.2", Versions: CTAP21,
			Title: "makeCredential uv=true without a sample in time gives CTAP2_ERR_USER_ACTION_TIMEOUT",
			Run: func(t *T) {
				pc := t.uvPreferred()
				if pc.uvRetries() < 2 {
					t.Skipf("too few uvRetries to spend one")
				}
				t.SetUV(UVTimeout)
				_, err := t.uvMC("timeout", false)
				t.ExpectStatus(err, ctap.StatusUserActionTimeout, "makeCredential uv=true without a sample")
				t.SetUV(UVMatch)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		Case{ID: "uv-ga-option-decline", Section: "CTAP 2.1 §6.2.2 step 6.2", Versions: CTAP21,
			Title: "getAssertion uv=true that the user declines gives CTAP2_ERR_OPERATION_DENIED (PUAT_REQUIRED with a PIN)",
			Run: func(t *T) {
				t.needUV()
				cred := t.MakeCredential("declined", false)
				want := t.uvFailureStatus()
				t.SetUV(UVDecline)
				_, err := t.uvGA("declined", nil, cred)
				t.ExpectStatus(err, want, "getAssertion uv=true declined")
			}},
		Case{ID: "uv-mc-rk-without-uv", Section: "CTAP 2.1 §6.1.2 step 7", Versions: CTAP21,
			Title: "on a key with built-in UV, rk=true without uv or a token gives CTAP2_ERR_OPERATION_DENIED (PUAT_REQUIRED with a PIN)",
			Run: func(t *T) {
				t.needUV()
				if !t.Ctap2().Info().Options[ctap.OptionMakeCredUvNotRqd] {
					t.skipFeature("the key does not advertise makeCredUvNotRqd")
				}
				want := t.uvFailureStatus()
				resp, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("rk", true))
				if err == nil && resp.AuthData.AttestedCredential != nil {
					t.removeAfter(resp.AuthData.AttestedCredential.CredentialID)
				}
				t.ExpectStatus(err, want, "rk makeCredential without user verification")
			}},
		Case{ID: "uv-retries-survive-power-cycle", Section: "CTAP 2.1 §6.5.2.2", Versions: CTAP21,
			Title: "uvRetries is kept across a power cycle",
			Run: func(t *T) {
				pc := t.uvPreferred()
				before := pc.uvRetries()
				if before < 2 {
					t.Skipf("uvRetries %d: too few to spend one", before)
				}
				t.SetUV(UVNoMatch)
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusUVInvalid, "token with a sample that does not match")
				t.PowerCycle()
				pc.refresh()
				Equal(t, "uvRetries after a power cycle", pc.uvRetries(), before-1)
				t.SetUV(UVMatch)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		Case{ID: "uv-reset-restores", Section: "CTAP 2.1 §6.6; §6.5.5.3", Versions: CTAP21, Destructive: true,
			Title: "authenticatorReset restores uvRetries",
			Run: func(t *T) {
				pc := t.uvPreferred()
				pc.freshKey()
				initial := pc.uvRetries()
				t.SetUV(UVNoMatch)
				for range 2 {
					_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
					t.ExpectStatus(err, ctap.StatusUVInvalid, "token with a sample that does not match")
				}
				t.SetUV(UVMatch)
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				pc.refresh()
				Equal(t, "uvRetries after reset", pc.uvRetries(), initial)
			}},
	)...)
}
