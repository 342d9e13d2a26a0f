package authenticator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/virtkey/virtkey/ctap"
)

// makeCredentialState is one authenticatorMakeCredential (CTAP 2.1 §6.1).
// handle calls the steps of §6.1.2 in order; each returns an error that
// carries the status to answer.
type makeCredentialState struct {
	a   *Authenticator
	ctx context.Context
	req ctap.MakeCredentialRequest

	rpIDHash [32]byte
	alg      int64 // chosen in step 3
	// Options as the steps treat them (step 5).
	rk, uv bool
	// flags are the response's "up" and "uv" bits (step 4).
	flags ctap.AuthDataFlags
	// uvEvidence is set when built-in UV (step 11.2) supplied evidence of
	// user interaction: the sensor was touched, so no touch follows.
	uvEvidence bool
	// epAtt is set when step 9 chose an enterprise attestation
	// (enterprise.go).
	epAtt bool

	key      credentialKey
	credID   []byte
	resident *ResidentCredential // to store, for rk
	replace  *ResidentCredential // the stored credential it replaces, or nil
	authData []byte
	// pub and signCount are the credential's public key and the
	// signature counter in authData, for the credentialAdded event.
	pub       ctap.COSEKey
	signCount uint32
	resp      ctap.MakeCredentialResponse

	// ext is what the extensions keep with the credential, extOutputs
	// the authenticator extension outputs (step 15, ext_*.go).
	ext        credentialExtensions
	extOutputs map[string]any
	// hmacSecretMC is the checked hmac-secret-mc input (ext_hmacsecret.go).
	hmacSecretMC *hmacSecretRequest
}

func (a *Authenticator) makeCredential(ctx context.Context, params []byte) ([]byte, error) {
	hs := &makeCredentialState{a: a, ctx: ctx}
	if err := ctap.UnmarshalRequest(params, &hs.req); err != nil {
		return nil, err
	}
	if err := hs.handle(); err != nil {
		return nil, err
	}
	return ctap.Marshal(&hs.resp)
}

// handle runs CTAP 2.1 §6.1.2. Step 6 is alwaysUv's (config.go); step 8
// concerns keys without makeCredUvNotRqd (with alwaysUv on, step 6 leaves
// it nothing to refuse), and step 10 only says when step 11 has nothing
// to do; they pass.
func (hs *makeCredentialState) handle() error {
	if err := hs.checkParameters(); err != nil {
		return err
	}
	if err := hs.pinUvAuthParamProbe(); err != nil { // step 1
		return err
	}
	if err := hs.checkPinUvAuthProtocol(); err != nil { // step 2
		return err
	}
	if err := hs.chooseAlgorithm(); err != nil { // step 3
		return err
	}
	hs.flags = 0                                // step 4
	if err := hs.processOptions(); err != nil { // step 5
		return err
	}
	if err := hs.checkAlwaysUV(); err != nil { // step 6
		return err
	}
	if err := hs.checkUvRequired(); err != nil { // step 7
		return err
	}
	if err := hs.processEnterpriseAttestation(); err != nil { // step 9, enterprise.go
		return err
	}
	if err := hs.verifyUser(); err != nil { // step 11
		return err
	}
	if err := hs.checkExcludeList(); err != nil { // step 12
		return err
	}
	if err := hs.collectUserPresence(); err != nil { // steps 13, 14
		return err
	}
	if err := hs.processExtensions(); err != nil { // step 15
		return err
	}
	if err := hs.generateKey(); err != nil { // step 16
		return err
	}
	if err := hs.storeCredential(); err != nil { // steps 17, 18
		return err
	}
	if err := hs.hmacSecretMCOutput(); err != nil { // needs the credential ID (ext_hmacsecret.go)
		return err
	}
	if err := hs.makeAuthData(); err != nil {
		return err
	}
	if err := hs.attest(); err != nil { // step 19
		return err
	}
	return hs.commit() // durable before the response (step 20)
}

// checkParameters checks the request members of §6.1.1: clientDataHash,
// rp (with id), user (with id) and pubKeyCredParams are required, and the
// descriptors in excludeList need type and id. A clientDataHash that is not
// a SHA-256 hash (32 bytes) is CTAP1_ERR_INVALID_LENGTH ("invalid message
// or item length", §8.2). A user.id longer than 64 bytes (WebAuthn
// §5.4.3) is CTAP2_ERR_LIMIT_EXCEEDED.
func (hs *makeCredentialState) checkParameters() error {
	r := &hs.req
	switch {
	case r.ClientDataHash == nil:
		return fmt.Errorf("%w: clientDataHash", ctap.StatusMissingParameter)
	case len(r.ClientDataHash) != clientDataHashSize:
		return fmt.Errorf("%w: clientDataHash of %d bytes", ctap.StatusInvalidLength, len(r.ClientDataHash))
	case r.RP == nil || r.RP.ID == "":
		return fmt.Errorf("%w: rp.id", ctap.StatusMissingParameter)
	case r.User == nil || r.User.ID == nil:
		return fmt.Errorf("%w: user.id", ctap.StatusMissingParameter)
	case r.PubKeyCredParams == nil:
		return fmt.Errorf("%w: pubKeyCredParams", ctap.StatusMissingParameter)
	case len(r.User.ID) > ctap.MaxUserIDLength:
		return fmt.Errorf("%w: user.id of %d bytes", ctap.StatusLimitExceeded, len(r.User.ID))
	}
	if err := checkDescriptors(r.ExcludeList); err != nil {
		return err
	}
	hs.rpIDHash = sha256.Sum256([]byte(r.RP.ID))
	return nil
}

// clientDataHashSize is the length of clientDataHash, a SHA-256 hash
// (WebAuthn §5.8.1.1 hash of the serialized client data).
const clientDataHashSize = 32

// checkDescriptors requires type and id in every credential descriptor.
func checkDescriptors(list []ctap.CredentialDescriptor) error {
	for i, d := range list {
		if d.Type == "" || d.ID == nil {
			return fmt.Errorf("%w: credential descriptor %d", ctap.StatusMissingParameter, i)
		}
	}
	return nil
}

// pinUvAuthParamProbe is step 1. A zero-length pinUvAuthParam is how CTAP
// 2.0 platforms make the user pick an authenticator: after a touch the key
// answers CTAP2_ERR_PIN_NOT_SET (no PIN is set yet); a decline or a
// timeout is CTAP2_ERR_OPERATION_DENIED.
func (hs *makeCredentialState) pinUvAuthParamProbe() error {
	if hs.req.PinUvAuthParam == nil || len(hs.req.PinUvAuthParam) != 0 {
		return nil
	}
	return hs.a.pinUvAuthProbe(hs.ctx, ctap.CmdMakeCredential, hs.req.RP.ID)
}

// pinUvAuthProbe is step 1 of makeCredential and getAssertion: after the
// touch, CTAP2_ERR_PIN_NOT_SET without a PIN and CTAP2_ERR_PIN_INVALID
// with one.
func (a *Authenticator) pinUvAuthProbe(ctx context.Context, cmd ctap.Command, rpID string) error {
	err := a.touch(ctx, TouchRequest{Command: cmd, RPID: rpID, Reason: ReasonPINProbe})
	switch outcome(err) {
	case touched:
		if a.pinSet() {
			return fmt.Errorf("%w: zero-length pinUvAuthParam", ctap.StatusPINInvalid)
		}
		return fmt.Errorf("%w: zero-length pinUvAuthParam", ctap.StatusPINNotSet)
	case declined, timedOut:
		return fmt.Errorf("%w: %w", ctap.StatusOperationDenied, err)
	}
	return err
}

// checkPinUvAuthProtocol is step 2: with a pinUvAuthParam, the protocol
// must be present (CTAP2_ERR_MISSING_PARAMETER) and one the key lists
// (Config.PinUvAuthProtocols).
func (hs *makeCredentialState) checkPinUvAuthProtocol() error {
	return hs.a.checkPinUvAuthProtocol(hs.req.PinUvAuthParam, hs.req.PinUvAuthProtocol)
}

// checkPinUvAuthProtocol is step 2 of makeCredential and getAssertion. A
// protocol the key does not list is CTAP1_ERR_INVALID_PARAMETER (CTAP 2.1
// §6.1.2 step 2, §6.2.2 step 2); a CTAP 2.0 key answers
// CTAP2_ERR_PIN_AUTH_INVALID ("If pinAuth parameter is present and the
// pinProtocol is not supported, return CTAP2_ERR_PIN_AUTH_INVALID",
// CTAP 2.0 §5.1 step 7, §5.2 step 7).
func (a *Authenticator) checkPinUvAuthProtocol(param []byte, protocol *uint64) error {
	if param == nil {
		return nil
	}
	if protocol == nil {
		return fmt.Errorf("%w: pinUvAuthProtocol", ctap.StatusMissingParameter)
	}
	if !a.supportsProtocol(*protocol) {
		if a.ctap20() {
			return fmt.Errorf("%w: pinProtocol %d", ctap.StatusPINAuthInvalid, *protocol)
		}
		return fmt.Errorf("%w: pinUvAuthProtocol %d", ctap.StatusInvalidParameter, *protocol)
	}
	return nil
}

// checkUvRequired is step 7. The key advertises makeCredUvNotRqd, so when
// it is "protected by some form of user verification" (a PIN set, or
// built-in UV) only a discoverable credential needs user verification:
// without a pinUvAuthParam or the "uv" option it is
// CTAP2_ERR_PUAT_REQUIRED with a PIN set (clientPin true) and
// CTAP2_ERR_OPERATION_DENIED without one.
func (hs *makeCredentialState) checkUvRequired() error {
	if hs.a.ctap20() {
		return hs.ctap20PINRequired() // CTAP 2.0 §5.1 step 6, ctap20.go
	}
	if !hs.a.protectedByUV() || hs.req.PinUvAuthParam != nil || hs.uv || !hs.rk {
		return nil
	}
	if hs.a.pinSet() {
		return fmt.Errorf("%w: rk with a PIN set", ctap.StatusPUATRequired)
	}
	return fmt.Errorf("%w: rk without user verification", ctap.StatusOperationDenied)
}

// verifyUser is step 11. With a pinUvAuthParam (11.1), the token must
// verify it over clientDataHash, hold the mc permission and be bound to
// rp.id or to no RP (CTAP2_ERR_PIN_AUTH_INVALID otherwise). With the "uv"
// option (11.2), the key runs built-in UV with internal retries; a
// failure is answered as mcGaUVError says. Either way the "uv" bit is
// then set.
func (hs *makeCredentialState) verifyUser() error {
	switch {
	case hs.req.PinUvAuthParam != nil:
		if err := hs.a.verifyToken(hs.req.PinUvAuthProtocol, hs.req.PinUvAuthParam,
			hs.req.ClientDataHash, tokenUse{perm: ctap.PermissionMakeCredential, rpID: &hs.req.RP.ID}); err != nil {
			return err
		}
	case hs.uv:
		o, err := hs.a.performBuiltInUV(hs.ctx, UVRequest{Command: ctap.CmdMakeCredential, RPID: hs.req.RP.ID}, true)
		if err != nil {
			return err
		}
		if o != uvVerified {
			return hs.a.mcGaUVError(o)
		}
		hs.uvEvidence = true
	default:
		return nil
	}
	if !hs.a.faulty(FaultMCNoUVFlag) {
		hs.flags |= ctap.FlagUV
	}
	return nil
}

// chooseAlgorithm is step 3: the first element of pubKeyCredParams whose
// type is "public-key" and whose algorithm this key supports (ES256,
// EdDSA, ES384, RS256: algorithms.go). Elements of other types are
// skipped; an element without a type is CTAP2_ERR_MISSING_PARAMETER; no supported algorithm is
// CTAP2_ERR_UNSUPPORTED_ALGORITHM.
func (hs *makeCredentialState) chooseAlgorithm() error {
	for i, p := range hs.req.PubKeyCredParams {
		if p.Type == "" {
			return fmt.Errorf("%w: pubKeyCredParams[%d].type", ctap.StatusMissingParameter, i)
		}
		if hs.alg == 0 && p.Type == ctap.CredentialTypePublicKey && slices.Contains(hs.a.feat.algorithms, p.Alg) {
			hs.alg = p.Alg
		}
	}
	if hs.alg == 0 {
		return ctap.StatusUnsupportedAlgorithm
	}
	return nil
}

// processOptions is step 5. Unknown options are ignored. "uv" true needs
// built-in user verification, supported and configured
// (Config.BuiltInUV): CTAP2_ERR_INVALID_OPTION without. "rk" is
// supported. "up" false is CTAP2_ERR_INVALID_OPTION: makeCredential
// always tests user presence.
func (hs *makeCredentialState) processOptions() error {
	opts := hs.req.Options
	hs.uv = opts[ctap.OptionUV] // 5.1: absent is false
	if hs.req.PinUvAuthParam != nil {
		hs.uv = false // 5.2
	}
	if hs.uv && !hs.a.uvConfigured() { // 5.3
		return fmt.Errorf("%w: uv (no built-in user verification)", ctap.StatusInvalidOption)
	}
	if opts[ctap.OptionRK] && !hs.a.feat.rk { // 5.4: Config.NoResidentKeys
		return fmt.Errorf("%w: rk (no discoverable credentials)", ctap.StatusUnsupportedOption)
	}
	hs.rk = (opts[ctap.OptionRK] || hs.a.faulty(FaultMCAlwaysDiscoverable)) && !hs.a.faulty(FaultRKIgnored) // 5.4, 5.5
	if up, ok := opts[ctap.OptionUP]; ok && !up && !hs.a.faulty(FaultMCUpFalseAccepted) {                   // 5.6
		return fmt.Errorf("%w: up=false", ctap.StatusInvalidOption)
	}
	return nil // 5.7: "up" is true
}

// checkExcludeList is step 12: when excludeList names a credential of
// this key bound to rp.id, wait for user presence and then, "regardless of
// whether user presence is obtained or the authenticator times out",
// answer CTAP2_ERR_CREDENTIAL_EXCLUDED. The user is already present, and
// not asked again, after built-in UV or with a token whose userPresent
// flag is set (userPresentFlagValue). A cancelled request is answered
// CTAP2_ERR_KEEPALIVE_CANCEL.
func (hs *makeCredentialState) checkExcludeList() error {
	if hs.a.faulty(FaultExcludeListIgnored) {
		return nil
	}
	found := false
	for _, d := range hs.req.ExcludeList {
		if d.Type != ctap.CredentialTypePublicKey {
			continue
		}
		if c, ok := hs.a.findCredential(hs.req.RP.ID, hs.rpIDHash, d.ID); ok && hs.excludes(c) { // 12.2: credProtect
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	if hs.uvEvidence || (hs.req.PinUvAuthParam != nil && hs.a.rt.token.userPresentFlag(hs.a.now())) {
		return ctap.StatusCredentialExcluded
	}
	err := hs.a.touch(hs.ctx, TouchRequest{Command: ctap.CmdMakeCredential, RPID: hs.req.RP.ID, Reason: ReasonExcluded})
	switch outcome(err) {
	case touched, declined, timedOut:
		return ctap.StatusCredentialExcluded
	}
	return err
}

// collectUserPresence is steps 13 and 14. After built-in UV (step 13) the
// "up" bit is set without a touch. Otherwise "up" is true (step 14): the
// key asks for a touch, unless a pinUvAuthParam's token has its
// userPresent flag set (a token from built-in UV, within
// TokenUserPresentTimeLimit), and sets the "up" bit. A decline or a
// timeout is CTAP2_ERR_OPERATION_DENIED, as the 2.1 text says for both.
// With a pinUvAuthParam the token is then consumed (step 14.4:
// clearUserPresentFlag, clearUserVerifiedFlag,
// clearPinUvAuthTokenPermissionsExceptLbw).
func (hs *makeCredentialState) collectUserPresence() error {
	if hs.uvEvidence { // step 13
		hs.flags |= ctap.FlagUP
		return nil
	}
	if hs.req.PinUvAuthParam == nil || !hs.a.rt.token.userPresentFlag(hs.a.now()) {
		err := hs.a.touch(hs.ctx, TouchRequest{Command: ctap.CmdMakeCredential, RPID: hs.req.RP.ID, Reason: ReasonMakeCredential})
		if hs.a.faulty(FaultMCDeclineIgnored) && outcome(err) == declined || hs.a.faulty(FaultMCTimeoutIgnored) && outcome(err) == timedOut {
			err = nil
		}
		if err := userPresenceError(err); err != nil {
			return err
		}
	}
	hs.flags |= ctap.FlagUP
	if hs.req.PinUvAuthParam != nil && !hs.a.ctap20() { // a CTAP 2.0 pinToken stays (ctap20.go)
		hs.a.rt.token.consume()
	}
	return nil
}

// userPresenceError maps the outcome of a touch in makeCredential and
// getAssertion.
func userPresenceError(err error) error {
	switch outcome(err) {
	case touched:
		return nil
	case declined:
		return fmt.Errorf("%w: user declined", ctap.StatusOperationDenied)
	case timedOut:
		// "If the user declines permission, or the operation times out,
		// then end the operation by returning CTAP2_ERR_OPERATION_DENIED."
		return fmt.Errorf("%w: no touch in time", ctap.StatusOperationDenied)
	}
	return err
}

// processExtensions is step 15: each supported extension in turn
// (ext_*.go); unknown extensions are ignored (§6.1.1).
func (hs *makeCredentialState) processExtensions() error {
	for _, step := range []func() error{
		hs.credProtectExtension,         // §12.1
		hs.credBlobExtension,            // §12.2
		hs.largeBlobKeyExtension,        // §12.3
		hs.minPinLengthExtension,        // §12.4
		hs.pinComplexityPolicyExtension, // CTAP 2.2, ext_pincomplexity.go
		hs.thirdPartyPaymentExtension,   // CTAP 2.2
		hs.hmacSecretExtension,          // §12.5; hmac-secret-mc, CTAP 2.2 §12.8
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// extensionOutput sets the authenticator extension output of extension
// id, which makeAuthData puts in the authenticator data.
func (hs *makeCredentialState) extensionOutput(id string, v any) {
	if hs.extOutputs == nil {
		hs.extOutputs = make(map[string]any)
	}
	hs.extOutputs[id] = v
}

// generateKey is step 16.
func (hs *makeCredentialState) generateKey() error {
	k, err := generateKey(hs.a.rand, hs.alg)
	if err != nil {
		return err
	}
	hs.key = k
	return nil
}

// storeCredential is steps 17 and 18. A discoverable credential replaces
// one for the same rp.id and user.id, gets a random 32-byte ID and is kept
// in the state (CTAP2_ERR_KEY_STORE_FULL when there is no room); a
// non-discoverable credential's ID is its sealed key (credential.go).
func (hs *makeCredentialState) storeCredential() error {
	a := hs.a
	if !hs.rk {
		hs.key.flags = hs.ext.sealedFlags() // credProtect, thirdPartyPayment
		id, err := sealCredentialID(a.sealer, a.rand, hs.rpIDHash, hs.key)
		if err != nil {
			return err
		}
		hs.credID = id
		return nil
	}
	hs.replace = a.creds.forUser(hs.req.RP.ID, hs.req.User.ID)
	if hs.replace == nil && a.creds.len() >= a.maxCreds {
		return ctap.StatusKeyStoreFull
	}
	id, err := a.newResidentID()
	if err != nil {
		return err
	}
	hs.resident = &ResidentCredential{
		ID:              id,
		RPID:            hs.req.RP.ID,
		RPName:          truncate(hs.req.RP.Name),
		UserID:          bytes.Clone(hs.req.User.ID),
		UserName:        truncate(hs.req.User.Name),
		UserDisplayName: truncate(hs.req.User.DisplayName),
		Alg:             hs.alg,
		PrivateKey:      hs.key.priv,
		Created:         a.now().UTC(),
	}
	hs.ext.storeIn(hs.resident)
	hs.credID = id
	return nil
}

// commit stores the discoverable credential, if any, and saves the state
// (with the signature counter) before the response leaves.
func (hs *makeCredentialState) commit() error {
	a := hs.a
	if c := hs.resident; c != nil {
		a.state.CreationSequence++
		c.Sequence = a.state.CreationSequence
		if hs.replace != nil {
			a.creds.remove(hs.replace.ID)
		}
		a.creds.put(c)
	}
	if err := a.save(); err != nil {
		return err
	}
	hs.emitAdded() // credcontrol.go
	return nil
}

// newResidentID returns a random discoverable credential ID that no
// stored credential has.
func (a *Authenticator) newResidentID() ([]byte, error) {
	for {
		id, err := a.randomBytes(residentIDLength)
		if err != nil {
			return nil, err
		}
		if a.creds.byCredentialID(id) == nil {
			return id, nil
		}
	}
}

// truncate cuts s to MaxStoredNameLength bytes without splitting a UTF-8
// sequence.
func truncate(s string) string {
	if len(s) <= MaxStoredNameLength {
		return s
	}
	s = s[:MaxStoredNameLength]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// makeAuthData builds the authenticator data with attested credential
// data (WebAuthn §6.1, §6.5.1).
func (hs *makeCredentialState) makeAuthData() error {
	pub, err := hs.key.publicKey()
	if err != nil {
		return err
	}
	if hs.resident != nil {
		// Kept for credentialManagement (store.go).
		if hs.resident.PublicKey, err = ctap.Marshal(&pub); err != nil {
			return err
		}
	}
	ad := ctap.AuthData{
		RPIDHash:  hs.rpIDHash,
		Flags:     hs.flags | hs.a.cc.backupBits(hs.credID), // BE, BS: credcontrol.go
		SignCount: hs.a.nextSignCount(),
		AttestedCredential: &ctap.AttestedCredentialData{
			AAGUID:       hs.a.aaguid,
			CredentialID: hs.credID,
			PublicKey:    pub,
		},
	}
	if len(hs.extOutputs) > 0 {
		ad.Extensions = ctap.MustMarshal(hs.extOutputs)
	}
	hs.pub, hs.signCount = pub, ad.SignCount
	hs.authData, err = ad.Marshal()
	return err
}

// attest is step 19: the attestation statement for Config.Attestation.
func (hs *makeCredentialState) attest() error {
	a := hs.a
	hs.resp.AuthData = hs.authData
	if hs.attestationFormat() == ctap.FormatNone { // CTAP 2.2 attestationFormatsPreference (ctap22.go)
		hs.resp.Fmt = ctap.FormatNone
		return nil
	}
	if hs.epAtt { // enterprise.go
		return hs.enterpriseAttest()
	}
	switch a.attMode {
	case AttestationNone:
		hs.resp.Fmt = ctap.FormatNone
	case AttestationSelf:
		msg := append(bytes.Clone(hs.authData), hs.req.ClientDataHash...)
		sig, err := hs.key.sign(a.rand, msg)
		if err != nil {
			return err
		}
		alg := hs.alg
		hs.resp.Fmt = ctap.FormatPacked
		hs.resp.AttStmt = ctap.AttestationStatement{Alg: &alg, Sig: sig}
	default:
		sig, err := a.att.sign(a.rand, hs.authData, hs.req.ClientDataHash)
		if err != nil {
			return err
		}
		if a.faulty(FaultBadAttestationSig) {
			sig[len(sig)-1] ^= 0x01
		}
		alg := ctap.AlgES256
		hs.resp.Fmt = ctap.FormatPacked
		hs.resp.AttStmt = ctap.AttestationStatement{Alg: &alg, Sig: sig, X5C: [][]byte{a.att.leafDER}}
	}
	return nil
}
