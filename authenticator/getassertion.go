package authenticator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// credentialRef is a credential of this key found for a relying party.
type credentialRef struct {
	id       []byte
	key      credentialKey
	resident *ResidentCredential // nil for a non-discoverable credential
}

// findCredential looks id up for the relying party rpID: a discoverable
// credential with that ID and rpID, or a non-discoverable one sealed for
// rpIDHash by this key's current master secret.
func (a *Authenticator) findCredential(rpID string, rpIDHash [32]byte, id []byte) (credentialRef, bool) {
	if c := a.creds.byCredentialID(id); c != nil && c.RPID == rpID {
		return residentRef(c), true
	}
	if k, ok := openCredentialID(a.sealer, rpIDHash, id); ok {
		return credentialRef{id: bytes.Clone(id), key: k}, true
	}
	return credentialRef{}, false
}

// residentRef refers to a stored credential. A stored credential is
// replaced, not changed, except by credentialManagement's
// updateUserInformation, which ends any getAssertion in progress.
func residentRef(c *ResidentCredential) credentialRef {
	return credentialRef{id: c.ID, key: credentialKey{alg: c.Alg, priv: c.PrivateKey}, resident: c}
}

// getAssertionState is one authenticatorGetAssertion (CTAP 2.1 §6.2).
// handle calls the steps of §6.2.2 in order.
type getAssertionState struct {
	a   *Authenticator
	ctx context.Context
	req ctap.GetAssertionRequest

	rpIDHash [32]byte
	// Options as the steps treat them (step 4).
	uv, up bool
	// flags are the response's "up" and "uv" bits (step 3).
	flags ctap.AuthDataFlags
	// uvEvidence is set when built-in UV (step 6.2) supplied evidence of
	// user interaction (step 8).
	uvEvidence bool

	creds    []credentialRef // the applicable credentials (step 7) of an allowList
	view     *residentView   // or, without one, the RP's discoverable ones
	selected credentialRef
	exts     []assertionExtension // the extensions' outputs (step 10)
	resp     ctap.GetAssertionResponse
	next     *assertionState // remembered for getNextAssertion (step 12)
}

// assertionState is what getAssertion remembers for getNextAssertion
// (CTAP 2.1 §6.2.2 step 12.2, §6.3). It is volatile: any other command
// and PowerCycle discard it.
type assertionState struct {
	rpIDHash       [32]byte
	clientDataHash []byte
	flags          ctap.AuthDataFlags
	uv             bool
	creds          []credentialRef // newest first, or
	view           *residentView   // the discoverable credentials, from pos
	pos            int
	counter        int       // credentialCounter: the next credential to return
	timer          time.Time // time of the last getAssertion or getNextAssertion

	exts []assertionExtension // the extensions, run for each credential
}

func (a *Authenticator) getAssertion(ctx context.Context, params []byte) ([]byte, error) {
	hs := &getAssertionState{a: a, ctx: ctx}
	if err := ctap.UnmarshalRequest(params, &hs.req); err != nil {
		return nil, err
	}
	if err := hs.handle(); err != nil {
		return nil, err
	}
	body, err := ctap.Marshal(&hs.resp)
	if err != nil {
		return nil, err
	}
	a.rt.pending = hs.next
	return body, nil
}

// handle runs CTAP 2.1 §6.2.2. Step 5 is alwaysUv's (config.go).
func (hs *getAssertionState) handle() error {
	if err := hs.checkParameters(); err != nil {
		return err
	}
	if err := hs.pinUvAuthParamProbe(); err != nil { // step 1
		return err
	}
	if err := hs.a.checkPinUvAuthProtocol(hs.req.PinUvAuthParam, hs.req.PinUvAuthProtocol); err != nil { // step 2
		return err
	}
	hs.flags = 0                                // step 3
	if err := hs.processOptions(); err != nil { // step 4
		return err
	}
	if err := hs.checkAlwaysUV(); err != nil { // step 5
		return err
	}
	if err := hs.verifyUser(); err != nil { // step 6
		return err
	}
	if err := hs.locateCredentials(); err != nil { // step 7
		return err
	}
	if err := hs.collectUserPresence(); err != nil { // steps 8, 9
		return err
	}
	if err := hs.processExtensions(); err != nil { // step 10
		return err
	}
	hs.selectCredential()             // steps 11, 12
	if err := hs.sign(); err != nil { // step 13
		return err
	}
	if hs.a.faulty(FaultCounterNotPersisted) {
		return nil
	}
	return hs.a.save() // the signature counter, before the response
}

// checkParameters checks the required members of §6.2.1: rpId and
// clientDataHash, and type and id in every allowList descriptor.
func (hs *getAssertionState) checkParameters() error {
	switch {
	case hs.req.RPID == "":
		return fmt.Errorf("%w: rpId", ctap.StatusMissingParameter)
	case hs.req.ClientDataHash == nil:
		return fmt.Errorf("%w: clientDataHash", ctap.StatusMissingParameter)
	case len(hs.req.ClientDataHash) != clientDataHashSize: // as in makeCredential
		return fmt.Errorf("%w: clientDataHash of %d bytes", ctap.StatusInvalidLength, len(hs.req.ClientDataHash))
	}
	if err := checkDescriptors(hs.req.AllowList); err != nil {
		return err
	}
	hs.rpIDHash = sha256.Sum256([]byte(hs.req.RPID))
	return nil
}

// pinUvAuthParamProbe is step 1, as in makeCredential.
func (hs *getAssertionState) pinUvAuthParamProbe() error {
	if hs.req.PinUvAuthParam == nil || len(hs.req.PinUvAuthParam) != 0 {
		return nil
	}
	return hs.a.pinUvAuthProbe(hs.ctx, ctap.CmdGetAssertion, hs.req.RPID)
}

// processOptions is step 4. Unknown options are ignored. "uv" true needs
// built-in user verification (Config.BuiltInUV):
// CTAP2_ERR_INVALID_OPTION without. "rk" is not an option of
// getAssertion: CTAP2_ERR_UNSUPPORTED_OPTION. "up" defaults to true.
func (hs *getAssertionState) processOptions() error {
	opts := hs.req.Options
	hs.uv = opts[ctap.OptionUV] // 4.1
	if hs.req.PinUvAuthParam != nil {
		hs.uv = false // 4.2
	}
	if hs.uv && !hs.a.uvConfigured() { // 4.3
		return fmt.Errorf("%w: uv (no built-in user verification)", ctap.StatusInvalidOption)
	}
	if _, ok := opts[ctap.OptionRK]; ok { // 4.4
		return fmt.Errorf("%w: rk", ctap.StatusUnsupportedOption)
	}
	hs.up = true // 4.5
	if up, ok := opts[ctap.OptionUP]; ok {
		hs.up = up
	}
	return nil
}

// verifyUser is step 6: as makeCredential step 11, with the ga
// permission and rpId for a pinUvAuthParam (6.1) and built-in UV for the
// "uv" option (6.2). On success the "uv" bit is set, and hs.uv makes the
// response carry user name and displayName (step 12).
func (hs *getAssertionState) verifyUser() error {
	switch {
	case hs.req.PinUvAuthParam != nil:
		if err := hs.a.verifyToken(hs.req.PinUvAuthProtocol, hs.req.PinUvAuthParam,
			hs.req.ClientDataHash, tokenUse{perm: ctap.PermissionGetAssertion, rpID: &hs.req.RPID}); err != nil {
			return err
		}
	case hs.uv:
		o, err := hs.a.performBuiltInUV(hs.ctx, UVRequest{Command: ctap.CmdGetAssertion, RPID: hs.req.RPID}, true)
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
	if !hs.a.faulty(FaultNoUVFlag) {
		hs.flags |= ctap.FlagUV
	}
	hs.uv = true
	return nil
}

// locateCredentials is step 7: with a non-empty allowList, the listed
// credentials of this key bound to rpId; without, the discoverable
// credentials for rpId. None is CTAP2_ERR_NO_CREDENTIALS (7.6).
func (hs *getAssertionState) locateCredentials() error {
	a := hs.a
	if len(hs.req.AllowList) > 0 && !a.faulty(FaultAllowListIgnored) {
		for _, d := range hs.req.AllowList {
			if d.Type != ctap.CredentialTypePublicKey {
				continue
			}
			if c, ok := a.findCredential(hs.req.RPID, hs.rpIDHash, d.ID); ok {
				hs.creds = append(hs.creds, c)
			}
		}
	} else {
		// Newest first, the order of step 12.2.1: the index keeps each
		// RP's credentials in creation order, and the view walks them
		// back from the newest without copying them.
		hs.view = &residentView{newestFirst: !a.faulty(FaultCredentialsOldFirst)}
		if r := a.creds.rp(hs.rpIDHash); r != nil && r.rpID == hs.req.RPID {
			hs.view.rp = r
			hs.view.n = r.len()
		}
	}
	hs.filterCredProtect() // 7.4, 7.5 (ext_credprotect.go)
	if len(hs.creds) == 0 && (hs.view == nil || hs.view.n == 0) {
		return ctap.StatusNoCredentials
	}
	return nil
}

// residentView is one RP's discoverable credentials as steps 7 and
// 12.2.1 see them, without a copy: newest first (oldest first under
// FaultCredentialsOldFirst), without those that credProtect hides (7.4,
// 7.5); n is how many that leaves, numberOfCredentials. The RP's counts
// by credProtect level give n without looking at each credential, and
// finding the next usable one skips only hidden ones. It reads the
// index's slice, which no command changes while getNextAssertion can
// still follow: any other command ends that.
type residentView struct {
	rp          *rpCredentials
	newestFirst bool
	hide        [4]bool // by credProtect level
	n           int
}

// next returns the first usable credential at or after position pos of
// the walk, and the position after it; ok is false when none is left.
func (v *residentView) next(pos int) (c credentialRef, after int, ok bool) {
	if v.rp == nil {
		return c, pos, false
	}
	n := v.rp.len()
	for ; pos < n; pos++ {
		i := pos
		if v.newestFirst {
			i = n - 1 - pos
		}
		if !v.hide[v.rp.protect(i)] {
			return residentRef(v.rp.cred(i)), pos + 1, true
		}
	}
	return c, pos, false
}

// collectUserPresence is steps 8 and 9. After built-in UV the "up" bit is
// set without a touch, whatever the "up" option (step 8). Otherwise,
// unless "up" is false, ask for a touch (spared when a pinUvAuthParam's
// token has its userPresent flag set) and set the "up" bit. A decline or
// a timeout is CTAP2_ERR_OPERATION_DENIED (see makeCredential step 14).
// With a pinUvAuthParam the token is consumed after, as in
// makeCredential.
func (hs *getAssertionState) collectUserPresence() error {
	if hs.uvEvidence { // step 8
		hs.flags |= ctap.FlagUP
		return nil
	}
	if !hs.up {
		if hs.a.faulty(FaultUPFlagAlways) {
			hs.flags |= ctap.FlagUP
		}
		return nil
	}
	if hs.req.PinUvAuthParam == nil || !hs.a.rt.token.userPresentFlag(hs.a.now()) {
		err := hs.a.touch(hs.ctx, TouchRequest{Command: ctap.CmdGetAssertion, RPID: hs.req.RPID, Reason: ReasonGetAssertion})
		if hs.a.faulty(FaultGADeclineIgnored) && outcome(err) == declined {
			err = nil
		}
		if err := userPresenceError(err); err != nil {
			return err
		}
	}
	hs.flags |= ctap.FlagUP
	if hs.req.PinUvAuthParam != nil && !hs.a.faulty(FaultTokenNotConsumed) && !hs.a.ctap20() { // a CTAP 2.0 pinToken stays (ctap20.go)
		hs.a.rt.token.consume()
	}
	return nil
}

// processExtensions is step 10: each supported extension in turn
// (ext_*.go) appends to hs.exts what adds its outputs for a credential;
// unknown extensions are ignored.
func (hs *getAssertionState) processExtensions() error {
	for _, step := range []func() error{
		hs.credBlobAssertion,          // §12.2
		hs.largeBlobKeyAssertion,      // §12.3
		hs.thirdPartyPaymentAssertion, // CTAP 2.2
		hs.hmacSecretAssertion,        // §12.5 (ext_hmacsecret.go)
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// assertionExtension adds one extension's outputs for credential c: to
// outputs, the authenticator extension outputs, or to resp's members
// (largeBlobKey). getNextAssertion runs them again for each credential.
type assertionExtension func(c credentialRef, outputs map[string]any, resp *ctap.GetAssertionResponse) error

// selectCredential is steps 11 and 12. With an allowList the first
// applicable credential in list order is used and numberOfCredentials is
// left out. Without, the credentials are ordered newest first; when there
// is more than one, numberOfCredentials is set and the rest is remembered
// for getNextAssertion with credentialCounter 1 and a timer.
func (hs *getAssertionState) selectCredential() {
	if len(hs.req.AllowList) > 0 { // step 11
		if hs.view != nil { // the allowList-ignored fault's walk
			hs.selected, _, _ = hs.view.next(0)
		} else {
			hs.selected = hs.creds[0]
		}
		return
	}
	// Step 12.2.1: locateCredentials ordered them newest first.
	n, pos := len(hs.creds), 0
	if hs.view != nil {
		hs.selected, pos, _ = hs.view.next(0)
		n = hs.view.n
	} else {
		hs.selected = hs.creds[0]
	}
	if n > 1 {
		count := uint64(n)
		hs.resp.NumberOfCredentials = &count
		hs.next = &assertionState{
			rpIDHash:       hs.rpIDHash,
			clientDataHash: bytes.Clone(hs.req.ClientDataHash),
			flags:          hs.flags,
			uv:             hs.uv,
			exts:           hs.exts,
			creds:          hs.creds,
			view:           hs.view,
			pos:            pos,
			counter:        1,
			timer:          hs.a.now(),
		}
	}
}

func cmpUint64(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// sign is step 13: authenticator data and a signature over authData ||
// clientDataHash with the selected credential.
func (hs *getAssertionState) sign() error {
	return hs.a.assert(&hs.resp, hs.rpIDHash, hs.flags, hs.uv, hs.selected, hs.req.ClientDataHash, hs.exts)
}

// assert fills resp with credential, authData, signature and user for c.
// The user entity is returned for a discoverable credential, with its id
// only: name and displayName need user verification (§6.2.2 step 12.3).
func (a *Authenticator) assert(resp *ctap.GetAssertionResponse, rpIDHash [32]byte, flags ctap.AuthDataFlags, uv bool, c credentialRef, clientDataHash []byte, exts []assertionExtension) error {
	ad := ctap.AuthData{RPIDHash: rpIDHash, Flags: flags | a.cc.backupBits(c.id), SignCount: a.nextSignCount()} // BE, BS: credcontrol.go
	if a.faulty(FaultBSWithoutBE) {
		ad.Flags = ad.Flags&^ctap.FlagBE | ctap.FlagBS
	}
	if err := addAssertionExtensions(&ad, exts, c, resp); err != nil {
		return err
	}
	authData, err := ad.Marshal()
	if err != nil {
		return err
	}
	msg := make([]byte, 0, len(authData)+len(clientDataHash))
	msg = append(append(msg, authData...), clientDataHash...)
	sig, err := a.keys.parsed(c.key).sign(a.rand, msg)
	if err != nil {
		return err
	}
	resp.Credential = &ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: c.id}
	if a.faulty(FaultWrongCredentialID) {
		resp.Credential.ID = bytes.Clone(c.id)
		resp.Credential.ID[len(c.id)-1] ^= 0x01
	}
	resp.AuthData = authData
	resp.Signature = sig
	a.cc.emitAsserted(rpIDHash, c, ad.SignCount)
	if r := c.resident; r != nil {
		resp.User = &ctap.UserEntity{ID: r.UserID}
		if uv || a.faulty(FaultUserPIIWithoutUV) {
			resp.User.Name, resp.User.DisplayName = r.UserName, r.UserDisplayName
		}
	}
	return nil
}

// getNextAssertion is authenticatorGetNextAssertion (CTAP 2.1 §6.3): the
// next credential remembered by getAssertion, without a new test of user
// presence; the "up" bit is as in the original getAssertion.
func (a *Authenticator) getNextAssertion() ([]byte, error) {
	st := a.rt.pending
	if st == nil { // step 1
		return nil, fmt.Errorf("%w: no getAssertion to continue", ctap.StatusNotAllowed)
	}
	total := len(st.creds)
	if st.view != nil {
		total = st.view.n
	}
	if st.counter >= total { // step 2
		return nil, fmt.Errorf("%w: no more credentials", ctap.StatusNotAllowed)
	}
	if now := a.now(); now.Sub(st.timer) > NextAssertionTimeout && !a.faulty(FaultGNANoTimer) { // step 3
		a.rt.pending = nil
		return nil, fmt.Errorf("%w: getNextAssertion %v after the last assertion", ctap.StatusNotAllowed, now.Sub(st.timer))
	}
	var c credentialRef // step 4
	pos := st.pos
	if st.view != nil {
		var ok bool
		if c, pos, ok = st.view.next(st.pos); !ok {
			return nil, fmt.Errorf("%w: no more credentials", ctap.StatusNotAllowed)
		}
	} else {
		c = st.creds[st.counter]
	}
	var resp ctap.GetAssertionResponse
	if err := a.assert(&resp, st.rpIDHash, st.flags, st.uv, c, st.clientDataHash, st.exts); err != nil { // steps 5, 6
		return nil, err
	}
	if err := a.save(); err != nil {
		return nil, err
	}
	body, err := ctap.Marshal(&resp)
	if err != nil {
		return nil, err
	}
	st.timer = a.now() // step 7
	st.counter++       // step 8
	st.pos = pos
	return body, nil
}
