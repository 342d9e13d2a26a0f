package authenticator

import (
	"context"
	"crypto/cipher"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// reset is authenticatorReset (CTAP 2.1 §6.6). It is allowed only within
// Config.ResetWindow of power-up (CTAP2_ERR_NOT_ALLOWED after) and needs a
// touch: a decline is CTAP2_ERR_OPERATION_DENIED, a timeout
// CTAP2_ERR_USER_ACTION_TIMEOUT.
//
// It deletes every discoverable credential and the PIN (with its retries
// and every pinUvAuthToken), restores uvRetries to MaxUVRetries, and replaces the master secret,
// so every non-discoverable credential ID issued before stops opening. It
// keeps the attestation keys (they belong to the model, not to the user)
// and the signature counter (so relying parties never see it go back).
// The new state is saved before the response.
func (a *Authenticator) reset(ctx context.Context) error {
	if a.resetWin >= 0 && !a.faulty(FaultResetWindowIgnored) {
		if since := a.now().Sub(a.rt.powerOn); since > a.resetWin {
			return fmt.Errorf("%w: %v after power-up", ctap.StatusNotAllowed, since)
		}
	}
	err := a.touch(ctx, TouchRequest{Command: ctap.CmdReset, Reason: ReasonReset})
	switch outcome(err) {
	case touched:
	case declined:
		if a.faulty(FaultResetDeclineIgnored) {
			break
		}
		return fmt.Errorf("%w: user declined", ctap.StatusOperationDenied)
	case timedOut:
		if a.faulty(FaultResetTimeoutIgnored) {
			break
		}
		return fmt.Errorf("%w: no touch", ctap.StatusUserActionTimeout)
	default:
		return err
	}
	secret, sealer, err := a.newMasterSecret()
	if err != nil {
		return err
	}
	gone := a.creds.all()
	a.state.MasterSecret = secret
	if !a.faulty(FaultResetKeepsCredentials) {
		a.creds.clear()
	}
	a.keys.forget()
	if !a.faulty(FaultResetKeepsPIN) {
		a.state.PINHash, a.state.PINRetries, a.state.ForcePINChange = nil, 0, false
	}
	a.state.UVFailures = 0
	a.resetConfig()            // §6.6: alwaysUv, ep and the minimum PIN length back to the factory settings (config.go)
	a.state.Fingerprints = nil // §6.6: templates go with the credentials
	if !a.faulty(FaultResetKeepsLargeBlobs) {
		a.state.LargeBlobArray = nil // §6.6: the initial large-blob array
	}
	// CTAP 2.2: the persistent token goes, the key gets a new device
	// identifier, and no UV is counted since a PIN entry (ctap22.go).
	a.dropPersistentToken(true)
	a.state.UVCountSincePIN = 0
	a.sealer = sealer
	a.rt = powerUp(a.rt.powerOn) // all volatile state, but the reset window runs on
	if err := a.save(); err != nil {
		return err
	}
	a.cc.emitDeleted(gone) // credcontrol.go
	a.cc.emit(CredentialEvent{Kind: CredentialsCleared})
	return nil
}

// newMasterSecret makes a new master secret and the sealer for it, for
// authenticatorReset and ClearCredentials; the caller installs both.
func (a *Authenticator) newMasterSecret() ([]byte, cipher.AEAD, error) {
	secret, err := a.randomBytes(32)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := newSealer(secret)
	if err != nil {
		return nil, nil, err
	}
	return secret, sealer, nil
}
