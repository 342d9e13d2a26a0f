package authenticator

import (
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// authenticatorConfig (CTAP 2.1 §6.11) and the features it switches: the
// alwaysUv option (§6.11.2, §7.2), enterprise attestation (§6.11.1, §7.1)
// and the minimum PIN length (§6.11.4, §7.4). The settings live in State
// (AlwaysUV, EnterpriseAttestation, MinPINLength, MinPINLengthRPIDs); their
// zero values are the factory settings, to which authenticatorReset
// returns (resetConfig).
const (
	// MaxRPIDsForSetMinPINLength is getInfo's maxRPIDsForSetMinPINLength
	// (§6.4): how many RP IDs setMinPINLength accepts in
	// minPinLengthRPIDs.
	MaxRPIDsForSetMinPINLength = 8
	// MaxMinPINLength is the largest newMinPINLength this key accepts: a
	// PIN has at most 63 bytes (§6.5.5.5 step 7), so no PIN could meet a
	// larger minimum.
	MaxMinPINLength = 63
)

// minPINLength is the current minimum PIN length in code points:
// MinPINLength until setMinPINLength raised it (§6.4 minPINLength).
func (a *Authenticator) minPINLength() int { return max(MinPINLength, a.state.MinPINLength) }

// alwaysUV reports whether the alwaysUv option is true (§6.4, §7.2).
func (a *Authenticator) alwaysUV() bool { return a.state.AlwaysUV }

// configInfo adds authenticatorConfig's members to getInfo (§6.4):
// authnrCfg and setMinPINLength true; alwaysUv and ep present with their
// current values (both features are supported, so both are listed even
// when false); makeCredUvNotRqd false while alwaysUv is on (§7.2: "the
// authenticator MUST set the value of makeCredUvNotRqd to false");
// minPINLength the current minimum; maxRPIDsForSetMinPINLength. No
// vendorPrototypeConfigCommands: this key has no vendor commands.
func (a *Authenticator) configInfo(info *ctap.InfoResponse) {
	info.Options[ctap.OptionAuthnrCfg] = true
	info.Options[ctap.OptionSetMinPINLength] = true
	info.Options[ctap.OptionAlwaysUv] = a.alwaysUV()
	info.Options[ctap.OptionEP] = a.state.EnterpriseAttestation
	if a.alwaysUV() {
		info.Options[ctap.OptionMakeCredUvNotRqd] = false
	}
	info.MinPINLength = uint64(a.minPINLength())
	info.MaxRPIDsForSetMinPINLength = MaxRPIDsForSetMinPINLength
}

// resetConfig returns the config settings to the factory values, as
// authenticatorReset does (§6.6): enterprise attestation disabled (§7.1),
// alwaysUv off (§7.2), the minimum PIN length back to MinPINLength and no
// minPinLengthRPIDs (§7.4). The caller saves the state.
func (a *Authenticator) resetConfig() {
	a.state.AlwaysUV = false
	a.state.EnterpriseAttestation = false
	a.state.MinPINLength = 0
	a.state.MinPINLengthRPIDs = nil
	a.state.PINCodePoints = 0
	a.state.PINComplexityPolicy = false
}

// configState is one authenticatorConfig (CTAP 2.1 §6.11). handle runs
// the command's steps in order; each subcommand method runs its section's.
type configState struct {
	a   *Authenticator
	req ctap.ConfigRequest
}

func (a *Authenticator) config(params []byte) ([]byte, error) {
	hs := &configState{a: a}
	if err := ctap.UnmarshalRequest(params, &hs.req); err != nil {
		return nil, err
	}
	// Every subcommand answers CTAP2_OK alone.
	return nil, hs.handle()
}

// handle is §6.11: the subcommand check, the pinUvAuthParam check, then
// the subcommand.
func (hs *configState) handle() error {
	if err := hs.checkSubCommand(); err != nil {
		return err
	}
	if err := hs.verifyPinUvAuthParam(); err != nil {
		return err
	}
	switch *hs.req.SubCommand {
	case ctap.ConfigEnableEnterpriseAttestation:
		return hs.enableEnterpriseAttestation()
	case ctap.ConfigToggleAlwaysUv:
		return hs.toggleAlwaysUV()
	default: // ctap.ConfigSetMinPINLength, as checkSubCommand made sure
		return hs.setMinPINLength()
	}
}

// checkSubCommand requires subCommand (CTAP2_ERR_MISSING_PARAMETER) and
// one this key implements (CTAP2_ERR_INVALID_SUBCOMMAND). vendorPrototype
// (§6.11.5) is one it does not: getInfo lists no
// vendorPrototypeConfigCommands, so there is no vendorCommandId it could
// run, and it is answered as any unsupported subcommand.
func (hs *configState) checkSubCommand() error {
	sub := hs.req.SubCommand
	if sub == nil {
		return fmt.Errorf("%w: subCommand", ctap.StatusMissingParameter)
	}
	switch *sub {
	case ctap.ConfigEnableEnterpriseAttestation:
		if hs.a.feat.ep { // Config.NoEnterpriseAttestation (features.go)
			return nil
		}
	case ctap.ConfigToggleAlwaysUv, ctap.ConfigSetMinPINLength:
		return nil
	}
	return fmt.Errorf("%w: subCommand %#x", ctap.StatusInvalidSubcommand, *sub)
}

// verifyPinUvAuthParam is the authorization of §6.11. A key that is
// protected by some form of user verification (a PIN set, or built-in
// UV), or whose alwaysUv option is true, needs the request authorized:
//   - no pinUvAuthParam is CTAP2_ERR_PUAT_REQUIRED;
//   - no pinUvAuthProtocol is CTAP2_ERR_MISSING_PARAMETER, one this key
//     does not support CTAP1_ERR_INVALID_PARAMETER;
//   - verify(pinUvAuthToken, 32×0xff || 0x0d || uint8(subCommand) ||
//     subCommandParams, pinUvAuthParam) failing is
//     CTAP2_ERR_PIN_AUTH_INVALID, subCommandParams being the bytes as sent;
//   - a token without the acfg permission is CTAP2_ERR_PIN_AUTH_INVALID.
//
// The acfg permission takes no permissions RP ID, so the token's is not
// looked at. A key without a PIN, without built-in UV and with alwaysUv
// off runs the subcommand without authorization, and ignores a
// pinUvAuthParam it was sent.
func (hs *configState) verifyPinUvAuthParam() error {
	a, r := hs.a, &hs.req
	if !a.protectedByUV() && !a.alwaysUV() {
		return nil
	}
	msg := ctap.ConfigAuthMessage(*r.SubCommand, r.SubCommandParams)
	return a.verifyToken(r.PinUvAuthProtocol, r.PinUvAuthParam, msg, tokenUse{perm: ctap.PermissionAuthenticatorConfig})
}

// enableEnterpriseAttestation is §6.11.1. This key supports enterprise
// attestation (getInfo lists ep), so the subcommand enables it, or leaves
// it enabled, and answers CTAP2_OK; getInfo then has ep true. The setting
// is saved before the response.
func (hs *configState) enableEnterpriseAttestation() error {
	if hs.a.faulty(FaultEnableEPNoop) {
		return nil
	}
	hs.a.state.EnterpriseAttestation = true
	return hs.a.save()
}

// toggleAlwaysUV is §6.11.2: alwaysUv goes from false to true or back,
// and makeCredUvNotRqd with it to the opposite (configInfo). The setting
// is saved before the response.
func (hs *configState) toggleAlwaysUV() error {
	if hs.a.faulty(FaultAlwaysUVToggleNoop) {
		return nil
	}
	hs.a.state.AlwaysUV = !hs.a.state.AlwaysUV
	return hs.a.save()
}

// setMinPINLength is §6.11.4. Every check comes before any change:
//  1. subCommandParams, when present, must decode as a map of the
//     subcommand's members (a CBOR error otherwise); absent, every member
//     is absent;
//  2. an absent newMinPINLength is the current minimum PIN length;
//  3. a newMinPINLength below the current minimum is
//     CTAP2_ERR_PIN_POLICY_VIOLATION: the minimum only grows until reset.
//     So is one above MaxMinPINLength, which no PIN could meet;
//  4. more than MaxRPIDsForSetMinPINLength minPinLengthRPIDs is
//     CTAP2_ERR_PIN_POLICY_VIOLATION;
//  5. forceChangePin true with no PIN set is CTAP2_ERR_PIN_NOT_SET;
//  6. the minimum PIN length becomes newMinPINLength, and
//     minPinLengthRPIDs, when present, replaces the stored list;
//  7. forcePINChange becomes true when forceChangePin is true or the
//     current PIN is shorter than the new minimum (a PIN whose length the
//     key did not record, set before it did, counts as MinPINLength long);
//  8. the state is saved before the response.
func (hs *configState) setMinPINLength() error {
	a := hs.a
	var p ctap.SetMinPINLengthParams
	if hs.req.SubCommandParams != nil { // step 1
		if err := ctap.UnmarshalRequest(hs.req.SubCommandParams, &p); err != nil {
			return err
		}
	}
	cur := uint64(a.minPINLength())
	newMin := cur // step 2
	if p.NewMinPINLength != nil {
		newMin = *p.NewMinPINLength
	}
	switch { // step 3
	case newMin < cur && !hs.a.faulty(FaultMinPINLengthShrinks):
		return fmt.Errorf("%w: newMinPINLength %d below the current %d", ctap.StatusPINPolicyViolation, newMin, cur)
	case newMin > MaxMinPINLength:
		return fmt.Errorf("%w: newMinPINLength %d above %d", ctap.StatusPINPolicyViolation, newMin, MaxMinPINLength)
	}
	if len(p.MinPinLengthRPIDs) > MaxRPIDsForSetMinPINLength { // step 4
		return fmt.Errorf("%w: %d minPinLengthRPIDs, at most %d", ctap.StatusPINPolicyViolation,
			len(p.MinPinLengthRPIDs), MaxRPIDsForSetMinPINLength)
	}
	force := p.ForceChangePin != nil && *p.ForceChangePin
	if force && !a.pinSet() { // step 5
		return fmt.Errorf("%w: forceChangePin without a PIN", ctap.StatusPINNotSet)
	}
	if newMin > MinPINLength { // step 6; the default stays zero in State
		a.state.MinPINLength = int(newMin)
	}
	if p.MinPinLengthRPIDs != nil {
		a.state.MinPINLengthRPIDs = append([]string(nil), p.MinPinLengthRPIDs...)
	}
	// CTAP 2.2: pinComplexityPolicy (ext_pincomplexity.go).
	a.setPINComplexityPolicy(p.PinComplexityPolicy)
	if a.pinSet() { // step 7
		pinLen := a.state.PINCodePoints
		if pinLen == 0 {
			pinLen = MinPINLength
		}
		if force || uint64(pinLen) < newMin {
			a.state.ForcePINChange = true
		}
	}
	return a.save() // step 8
}

// checkAlwaysUV is makeCredential §6.1.2 step 6, for a key whose alwaysUv
// option is true. makeCredUvNotRqd is then treated as false (6.1); this
// step leaves steps 7 and 8 nothing to refuse. A key not protected by
// some form of user verification answers CTAP2_ERR_PUAT_REQUIRED, this
// key supporting clientPin for the mc permission (6.2: the platform is to
// set a PIN). Without a pinUvAuthParam, a key with built-in UV treats the
// "uv" option as true (6.3), and a key with only a PIN answers
// CTAP2_ERR_PUAT_REQUIRED (6.4).
func (hs *makeCredentialState) checkAlwaysUV() error {
	a := hs.a
	switch {
	case !a.alwaysUV() || a.faulty(FaultAlwaysUVNotEnforced):
		return nil
	case !a.protectedByUV(): // 6.2
		return fmt.Errorf("%w: alwaysUv and no PIN or built-in UV", ctap.StatusPUATRequired)
	case hs.req.PinUvAuthParam != nil || hs.uv:
		return nil
	case a.uvConfigured(): // 6.3
		hs.uv = true
		return nil
	}
	return fmt.Errorf("%w: alwaysUv and no pinUvAuthParam", ctap.StatusPUATRequired) // 6.4
}

// checkAlwaysUV is getAssertion §6.2.2 step 5: with alwaysUv true and the
// "up" option true, as makeCredential step 6. A key not protected by some
// form of user verification answers CTAP2_ERR_PUAT_REQUIRED (5.1); a
// pinUvAuthParam or the "uv" option go on to step 6 (5.2, 5.3); without
// them a key with built-in UV treats "uv" as true (5.4) and a key with
// only a PIN answers CTAP2_ERR_PUAT_REQUIRED (5.5). A request with "up"
// false is not affected.
func (hs *getAssertionState) checkAlwaysUV() error {
	a := hs.a
	switch {
	case !a.alwaysUV() || !hs.up || a.faulty(FaultAlwaysUVNotEnforced):
		return nil
	case !a.protectedByUV(): // 5.1
		return fmt.Errorf("%w: alwaysUv and no PIN or built-in UV", ctap.StatusPUATRequired)
	case hs.req.PinUvAuthParam != nil || hs.uv: // 5.2, 5.3
		return nil
	case a.uvConfigured(): // 5.4
		hs.uv = true
		return nil
	}
	return fmt.Errorf("%w: alwaysUv and no pinUvAuthParam", ctap.StatusPUATRequired) // 5.5
}
