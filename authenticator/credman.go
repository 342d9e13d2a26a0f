package authenticator

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// credProtectUVOptional is credProtect level 1, userVerificationOptional
// (CTAP 2.1 §12.1): what enumerateCredentials reports for a credential
// made without the credProtect extension, whose policy is that default.
const credProtectUVOptional = 1

// credManEnumeration is what enumerateRPsBegin and
// enumerateCredentialsBegin remember for the GetNext subcommand that
// continues them (CTAP 2.1 §6.8.3, §6.8.4). It is volatile: any other
// command, any other credentialManagement subcommand and PowerCycle
// discard it, and it ends with the last entry.
type credManEnumeration struct {
	next  uint64           // the subcommand that continues it
	rps   []*rpCredentials // remaining RPs, for enumerateRPsGetNextRP
	creds []credRef        // remaining credentials of x, answered as asked for
	x     *credIndex
}

// credManState is one authenticatorCredentialManagement (CTAP 2.1 §6.8),
// under either command code (0x0A, or 0x41 of 2.1-PRE). handle
// dispatches on subCommand; each subcommand method runs its section's
// numbered steps in order.
type credManState struct {
	a      *Authenticator
	req    ctap.CredentialManagementRequest
	params ctap.CredentialManagementParams
	prev   *credManEnumeration // the enumeration before this command
	resp   ctap.CredentialManagementResponse
	empty  bool // the subcommand answers CTAP2_OK without a body
	// pcmr is set when a read-only subcommand was authorized by the
	// persistentPinUvAuthToken (verifyReadOnly): it has no permissions
	// RP ID, whatever the pinUvAuthToken in use is bound to.
	pcmr bool
}

func (a *Authenticator) credentialManagement(params []byte) ([]byte, error) {
	hs := &credManState{a: a, prev: a.rt.credMan}
	a.rt.credMan = nil // only the GetNext subcommands keep it, by putting it back
	if err := ctap.UnmarshalRequest(params, &hs.req); err != nil {
		return nil, err
	}
	if err := hs.handle(); err != nil {
		return nil, err
	}
	if hs.empty {
		return nil, nil
	}
	return ctap.Marshal(&hs.resp)
}

// handle decodes subCommandParams, when sent, and dispatches on
// subCommand. A missing subCommand is CTAP2_ERR_MISSING_PARAMETER, an
// unknown one CTAP2_ERR_INVALID_SUBCOMMAND; subCommandParams that are not
// a map of the §6.8 members are a CBOR error.
func (hs *credManState) handle() error {
	if hs.req.SubCommand == nil {
		return fmt.Errorf("%w: subCommand", ctap.StatusMissingParameter)
	}
	if hs.req.SubCommandParams != nil {
		if err := ctap.UnmarshalRequest(hs.req.SubCommandParams, &hs.params); err != nil {
			return fmt.Errorf("subCommandParams: %w", err)
		}
	}
	switch *hs.req.SubCommand {
	case ctap.CredMgmtGetCredsMetadata:
		return hs.getCredsMetadata()
	case ctap.CredMgmtEnumerateRPsBegin:
		return hs.enumerateRPsBegin()
	case ctap.CredMgmtEnumerateRPsGetNextRP:
		return hs.enumerateRPsGetNextRP()
	case ctap.CredMgmtEnumerateCredentialsBegin:
		return hs.enumerateCredentialsBegin()
	case ctap.CredMgmtEnumerateCredentialsGetNextCredential:
		return hs.enumerateCredentialsGetNextCredential()
	case ctap.CredMgmtDeleteCredential:
		return hs.deleteCredential()
	case ctap.CredMgmtUpdateUserInformation:
		return hs.updateUserInformation()
	}
	return fmt.Errorf("%w: subCommand %d", ctap.StatusInvalidSubcommand, *hs.req.SubCommand)
}

// verifyToken is the steps every subcommand with a pinUvAuthParam starts
// with (§6.8.2 steps 1 to 4, §6.8.3, §6.8.4 steps 3 to 6, §6.8.5 and
// §6.8.6 likewise): a missing pinUvAuthParam is CTAP2_ERR_PUAT_REQUIRED;
// a missing pinUvAuthProtocol CTAP2_ERR_MISSING_PARAMETER and an
// unsupported one CTAP1_ERR_INVALID_PARAMETER; then
// verify(pinUvAuthToken, subCommand || subCommandParams, pinUvAuthParam),
// over subCommandParams exactly as sent, must succeed under a token in
// use of the same protocol, and the token must have the cm permission;
// otherwise CTAP2_ERR_PIN_AUTH_INVALID. The caller checks the token's
// permissions RP ID, which each subcommand treats its own way. The token
// counts as used (its initial usage limit no longer applies) and is not
// bound to an RP.
func (hs *credManState) verifyToken() error {
	r := &hs.req
	msg := append([]byte{byte(*r.SubCommand)}, r.SubCommandParams...)
	return hs.a.verifyToken(r.PinUvAuthProtocol, r.PinUvAuthParam, msg, tokenUse{perm: ctap.PermissionCredentialManagement})
}

// verifyReadOnly is verifyToken for the read-only subcommands
// (getCredsMetadata, enumerateRPsBegin, enumerateCredentialsBegin; their
// GetNext subcommands take no pinUvAuthParam). On a CTAP 2.2 key a
// pinUvAuthParam made with the persistentPinUvAuthToken, whose only
// permission is pcmr, authorizes them too (CTAP 2.2 §6.5.5.7, §6.8; the
// subcommands pcmr allows as pico-fido's cbor_cred_mgmt.c and libfido2's
// FIDO_PUAT_CREDMAN_RO have them). deleteCredential and
// updateUserInformation take the pinUvAuthToken only, so a pcmr token
// there is CTAP2_ERR_PIN_AUTH_INVALID.
func (hs *credManState) verifyReadOnly() error {
	r := &hs.req
	msg := append([]byte{byte(*r.SubCommand)}, r.SubCommandParams...)
	if hs.a.persistentTokenVerifies(r.PinUvAuthProtocol, r.PinUvAuthParam, msg) {
		hs.pcmr = true
		return nil
	}
	return hs.verifyToken()
}

// boundRPID is the permissions RP ID of the token that authorized the
// subcommand: none for the persistent token.
func (hs *credManState) boundRPID() string {
	if hs.pcmr {
		return ""
	}
	return hs.a.rt.token.boundRPID()
}

// requireNoRPID is §6.8.2 step 4 and the same step of §6.8.3: a token
// with a permissions RP ID cannot read the whole key
// (CTAP2_ERR_PIN_AUTH_INVALID).
func (hs *credManState) requireNoRPID() error {
	if rp := hs.boundRPID(); rp != "" {
		return fmt.Errorf("%w: token bound to RP %q", ctap.StatusPINAuthInvalid, rp)
	}
	return nil
}

// requireRPID is the permissions RP ID check of §6.8.5 and §6.8.6: a
// token bound to an RP serves that RP's credentials only
// (CTAP2_ERR_PIN_AUTH_INVALID).
func (hs *credManState) requireRPID(rpID string) error {
	if rp := hs.a.rt.token.boundRPID(); rp != "" && rp != rpID {
		return fmt.Errorf("%w: token bound to another RP", ctap.StatusPINAuthInvalid)
	}
	return nil
}

// getCredsMetadata is §6.8.2: the number of discoverable credentials and
// how many more fit.
func (hs *credManState) getCredsMetadata() error {
	if err := hs.verifyReadOnly(); err != nil { // steps 1 to 3
		return err
	}
	if err := hs.requireNoRPID(); err != nil { // step 4
		return err
	}
	a := hs.a // step 5
	existing := uint64(a.creds.len())
	if a.faulty(FaultCredManMetadataCount) {
		existing++
	}
	remaining := uint64(max(a.maxCreds-a.creds.len(), 0))
	hs.resp.ExistingResidentCredentialsCount = &existing
	hs.resp.MaxPossibleRemainingResidentCredentialsCount = &remaining
	return nil
}

// enumerateRPsBegin is §6.8.3: the first RP with discoverable
// credentials, its rpIDHash and totalRPs; the others are remembered for
// enumerateRPsGetNextRP. An RP's name is the one given with its newest
// credential. No discoverable credential at all is
// CTAP2_ERR_NO_CREDENTIALS.
func (hs *credManState) enumerateRPsBegin() error {
	if err := hs.verifyReadOnly(); err != nil { // steps 1 to 3
		return err
	}
	if err := hs.requireNoRPID(); err != nil { // step 4
		return err
	}
	rps := hs.a.creds.rps() // in order of each RP's oldest credential
	if len(rps) == 0 {      // step 5
		return fmt.Errorf("%w: no discoverable credentials", ctap.StatusNoCredentials)
	}
	total := uint64(len(rps)) // step 6
	hs.resp = rpEntry(rps[0])
	hs.resp.TotalRPs = &total
	if len(rps) > 1 {
		hs.a.rt.credMan = &credManEnumeration{next: ctap.CredMgmtEnumerateRPsGetNextRP, rps: rps[1:]}
	}
	return nil
}

// enumerateRPsGetNextRP is §6.8.3, the next remembered RP. It takes no
// pinUvAuthParam. Without an RP enumeration in progress (none begun,
// every RP already returned, or another command since) it is
// CTAP2_ERR_NOT_ALLOWED.
func (hs *credManState) enumerateRPsGetNextRP() error {
	e := hs.prev
	if e == nil || e.next != ctap.CredMgmtEnumerateRPsGetNextRP || len(e.rps) == 0 {
		return fmt.Errorf("%w: no RP enumeration in progress", ctap.StatusNotAllowed)
	}
	hs.resp = rpEntry(e.rps[0])
	if e.rps = e.rps[1:]; len(e.rps) > 0 {
		hs.a.rt.credMan = e
	}
	return nil
}

// enumerateCredentialsBegin is §6.8.4: the first discoverable credential
// of the RP whose rpIDHash is given, with totalCredentials; the others
// are remembered for enumerateCredentialsGetNextCredential. A token with
// a permissions RP ID serves only that RP.
func (hs *credManState) enumerateCredentialsBegin() error {
	if hs.req.SubCommandParams == nil { // step 1
		return fmt.Errorf("%w: subCommandParams", ctap.StatusMissingParameter)
	}
	if hs.params.RPIDHash == nil { // step 2
		return fmt.Errorf("%w: rpIDHash", ctap.StatusMissingParameter)
	}
	if err := hs.verifyReadOnly(); err != nil { // steps 3 to 6
		return err
	}
	if rp := hs.boundRPID(); rp != "" { // step 6
		if h := sha256.Sum256([]byte(rp)); !bytes.Equal(h[:], hs.params.RPIDHash) {
			return fmt.Errorf("%w: token bound to another RP", ctap.StatusPINAuthInvalid)
		}
	}
	var r *rpCredentials
	if len(hs.params.RPIDHash) == sha256.Size {
		r = hs.a.creds.rp([32]byte(hs.params.RPIDHash)) // in creation order
	}
	if r == nil || r.len() == 0 { // step 7
		return fmt.Errorf("%w: no discoverable credentials for rpIDHash", ctap.StatusNoCredentials)
	}
	total := uint64(r.len()) // step 8
	first, err := credentialEntry(r.cred(0))
	if err != nil {
		return err
	}
	hs.resp = first
	hs.resp.TotalCredentials = &total
	if r.len() > 1 {
		// The index's slice changes with the next put or remove, and
		// any command that could do either ends the enumeration first;
		// a copy of the references costs 4 bytes a credential.
		hs.a.rt.credMan = &credManEnumeration{next: ctap.CredMgmtEnumerateCredentialsGetNextCredential, creds: slices.Clone(r.creds[1:]), x: r.x}
	}
	return nil
}

// rpEntry is one RP as §6.8.3 reports it: its ID, the name given with its
// newest credential, and rpIDHash.
func rpEntry(r *rpCredentials) ctap.CredentialManagementResponse {
	return ctap.CredentialManagementResponse{
		RP:       &ctap.RPEntity{ID: r.rpID, Name: r.cred(r.len() - 1).RPName},
		RPIDHash: bytes.Clone(r.hash[:]),
	}
}

// credentialEntry is one credential as §6.8.4 reports it: user,
// credentialID, publicKey, credProtect and, when it has one,
// largeBlobKey.
func credentialEntry(c *ResidentCredential) (ctap.CredentialManagementResponse, error) {
	pub, ok := storedES256Key(c.PublicKey)
	var err error
	if !ok && (len(c.PublicKey) == 0 || ctap.Unmarshal(c.PublicKey, &pub) != nil) {
		// Derived from the private key for a credential stored before
		// its public key was kept, or if the kept one does not decode.
		if pub, err = (credentialKey{alg: c.Alg, priv: c.PrivateKey}).publicKey(); err != nil {
			return ctap.CredentialManagementResponse{}, err
		}
	}
	level := c.credProtectLevel()
	thirdPartyPayment := c.ThirdPartyPayment
	return ctap.CredentialManagementResponse{
		User: &ctap.UserEntity{
			ID:          bytes.Clone(c.UserID),
			Name:        c.UserName,
			DisplayName: c.UserDisplayName,
		},
		CredentialID: &ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: bytes.Clone(c.ID)},
		PublicKey:    &pub,
		CredProtect:  &level,
		LargeBlobKey: bytes.Clone(c.LargeBlobKey),
		// CTAP 2.2 §6.8.4 member 0x0C (ext_thirdpartypayment.go).
		ThirdPartyPayment: &thirdPartyPayment,
	}, nil
}

// es256COSEPrefix begins the COSE key of every ES256 credential this key
// makes, in CTAP2 canonical form: kty 2, alg -7, crv 1, then x as a
// 32-byte string; y follows as 0x22 0x58 0x20 and 32 bytes.
var es256COSEPrefix = []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}

// storedES256Key reads a credential's kept COSE key when it is an ES256
// key in the form this key writes, without the generic decoder (a whole
// credentialManagement walk reads every credential's key); ok is false
// for anything else, which the caller decodes the general way.
func storedES256Key(b []byte) (k ctap.COSEKey, ok bool) {
	if len(b) != 77 || !bytes.HasPrefix(b, es256COSEPrefix) || !bytes.Equal(b[42:45], []byte{0x22, 0x58, 0x20}) {
		return k, false
	}
	return ctap.COSEKey{Kty: ctap.KtyEC2, Alg: ctap.AlgES256, Crv: ctap.CrvP256, X: b[10:42:42], Y: b[45:77:77]}, true
}

// enumerateCredentialsGetNextCredential is §6.8.4, the next remembered
// credential. It takes no pinUvAuthParam. Without a credential
// enumeration in progress it is CTAP2_ERR_NOT_ALLOWED.
func (hs *credManState) enumerateCredentialsGetNextCredential() error {
	e := hs.prev
	if e == nil || e.next != ctap.CredMgmtEnumerateCredentialsGetNextCredential || len(e.creds) == 0 {
		return fmt.Errorf("%w: no credential enumeration in progress", ctap.StatusNotAllowed)
	}
	r, err := credentialEntry(e.x.cred(e.creds[0]))
	if err != nil {
		return err
	}
	hs.resp = r
	if e.creds = e.creds[1:]; len(e.creds) > 0 {
		hs.a.rt.credMan = e
	}
	return nil
}

// lookup finds the discoverable credential named by the credentialId
// parameter, after the token checks: an unknown ID is
// CTAP2_ERR_NO_CREDENTIALS, and a token bound to another RP
// CTAP2_ERR_PIN_AUTH_INVALID.
func (hs *credManState) lookup() (*ResidentCredential, error) {
	c := hs.a.creds.byCredentialID(hs.params.CredentialID.ID)
	if c == nil {
		return nil, fmt.Errorf("%w: credentialId", ctap.StatusNoCredentials)
	}
	if err := hs.requireRPID(c.RPID); err != nil {
		return nil, err
	}
	return c, nil
}

// requireCredentialID is the first steps of §6.8.5 and §6.8.6:
// subCommandParams and its credentialId (a descriptor with an id) are
// required (CTAP2_ERR_MISSING_PARAMETER).
func (hs *credManState) requireCredentialID() error {
	switch {
	case hs.req.SubCommandParams == nil:
		return fmt.Errorf("%w: subCommandParams", ctap.StatusMissingParameter)
	case hs.params.CredentialID == nil || hs.params.CredentialID.ID == nil:
		return fmt.Errorf("%w: credentialId", ctap.StatusMissingParameter)
	}
	return nil
}

// deleteCredential is §6.8.5: the credential is deleted, durably before
// the CTAP2_OK.
func (hs *credManState) deleteCredential() error {
	if err := hs.requireCredentialID(); err != nil { // steps 1, 2
		return err
	}
	if err := hs.verifyToken(); err != nil { // steps 3 to 6
		return err
	}
	c, err := hs.lookup() // steps 7, 8
	if err != nil {
		return err
	}
	a := hs.a // step 9
	gone := *c
	if !a.faulty(FaultCredManDeleteNoop) {
		a.creds.remove(c.ID)
	}
	hs.empty = true
	if err := a.save(); err != nil {
		return err
	}
	a.cc.emitDeleted([]ResidentCredential{gone}) // credcontrol.go
	return nil
}

// updateUserInformation is §6.8.6: user.id must be the credential's
// (CTAP1_ERR_INVALID_PARAMETER otherwise); name and displayName replace
// the stored ones, and an absent or empty one removes it. The change is
// durable before the CTAP2_OK.
func (hs *credManState) updateUserInformation() error {
	if err := hs.requireCredentialID(); err != nil { // steps 1, 2
		return err
	}
	if hs.params.User == nil { // step 2
		return fmt.Errorf("%w: user", ctap.StatusMissingParameter)
	}
	if err := hs.verifyToken(); err != nil { // steps 3 to 6
		return err
	}
	c, err := hs.lookup() // steps 7, 8
	if err != nil {
		return err
	}
	a := hs.a
	u := hs.params.User
	if !bytes.Equal(u.ID, c.UserID) { // step 9
		return fmt.Errorf("%w: user.id is not the credential's", ctap.StatusInvalidParameter)
	}
	// Step 10, on a copy: the stored credential changes when the store
	// has the change.
	nc := *c
	nc.UserName = truncate(u.Name)
	nc.UserDisplayName = truncate(u.DisplayName)
	if !a.faulty(FaultCredManUpdateUserNoop) {
		a.creds.put(&nc)
	}
	hs.empty = true
	return a.save()
}
