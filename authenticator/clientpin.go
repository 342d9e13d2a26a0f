package authenticator

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/virtkey/virtkey/ctap"
)

// PIN policy and pinUvAuthToken limits (CTAP 2.1 §6.5).
const (
	// MaxPINRetries is maxPINRetries: a PIN is blocked after this many
	// wrong attempts in a row, across power cycles (§6.5.2.2).
	MaxPINRetries = 8
	// MaxPINMismatchesPerBoot is how many consecutive wrong PINs the key
	// accepts before it answers CTAP2_ERR_PIN_AUTH_BLOCKED until the next
	// power cycle (§6.5.5.6 step 7, §6.5.5.7).
	MaxPINMismatchesPerBoot = 3
	// MinPINLength is minPINLength in Unicode code points (§6.4, §6.5.5.5).
	MinPINLength = 4
	// TokenInitialUsageLimit is the initial usage time limit of a
	// pinUvAuthToken for USB: a token not used within it stops working
	// (§6.5.2.1, pinUvAuthTokenUsageTimerObserver).
	TokenInitialUsageLimit = 30 * time.Second
	// TokenMaxUsagePeriod is the maximum usage time period of a
	// pinUvAuthToken, counted from its issue (§6.5.2.1).
	TokenMaxUsagePeriod = 10 * time.Minute
	// TokenUserPresentTimeLimit is the user present time limit of a
	// pinUvAuthToken for USB, the same as its initial usage limit: a
	// token's userPresent flag (set when built-in UV issued it) counts
	// only this long after issue (§6.5.2.1, getUserPresentFlagValue).
	TokenUserPresentTimeLimit = TokenInitialUsageLimit
)

// supportedPermissions are the pinUvAuthToken permissions this key grants
// with a PIN (§6.5.5.7.2 step 4): mc, ga, cm, lbw and acfg, each backed by
// its getInfo option; be is granted separately, only on a key with a
// fingerprint sensor.
const supportedPermissions = ctap.PermissionMakeCredential | ctap.PermissionGetAssertion | ctap.PermissionLargeBlobWrite |
	ctap.PermissionAuthenticatorConfig | ctap.PermissionCredentialManagement

// pinSet reports whether a PIN is configured (getInfo option clientPin).
func (a *Authenticator) pinSet() bool { return len(a.state.PINHash) != 0 }

// keyAgreementKey returns the current key agreement key, generating it
// from Config.Rand when there is none (§6.5.4 initialize).
func (a *Authenticator) keyAgreementKey() (*ctap.KeyAgreementKey, error) {
	if a.rt.keyAgreement == nil {
		k, err := ctap.GenerateKeyAgreementKey(a.rand)
		if err != nil {
			return nil, err
		}
		a.rt.keyAgreement = k
	}
	return a.rt.keyAgreement, nil
}

// clientPINState is one authenticatorClientPIN (CTAP 2.1 §6.5.5). handle
// dispatches on subCommand; each subcommand method runs its section's
// numbered steps in order.
type clientPINState struct {
	a      *Authenticator
	ctx    context.Context
	req    ctap.ClientPINRequest
	proto  ctap.PINProtocol
	shared []byte
	resp   ctap.ClientPINResponse
}

func (a *Authenticator) clientPIN(ctx context.Context, params []byte) ([]byte, error) {
	hs := &clientPINState{a: a, ctx: ctx}
	if err := ctap.UnmarshalRequest(params, &hs.req); err != nil {
		return nil, err
	}
	if err := hs.handle(); err != nil {
		return nil, err
	}
	if r := hs.resp; r.KeyAgreement == nil && r.PinUvAuthToken == nil && r.PINRetries == nil &&
		r.PowerCycleState == nil && r.UVRetries == nil {
		// setPIN and changePIN answer CTAP2_OK alone (§6.5.5.5, §6.5.5.6).
		return nil, nil
	}
	return ctap.Marshal(&hs.resp)
}

// handle dispatches on subCommand (§6.5.5.1). A missing subCommand is
// CTAP2_ERR_MISSING_PARAMETER, an unknown one CTAP2_ERR_INVALID_SUBCOMMAND.
// getPinUvAuthTokenUsingUvWithPermissions and getUVRetries apply only to
// a key with built-in user verification (§6.5.5.3, §6.5.5.7.3; uv.go);
// without Config.BuiltInUV (the "uv" option absent) they are
// CTAP2_ERR_INVALID_SUBCOMMAND too. So are the PIN subcommands on a key
// without a PIN (Config.NoClientPIN), and on a CTAP 2.0 key the three
// subcommands CTAP 2.1 added (0x06, 0x07, 0x09): CTAP 2.0 §5.5.3 lists
// subCommands 0x01 to 0x05 alone.
func (hs *clientPINState) handle() error {
	if hs.req.SubCommand == nil {
		return fmt.Errorf("%w: subCommand", ctap.StatusMissingParameter)
	}
	a := hs.a
	pin, ctap21 := a.feat.clientPIN, a.feat.ctap21
	switch *hs.req.SubCommand {
	case ctap.PINGetPINRetries:
		if pin {
			return hs.getPINRetries()
		}
	case ctap.PINGetKeyAgreement:
		return hs.getKeyAgreement()
	case ctap.PINSetPIN:
		if pin {
			return hs.setPIN()
		}
	case ctap.PINChangePIN:
		if pin {
			return hs.changePIN()
		}
	case ctap.PINGetPinToken:
		if pin {
			return hs.getPinToken()
		}
	case ctap.PINGetPinUvAuthTokenUsingPinWithPermissions:
		if pin && ctap21 {
			return hs.getPinUvAuthTokenUsingPin()
		}
	case ctap.PINGetUVRetries:
		if a.builtInUV && ctap21 {
			return hs.getUVRetries()
		}
	case ctap.PINGetPinUvAuthTokenUsingUvWithPermissions:
		if a.builtInUV && ctap21 {
			return hs.getPinUvAuthTokenUsingUV()
		}
	}
	return fmt.Errorf("%w: subCommand %d", ctap.StatusInvalidSubcommand, *hs.req.SubCommand)
}

// checkProtocol requires pinUvAuthProtocol (CTAP2_ERR_MISSING_PARAMETER)
// and a supported one (CTAP1_ERR_INVALID_PARAMETER).
func (hs *clientPINState) checkProtocol() error {
	if hs.req.PinUvAuthProtocol == nil {
		return fmt.Errorf("%w: pinUvAuthProtocol", ctap.StatusMissingParameter)
	}
	p, ok := ctap.PINProtocolByVersion(*hs.req.PinUvAuthProtocol)
	if !ok && hs.a.faulty(FaultPINProtocolCrash) {
		panic(fmt.Sprintf("fault %s: pinUvAuthProtocol %d indexes past the protocol table", FaultPINProtocolCrash, *hs.req.PinUvAuthProtocol))
	}
	if !ok || !hs.a.supportsProtocol(*hs.req.PinUvAuthProtocol) { // Config.PinUvAuthProtocols
		return fmt.Errorf("%w: pinUvAuthProtocol %d", ctap.StatusInvalidParameter, *hs.req.PinUvAuthProtocol)
	}
	hs.proto = p
	return nil
}

// require reports the first absent member as CTAP2_ERR_MISSING_PARAMETER.
func require(members ...any) error {
	for i := 0; i < len(members); i += 2 {
		absent := false
		switch v := members[i+1].(type) {
		case []byte:
			absent = v == nil
		case *ctap.COSEKey:
			absent = v == nil
		case *uint64:
			absent = v == nil
		}
		if absent {
			return fmt.Errorf("%w: %s", ctap.StatusMissingParameter, members[i])
		}
	}
	return nil
}

// decapsulate is the authenticator's decapsulate(keyAgreement) (§6.5.6):
// a key that is not a P-256 point is CTAP1_ERR_INVALID_PARAMETER.
func (hs *clientPINState) decapsulate() error {
	k, err := hs.a.keyAgreementKey()
	if err != nil {
		return err
	}
	ss, err := k.SharedSecret(hs.proto, *hs.req.KeyAgreement)
	if err != nil {
		return fmt.Errorf("%w: keyAgreement: %w", ctap.StatusInvalidParameter, err)
	}
	hs.shared = ss
	return nil
}

// getPINRetries is §6.5.5.2: pinRetries (MaxPINRetries while no PIN is
// set) and powerCycleState, true when the key needs a power cycle before
// the next PIN attempt.
func (hs *clientPINState) getPINRetries() error {
	retries := uint64(MaxPINRetries)
	if hs.a.pinSet() {
		retries = uint64(hs.a.state.PINRetries)
	}
	blocked := hs.a.rt.mismatches >= MaxPINMismatchesPerBoot
	hs.resp.PINRetries = &retries
	hs.resp.PowerCycleState = &blocked
	return nil
}

// getKeyAgreement is §6.5.5.4: the key agreement public key as a COSE_Key
// with alg -25.
func (hs *clientPINState) getKeyAgreement() error {
	if err := hs.checkProtocol(); err != nil {
		return err
	}
	k, err := hs.a.keyAgreementKey()
	if err != nil {
		return err
	}
	ck := k.COSEKey()
	hs.resp.KeyAgreement = &ck
	return nil
}

// setPIN is §6.5.5.5.
func (hs *clientPINState) setPIN() error {
	r := &hs.req
	if err := require("pinUvAuthProtocol", r.PinUvAuthProtocol, "keyAgreement", r.KeyAgreement,
		"newPinEnc", r.NewPinEnc, "pinUvAuthParam", r.PinUvAuthParam); err != nil { // step 1
		return err
	}
	if err := hs.checkProtocol(); err != nil { // step 2
		return err
	}
	if hs.a.pinSet() && !hs.a.faulty(FaultSetPINTwice) { // step 3: PIN_AUTH_INVALID, as CTAP 2.0 §5.5.5 had it too
		return fmt.Errorf("%w: a PIN is already set", ctap.StatusPINAuthInvalid)
	}
	if err := hs.decapsulate(); err != nil { // step 4
		return err
	}
	if !hs.proto.Verify(hs.shared, r.NewPinEnc, r.PinUvAuthParam) { // step 5
		return fmt.Errorf("%w: pinUvAuthParam over newPinEnc", ctap.StatusPINAuthInvalid)
	}
	pin, err := hs.decryptNewPIN() // steps 6, 7
	if err != nil {
		return err
	}
	a := hs.a // step 8, durable before the response
	a.state.PINHash = ctap.PINHash(pin)
	a.state.PINRetries = MaxPINRetries
	a.state.ForcePINChange = false
	a.state.PINCodePoints = utf8.RuneCountInString(pin) // for setMinPINLength (config.go)
	return a.save()
}

// decryptNewPIN is §6.5.5.5 steps 6 and 7 (and §6.5.5.6 steps 8 and 9):
// newPinEnc that does not decrypt to 64 bytes of padded PIN is
// CTAP1_ERR_INVALID_PARAMETER; a PIN shorter than MinPINLength code
// points, longer than 63 bytes or not UTF-8 is
// CTAP2_ERR_PIN_POLICY_VIOLATION.
func (hs *clientPINState) decryptNewPIN() (string, error) {
	padded, err := hs.proto.Decrypt(hs.shared, hs.req.NewPinEnc)
	if err != nil {
		return "", fmt.Errorf("%w: newPinEnc: %w", ctap.StatusInvalidParameter, err)
	}
	pin, err := ctap.UnpadPIN(padded)
	switch {
	case errors.Is(err, ctap.ErrPINPadding):
		return "", fmt.Errorf("%w: %w", ctap.StatusInvalidParameter, err)
	case err != nil:
		return "", fmt.Errorf("%w: %w", ctap.StatusPINPolicyViolation, err)
	case utf8.RuneCountInString(pin) < hs.a.minPINLength() && !hs.a.faulty(FaultPINMinLengthIgnored): // setMinPINLength may have raised it (config.go)
		return "", fmt.Errorf("%w: PIN shorter than %d code points", ctap.StatusPINPolicyViolation, hs.a.minPINLength())
	case hs.a.pinComplexityEnforced() && !pinComplexityOK(pin): // CTAP 2.2 (ext_pincomplexity.go)
		return "", fmt.Errorf("%w: the PIN complexity policy refuses a repeated or sequential PIN", ctap.StatusPINPolicyViolation)
	}
	return pin, nil
}

// checkPINHash is the PIN check shared by changePIN (§6.5.5.6 steps 3
// and 6 to 7) and the token subcommands (§6.5.5.7): with no retries left
// CTAP2_ERR_PIN_BLOCKED, after MaxPINMismatchesPerBoot mismatches since
// power-up CTAP2_ERR_PIN_AUTH_BLOCKED. Otherwise pinRetries is decremented
// and saved before pinHashEnc is decrypted and compared (§6.5.5.6 step 6,
// §6.5.5.7.2 step 7: the decrement comes first and does not depend on
// what pinHashEnc holds). Anything that is not the PIN hash, including a
// pinHashEnc that does not decrypt to 16 bytes, is "a mismatch" in the
// sense of §6.5.5.6 step 7 and §6.5.5.7.2 step 8, so at most
// MaxPINMismatchesPerBoot retries go per power-up whatever a host sends.
// A mismatch regenerates the key
// agreement key and answers CTAP2_ERR_PIN_AUTH_BLOCKED on the third
// consecutive one, CTAP2_ERR_PIN_BLOCKED when no retries are left, else
// CTAP2_ERR_PIN_INVALID. A match restores pinRetries to MaxPINRetries
// and uvRetries to MaxUVRetries (§6.5.2.2: a correct PIN unblocks built-in
// user verification too). The caller has decapsulated and verified pinUvAuthParam where its
// subcommand has one.
func (hs *clientPINState) checkPINHash() error {
	a := hs.a
	if !a.faulty(FaultPINRetriesNotDecremented) {
		a.state.PINRetries--
	}
	if err := a.save(); err != nil {
		return err
	}
	// A pinHashEnc that does not decrypt (protocol 1: not a whole number
	// of blocks; protocol 2: shorter than its IV or not a whole number of
	// blocks after it) or decrypts to anything but 16 bytes is a mismatch
	// like a wrong PIN: the retry is already spent, so answering
	// CTAP1_ERR_INVALID_PARAMETER without counting it would let a host use
	// up every retry in one power-up.
	got, err := hs.proto.Decrypt(hs.shared, hs.req.PinHashEnc)
	if err != nil || len(got) != ctap.PINHashSize || subtle.ConstantTimeCompare(got, a.state.PINHash) != 1 {
		a.rt.keyAgreement = nil // regenerated on next use
		a.rt.mismatches++
		switch {
		case a.rt.mismatches >= MaxPINMismatchesPerBoot && !a.faulty(FaultPINMismatchLimitIgnored):
			return fmt.Errorf("%w: %d wrong PINs since power-up", ctap.StatusPINAuthBlocked, a.rt.mismatches)
		case a.state.PINRetries == 0:
			return fmt.Errorf("%w: no retries left", ctap.StatusPINBlocked)
		}
		return fmt.Errorf("%w: %d retries left", ctap.StatusPINInvalid, a.state.PINRetries)
	}
	a.rt.mismatches = 0
	if !a.faulty(FaultPINRetriesNotRestored) {
		a.state.PINRetries = MaxPINRetries
	}
	a.state.UVFailures = 0
	a.state.UVCountSincePIN = 0 // CTAP 2.2 §6.4 uvCountSinceLastPinEntry (ctap22.go)
	return a.save()
}

// checkPINUsable is the blocked checks before a PIN attempt: no PIN is
// CTAP2_ERR_PIN_NOT_SET, no retries CTAP2_ERR_PIN_BLOCKED, too many
// mismatches since power-up CTAP2_ERR_PIN_AUTH_BLOCKED.
func (hs *clientPINState) checkPINUsable() error {
	a := hs.a
	switch {
	case !a.pinSet():
		return ctap.StatusPINNotSet
	case a.state.PINRetries <= 0:
		return fmt.Errorf("%w: no retries left", ctap.StatusPINBlocked)
	case a.rt.mismatches >= MaxPINMismatchesPerBoot && !a.faulty(FaultPINMismatchLimitIgnored):
		return fmt.Errorf("%w: power cycle needed", ctap.StatusPINAuthBlocked)
	}
	return nil
}

// changePIN is §6.5.5.6.
func (hs *clientPINState) changePIN() error {
	r := &hs.req
	if err := require("pinUvAuthProtocol", r.PinUvAuthProtocol, "keyAgreement", r.KeyAgreement,
		"pinHashEnc", r.PinHashEnc, "newPinEnc", r.NewPinEnc, "pinUvAuthParam", r.PinUvAuthParam); err != nil { // step 1
		return err
	}
	if err := hs.checkProtocol(); err != nil { // step 2
		return err
	}
	if err := hs.checkPINUsable(); err != nil { // step 3
		return err
	}
	if err := hs.decapsulate(); err != nil { // step 4
		return err
	}
	msg := append(append([]byte{}, r.NewPinEnc...), r.PinHashEnc...)
	if !hs.proto.Verify(hs.shared, msg, r.PinUvAuthParam) { // step 5
		return fmt.Errorf("%w: pinUvAuthParam over newPinEnc || pinHashEnc", ctap.StatusPINAuthInvalid)
	}
	if err := hs.checkPINHash(); err != nil { // steps 6, 7
		return err
	}
	pin, err := hs.decryptNewPIN() // steps 8, 9
	if err != nil {
		return err
	}
	a := hs.a
	hash := ctap.PINHash(pin)
	if a.state.ForcePINChange && subtle.ConstantTimeCompare(hash, a.state.PINHash) == 1 {
		return fmt.Errorf("%w: forcePINChange needs a different PIN", ctap.StatusPINPolicyViolation)
	}
	if !a.faulty(FaultChangePINNoop) {
		a.state.PINHash = hash // step 10
	}
	a.state.ForcePINChange = false
	a.state.PINCodePoints = utf8.RuneCountInString(pin)
	if !a.faulty(FaultTokenSurvivesChangePIN) {
		a.rt.token = pinToken{} // resetPinUvAuthToken
	}
	a.dropPersistentToken(false) // CTAP 2.2 §6.5.5.6: resetPersistentPinUvAuthToken (ctap22.go)
	return a.save()
}

// getPinToken is §6.5.5.7.1, the CTAP 2.0 subcommand: a token with the
// makeCredential and getAssertion permissions and no permissions RP ID.
// permissions or rpId in the request are CTAP1_ERR_INVALID_PARAMETER.
func (hs *clientPINState) getPinToken() error {
	r := &hs.req
	if err := require("pinUvAuthProtocol", r.PinUvAuthProtocol, "keyAgreement", r.KeyAgreement,
		"pinHashEnc", r.PinHashEnc); err != nil {
		return err
	}
	if r.Permissions != nil || r.RPID != nil {
		return fmt.Errorf("%w: permissions or rpId with getPinToken", ctap.StatusInvalidParameter)
	}
	if err := hs.checkProtocol(); err != nil {
		return err
	}
	if hs.a.faulty(FaultLegacyTokenAllPermissions) {
		return hs.issueToken(ctap.PermissionMakeCredential|ctap.PermissionGetAssertion|ctap.PermissionCredentialManagement|ctap.PermissionLargeBlobWrite|ctap.PermissionAuthenticatorConfig, "")
	}
	return hs.issueToken(ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, "")
}

// getPinUvAuthTokenUsingPin is getPinUvAuthTokenUsingPinWithPermissions
// (§6.5.5.7.2). permissions 0 is CTAP1_ERR_INVALID_PARAMETER; a
// permission outside supportedPermissions (bio enrollment on a key without
// a fingerprint sensor) is CTAP2_ERR_UNAUTHORIZED_PERMISSION.
func (hs *clientPINState) getPinUvAuthTokenUsingPin() error {
	r := &hs.req
	if err := require("pinUvAuthProtocol", r.PinUvAuthProtocol, "keyAgreement", r.KeyAgreement,
		"pinHashEnc", r.PinHashEnc, "permissions", r.Permissions); err != nil { // step 1
		return err
	}
	if err := hs.checkProtocol(); err != nil { // step 2
		return err
	}
	perms := *r.Permissions
	if perms == 0 { // step 3
		return fmt.Errorf("%w: permissions 0", ctap.StatusInvalidParameter)
	}
	if perms&ctap.PermissionPersistentCredMgmtRO != 0 && hs.a.pcmrSupported() {
		return hs.grantPersistentToken(perms) // CTAP 2.2: pcmr (ctap22.go)
	}
	if bad := perms &^ (supportedPermissions | hs.a.bioPermissions()); bad != 0 { // step 4 (be: bio.go)
		return fmt.Errorf("%w: permissions %#x", ctap.StatusUnauthorizedPermission, bad)
	}
	rpID := ""
	if r.RPID != nil {
		rpID = *r.RPID
	}
	return hs.issueToken(perms, rpID)
}

// issueToken is the rest of §6.5.5.7.1 and §6.5.5.7.2: the PIN check;
// forcePINChange is CTAP2_ERR_PIN_POLICY_VIOLATION; then a new token with
// userPresent clear (newToken).
func (hs *clientPINState) issueToken(perms uint64, rpID string) error {
	a := hs.a
	if err := hs.checkPINUsable(); err != nil {
		return err
	}
	if err := hs.decapsulate(); err != nil {
		return err
	}
	if err := hs.checkPINHash(); err != nil {
		return err
	}
	if a.state.ForcePINChange {
		return fmt.Errorf("%w: forcePINChange", ctap.StatusPINPolicyViolation)
	}
	return hs.newToken(perms, rpID, false)
}

// newToken makes a new random pinUvAuthToken, invalidating earlier ones
// (resetPinUvAuthToken), with its permissions and RP ID, userVerified
// set, userPresent as given and its usage timer started
// (beginUsingPinUvAuthToken, §6.5.2.1), and returns it encrypted under
// the shared secret (§6.5.5.7.2 steps 13 to 17, §6.5.5.7.3 steps 12 to
// 16).
func (hs *clientPINState) newToken(perms uint64, rpID string, userPresent bool) error {
	a := hs.a
	value, err := a.randomBytes(32)
	if err != nil {
		return err
	}
	a.rt.token = pinToken{
		value:        value,
		protocol:     hs.proto.Version(),
		permissions:  perms,
		rpID:         rpID,
		issued:       a.now(),
		userPresent:  userPresent,
		userVerified: true,
	}
	enc, err := hs.proto.Encrypt(a.rand, hs.shared, value)
	if err != nil {
		return err
	}
	hs.resp.PinUvAuthToken = enc
	return nil
}
