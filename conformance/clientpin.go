package conformance

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// authenticatorClientPIN cases (CTAP 2.1 §6.5; CTAP 2.0 §5.5) and the
// pinUvAuthParam of makeCredential and getAssertion (CTAP 2.1 §6.1.2 steps
// 1–11, §6.2.2; CTAP 2.0 §5.1, §5.2). Most are declared once and run per
// PIN/UV auth protocol (protocolCase); their IDs carry "v1" or "v2", and
// the variant for a protocol the key does not list in pinUvAuthProtocols
// is skipped as not this feature.
//
// A case reads the key's getInfo and runs what applies to it: on a key
// without the pinUvAuthToken option (a CTAP 2.0 key, most 2.1-PRE keys)
// tokens come from getPinToken (0x05) and the wrong-PIN, retry and blocking
// cases run with it; the cases about permissions, RP binding and token
// lifetime are CTAP 2.1's and skip there; where CTAP 2.0 requires a refusal
// without naming the status, any error passes and the status is recorded.

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
	// cases after this one see no PIN, no blocked retries and none of the
	// credentials this one made.
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

// skipFeature skips the case because the key lacks an optional feature:
// every such skip reads "not this feature: ..." in the summary.
func (t *T) skipFeature(format string, args ...any) {
	t.Skipf("not this feature: "+format, args...)
}

// hasTokenOption reports whether getInfo lists pinUvAuthToken true (CTAP
// 2.1 §6.4): the key grants tokens with permissions (subcommands 0x06 and
// 0x09) and binds them to an RP ID. A key without it knows getPinToken
// (0x05) only, whose token has every permission (CTAP 2.0 §5.5.7).
func (t *T) hasTokenOption() bool {
	v, _ := t.Ctap2().Info().Option(ctap.OptionPinUvAuthToken)
	return v
}

// needTokenOption skips a case about token permissions, RP binding or
// token lifetime on a key without the pinUvAuthToken option.
func (t *T) needTokenOption() {
	if !t.hasTokenOption() {
		t.skipFeature("the key has no pinUvAuthToken option: tokens without permissions (CTAP 2.1 §6.4, §6.5.5.7.1)")
	}
}

// needClientPINCommand skips a case on a key that lists neither the
// clientPin option nor a PIN/UV auth protocol: it may not implement
// authenticatorClientPIN at all (CTAP 2.0 §5.4, CTAP 2.1 §6.4).
func (t *T) needClientPINCommand() {
	info := t.Ctap2().Info()
	if _, ok := info.Option(ctap.OptionClientPIN); !ok && len(info.PinUvProtocols) == 0 {
		t.skipFeature("the key lists neither clientPin nor pinUvAuthProtocols: no authenticatorClientPIN")
	}
}

// keyProtocols returns the PIN/UV auth protocols the key lists that the
// suite speaks (1 and 2), in the key's order of preference (§6.4).
func (t *T) keyProtocols() []uint64 {
	var out []uint64
	for _, v := range t.Ctap2().Info().PinUvProtocols {
		if (v == 1 || v == 2) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// preferredProtocol is the first protocol the key lists: the one a
// platform uses. Cases that are not about the protocol run with it.
func (t *T) preferredProtocol() uint64 {
	ps := t.keyProtocols()
	if len(ps) == 0 {
		t.skipFeature("the key lists no PIN/UV auth protocol the suite speaks (pinUvAuthProtocols %v)", t.Ctap2().Info().PinUvProtocols)
	}
	return ps[0]
}

// otherProtocol is the last protocol the key lists: with two listed, the
// one a platform would not choose, so that a family of cases run with
// preferredProtocol and otherProtocol covers both.
func (t *T) otherProtocol() uint64 {
	ps := t.keyProtocols()
	if len(ps) == 0 {
		t.skipFeature("the key lists no PIN/UV auth protocol the suite speaks (pinUvAuthProtocols %v)", t.Ctap2().Info().PinUvProtocols)
	}
	return ps[len(ps)-1]
}

// pinCase is a case's handle on one PIN/UV auth protocol.
type pinCase struct {
	t  *T
	v  uint64
	p  *client.PinProtocol
	cp *client.ClientPin
}

// pinProtocol returns the handle for protocol v; the case is skipped on a
// key without clientPin or that does not list v.
func (t *T) pinProtocol(v uint64) *pinCase {
	info := t.Ctap2().Info()
	if !client.IsSupported(info) {
		t.skipFeature("the key has no clientPin option")
	}
	if !slices.Contains(info.PinUvProtocols, v) {
		t.skipFeature("the key does not list PIN/UV auth protocol %d", v)
	}
	p, _ := client.PinProtocolByVersion(v)
	cp, err := client.NewClientPin(t.Ctap2(), p)
	if err != nil {
		t.Fatalf("ClientPin: %v", err)
	}
	return &pinCase{t: t, v: v, p: p, cp: cp}
}

// preferredPIN is pinProtocol of the key's preferred protocol.
func (t *T) preferredPIN() *pinCase { return t.pinProtocol(t.preferredProtocol()) }

func (pc *pinCase) protocol() *uint64 { v := pc.v; return &v }

// setPIN sets testPIN and fails the case on error. On a key whose
// minPINLength (CTAP 2.1 §6.4) is above testPIN's four code points the
// case is skipped: the key is right to refuse it.
func (pc *pinCase) setPIN() {
	if info := pc.t.Ctap2().Info(); info.HasMember(client.InfoMinPINLength) && info.MinPINLength > uint64(len(testPIN)) {
		pc.t.Skipf("the key requires a PIN of at least %d code points; the cases use %q", info.MinPINLength, testPIN)
	}
	if err := pc.cp.SetPIN(pc.t.ctx, testPIN); err != nil {
		pc.t.Fatalf("setPIN: %v", err)
	}
}

// freshKey is t.needFreshKey for a case that made pc first, so that a key
// without pc's protocol skips the case before any reset; the power cycle
// then replaces the client, which pc reopens.
func (pc *pinCase) freshKey() {
	pc.t.needFreshKey()
	pc.refresh()
}

// refresh reopens the client after a power cycle.
func (pc *pinCase) refresh() {
	cp, err := client.NewClientPin(pc.t.Ctap2(), pc.p)
	if err != nil {
		pc.t.Fatalf("ClientPin: %v", err)
	}
	pc.cp = cp
}

// token gets a pinUvAuthToken with permissions and rpID ("" for none):
// getPinUvAuthTokenUsingPinWithPermissions on a key with the
// pinUvAuthToken option, else getPinToken, whose token has every
// permission and no RP ID (CTAP 2.1 §6.5.5.7.1; CTAP 2.0 §5.5.7).
func (pc *pinCase) token(permissions uint64, rpID string) []byte {
	tok, err := pc.cp.GetPinToken(pc.t.ctx, testPIN, permissions, rpID)
	if err != nil {
		pc.t.Fatalf("get token (permissions %#x): %v", permissions, err)
	}
	return tok
}

// tokenSub is the subcommand that gets a token with a PIN on this key:
// 0x09 with the pinUvAuthToken option, else getPinToken (0x05).
func (pc *pinCase) tokenSub() uint64 {
	if pc.t.hasTokenOption() {
		return ctap.PINGetPinUvAuthTokenUsingPinWithPermissions
	}
	return ctap.PINGetPinToken
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

// keyTokenRequest is tokenRequest with the key's token subcommand
// (tokenSub): permissions ga on 0x09, none on 0x05.
func (pc *pinCase) keyTokenRequest(pin string) *ctap.ClientPINRequest {
	if sub := pc.tokenSub(); sub == ctap.PINGetPinToken {
		return pc.tokenRequest(sub, pin, nil, nil)
	}
	return pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, pin, u64(ctap.PermissionGetAssertion), nil)
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

// wrongPIN sends a token request with a wrong PIN, with the key's token
// subcommand (tokenSub), and returns the status.
func (pc *pinCase) wrongPIN() error {
	_, err := pc.send(pc.keyTokenRequest("9999"))
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

// residentRequest is MakeCredentialRequest with rk=true, and uv=true on a
// key with built-in user verification, which makes no discoverable
// credential without it (CTAP 2.1 §6.1.2 step 7).
func (t *T) residentRequest(label string) *ctap.MakeCredentialRequest {
	req := t.MakeCredentialRequest(label, true)
	if t.Ctap2().Info().Options[ctap.OptionUV] {
		req.Options[ctap.OptionUV] = true
	}
	return req
}

// expectUser checks the user entity of an assertion of a discoverable
// credential: user.id MUST be there (CTAP 2.1 §6.2.2 step 12); name and
// displayName, which a key MAY leave out for a single account, must match
// when present, and their absence is recorded.
func expectUser(t *T, got, want *ctap.UserEntity) {
	if got == nil || !bytes.Equal(got.ID, want.ID) {
		t.Fatalf("user %+v, want id %x", got, want.ID)
	}
	if got.Name != "" && got.Name != want.Name || got.DisplayName != "" && got.DisplayName != want.DisplayName {
		t.Fatalf("user %+v, want %+v", got, want)
	}
	if got.Name == "" || got.DisplayName == "" {
		t.Observef("the key leaves out name or displayName for a single account: %+v", got)
	}
}

// A protocolCase is a case declared once and run once per PIN/UV auth
// protocol, in the manner of crypto/tls's clientTest run per version. Its
// Case holds the named fields, with ID and Title without the protocol; Body
// receives the protocol's handle. Every variant is destructive: it starts
// from a factory-new key (needFreshKey) and sets a PIN.
type protocolCase struct {
	Case
	Body func(t *T, pc *pinCase)
}

// perProtocol expands cases into "<prefix>-v1-<ID>" and "<prefix>-v2-<ID>".
func perProtocol(prefix string, cases ...protocolCase) []Case {
	var out []Case
	for _, v := range []uint64{1, 2} {
		for _, pcase := range cases {
			c := pcase.Case
			body := pcase.Body
			c.ID = fmt.Sprintf("%s-v%d-%s", prefix, v, c.ID)
			c.Title = fmt.Sprintf("protocol %d: %s", v, c.Title)
			c.Destructive = true
			c.Run = func(t *T) {
				pc := t.pinProtocol(v) // skips before the reset on a key without v
				pc.freshKey()
				body(t, pc)
			}
			out = append(out, c)
		}
	}
	return out
}

// setPINRefusals are setPIN cases that differ only in the padded PIN
// block sent and the status it must get (CTAP 2.1 §6.5.5.5 steps 6-7).
// CTAP 2.0 pads newPin to "minimum 64 bytes" and sets no upper bound on
// the block: the cases on its size are CTAP 2.1's.
var setPINRefusals = []struct {
	ID, Section, Title string
	Versions           []Version
	Block              []byte
	Want               ctap.Status
}{
	{ID: "set-pin-too-short", Section: "CTAP 2.1 §6.5.5.5 step 7; CTAP 2.0 §5.5.5", Versions: CTAP2,
		Title: "a 3-character PIN gives CTAP2_ERR_PIN_POLICY_VIOLATION",
		Block: padded([]byte("123")), Want: ctap.StatusPINPolicyViolation},
	{ID: "set-pin-64-bytes", Section: "CTAP 2.1 §6.5.5.5 step 7", Versions: CTAP21,
		Title: "a PIN filling all 64 bytes (no terminator) gives CTAP2_ERR_PIN_POLICY_VIOLATION",
		Block: bytes.Repeat([]byte{'7'}, 64), Want: ctap.StatusPINPolicyViolation},
	{ID: "set-pin-short-block", Section: "CTAP 2.1 §6.5.5.5 step 6", Versions: CTAP21,
		Title: "a padded PIN of 32 bytes instead of 64 gives CTAP1_ERR_INVALID_PARAMETER",
		Block: append([]byte(testPIN), make([]byte, 28)...), Want: ctap.StatusInvalidParameter},
}

func init() {
	for _, r := range setPINRefusals {
		Register(perProtocol("cp", protocolCase{Case{ID: r.ID, Section: r.Section, Title: r.Title, Versions: r.Versions},
			func(t *T, pc *pinCase) {
				_, err := pc.send(pc.setPINRequest(r.Block))
				t.ExpectStatus(err, r.Want, Sprintf("setPIN with the block %x", r.Block))
				expectOption(t, t.info(), ctap.OptionClientPIN, false)
			}})...)
	}
}

func init() {
	Register(perProtocol("cp",
		protocolCase{Case{ID: "get-retries", Section: "CTAP 2.1 §6.5.5.2; CTAP 2.0 §5.5.3", Versions: CTAP2,
			Title: "getPINRetries answers 8 on a new key and after setPIN"},
			func(t *T, pc *pinCase) {
				Equal(t, "pinRetries before a PIN", pc.retries(), 8)
				pc.setPIN()
				Equal(t, "pinRetries after setPIN", pc.retries(), 8)
			}},
		protocolCase{Case{ID: "key-agreement", Section: "CTAP 2.1 §6.5.5.4, §6.5.6; CTAP 2.0 §5.5.4", Versions: CTAP2,
			Title: "getKeyAgreement gives a P-256 COSE key with alg -25 on the curve"},
			func(t *T, pc *pinCase) {
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
		protocolCase{Case{ID: "set-pin", Section: "CTAP 2.1 §6.5.5.5, §6.4; CTAP 2.0 §5.5.5", Versions: CTAP2,
			Title: "setPIN succeeds and getInfo's clientPin turns true"},
			func(t *T, pc *pinCase) {
				if t.Ctap2().Info().Options[ctap.OptionClientPIN] {
					t.Fatalf("clientPin true before a PIN was set")
				}
				pc.setPIN()
				expectOption(t, t.info(), ctap.OptionClientPIN, true)
			}},
		protocolCase{Case{ID: "set-pin-twice", Section: "CTAP 2.1 §6.5.5.5 step 3; CTAP 2.0 §5.5.5", Versions: CTAP2,
			Title: "setPIN when a PIN is set gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.send(pc.setPINRequest(padded([]byte("5678"))))
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "second setPIN")
				if _, err := pc.cp.GetPinToken(t.ctx, testPIN, ctap.PermissionGetAssertion, ""); err != nil {
					t.Fatalf("the first PIN after the refused setPIN: %v", err)
				}
			}},
		protocolCase{Case{ID: "set-pin-bad-auth", Section: "CTAP 2.1 §6.5.5.5 step 5; CTAP 2.0 §5.5.5", Versions: CTAP2,
			Title: "setPIN with a wrong pinUvAuthParam gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, pc *pinCase) {
				req := pc.setPINRequest(padded([]byte(testPIN)))
				req.PinUvAuthParam[0] ^= 1
				_, err := pc.send(req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "setPIN with a flipped MAC bit")
			}},
		protocolCase{Case{ID: "set-pin-code-points", Section: "CTAP 2.1 §6.5.5.5 step 7; CTAP 2.0 §5.5.5", Versions: CTAP2,
			Title: "a 4-code-point PIN of 8 bytes is accepted: length counts code points (CTAP 2.0: at least 4 bytes)"},
			func(t *T, pc *pinCase) {
				if _, err := pc.send(pc.setPINRequest(padded([]byte("ÄÖÜß")))); err != nil {
					t.Fatalf("setPIN ÄÖÜß: %v", err)
				}
				if _, err := pc.cp.GetPinToken(t.ctx, "ÄÖÜß", ctap.PermissionGetAssertion, ""); err != nil {
					t.Fatalf("token with the new PIN: %v", err)
				}
			}},
		protocolCase{Case{ID: "set-pin-63-bytes", Section: "CTAP 2.1 §6.5.5.5 step 7; CTAP 2.0 §5.5.5", Versions: CTAP2,
			Title: "a PIN of 63 bytes is the longest accepted"},
			func(t *T, pc *pinCase) {
				pin := bytes.Repeat([]byte{'6'}, 63)
				if _, err := pc.send(pc.setPINRequest(padded(pin))); err != nil {
					t.Fatalf("setPIN of 63 bytes: %v", err)
				}
				if _, err := pc.cp.GetPinToken(t.ctx, string(pin), ctap.PermissionGetAssertion, ""); err != nil {
					t.Fatalf("token with the 63-byte PIN: %v", err)
				}
			}},
		protocolCase{Case{ID: "set-pin-missing-key", Section: "CTAP 2.1 §6.5.5.5 step 1; CTAP 2.0 §5.5.5", Versions: CTAP2,
			Title: "setPIN without keyAgreement gives CTAP2_ERR_MISSING_PARAMETER"},
			func(t *T, pc *pinCase) {
				req := pc.setPINRequest(padded([]byte(testPIN)))
				req.KeyAgreement = nil
				_, err := pc.send(req)
				t.ExpectStatus(err, ctap.StatusMissingParameter, "setPIN without keyAgreement")
			}},
		protocolCase{Case{ID: "bad-key-agreement-point", Section: "CTAP 2.1 §6.5.5.5 step 4, §6.5.6; CTAP 2.0 §5.5.5", Versions: CTAP2,
			Title: "a platform key off the curve gives CTAP1_ERR_INVALID_PARAMETER (CTAP 2.0: an error)"},
			func(t *T, pc *pinCase) {
				req := pc.setPINRequest(padded([]byte(testPIN)))
				bad := *req.KeyAgreement
				bad.Y = bytes.Clone(bad.Y)
				bad.Y[31] ^= 1
				req.KeyAgreement = &bad
				_, err := pc.send(req)
				t.ExpectStatus21(err, ctap.StatusInvalidParameter, "setPIN with a point off the curve")
				expectOption(t, t.info(), ctap.OptionClientPIN, false)
			}},
		protocolCase{Case{ID: "change-pin", Section: "CTAP 2.1 §6.5.5.6; CTAP 2.0 §5.5.6", Versions: CTAP2,
			Title: "changePIN replaces the PIN: the new one gives a token, the old one does not"},
			func(t *T, pc *pinCase) {
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
		protocolCase{Case{ID: "change-pin-wrong", Section: "CTAP 2.1 §6.5.5.6 steps 6-7; CTAP 2.0 §5.5.6", Versions: CTAP2,
			Title: "changePIN with a wrong current PIN gives CTAP2_ERR_PIN_INVALID and costs a retry"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				err := pc.cp.ChangePIN(t.ctx, "0000", "87654321")
				t.ExpectStatus(err, ctap.StatusPINInvalid, "changePIN from a wrong PIN")
				Equal(t, "pinRetries", pc.retries(), 7)
			}},
		protocolCase{Case{ID: "change-pin-not-set", Section: "CTAP 2.1 §6.5.5.6 step 3; CTAP 2.0 §5.5.6", Versions: CTAP2,
			Title: "changePIN without a PIN gives CTAP2_ERR_PIN_NOT_SET (CTAP 2.0: an error)"},
			func(t *T, pc *pinCase) {
				err := pc.cp.ChangePIN(t.ctx, testPIN, "87654321")
				t.ExpectStatus21(err, ctap.StatusPINNotSet, "changePIN on a key without a PIN")
			}},
		protocolCase{Case{ID: "change-pin-bad-auth", Section: "CTAP 2.1 §6.5.5.6 step 5; CTAP 2.0 §5.5.6", Versions: CTAP2,
			Title: "changePIN whose MAC does not cover newPinEnc||pinHashEnc gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, pc *pinCase) {
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
		protocolCase{Case{ID: "token-not-set", Section: "CTAP 2.1 §6.5.5.7.1 step 3, §6.5.5.7.2 step 3; CTAP 2.0 §5.5.7", Versions: CTAP2,
			Title: "a PIN token on a key without a PIN gives CTAP2_ERR_PIN_NOT_SET (CTAP 2.0: an error)"},
			func(t *T, pc *pinCase) {
				_, err := pc.send(pc.keyTokenRequest(testPIN))
				t.ExpectStatus21(err, ctap.StatusPINNotSet, "token without a PIN")
			}},
		protocolCase{Case{ID: "token-length", Section: "CTAP 2.1 §6.5.5.7, §6.5.6, §6.5.7; CTAP 2.0 §5.5.7", Versions: CTAP2,
			Title: "the decrypted pinUvAuthToken has the protocol's length"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, "")
				if pc.v == 2 && len(tok) != 32 || pc.v == 1 && (len(tok) == 0 || len(tok)%16 != 0) {
					t.Fatalf("token of %d bytes for protocol %d", len(tok), pc.v)
				}
			}},
		protocolCase{Case{ID: "token-wrong-pin", Section: "CTAP 2.1 §6.5.5.7.2 steps 6-8; CTAP 2.0 §5.5.7", Versions: CTAP2,
			Title: "a wrong PIN gives CTAP2_ERR_PIN_INVALID and pinRetries drops by one; the right one restores it"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				t.ExpectStatus(pc.wrongPIN(), ctap.StatusPINInvalid, "token with a wrong PIN")
				Equal(t, "pinRetries", pc.retries(), 7)
				pc.token(ctap.PermissionGetAssertion, "")
				Equal(t, "pinRetries after the right PIN", pc.retries(), 8)
			}},
		protocolCase{Case{ID: "auth-blocked", Section: "CTAP 2.1 §6.5.5.7.2 step 8; CTAP 2.0 §5.5.7", Versions: CTAP2, Needs: []Capability{CapPowerCycle},
			Title: "the third wrong PIN in a row gives CTAP2_ERR_PIN_AUTH_BLOCKED until a power cycle"},
			func(t *T, pc *pinCase) {
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
		protocolCase{Case{ID: "power-cycle-state", Section: "CTAP 2.1 §6.5.5.2", Versions: CTAP21,
			Title: "getPINRetries reports powerCycleState true while auth is blocked"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				for range 3 {
					pc.wrongPIN()
				}
				_, pcs, err := pc.cp.GetPinRetries(t.ctx)
				if err != nil {
					t.Fatalf("getPINRetries: %v", err)
				}
				if pcs == nil || !*pcs {
					t.Fatalf("powerCycleState %v, want true", deref(pcs))
				}
			}},
		protocolCase{Case{ID: "pin-blocked", Section: "CTAP 2.1 §6.5.5.7.2 steps 5, 8; CTAP 2.0 §5.5.7", Versions: CTAP2, Needs: []Capability{CapPowerCycle},
			Title: "eight wrong PINs block the PIN: CTAP2_ERR_PIN_BLOCKED, even for the right one"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				for i := 1; i <= 8; i++ {
					err := pc.wrongPIN()
					switch {
					case i == 8 && t.Lists(FIDO21):
						t.ExpectStatus(err, ctap.StatusPINBlocked, "eighth wrong PIN")
					case i == 8:
						// CTAP 2.0 §5.5.7 does not order the check of the
						// last retry against the mismatch's PIN_INVALID.
						t.ExpectOneOf(err, "eighth wrong PIN", ctap.StatusPINBlocked, ctap.StatusPINInvalid)
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
		protocolCase{Case{ID: "permission-mc", Section: "CTAP 2.1 §6.1.2 step 11; CTAP 2.0 §5.1 step 6", Versions: CTAP2,
			Title: "a token with mc (getPinToken's on a key without pinUvAuthToken) makes a credential with UP and UV"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				att, err := pc.mc("uv", false, pc.token(ctap.PermissionMakeCredential, t.RPID()))
				if err != nil {
					t.Fatalf("makeCredential with a token: %v", err)
				}
				if !att.AuthData.Flags.Has(ctap.FlagUV | ctap.FlagUP) {
					t.Fatalf("flags %v, want UP and UV", att.AuthData.Flags)
				}
			}},
		protocolCase{Case{ID: "permission-ga", Section: "CTAP 2.1 §6.2.2 steps 11, 12; CTAP 2.0 §5.2", Versions: CTAP2,
			Title: "a token with ga gives an assertion with the UV flag and the user's id"},
			func(t *T, pc *pinCase) {
				cred := t.MustMakeCredential(t.residentRequest("named"))
				pc.setPIN()
				a, err := pc.ga("named", pc.token(ctap.PermissionGetAssertion, t.RPID()))
				if err != nil {
					t.Fatalf("getAssertion with a token: %v", err)
				}
				if !a.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("flags %v, want UV", a.AuthData.Flags)
				}
				expectUser(t, a.User, cred.User)
			}},
		protocolCase{Case{ID: "permission-ga-refused-for-mc", Section: "CTAP 2.1 §6.1.2 step 11", Versions: CTAP21,
			Title: "a token with only ga gives CTAP2_ERR_PIN_AUTH_INVALID for makeCredential"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				pc.setPIN()
				_, err := pc.mc("ga-only", false, pc.token(ctap.PermissionGetAssertion, t.RPID()))
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a ga token")
			}},
		protocolCase{Case{ID: "permission-mc-refused-for-ga", Section: "CTAP 2.1 §6.2.2 step 11", Versions: CTAP21,
			Title: "a token with only mc gives CTAP2_ERR_PIN_AUTH_INVALID for getAssertion"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				cred := t.MakeCredential("mc-only", false)
				pc.setPIN()
				_, err := pc.ga("mc-only", pc.token(ctap.PermissionMakeCredential, t.RPID()), cred)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "getAssertion with an mc token")
			}},
		protocolCase{Case{ID: "permission-zero", Section: "CTAP 2.1 §6.5.5.7.2 step 2", Versions: CTAP21,
			Title: "permissions 0 gives CTAP1_ERR_INVALID_PARAMETER"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, u64(0), nil))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "token with no permission")
			}},
		protocolCase{Case{ID: "permission-missing", Section: "CTAP 2.1 §6.5.5.7.2 step 1", Versions: CTAP21,
			Title: "getPinUvAuthTokenUsingPinWithPermissions without permissions gives CTAP2_ERR_MISSING_PARAMETER"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, nil, nil))
				t.ExpectStatus(err, ctap.StatusMissingParameter, "token request without permissions")
			}},
		protocolCase{Case{ID: "permission-be-unsupported", Section: "CTAP 2.1 §6.5.5.7.2 step 4", Versions: CTAP21,
			Title: "the be permission on a key without bio enrollment gives CTAP2_ERR_UNAUTHORIZED_PERMISSION"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				if _, ok := t.Ctap2().Info().Options[ctap.OptionBioEnroll]; ok {
					t.skipFeature("the key supports bio enrollment")
				}
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, u64(ctap.PermissionBioEnrollment), nil))
				t.ExpectStatus(err, ctap.StatusUnauthorizedPermission, "token with be")
			}},
		protocolCase{Case{ID: "legacy-token-permissions", Section: "CTAP 2.1 §6.5.5.7.1 step 1", Versions: CTAP21,
			Title: "getPinToken with a permissions member gives CTAP1_ERR_INVALID_PARAMETER"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinToken, testPIN, u64(ctap.PermissionMakeCredential), nil))
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "getPinToken with permissions")
			}},
		protocolCase{Case{ID: "legacy-token-mc-ga", Section: "CTAP 2.1 §6.5.5.7.1; CTAP 2.0 §5.5.7", Versions: CTAP2,
			Title: "getPinToken grants mc and ga"},
			func(t *T, pc *pinCase) {
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
		// getPinToken (0x05) is every key's token subcommand; a CTAP 2.1
		// key keeps it beside 0x09 with the same retry rules.
		protocolCase{Case{ID: "legacy-token-wrong-pin", Section: "CTAP 2.1 §6.5.5.7.1 steps 5-7; CTAP 2.0 §5.5.7", Versions: CTAP2,
			Title: "getPinToken with a wrong PIN gives CTAP2_ERR_PIN_INVALID and costs a retry; the right PIN restores pinRetries"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinToken, "9999", nil, nil))
				t.ExpectStatus(err, ctap.StatusPINInvalid, "getPinToken with a wrong PIN")
				Equal(t, "pinRetries", pc.retries(), 7)
				if _, err := pc.send(pc.tokenRequest(ctap.PINGetPinToken, testPIN, nil, nil)); err != nil {
					t.Fatalf("getPinToken with the right PIN: %v", err)
				}
				Equal(t, "pinRetries after the right PIN", pc.retries(), 8)
			}},
		protocolCase{Case{ID: "legacy-auth-blocked", Section: "CTAP 2.1 §6.5.5.7.1 step 7; CTAP 2.0 §5.5.7", Versions: CTAP2, Needs: []Capability{CapPowerCycle},
			Title: "the third wrong PIN in a row through getPinToken gives CTAP2_ERR_PIN_AUTH_BLOCKED until a power cycle"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				wrong := func() error {
					_, err := pc.send(pc.tokenRequest(ctap.PINGetPinToken, "9999", nil, nil))
					return err
				}
				t.ExpectStatus(wrong(), ctap.StatusPINInvalid, "first wrong PIN")
				t.ExpectStatus(wrong(), ctap.StatusPINInvalid, "second wrong PIN")
				t.ExpectStatus(wrong(), ctap.StatusPINAuthBlocked, "third wrong PIN")
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinToken, testPIN, nil, nil))
				t.ExpectStatus(err, ctap.StatusPINAuthBlocked, "the right PIN while blocked")
				t.PowerCycle()
				pc.refresh()
				if _, err := pc.send(pc.tokenRequest(ctap.PINGetPinToken, testPIN, nil, nil)); err != nil {
					t.Fatalf("getPinToken with the right PIN after a power cycle: %v", err)
				}
				Equal(t, "pinRetries", pc.retries(), 8)
			}},
		protocolCase{Case{ID: "token-used-up", Section: "CTAP 2.1 §6.1.2 step 14; §6.5.2 clearPinUvAuthTokenPermissionsExceptLbw", Versions: CTAP21,
			Title: "after a makeCredential with a touch, the same token gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, t.RPID())
				if _, err := pc.mc("once", false, tok); err != nil {
					t.Fatalf("first use: %v", err)
				}
				_, err := pc.mc("twice", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "second use of the token")
			}},
		protocolCase{Case{ID: "rpid-binding", Section: "CTAP 2.1 §6.1.2 step 11; §6.5.2", Versions: CTAP21,
			Title: "a token bound to one RP ID gives CTAP2_ERR_PIN_AUTH_INVALID for another"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, "elsewhere.example")
				_, err := pc.mc("bound", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential for another RP")
			}},
		protocolCase{Case{ID: "rpid-bound-on-first-use", Section: "CTAP 2.1 §6.2.2 step 11; §6.5.2", Versions: CTAP21,
			Title: "a token without an RP ID is bound to the first RP it is used for"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
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
		protocolCase{Case{ID: "token-expires", Section: "CTAP 2.1 §6.5.2", Versions: CTAP21, Needs: []Capability{CapClock},
			Title: "a token is refused once its usage time has passed (11 minutes later)"},
			func(t *T, pc *pinCase) {
				t.needTokenOption()
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				t.Advance(11 * time.Minute)
				_, err := pc.mc("late", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with an expired token")
			}},
		protocolCase{Case{ID: "token-after-power-cycle", Section: "CTAP 2.1 §6.5.2; CTAP 2.0 §5.5.2", Versions: CTAP2, Needs: []Capability{CapPowerCycle},
			Title: "a power cycle invalidates the token"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				t.PowerCycle()
				_, err := pc.mc("cycled", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a pre-power-cycle token")
			}},
		// CTAP 2.0's pinToken lives from one power-up to the next and
		// getPINToken returns the same one: these two are CTAP 2.1's.
		protocolCase{Case{ID: "new-token-invalidates-old", Section: "CTAP 2.1 §6.5.5.7.2 step 9 (resetPinUvAuthToken)", Versions: CTAP21,
			Title: "getting a new token invalidates the previous one"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				old := pc.token(ctap.PermissionMakeCredential, t.RPID())
				pc.token(ctap.PermissionMakeCredential, t.RPID())
				_, err := pc.mc("old", false, old)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with the older token")
			}},
		protocolCase{Case{ID: "change-pin-invalidates-token", Section: "CTAP 2.1 §6.5.5.6 step 11", Versions: CTAP21,
			Title: "changePIN invalidates existing tokens"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				if err := pc.cp.ChangePIN(t.ctx, testPIN, "87654321"); err != nil {
					t.Fatalf("changePIN: %v", err)
				}
				_, err := pc.mc("changed", false, tok)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a token from before changePIN")
			}},
		protocolCase{Case{ID: "auth-param-wrong-length", Section: "CTAP 2.1 §6.1.2 step 11; CTAP 2.0 §5.1 step 6", Versions: CTAP2,
			Title: "a pinUvAuthParam one byte short gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				req := t.MakeCredentialRequest("short", false)
				p := pc.p.AuthParam(tok, req.ClientDataHash)
				req.PinUvAuthParam = p[:len(p)-1]
				req.PinUvAuthProtocol = pc.protocol()
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a short pinUvAuthParam")
			}},
		protocolCase{Case{ID: "auth-param-wrong-hash", Section: "CTAP 2.1 §6.1.2 step 11; CTAP 2.0 §5.1 step 6", Versions: CTAP2,
			Title: "a pinUvAuthParam over another clientDataHash gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				tok := pc.token(ctap.PermissionMakeCredential, t.RPID())
				req := t.MakeCredentialRequest("hash", false)
				req.PinUvAuthParam = pc.p.AuthParam(tok, t.Hash("other"))
				req.PinUvAuthProtocol = pc.protocol()
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a MAC over another hash")
			}},
		protocolCase{Case{ID: "mc-probe-pin-set", Section: "CTAP 2.1 §6.1.2 step 1; CTAP 2.0 §5.1 step 1", Versions: CTAP2,
			Title: "a zero-length pinUvAuthParam on a key with a PIN gives CTAP2_ERR_PIN_INVALID"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				req := t.MakeCredentialRequest("probe", false)
				req.PinUvAuthParam = []byte{}
				req.PinUvAuthProtocol = pc.protocol()
				st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(probeMap(req)))
				Equal(t, "status", st, ctap.StatusPINInvalid)
			}},
		// CTAP 2.0 requires a pinAuth for every makeCredential once a PIN
		// is set (CTAP2_ERR_PIN_REQUIRED, the code CTAP 2.1 calls
		// PUAT_REQUIRED); CTAP 2.1 keeps that for rk=true.
		protocolCase{Case{ID: "mc-rk-needs-token", Section: "CTAP 2.1 §6.1.2 step 6; CTAP 2.0 §5.1 step 7", Versions: CTAP2,
			Title: "with a PIN set, an rk credential without a token gives CTAP2_ERR_PUAT_REQUIRED (0x36)"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				_, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("rk", true))
				t.ExpectStatus(err, ctap.StatusPUATRequired, "rk makeCredential without a token")
			}},
		protocolCase{Case{ID: "mc-non-rk-without-token", Section: "CTAP 2.1 §6.1.2 step 6; §6.4 makeCredUvNotRqd", Versions: CTAP21,
			Title: "with makeCredUvNotRqd, a non-rk credential without a token is made without UV"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				if !t.info().Options[ctap.OptionMakeCredUvNotRqd] {
					t.skipFeature("the key does not advertise makeCredUvNotRqd")
				}
				cred := t.MakeCredential("plain", false)
				if cred.Response.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("UV flag without user verification")
				}
			}},
		protocolCase{Case{ID: "ga-without-token", Section: "CTAP 2.1 §6.2.2 step 6; CTAP 2.0 §5.2", Versions: CTAP2,
			Title: "with a PIN set, getAssertion without a token works without UV"},
			func(t *T, pc *pinCase) {
				cred := t.MakeCredential("before", false)
				pc.setPIN()
				a := t.MustGetAssertion(t.GetAssertionRequest("before", cred))
				if a.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("UV flag without user verification")
				}
			}},
		protocolCase{Case{ID: "reset-clears-pin", Section: "CTAP 2.1 §6.6; CTAP 2.0 §5.4", Versions: CTAP2, Needs: []Capability{CapPowerCycle},
			Title: "reset removes the PIN: clientPin false and pinRetries 8"},
			func(t *T, pc *pinCase) {
				pc.setPIN()
				pc.wrongPIN()
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				expectOption(t, t.info(), ctap.OptionClientPIN, false)
				pc.refresh()
				Equal(t, "pinRetries", pc.retries(), 8)
			}},
	)...)
	Register(
		Case{ID: "cp-info-options", Section: "CTAP 2.1 §6.4; CTAP 2.0 §5.4", Versions: CTAP2,
			Title: "a key with clientPin lists its PIN/UV auth protocols, no duplicates; with FIDO_2_1, pinUvAuthToken true",
			Run: func(t *T) {
				info := t.Ctap2().Info()
				if _, ok := info.Options[ctap.OptionClientPIN]; !ok {
					t.skipFeature("the key has no clientPin option")
				}
				ps := info.PinUvProtocols
				if len(ps) == 0 {
					t.Fatalf("clientPin without pinUvAuthProtocols")
				}
				for i, p := range ps {
					if slices.Contains(ps[:i], p) {
						t.Fatalf("pinUvAuthProtocols %v lists %d twice", ps, p)
					}
				}
				if !t.Lists(FIDO21) {
					if !slices.Contains(ps, 1) {
						t.Fatalf("pinProtocols %v without protocol 1, the only one CTAP 2.0 defines", ps)
					}
					return
				}
				if !info.Options[ctap.OptionPinUvAuthToken] {
					t.Fatalf("FIDO_2_1 key with clientPin but pinUvAuthToken %v", info.Options)
				}
				if !slices.Contains(ps, 2) {
					t.Observef("a FIDO_2_1 key with protocol 1 only: pinUvAuthProtocols %v", ps)
				} else if ps[0] != 2 {
					t.Observef("the key prefers protocol %d (pinUvAuthProtocols %v)", ps[0], ps)
				}
			}},
		Case{ID: "cp-mc-probe-no-pin", Section: "CTAP 2.1 §6.1.2 step 1; CTAP 2.0 §5.1 step 1", Versions: CTAP2, Destructive: true,
			Title: "a zero-length pinUvAuthParam on a key without a PIN gives CTAP2_ERR_PIN_NOT_SET",
			Run: func(t *T) {
				v := t.preferredProtocol()
				t.needFreshKey()
				req := t.MakeCredentialRequest("probe", false)
				req.PinUvAuthParam = []byte{}
				req.PinUvAuthProtocol = u64(v)
				st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(probeMap(req)))
				Equal(t, "status", st, ctap.StatusPINNotSet)
			}},
		Case{ID: "cp-ga-probe-no-pin", Section: "CTAP 2.1 §6.2.2 step 1; CTAP 2.0 §5.2 step 1", Versions: CTAP2, Destructive: true,
			Title: "a zero-length pinUvAuthParam in getAssertion on a key without a PIN gives CTAP2_ERR_PIN_NOT_SET",
			Run: func(t *T) {
				v := t.preferredProtocol()
				t.needFreshKey()
				m := map[int]any{1: t.RPID(), 2: t.Hash("probe"), 6: []byte{}, 7: v}
				st, _ := t.Raw(ctap.CmdGetAssertion, t.Encode(m))
				Equal(t, "status", st, ctap.StatusPINNotSet)
			}},
		Case{ID: "cp-unsupported-protocol", Section: "CTAP 2.1 §6.5.5 (step 2 of each subcommand); CTAP 2.0 §5.5", Versions: CTAP2,
			Title: "pinUvAuthProtocol 3 gives CTAP1_ERR_INVALID_PARAMETER (CTAP 2.0: an error)",
			Run: func(t *T) {
				t.needClientPINCommand()
				st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(map[int]any{1: 3, 2: ctap.PINGetKeyAgreement}))
				t.ExpectStatus21(statusErr(st), ctap.StatusInvalidParameter, "getKeyAgreement with protocol 3")
			}},
		Case{ID: "cp-missing-subcommand", Section: "CTAP 2.1 §6.5.5; CTAP 2.0 §5.5", Versions: CTAP2,
			Title: "clientPIN without subCommand gives CTAP2_ERR_MISSING_PARAMETER (CTAP 2.0: an error)",
			Run: func(t *T) {
				t.needClientPINCommand()
				st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(map[int]any{1: t.preferredProtocol()}))
				t.ExpectStatus21(statusErr(st), ctap.StatusMissingParameter, "clientPIN without subCommand")
			}},
		Case{ID: "cp-unknown-subcommand", Section: "CTAP 2.1 §6.5.5; CTAP 2.0 §5.5", Versions: CTAP2,
			Title: "clientPIN subCommand 0x42 gives CTAP2_ERR_INVALID_SUBCOMMAND (CTAP 2.0: an error)",
			Run: func(t *T) {
				t.needClientPINCommand()
				st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(map[int]any{1: t.preferredProtocol(), 2: 0x42}))
				t.ExpectStatus21(statusErr(st), ctap.StatusInvalidSubcommand, "subCommand 0x42")
			}},
		Case{ID: "cp-mc-param-without-protocol", Section: "CTAP 2.1 §6.1.2 step 2; CTAP 2.0 §5.1 step 7", Versions: CTAP2,
			Title: "pinUvAuthParam without pinUvAuthProtocol gives CTAP2_ERR_MISSING_PARAMETER (CTAP 2.0: an unsupported protocol, PIN_AUTH_INVALID)",
			Run: func(t *T) {
				req := t.MakeCredentialRequest("noproto", false)
				req.PinUvAuthParam = make([]byte, 32)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				if t.Lists(FIDO21) {
					t.ExpectStatus(err, ctap.StatusMissingParameter, "pinUvAuthParam without a protocol")
					return
				}
				t.ExpectOneOf(err, "pinUvAuthParam without a protocol", ctap.StatusPINAuthInvalid, ctap.StatusMissingParameter)
			}},
		Case{ID: "cp-mc-unsupported-protocol", Section: "CTAP 2.1 §6.1.2 step 2; CTAP 2.0 §5.1 step 7", Versions: CTAP2,
			Title: "makeCredential with pinUvAuthProtocol 3 gives CTAP1_ERR_INVALID_PARAMETER (CTAP 2.0: CTAP2_ERR_PIN_AUTH_INVALID)",
			Run: func(t *T) {
				req := t.MakeCredentialRequest("proto3", false)
				req.PinUvAuthParam = make([]byte, 32)
				req.PinUvAuthProtocol = u64(3)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				if t.Lists(FIDO21) {
					t.ExpectStatus(err, ctap.StatusInvalidParameter, "protocol 3")
					return
				}
				t.ExpectOneOf(err, "protocol 3", ctap.StatusPINAuthInvalid, ctap.StatusInvalidParameter)
			}},
		Case{ID: "cp-token-protocol-mismatch", Section: "CTAP 2.1 §6.1.2 step 11", Versions: CTAP21, Destructive: true,
			Title: "a protocol-2 token used with pinUvAuthProtocol 1 gives CTAP2_ERR_PIN_AUTH_INVALID",
			Run: func(t *T) {
				if ps := t.keyProtocols(); !slices.Contains(ps, 1) || !slices.Contains(ps, 2) {
					t.skipFeature("the key does not list both PIN/UV auth protocols (%v)", ps)
				}
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
