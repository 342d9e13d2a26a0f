package conformance

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// authenticatorClientPIN cases (CTAP 2.1 §6.5) and the pinUvAuthParam of
// makeCredential and getAssertion (§6.1.2 steps 1–11, §6.2.2). Most run
// once per PIN/UV auth protocol; their IDs carry "v1" or "v2".

// testPIN is the PIN the cases set.
const testPIN = "1234"

// needFreshKey makes sure the key has no PIN: the runner gave a fresh key,
// or the case power-cycles and resets it; otherwise the case is skipped.
func (t *T) needFreshKey() {
	caps := map[Capability]bool{}
	for _, c := range t.target.Capabilities() {
		caps[c] = true
	}
	if caps[CapFresh] {
		return
	}
	ctl := t.target.Controller()
	if ctl == nil {
		t.Skipf("needs a factory-new key: a fresh target, or a controller to power-cycle and reset")
	}
	t.PowerCycle()
	if err := t.Ctap2().Reset(t.ctx); err != nil {
		t.Fatalf("reset to start from a factory-new key: %v", err)
	}
	// Leave the shared key as factory-new as it was found, so that the
	// cases after this one see no PIN and no blocked retries.
	t.atEnd = append(t.atEnd, func(ctx context.Context) error {
		if err := ctl.PowerCycle(ctx); err != nil {
			return err
		}
		dev, err := t.target.Open(ctx)
		if err != nil {
			return err
		}
		defer dev.Close()
		c, err := client.New(ctx, dev)
		if err != nil {
			return err
		}
		return c.Reset(ctx)
	})
}

// pinCase is a case's handle on one PIN/UV auth protocol.
type pinCase struct {
	t  *T
	v  uint64
	p  *client.PinProtocol
	cp *client.ClientPin
}

func (t *T) pinProtocol(v uint64) *pinCase {
	info := t.Ctap2().Info()
	if !client.IsSupported(info) {
		t.Skipf("key has no clientPin option")
	}
	found := false
	for _, pv := range info.PinUvProtocols {
		found = found || pv == v
	}
	if !found {
		t.Skipf("key does not list PIN/UV auth protocol %d", v)
	}
	p, _ := client.PinProtocolByVersion(v)
	cp, err := client.NewClientPin(t.Ctap2(), p)
	if err != nil {
		t.Fatalf("ClientPin: %v", err)
	}
	return &pinCase{t: t, v: v, p: p, cp: cp}
}

func (pc *pinCase) protocol() *uint64 { v := pc.v; return &v }

// setPIN sets testPIN and fails the case on error.
func (pc *pinCase) setPIN() {
	if err := pc.cp.SetPIN(pc.t.ctx, testPIN); err != nil {
		pc.t.Fatalf("setPIN: %v", err)
	}
}

// refresh reopens the client after a power cycle.
func (pc *pinCase) refresh() {
	cp, err := client.NewClientPin(pc.t.Ctap2(), pc.p)
	if err != nil {
		pc.t.Fatalf("ClientPin: %v", err)
	}
	pc.cp = cp
}

// token gets a pinUvAuthToken with permissions and rpID ("" for none).
func (pc *pinCase) token(permissions uint64, rpID string) []byte {
	tok, err := pc.cp.GetPinToken(pc.t.ctx, testPIN, permissions, rpID)
	if err != nil {
		pc.t.Fatalf("get token (permissions %#x): %v", permissions, err)
	}
	return tok
}

// tokenRequest builds getPinUvAuthTokenUsingPinWithPermissions (or
// getPinToken when sub says so) for pin, and returns it with the shared
// secret.
func (pc *pinCase) tokenRequest(sub uint64, pin string, permissions *uint64, rpID *string) *ctap.ClientPINRequest {
	key, shared, err := pc.cp.KeyAgreement(pc.t.ctx)
	if err != nil {
		pc.t.Fatalf("key agreement: %v", err)
	}
	enc, err := pc.p.Encrypt(nil, shared, ctap.PINHash(pin))
	if err != nil {
		pc.t.Fatalf("encrypt: %v", err)
	}
	req := pc.cp.Request(sub)
	req.KeyAgreement = &key
	req.PinHashEnc = enc
	req.Permissions = permissions
	req.RPID = rpID
	return req
}

// send sends a clientPIN request and returns the error.
func (pc *pinCase) send(req *ctap.ClientPINRequest) (*ctap.ClientPINResponse, error) {
	return pc.cp.Send(pc.t.ctx, req)
}

// setPINRequest builds setPIN for an arbitrary padded block.
func (pc *pinCase) setPINRequest(block []byte) *ctap.ClientPINRequest {
	key, shared, err := pc.cp.KeyAgreement(pc.t.ctx)
	if err != nil {
		pc.t.Fatalf("key agreement: %v", err)
	}
	enc, err := pc.p.Encrypt(nil, shared, block)
	if err != nil {
		pc.t.Fatalf("encrypt: %v", err)
	}
	req := pc.cp.Request(ctap.PINSetPIN)
	req.KeyAgreement = &key
	req.NewPinEnc = enc
	req.PinUvAuthParam = pc.p.Authenticate(shared, enc)
	return req
}

// padded returns pin zero-padded to 64 bytes (or as given when longer).
func padded(pin []byte) []byte {
	b := make([]byte, max(64, len(pin)))
	copy(b, pin)
	return b
}

// retries returns the key's pinRetries.
func (pc *pinCase) retries() int {
	n, _, err := pc.cp.GetPinRetries(pc.t.ctx)
	if err != nil {
		pc.t.Fatalf("getPINRetries: %v", err)
	}
	return n
}

// wrongPIN sends a token request with a wrong PIN and returns the status.
func (pc *pinCase) wrongPIN() error {
	perms := ctap.PermissionGetAssertion
	_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, "9999", &perms, nil))
	return err
}

// mc makes a credential with a pinUvAuthParam from token.
func (pc *pinCase) mc(label string, rk bool, token []byte) (*client.AttestationResponse, error) {
	req := pc.t.MakeCredentialRequest(label, rk)
	req.PinUvAuthParam = pc.p.AuthParam(token, req.ClientDataHash)
	req.PinUvAuthProtocol = pc.protocol()
	return pc.t.Ctap2().MakeCredential(pc.t.ctx, req)
}

// ga gets an assertion with a pinUvAuthParam from token.
func (pc *pinCase) ga(label string, token []byte, allow ...*Credential) (*client.AssertionResponse, error) {
	req := pc.t.GetAssertionRequest(label, allow...)
	req.PinUvAuthParam = pc.p.AuthParam(token, req.ClientDataHash)
	req.PinUvAuthProtocol = pc.protocol()
	return pc.t.Ctap2().GetAssertion(pc.t.ctx, req)
}

func u64(v uint64) *uint64 { return &v }

// pinCaseDef is a case body that runs per protocol.
type pinCaseDef struct {
	id, section, title string
	needs              []Capability
	run                func(t *T, pc *pinCase)
}

func registerPerProtocol(defs ...pinCaseDef) {
	for _, v := range []uint64{1, 2} {
		for _, d := range defs {
			d, v := d, v
			Register(Case{
				ID: fmt.Sprintf("cp-v%d-%s", v, d.id), Section: d.section,
				Title: fmt.Sprintf("protocol %d: %s", v, d.title), Needs: d.needs, Destructive: true,
				Run: func(t *T) {
					t.needFreshKey()
					d.run(t, t.pinProtocol(v))
				},
			})
		}
	}
}

func init() {
	registerPerProtocol(
		pinCaseDef{"get-retries", "CTAP 2.1 §6.5.5.2", "getPINRetries answers 8 on a new key and after setPIN",
			nil, func(t *T, pc *pinCase) {
				Equal(t, "pinRetries before a PIN", pc.retries(), 8)
				pc.setPIN()
				Equal(t, "pinRetries after setPIN", pc.retries(), 8)
			}},
		pinCaseDef{"key-agreement", "CTAP 2.1 §6.5.5.4, §6.5.6", "getKeyAgreement gives a P-256 COSE key with alg -25 on the curve",
			nil, func(t *T, pc *pinCase) {
				resp, err := pc.send(pc.cp.Request(ctap.PINGetKeyAgreement))
				if err != nil {
					t.Fatalf("getKeyAgreement: %v", err)
				}
				k := resp.KeyAgreement
				if k == nil {
					t.Fatalf("no keyAgreement in the response")
				}
				if k.Kty != ctap.KtyEC2 || k.Crv != ctap.CrvP256 || k.Alg != ctap.AlgECDHESHKDF256 {
					t.Fatalf("keyAgreement kty %d crv %d alg %d, want 2, 1, -25", k.Kty, k.Crv, k.Alg)
				}
				if _, err := k.ECDHPublicKey(); err != nil {
					t.Fatalf("keyAgreement point: %v", err)
				}
				if resp.PinUvAuthToken != nil || resp.PINRetries != nil {
					t.Fatalf("getKeyAgreement response carries other members")
				}
			}},
		pinCaseDef{"set-pin", "CTAP 2.1 §6.5.5.5", "setPIN succeeds and getInfo's clientPin turns true",
			nil, func(t *T, pc *pinCase) {
				if t.Ctap2().Info().Options[ctap.OptionClientPIN] {
					t.Fatalf("clientPin true before a PIN was set")
				}
				pc.setPIN()
				info, err := t.Ctap2().GetInfo(t.ctx)
				if err != nil {
					t.Fatalf("getInfo: %v", err)
				}
				if v, ok := info.Options[ctap.OptionClientPIN]; !ok || !v {
					t.Fatalf("clientPin option %v after setPIN", info.Options)
				}
			}},
		pinCaseDef{"set-pin-twice", "CTAP 2.1 §6.5.5.5", "setPIN when a PIN is set gives CTAP2_ERR_NOT_ALLOWED",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.send(pc.setPINRequest(padded([]byte("5678"))))
				t.ExpectStatus(err, ctap.StatusNotAllowed, "second setPIN")
			}},
		pinCaseDef{"set-pin-bad-auth", "CTAP 2.1 §6.5.5.5", "setPIN with a wrong pinUvAuthParam gives CTAP2_ERR_PIN_AUTH_INVALID",
			nil, func(t *T, pc *pinCase) {
				req := pc.setPINRequest(padded([]byte(testPIN)))
				req.PinUvAuthParam[0] ^= 1
				_, err := pc.send(req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "setPIN with a flipped MAC bit")
			}},
		pinCaseDef{"set-pin-too-short", "CTAP 2.1 §6.5.5.5", "a 3-character PIN gives CTAP2_ERR_PIN_POLICY_VIOLATION",
			nil, func(t *T, pc *pinCase) {
				_, err := pc.send(pc.setPINRequest(padded([]byte("123"))))
				t.ExpectStatus(err, ctap.StatusPINPolicyViolation, "setPIN 123")
			}},
		pinCaseDef{"set-pin-code-points", "CTAP 2.1 §6.5.5.5", "a 4-code-point PIN of 8 bytes is accepted: length counts code points",
			nil, func(t *T, pc *pinCase) {
				if _, err := pc.send(pc.setPINRequest(padded([]byte("ÄÖÜß")))); err != nil {
					t.Fatalf("setPIN ÄÖÜß: %v", err)
				}
				if _, err := pc.cp.GetPinToken(t.ctx, "ÄÖÜß", ctap.PermissionGetAssertion, ""); err != nil {
					t.Fatalf("token with the new PIN: %v", err)
				}
			}},
		pinCaseDef{"set-pin-64-bytes", "CTAP 2.1 §6.5.5.5", "a PIN filling all 64 bytes (no terminator) gives CTAP2_ERR_PIN_POLICY_VIOLATION",
			nil, func(t *T, pc *pinCase) {
				_, err := pc.send(pc.setPINRequest(bytes.Repeat([]byte{'7'}, 64)))
				t.ExpectStatus(err, ctap.StatusPINPolicyViolation, "setPIN of 64 bytes")
			}},
		pinCaseDef{"set-pin-63-bytes", "CTAP 2.1 §6.5.5.5", "a PIN of 63 bytes is the longest accepted",
			nil, func(t *T, pc *pinCase) {
				pin := bytes.Repeat([]byte{'6'}, 63)
				if _, err := pc.send(pc.setPINRequest(padded(pin))); err != nil {
					t.Fatalf("setPIN of 63 bytes: %v", err)
				}
				if _, err := pc.cp.GetPinToken(t.ctx, string(pin), ctap.PermissionGetAssertion, ""); err != nil {
					t.Fatalf("token with the 63-byte PIN: %v", err)
				}
			}},
		pinCaseDef{"set-pin-short-block", "CTAP 2.1 §6.5.5.5", "a padded PIN of 32 bytes instead of 64 gives CTAP1_ERR_INVALID_PARAMETER",
			nil, func(t *T, pc *pinCase) {
				block := make([]byte, 32)
				copy(block, testPIN)
				_, err := pc.send(pc.setPINRequest(block))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "setPIN with a 32-byte block")
			}},
		pinCaseDef{"set-pin-missing-key", "CTAP 2.1 §6.5.5.5", "setPIN without keyAgreement gives CTAP2_ERR_MISSING_PARAMETER",
			nil, func(t *T, pc *pinCase) {
				req := pc.setPINRequest(padded([]byte(testPIN)))
				req.KeyAgreement = nil
				_, err := pc.send(req)
				t.ExpectStatus(err, ctap.StatusMissingParameter, "setPIN without keyAgreement")
			}},
		pinCaseDef{"bad-key-agreement-point", "CTAP 2.1 §6.5.5.5, §6.5.6", "a platform key off the curve gives CTAP1_ERR_INVALID_PARAMETER",
			nil, func(t *T, pc *pinCase) {
				req := pc.setPINRequest(padded([]byte(testPIN)))
				bad := *req.KeyAgreement
				bad.Y = bytes.Clone(bad.Y)
				bad.Y[31] ^= 1
				req.KeyAgreement = &bad
				_, err := pc.send(req)
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "setPIN with a point off the curve")
			}},
		pinCaseDef{"change-pin", "CTAP 2.1 §6.5.5.6", "changePIN replaces the PIN: the new one gives a token, the old one does not",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				if err := pc.cp.ChangePIN(t.ctx, testPIN, "87654321"); err != nil {
					t.Fatalf("changePIN: %v", err)
				}
				if _, err := pc.cp.GetPinToken(t.ctx, "87654321", ctap.PermissionGetAssertion, ""); err != nil {
					t.Fatalf("token with the new PIN: %v", err)
				}
				_, err := pc.cp.GetPinToken(t.ctx, testPIN, ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusPINInvalid, "token with the old PIN")
			}},
		pinCaseDef{"change-pin-wrong", "CTAP 2.1 §6.5.5.6", "changePIN with a wrong current PIN gives CTAP2_ERR_PIN_INVALID and costs a retry",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				err := pc.cp.ChangePIN(t.ctx, "0000", "87654321")
				t.ExpectStatus(err, ctap.StatusPINInvalid, "changePIN from a wrong PIN")
				Equal(t, "pinRetries", pc.retries(), 7)
			}},
		pinCaseDef{"change-pin-not-set", "CTAP 2.1 §6.5.5.6", "changePIN without a PIN gives CTAP2_ERR_PIN_NOT_SET",
			nil, func(t *T, pc *pinCase) {
				err := pc.cp.ChangePIN(t.ctx, testPIN, "87654321")
				t.ExpectStatus(err, ctap.StatusPINNotSet, "changePIN on a key without a PIN")
			}},
		pinCaseDef{"change-pin-bad-auth", "CTAP 2.1 §6.5.5.6", "changePIN whose MAC does not cover newPinEnc||pinHashEnc gives CTAP2_ERR_PIN_AUTH_INVALID",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				key, shared, err := pc.cp.KeyAgreement(t.ctx)
				if err != nil {
					t.Fatalf("key agreement: %v", err)
				}
				newEnc, _ := pc.p.Encrypt(nil, shared, padded([]byte("87654321")))
				hashEnc, _ := pc.p.Encrypt(nil, shared, ctap.PINHash(testPIN))
				req := pc.cp.Request(ctap.PINChangePIN)
				req.KeyAgreement, req.NewPinEnc, req.PinHashEnc = &key, newEnc, hashEnc
				req.PinUvAuthParam = pc.p.Authenticate(shared, append(append([]byte{}, hashEnc...), newEnc...))
				_, err = pc.send(req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "changePIN with the MAC over pinHashEnc||newPinEnc")
				Equal(t, "pinRetries unchanged", pc.retries(), 8)
			}},
		pinCaseDef{"token-not-set", "CTAP 2.1 §6.5.5.7.2", "a PIN token on a key without a PIN gives CTAP2_ERR_PIN_NOT_SET",
			nil, func(t *T, pc *pinCase) {
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, u64(ctap.PermissionGetAssertion), nil))
				t.ExpectStatus(err, ctap.StatusPINNotSet, "token without a PIN")
			}},
		pinCaseDef{"token-length", "CTAP 2.1 §6.5.5.7, §6.5.6, §6.5.7", "the decrypted pinUvAuthToken has the protocol's length",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, "")
				if pc.v == 2 && len(tok) != 32 || pc.v == 1 && len(tok) != 16 && len(tok) != 32 {
					t.Fatalf("token of %d bytes for protocol %d", len(tok), pc.v)
				}
			}},
		pinCaseDef{"token-wrong-pin", "CTAP 2.1 §6.5.5.7.2", "a wrong PIN gives CTAP2_ERR_PIN_INVALID and pinRetries drops by one",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				t.ExpectStatus(pc.wrongPIN(), ctap.StatusPINInvalid, "token with a wrong PIN")
				Equal(t, "pinRetries", pc.retries(), 7)
				pc.token(ctap.PermissionGetAssertion, "")
				Equal(t, "pinRetries after the right PIN", pc.retries(), 8)
			}},
		pinCaseDef{"auth-blocked", "CTAP 2.1 §6.5.5.7.2", "the third wrong PIN in a row gives CTAP2_ERR_PIN_AUTH_BLOCKED until a power cycle",
			[]Capability{CapPowerCycle}, func(t *T, pc *pinCase) {
				pc.setPIN()
				t.ExpectStatus(pc.wrongPIN(), ctap.StatusPINInvalid, "first wrong PIN")
				t.ExpectStatus(pc.wrongPIN(), ctap.StatusPINInvalid, "second wrong PIN")
				t.ExpectStatus(pc.wrongPIN(), ctap.StatusPINAuthBlocked, "third wrong PIN")
				_, err := pc.cp.GetPinToken(t.ctx, testPIN, ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusPINAuthBlocked, "the right PIN while blocked")
				Equal(t, "pinRetries", pc.retries(), 5)
				t.PowerCycle()
				pc.refresh()
				pc.token(ctap.PermissionGetAssertion, "")
				Equal(t, "pinRetries after the right PIN", pc.retries(), 8)
			}},
		pinCaseDef{"power-cycle-state", "CTAP 2.1 §6.5.5.2", "getPINRetries reports powerCycleState true while auth is blocked",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				for i := 0; i < 3; i++ {
					pc.wrongPIN()
				}
				_, pcs, err := pc.cp.GetPinRetries(t.ctx)
				if err != nil {
					t.Fatalf("getPINRetries: %v", err)
				}
				if pcs == nil || !*pcs {
					t.Fatalf("powerCycleState %v, want true", pcs)
				}
			}},
		pinCaseDef{"pin-blocked", "CTAP 2.1 §6.5.5.7.2", "eight wrong PINs block the PIN: CTAP2_ERR_PIN_BLOCKED, even for the right one",
			[]Capability{CapPowerCycle}, func(t *T, pc *pinCase) {
				pc.setPIN()
				for i := 1; i <= 8; i++ {
					err := pc.wrongPIN()
					switch {
					case i == 8:
						t.ExpectStatus(err, ctap.StatusPINBlocked, "eighth wrong PIN")
					case i%3 == 0:
						t.ExpectStatus(err, ctap.StatusPINAuthBlocked, Sprintf("wrong PIN %d", i))
						t.PowerCycle()
						pc.refresh()
					default:
						t.ExpectStatus(err, ctap.StatusPINInvalid, Sprintf("wrong PIN %d", i))
					}
				}
				Equal(t, "pinRetries", pc.retries(), 0)
				_, err := pc.cp.GetPinToken(t.ctx, testPIN, ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusPINBlocked, "the right PIN once blocked")
				t.ExpectStatus(pc.cp.ChangePIN(t.ctx, testPIN, "87654321"), ctap.StatusPINBlocked, "changePIN once blocked")
			}},
		pinCaseDef{"permission-mc", "CTAP 2.1 §6.1.2 step 11", "a token with mc makes a credential with the UV flag",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				att, err := pc.mc("uv", false, pc.token(ctap.PermissionMakeCredential, t.RPID()))
				if err != nil {
					t.Fatalf("makeCredential with a token: %v", err)
				}
				if !att.AuthData.Flags.Has(ctap.FlagUV | ctap.FlagUP) {
					t.Fatalf("flags %v, want UP and UV", att.AuthData.Flags)
				}
			}},
		pinCaseDef{"permission-ga", "CTAP 2.1 §6.2.2 step 11", "a token with ga gives an assertion with the UV flag and the user's names",
			nil, func(t *T, pc *pinCase) {
				cred := t.MakeCredential("named", true)
				pc.setPIN()
				a, err := pc.ga("named", pc.token(ctap.PermissionGetAssertion, t.RPID()))
				if err != nil {
					t.Fatalf("getAssertion with a token: %v", err)
				}
				if !a.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("flags %v, want UV", a.AuthData.Flags)
				}
				if a.User == nil || !bytes.Equal(a.User.ID, cred.User.ID) || a.User.Name != cred.User.Name || a.User.DisplayName != cred.User.DisplayName {
					t.Fatalf("user %+v, want %+v", a.User, cred.User)
				}
			}},
		pinCaseDef{"permission-ga-refused-for-mc", "CTAP 2.1 §6.1.2 step 11", "a token with only ga gives CTAP2_ERR_PIN_AUTH_INVALID for makeCredential",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.mc("ga-only", false, pc.token(ctap.PermissionGetAssertion, t.RPID()))
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a ga token")
			}},
		pinCaseDef{"permission-mc-refused-for-ga", "CTAP 2.1 §6.2.2 step 11", "a token with only mc gives CTAP2_ERR_PIN_AUTH_INVALID for getAssertion",
			nil, func(t *T, pc *pinCase) {
				cred := t.MakeCredential("mc-only", false)
				pc.setPIN()
				_, err := pc.ga("mc-only", pc.token(ctap.PermissionMakeCredential, t.RPID()), cred)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "getAssertion with an mc token")
			}},
		pinCaseDef{"permission-zero", "CTAP 2.1 §6.5.5.7.2", "permissions 0 gives CTAP1_ERR_INVALID_PARAMETER",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, u64(0), nil))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "token with no permission")
			}},
		pinCaseDef{"permission-missing", "CTAP 2.1 §6.5.5.7.2", "getPinUvAuthTokenUsingPinWithPermissions without permissions gives CTAP2_ERR_MISSING_PARAMETER",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, nil, nil))
				t.ExpectStatus(err, ctap.StatusMissingParameter, "token request without permissions")
			}},
		pinCaseDef{"permission-be-unsupported", "CTAP 2.1 §6.5.5.7.2", "the be permission on a key without bio enrollment gives CTAP2_ERR_UNAUTHORIZED_PERMISSION",
			nil, func(t *T, pc *pinCase) {
				if _, ok := t.Ctap2().Info().Options[ctap.OptionBioEnroll]; ok {
					t.Skipf("key supports bio enrollment")
				}
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, u64(ctap.PermissionBioEnrollment), nil))
				t.ExpectStatus(err, ctap.StatusUnauthorizedPermission, "token with be")
			}},
		pinCaseDef{"legacy-token-permissions", "CTAP 2.1 §6.5.5.7.1", "getPinToken with a permissions member gives CTAP1_ERR_INVALID_PARAMETER",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinToken, testPIN, u64(ctap.PermissionMakeCredential), nil))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "getPinToken with permissions")
			}},
		pinCaseDef{"legacy-token-mc-ga", "CTAP 2.1 §6.5.5.7.1", "getPinToken grants mc and ga",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				att, err := pc.mc("legacy", false, pc.token(0, ""))
				if err != nil {
					t.Fatalf("makeCredential with a getPinToken token: %v", err)
				}
				c := &Credential{ID: att.AuthData.AttestedCredential.CredentialID}
				if _, err := pc.ga("legacy", pc.token(0, ""), c); err != nil {
					t.Fatalf("getAssertion with a getPinToken token: %v", err)
				}
			}},
		pinCaseDef{"token-used-up", "CTAP 2.1 §6.1.2; §6.5.2 clearPinUvAuthTokenPermissionsExceptLbw", "after a makeCredential with a touch, the same token gives CTAP2_ERR_PIN_AUTH_INVALID",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, t.RPID())
				if _, err := pc.mc("once", false, tok); err != nil {
					t.Fatalf("first use: %v", err)
				}
				_, err := pc.mc("twice", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "second use of the token")
			}},
		pinCaseDef{"rpid-binding", "CTAP 2.1 §6.1.2 step 11; §6.5.2", "a token bound to one RP ID gives CTAP2_ERR_PIN_AUTH_INVALID for another",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, "elsewhere.example")
				_, err := pc.mc("bound", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential for another RP")
			}},
		pinCaseDef{"rpid-bound-on-first-use", "CTAP 2.1 §6.2.2; §6.5.2", "a token without an RP ID is bound to the first RP it is used for",
			nil, func(t *T, pc *pinCase) {
				cred := t.MakeCredential("first", false)
				pc.setPIN()
				tok := pc.token(ctap.PermissionGetAssertion, "")
				silent := func(rpID string) error {
					req := t.GetAssertionRequest("first", cred)
					req.RPID = rpID
					req.Options = map[string]bool{ctap.OptionUP: false}
					req.PinUvAuthParam = pc.p.AuthParam(tok, req.ClientDataHash)
					req.PinUvAuthProtocol = pc.protocol()
					_, err := t.Ctap2().GetAssertion(t.ctx, req)
					return err
				}
				if err := silent(t.RPID()); err != nil {
					t.Fatalf("first use (up=false): %v", err)
				}
				t.ExpectStatus(silent("other."+t.RPID()), ctap.StatusPINAuthInvalid, "use for a second RP")
			}},
		pinCaseDef{"token-expires", "CTAP 2.1 §6.5.2", "a token is refused once its usage time has passed (11 minutes later)",
			[]Capability{CapClock}, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				t.Advance(11 * time.Minute)
				_, err := pc.mc("late", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with an expired token")
			}},
		pinCaseDef{"token-after-power-cycle", "CTAP 2.1 §6.5.2", "a power cycle invalidates the token",
			[]Capability{CapPowerCycle}, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				t.PowerCycle()
				_, err := pc.mc("cycled", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a pre-power-cycle token")
			}},
		pinCaseDef{"new-token-invalidates-old", "CTAP 2.1 §6.5.2", "getting a new token invalidates the previous one",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				old := pc.token(ctap.PermissionMakeCredential, t.RPID())
				pc.token(ctap.PermissionMakeCredential, t.RPID())
				_, err := pc.mc("old", false, old)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with the older token")
			}},
		pinCaseDef{"change-pin-invalidates-token", "CTAP 2.1 §6.5.5.6", "changePIN invalidates existing tokens",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				if err := pc.cp.ChangePIN(t.ctx, testPIN, "87654321"); err != nil {
					t.Fatalf("changePIN: %v", err)
				}
				_, err := pc.mc("changed", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a token from before changePIN")
			}},
		pinCaseDef{"auth-param-wrong-length", "CTAP 2.1 §6.1.2 step 11", "a pinUvAuthParam one byte short gives CTAP2_ERR_PIN_AUTH_INVALID",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				req := t.MakeCredentialRequest("short", false)
				p := pc.p.AuthParam(tok, req.ClientDataHash)
				req.PinUvAuthParam = p[:len(p)-1]
				req.PinUvAuthProtocol = pc.protocol()
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a short pinUvAuthParam")
			}},
		pinCaseDef{"auth-param-wrong-hash", "CTAP 2.1 §6.1.2 step 11", "a pinUvAuthParam over another clientDataHash gives CTAP2_ERR_PIN_AUTH_INVALID",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				req := t.MakeCredentialRequest("hash", false)
				req.PinUvAuthParam = pc.p.AuthParam(tok, t.Hash("other"))
				req.PinUvAuthProtocol = pc.protocol()
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a MAC over another hash")
			}},
		pinCaseDef{"mc-probe-pin-set", "CTAP 2.1 §6.1.2 step 1", "a zero-length pinUvAuthParam on a key with a PIN gives CTAP2_ERR_PIN_INVALID",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				req := t.MakeCredentialRequest("probe", false)
				req.PinUvAuthParam = []byte{}
				req.PinUvAuthProtocol = pc.protocol()
				st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(probeMap(req)))
				Equal(t, "status", st, ctap.StatusPINInvalid)
			}},
		pinCaseDef{"mc-rk-needs-token", "CTAP 2.1 §6.1.2 step 6; §6.4 makeCredUvNotRqd", "with a PIN set, an rk credential without a token gives CTAP2_ERR_PUAT_REQUIRED",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("rk", true))
				t.ExpectStatus(err, ctap.StatusPUATRequired, "rk makeCredential without a token")
			}},
		pinCaseDef{"mc-non-rk-without-token", "CTAP 2.1 §6.1.2 step 6; §6.4 makeCredUvNotRqd", "with makeCredUvNotRqd, a non-rk credential without a token is made without UV",
			nil, func(t *T, pc *pinCase) {
				pc.setPIN()
				info, _ := t.Ctap2().GetInfo(t.ctx)
				if !info.Options[ctap.OptionMakeCredUvNotRqd] {
					t.Skipf("key does not advertise makeCredUvNotRqd")
				}
				cred := t.MakeCredential("plain", false)
				if cred.Response.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("UV flag without user verification")
				}
			}},
		pinCaseDef{"ga-without-token", "CTAP 2.1 §6.2.2", "with a PIN set, getAssertion without a token works without UV",
			nil, func(t *T, pc *pinCase) {
				cred := t.MakeCredential("before", false)
				pc.setPIN()
				a := t.MustGetAssertion(t.GetAssertionRequest("before", cred))
				if a.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("UV flag without user verification")
				}
			}},
		pinCaseDef{"reset-clears-pin", "CTAP 2.1 §6.6", "reset removes the PIN: clientPin false and pinRetries 8",
			[]Capability{CapPowerCycle}, func(t *T, pc *pinCase) {
				pc.setPIN()
				pc.wrongPIN()
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				info, err := t.Ctap2().GetInfo(t.ctx)
				if err != nil {
					t.Fatalf("getInfo: %v", err)
				}
				if info.Options[ctap.OptionClientPIN] {
					t.Fatalf("clientPin still true after reset")
				}
				pc.refresh()
				Equal(t, "pinRetries", pc.retries(), 8)
			}},
	)
	Register(
		Case{ID: "cp-info-options", Section: "CTAP 2.1 §6.4", Title: "getInfo lists clientPin, pinUvAuthToken and protocols 1 and 2",
			Run: func(t *T) {
				info := t.Ctap2().Info()
				if _, ok := info.Options[ctap.OptionClientPIN]; !ok {
					t.Skipf("key has no clientPin option")
				}
				if !info.Options[ctap.OptionPinUvAuthToken] {
					t.Fatalf("pinUvAuthToken option %v", info.Options)
				}
				if len(info.PinUvProtocols) == 0 || info.PinUvProtocols[0] != 2 {
					t.Fatalf("pinUvAuthProtocols %v, want protocol 2 first", info.PinUvProtocols)
				}
			}},
		Case{ID: "cp-mc-probe-no-pin", Section: "CTAP 2.1 §6.1.2 step 1", Title: "a zero-length pinUvAuthParam on a key without a PIN gives CTAP2_ERR_PIN_NOT_SET",
			Destructive: true,
			Run: func(t *T) {
				t.needFreshKey()
				req := t.MakeCredentialRequest("probe", false)
				req.PinUvAuthParam = []byte{}
				req.PinUvAuthProtocol = u64(2)
				st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(probeMap(req)))
				Equal(t, "status", st, ctap.StatusPINNotSet)
			}},
		Case{ID: "cp-ga-probe-no-pin", Section: "CTAP 2.1 §6.2.2 step 1", Title: "a zero-length pinUvAuthParam in getAssertion on a key without a PIN gives CTAP2_ERR_PIN_NOT_SET",
			Destructive: true,
			Run: func(t *T) {
				t.needFreshKey()
				m := map[int]any{1: t.RPID(), 2: t.Hash("probe"), 6: []byte{}, 7: 2}
				st, _ := t.Raw(ctap.CmdGetAssertion, t.Encode(m))
				Equal(t, "status", st, ctap.StatusPINNotSet)
			}},
		Case{ID: "cp-unsupported-protocol", Section: "CTAP 2.1 §6.5.5", Title: "pinUvAuthProtocol 3 gives CTAP1_ERR_INVALID_PARAMETER",
			Run: func(t *T) {
				st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(map[int]any{1: 3, 2: ctap.PINGetKeyAgreement}))
				Equal(t, "status", st, ctap.StatusInvalidParameter)
			}},
		Case{ID: "cp-missing-subcommand", Section: "CTAP 2.1 §6.5.5", Title: "clientPIN without subCommand gives CTAP2_ERR_MISSING_PARAMETER",
			Run: func(t *T) {
				st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(map[int]any{1: 2}))
				Equal(t, "status", st, ctap.StatusMissingParameter)
			}},
		Case{ID: "cp-unknown-subcommand", Section: "CTAP 2.1 §6.5.5", Title: "clientPIN subCommand 0x42 gives CTAP2_ERR_INVALID_SUBCOMMAND",
			Run: func(t *T) {
				st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(map[int]any{1: 2, 2: 0x42}))
				Equal(t, "status", st, ctap.StatusInvalidSubcommand)
			}},
		Case{ID: "cp-mc-param-without-protocol", Section: "CTAP 2.1 §6.1.2 step 2", Title: "pinUvAuthParam without pinUvAuthProtocol gives CTAP2_ERR_MISSING_PARAMETER",
			Run: func(t *T) {
				req := t.MakeCredentialRequest("noproto", false)
				req.PinUvAuthParam = make([]byte, 32)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusMissingParameter, "pinUvAuthParam without a protocol")
			}},
		Case{ID: "cp-mc-unsupported-protocol", Section: "CTAP 2.1 §6.1.2 step 2", Title: "makeCredential with pinUvAuthProtocol 3 gives CTAP1_ERR_INVALID_PARAMETER",
			Run: func(t *T) {
				req := t.MakeCredentialRequest("proto3", false)
				req.PinUvAuthParam = make([]byte, 32)
				req.PinUvAuthProtocol = u64(3)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "protocol 3")
			}},
		Case{ID: "cp-token-protocol-mismatch", Section: "CTAP 2.1 §6.1.2 step 11", Title: "a protocol-2 token used with pinUvAuthProtocol 1 gives CTAP2_ERR_PIN_AUTH_INVALID",
			Destructive: true,
			Run: func(t *T) {
				t.needFreshKey()
				pc := t.pinProtocol(2)
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				req := t.MakeCredentialRequest("mismatch", false)
				req.PinUvAuthParam = client.PinProtocolV1().AuthParam(tok, req.ClientDataHash)
				req.PinUvAuthProtocol = u64(1)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "protocol-1 MAC with a protocol-2 token")
			}},
	)
}

// probeMap encodes a makeCredential request keeping a zero-length
// pinUvAuthParam, which omitempty would drop.
func probeMap(req *ctap.MakeCredentialRequest) map[int]any {
	return map[int]any{1: req.ClientDataHash, 2: req.RP, 3: req.User, 4: req.PubKeyCredParams,
		8: []byte{}, 9: *req.PinUvAuthProtocol}
}
