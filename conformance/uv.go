package conformance

import (
	"bytes"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// Built-in user verification cases (CTAP 2.1 §6.5.5.3, §6.5.5.7.3, the
// "uv" option of §6.1.2 and §6.2.2, getInfo §6.4). They run against a key
// whose getInfo lists "uv" true; those that script the user's finger need
// CapUV, a target whose controller (or the target itself) is a UVControl.

// needUV skips the case unless getInfo lists "uv" true: built-in user
// verification supported and configured (§6.4).
func (t *T) needUV() {
	if !t.Ctap2().Info().Options[ctap.OptionUV] {
		t.Skipf("key has no configured built-in user verification (uv option)")
	}
}

// uvProtocol is pinProtocol for a key with built-in UV.
func (t *T) uvProtocol(v uint64) *pinCase {
	t.needUV()
	return t.pinProtocol(v)
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
	return t.Ctap2().MakeCredential(t.ctx, req)
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

// uvDef is a UV case body; registerUV wraps it so that the key's sensor
// goes back to UVMatch when the case ends.
type uvDef struct {
	id, section, title string
	needs              []Capability
	destructive        bool
	run                func(t *T)
}

func registerUV(defs ...uvDef) {
	for _, d := range defs {
		Register(Case{ID: "uv-" + d.id, Section: d.section, Title: d.title, Needs: d.needs, Destructive: d.destructive,
			Run: func(t *T) {
				defer func() {
					if c := uvControl(t.target); c != nil {
						c.SetUV(UVMatch)
					}
				}()
				d.run(t)
			}})
	}
}

var (
	needUV        = []Capability{CapUV}
	needUVControl = []Capability{CapUV, CapControl}
)

func init() {
	for _, v := range []uint64{1, 2} {
		registerUV(
			uvDef{Sprintf("v%d-token-mc", v), "CTAP 2.1 §6.5.5.7.3; §6.1.2 step 11.1",
				Sprintf("protocol %d: a token from built-in UV with mc makes a credential with the UP and UV flags", v),
				needUV, false, func(t *T) {
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
			uvDef{Sprintf("v%d-token-ga", v), "CTAP 2.1 §6.5.5.7.3; §6.2.2 steps 6.1, 12",
				Sprintf("protocol %d: a token from built-in UV with ga gives an assertion with UV and the user's names", v),
				needUV, false, func(t *T) {
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
					user := t.MakeCredentialRequest("named", true).User
					if a.User == nil || !bytes.Equal(a.User.ID, user.ID) || a.User.Name != user.Name || a.User.DisplayName != user.DisplayName {
						t.Fatalf("user %+v, want %+v", a.User, user)
					}
					if a.Credential != nil && !bytes.Equal(a.Credential.ID, att.AuthData.AttestedCredential.CredentialID) {
						t.Fatalf("credential %x, want the one made", a.Credential.ID)
					}
				}},
		)
	}
	registerUV(
		uvDef{"info-options", "CTAP 2.1 §6.4", "with uv true, getInfo lists pinUvAuthToken true and a preferredPlatformUvAttempts above 0",
			nil, false, func(t *T) {
				t.needUV()
				info := t.Ctap2().Info()
				if info.Supports(ctap.VersionFIDO21) && !info.Options[ctap.OptionPinUvAuthToken] {
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
		uvDef{"retries-initial", "CTAP 2.1 §6.5.5.3; §6.5.2.2", "a new key's uvRetries is maxUvRetries, between 1 and 25, and a match keeps it",
			needUV, true, func(t *T) {
				t.needFreshKey()
				pc := t.uvProtocol(2)
				n := pc.uvRetries()
				if n < 1 || n > 25 {
					t.Fatalf("uvRetries %d, want maxUvRetries in 1..25", n)
				}
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
				Equal(t, "uvRetries after a match", pc.uvRetries(), n)
				t.Logf("maxUvRetries %d", n)
			}},
		uvDef{"token-no-match", "CTAP 2.1 §6.5.5.7.3 step 10.3", "a sample that does not match gives CTAP2_ERR_UV_INVALID and uvRetries drops by one; a match restores it",
			needUV, false, func(t *T) {
				pc := t.uvProtocol(2)
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
		uvDef{"token-blocked", "CTAP 2.1 §6.5.5.7.3 steps 7, 10.2", "the failure that uses the last retry gives CTAP2_ERR_UV_BLOCKED, and so does a match after it",
			needUV, true, func(t *T) {
				t.needFreshKey()
				pc := t.uvProtocol(2)
				pc.blockUV()
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusUVBlocked, "token with a matching sample while blocked")
			}},
		uvDef{"blocked-pin-restores", "CTAP 2.1 §6.5.2.2; §6.5.5.7.2", "with UV blocked, a correct PIN still gives a token and restores uvRetries",
			needUV, true, func(t *T) {
				t.needFreshKey()
				pc := t.uvProtocol(2)
				initial := pc.uvRetries()
				pc.blockUV()
				pc.setPIN()
				Equal(t, "uvRetries after setPIN", pc.uvRetries(), 0)
				pc.token(ctap.PermissionGetAssertion, "")
				Equal(t, "uvRetries after a correct PIN", pc.uvRetries(), initial)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		uvDef{"token-decline", "CTAP 2.1 §6.5.5.7.3 step 8", "a user who declines gives CTAP2_ERR_OPERATION_DENIED and costs no retry",
			needUV, false, func(t *T) {
				pc := t.uvProtocol(2)
				before := pc.uvRetries()
				t.SetUV(UVDecline)
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusOperationDenied, "token the user declines")
				Equal(t, "uvRetries", pc.uvRetries(), before)
			}},
		uvDef{"token-timeout", "CTAP 2.1 §6.5.5.7.3 step 10.1", "no sample in time gives CTAP2_ERR_USER_ACTION_TIMEOUT",
			needUV, false, func(t *T) {
				pc := t.uvProtocol(2)
				if pc.uvRetries() < 2 {
					t.Skipf("too few uvRetries to spend one")
				}
				t.SetUV(UVTimeout)
				_, err := pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusUserActionTimeout, "token without a sample")
				t.SetUV(UVMatch)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		uvDef{"token-permissions-zero", "CTAP 2.1 §6.5.5.7.3 step 3", "permissions 0 gives CTAP1_ERR_INVALID_PARAMETER",
			nil, false, func(t *T) {
				pc := t.uvProtocol(2)
				_, err := pc.send(pc.uvTokenRequest(u64(0), nil))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "UV token with no permission")
			}},
		uvDef{"token-permissions-missing", "CTAP 2.1 §6.5.5.7.3 step 1", "getPinUvAuthTokenUsingUvWithPermissions without permissions gives CTAP2_ERR_MISSING_PARAMETER",
			nil, false, func(t *T) {
				pc := t.uvProtocol(2)
				_, err := pc.send(pc.uvTokenRequest(nil, nil))
				t.ExpectStatus(err, ctap.StatusMissingParameter, "UV token request without permissions")
			}},
		uvDef{"token-be-unsupported", "CTAP 2.1 §6.5.5.7.3 step 4", "the be permission without uvBioEnroll gives CTAP2_ERR_UNAUTHORIZED_PERMISSION",
			nil, false, func(t *T) {
				pc := t.uvProtocol(2)
				if t.Ctap2().Info().Options[ctap.OptionUVBioEnroll] {
					t.Skipf("key grants be with built-in UV (uvBioEnroll)")
				}
				_, err := pc.send(pc.uvTokenRequest(u64(ctap.PermissionBioEnrollment), nil))
				t.ExpectStatus(err, ctap.StatusUnauthorizedPermission, "UV token with be")
			}},
		uvDef{"token-rpid-binding", "CTAP 2.1 §6.5.5.7.3 step 15; §6.1.2 step 11.1", "a UV token bound to another RP ID gives CTAP2_ERR_PIN_AUTH_INVALID",
			needUV, false, func(t *T) {
				pc := t.uvProtocol(2)
				tok := pc.mustUVToken(ctap.PermissionMakeCredential, "elsewhere.example")
				_, err := pc.mc("bound", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential for another RP")
			}},
		uvDef{"token-spares-touch", "CTAP 2.1 §6.5.5.7.3 step 13; §6.1.2 step 14", "a fingerprint token is evidence of presence: makeCredential with it needs no further touch",
			needUVControl, false, func(t *T) {
				pc := t.uvProtocol(2)
				tok := pc.mustUVToken(ctap.PermissionMakeCredential, t.RPID())
				t.SetPresence(PresenceDeny)
				att, err := pc.mc("no-touch", false, tok)
				if err != nil {
					t.Fatalf("makeCredential with the UV token and touches declined: %v", err)
				}
				expectUVFlags(t, "makeCredential", att.AuthData.Flags)
			}},
		uvDef{"mc-option", "CTAP 2.1 §6.1.2 steps 11.2, 13", "makeCredential with uv=true verifies the user, sets UP and UV, and needs no separate touch",
			needUVControl, false, func(t *T) {
				t.needUV()
				t.SetPresence(PresenceDeny)
				att, err := t.uvMC("uv", true)
				if err != nil {
					t.Fatalf("makeCredential uv=true with touches declined: %v", err)
				}
				expectUVFlags(t, "makeCredential", att.AuthData.Flags)
			}},
		uvDef{"ga-option", "CTAP 2.1 §6.2.2 steps 6.2, 8, 12", "getAssertion with uv=true sets UP and UV and returns the user's name and displayName",
			needUV, false, func(t *T) {
				t.needUV()
				if _, err := t.uvMC("named", true); err != nil {
					t.Fatalf("makeCredential uv=true rk=true: %v", err)
				}
				a, err := t.uvGA("named", nil)
				if err != nil {
					t.Fatalf("getAssertion uv=true: %v", err)
				}
				expectUVFlags(t, "getAssertion", a.AuthData.Flags)
				user := t.MakeCredentialRequest("named", true).User
				if a.User == nil || !bytes.Equal(a.User.ID, user.ID) || a.User.Name != user.Name || a.User.DisplayName != user.DisplayName {
					t.Fatalf("user %+v, want %+v", a.User, user)
				}
			}},
		uvDef{"ga-option-up-false", "CTAP 2.1 §6.2.2 step 8", "getAssertion with uv=true and up=false still sets UP: the fingerprint was evidence of presence",
			needUV, false, func(t *T) {
				t.needUV()
				cred := t.MakeCredential("silent", false)
				a, err := t.uvGA("silent", map[string]bool{ctap.OptionUP: false}, cred)
				if err != nil {
					t.Fatalf("getAssertion uv=true up=false: %v", err)
				}
				expectUVFlags(t, "getAssertion", a.AuthData.Flags)
			}},
		uvDef{"mc-option-no-match", "CTAP 2.1 §6.1.2 step 11.2", "makeCredential uv=true with a sample that does not match gives CTAP2_ERR_OPERATION_DENIED (PUAT_REQUIRED with a PIN) and costs a retry",
			needUV, false, func(t *T) {
				pc := t.uvProtocol(2)
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
		uvDef{"mc-option-no-match-pin-set", "CTAP 2.1 §6.1.2 step 11.2", "with a PIN set, makeCredential uv=true without a match gives CTAP2_ERR_PUAT_REQUIRED",
			needUV, true, func(t *T) {
				t.needFreshKey()
				pc := t.uvProtocol(2)
				pc.setPIN()
				t.SetUV(UVNoMatch)
				_, err := t.uvMC("nomatch", false)
				t.ExpectStatus(err, ctap.StatusPUATRequired, "makeCredential uv=true without a match, PIN set")
			}},
		uvDef{"mc-option-blocked", "CTAP 2.1 §6.1.2 step 11.2", "with UV blocked and no PIN, makeCredential uv=true gives CTAP2_ERR_PIN_BLOCKED (the status the spec names)",
			needUV, true, func(t *T) {
				t.needFreshKey()
				pc := t.uvProtocol(2)
				pc.blockUV()
				_, err := t.uvMC("blocked", false)
				t.ExpectStatus(err, ctap.StatusPINBlocked, "makeCredential uv=true while blocked")
			}},
		uvDef{"mc-option-timeout", "CTAP 2.1 §6.1.2 step 11.2", "makeCredential uv=true without a sample in time gives CTAP2_ERR_USER_ACTION_TIMEOUT",
			needUV, false, func(t *T) {
				pc := t.uvProtocol(2)
				if pc.uvRetries() < 2 {
					t.Skipf("too few uvRetries to spend one")
				}
				t.SetUV(UVTimeout)
				_, err := t.uvMC("timeout", false)
				t.ExpectStatus(err, ctap.StatusUserActionTimeout, "makeCredential uv=true without a sample")
				t.SetUV(UVMatch)
				pc.mustUVToken(ctap.PermissionGetAssertion, "")
			}},
		uvDef{"ga-option-decline", "CTAP 2.1 §6.2.2 step 6.2", "getAssertion uv=true that the user declines gives CTAP2_ERR_OPERATION_DENIED (PUAT_REQUIRED with a PIN)",
			needUV, false, func(t *T) {
				t.needUV()
				cred := t.MakeCredential("declined", false)
				want := t.uvFailureStatus()
				t.SetUV(UVDecline)
				_, err := t.uvGA("declined", nil, cred)
				t.ExpectStatus(err, want, "getAssertion uv=true declined")
			}},
		uvDef{"mc-rk-without-uv", "CTAP 2.1 §6.1.2 step 7", "on a key with built-in UV, rk=true without uv or a token gives CTAP2_ERR_OPERATION_DENIED (PUAT_REQUIRED with a PIN)",
			nil, false, func(t *T) {
				t.needUV()
				if !t.Ctap2().Info().Options[ctap.OptionMakeCredUvNotRqd] {
					t.Skipf("key does not advertise makeCredUvNotRqd")
				}
				want := t.uvFailureStatus()
				_, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("rk", true))
				t.ExpectStatus(err, want, "rk makeCredential without user verification")
			}},
		uvDef{"retries-survive-power-cycle", "CTAP 2.1 §6.5.2.2", "uvRetries is kept across a power cycle",
			needUVControl, false, func(t *T) {
				pc := t.uvProtocol(2)
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
		uvDef{"reset-restores", "CTAP 2.1 §6.6; §6.5.5.3", "authenticatorReset restores uvRetries",
			needUVControl, true, func(t *T) {
				t.needFreshKey()
				pc := t.uvProtocol(2)
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
	)
}
