package authenticator

import (
	"context"
	"errors"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// Built-in user verification (CTAP 2.1 §6.5): a key with Config.BuiltInUV
// verifies its user itself, as a fingerprint sensor does. The match is
// simulated by a Verifier; the key keeps the uvRetries counter, advertises
// the "uv" option and answers getUVRetries and
// getPinUvAuthTokenUsingUvWithPermissions.
const (
	// MaxUVRetries is maxUvRetries, the value uvRetries starts at and goes
	// back to after a successful built-in UV, a correct PIN or a reset
	// (§6.5.2.2: between 1 and 25; this key takes the PIN's 8).
	MaxUVRetries = 8
	// PreferredPlatformUVAttempts is getInfo's preferredPlatformUvAttempts
	// (§6.4): how many times the platform should try
	// getPinUvAuthTokenUsingUvWithPermissions before falling back to the
	// PIN. Being more than 1, each of those calls makes one attempt and
	// costs at most one retry (§6.5.5.7.3 step 6: internalRetry false).
	PreferredPlatformUVAttempts = 3
	// MaxUVAttemptsForInternalRetries is how many attempts one built-in
	// UV makes when it retries internally, as makeCredential and
	// getAssertion with the "uv" option do (§6.1.2 step 11.2, §6.2.2 step
	// 6.2: internalRetry true). One attempt keeps each request at one
	// retry, so a platform can count them.
	MaxUVAttemptsForInternalRetries = 1
	// UVModalityFingerprint is getInfo's uvModality:
	// USER_VERIFY_FINGERPRINT_INTERNAL (FIDO Registry of Predefined
	// Values §3.1), since fingerprint enrollment comes next.
	UVModalityFingerprint = 0x00000002
)

// uvPermissions are the permissions getPinUvAuthTokenUsingUvWithPermissions
// grants (§6.5.5.7.3 step 4): mc and ga always; cm and lbw because the key
// lists credMgmt and largeBlobs; be only on a key with a fingerprint
// sensor (uvBioEnroll, checked separately); acfg would need uvAcfg, which
// this key does not list.
const uvPermissions = ctap.PermissionMakeCredential | ctap.PermissionGetAssertion | ctap.PermissionLargeBlobWrite |
	ctap.PermissionCredentialManagement

// definedPermissions are the permission bits CTAP 2.1 defines; the token
// subcommand ignores the others (§6.5.5.7.3 steps 4 and 14).
const definedPermissions = ctap.PermissionMakeCredential | ctap.PermissionGetAssertion |
	ctap.PermissionCredentialManagement | ctap.PermissionBioEnrollment |
	ctap.PermissionLargeBlobWrite | ctap.PermissionAuthenticatorConfig

// Verifier is an optional interface of a Presence: a user who can be
// verified by the key's built-in method, such as a fingerprint match. It
// is used only with Config.BuiltInUV; a Presence without it is a user
// whose every attempt matches.
type Verifier interface {
	// VerifyUser asks the user for one verification attempt. It returns
	// nil on a match, ctap.StatusUVInvalid when the sample did not match
	// (the key counts it against uvRetries), ctap.StatusOperationDenied
	// when the user declined or cancelled on the key (not counted),
	// ctap.StatusUserActionTimeout when no sample came in time (counted:
	// the attempt had begun), and ctx.Err() when the request was
	// cancelled (CTAPHID_CANCEL; not counted).
	VerifyUser(ctx context.Context, req UVRequest) error
}

// UVRequest describes one built-in user verification attempt.
type UVRequest struct {
	// Command is the command that asks: makeCredential, getAssertion or
	// clientPIN (getPinUvAuthTokenUsingUvWithPermissions).
	Command ctap.Command
	// RPID is the relying party: rp.id or rpId of the command, the rpId
	// of the token request (empty when it has none).
	RPID string
	// Permissions are the pinUvAuthToken permissions asked for, for a
	// consent prompt (§6.5.5.7.3 step 8); zero for makeCredential and
	// getAssertion.
	Permissions uint64
	// Retries is uvRetries before this attempt.
	Retries int
}

// uvConfigured reports whether built-in user verification is supported
// and configured: the value of getInfo's "uv" option. A key with
// Config.BuiltInUV is configured, except that with Config.BioEnrollment
// it is only while a finger is enrolled (bio.go).
func (a *Authenticator) uvConfigured() bool { return a.builtInUV && a.bioConfigured() }

// uvRetries returns uvRetries (§6.5.5.3): MaxUVRetries less the failed
// attempts since the last success.
func (a *Authenticator) uvRetries() int { return max(MaxUVRetries-a.state.UVFailures, 0) }

// protectedByUV reports whether the key "is protected by some form of
// user verification" (§6.1.2 steps 7 and 11, §6.2.2 step 6): a PIN is set
// or built-in UV is configured.
func (a *Authenticator) protectedByUV() bool { return a.pinSet() || a.uvConfigured() }

// uvOutcome is how performBuiltInUV ended.
type uvOutcome int

const (
	uvVerified uvOutcome = iota
	uvNoMatch            // every attempt failed to match
	uvDeclined           // the user declined (or cancelled on the key)
	uvTimedOut           // no sample in time
	uvBlocked            // uvRetries was 0 before an attempt
)

// performBuiltInUV is the spec's performBuiltInUv(internalRetry) (CTAP
// 2.1 §6.5, with the counters of §6.5.2.2). Each attempt first checks
// uvRetries (0 is uvBlocked), then decrements it and saves the state
// before asking the Verifier, so an attempt cut short by a power loss
// still counts. A match resets uvRetries to MaxUVRetries; a mismatch
// keeps the decrement and, with internalRetry, tries again up to
// MaxUVAttemptsForInternalRetries attempts; a timeout keeps the decrement
// and ends; a decline or a cancelled request gives the retry back, as no
// sample was taken. A cancelled request is CTAP2_ERR_KEEPALIVE_CANCEL.
func (a *Authenticator) performBuiltInUV(ctx context.Context, req UVRequest, internalRetry bool) (uvOutcome, error) {
	attempts := 1
	if internalRetry {
		attempts = MaxUVAttemptsForInternalRetries
	}
	for range attempts {
		if a.uvRetries() == 0 {
			return uvBlocked, nil
		}
		req.Retries = a.uvRetries()
		a.state.UVFailures++
		if err := a.save(); err != nil {
			return 0, err
		}
		err := a.verifyUser(ctx, req)
		switch {
		case err == nil:
			a.state.UVFailures = 0
			a.state.UVCountSincePIN++ // CTAP 2.2 §6.4 uvCountSinceLastPinEntry (ctap22.go)
			if err := a.save(); err != nil {
				return 0, err
			}
			return uvVerified, nil
		case errors.Is(err, ctap.StatusUVInvalid):
			continue
		case errors.Is(err, ctap.StatusUserActionTimeout):
			return uvTimedOut, nil
		}
		a.state.UVFailures-- // no sample was taken
		if serr := a.save(); serr != nil {
			return 0, serr
		}
		if errors.Is(err, ctap.StatusOperationDenied) {
			return uvDeclined, nil
		}
		return 0, err
	}
	return uvNoMatch, nil
}

// verifyUser asks the Verifier for one attempt, with the keepalive status
// saying the key waits for the user, and maps its answer as touch does: a
// cancelled ctx is CTAP2_ERR_KEEPALIVE_CANCEL, a deadline a timeout.
func (a *Authenticator) verifyUser(ctx context.Context, req UVRequest) error {
	return a.askUser(ctx, "user verification", func(ctx context.Context) error { return a.verifier.VerifyUser(ctx, req) },
		ctap.StatusUVInvalid, ctap.StatusOperationDenied, ctap.StatusUserActionTimeout)
}

// mcGaUVError is what makeCredential (§6.1.2 step 11.2) and getAssertion
// (§6.2.2 step 6.2) answer when the built-in UV they asked for with the
// "uv" option failed: a timeout is CTAP2_ERR_USER_ACTION_TIMEOUT; with a
// PIN set (clientPin true, noMcGaPermissionsWithClientPin absent) the
// platform should get a token instead, CTAP2_ERR_PUAT_REQUIRED; with no
// retries left CTAP2_ERR_PIN_BLOCKED (sic: the spec names the PIN status
// here, not CTAP2_ERR_UV_BLOCKED); otherwise CTAP2_ERR_OPERATION_DENIED.
func (a *Authenticator) mcGaUVError(o uvOutcome) error {
	switch {
	case o == uvTimedOut:
		return fmt.Errorf("%w: no fingerprint in time", ctap.StatusUserActionTimeout)
	case a.pinSet():
		return fmt.Errorf("%w: built-in user verification failed, a PIN is set", ctap.StatusPUATRequired)
	case a.uvRetries() == 0:
		return fmt.Errorf("%w: built-in user verification blocked", ctap.StatusPINBlocked)
	}
	return fmt.Errorf("%w: built-in user verification failed", ctap.StatusOperationDenied)
}

// getUVRetries is §6.5.5.3: uvRetries. A key without built-in UV answers
// CTAP2_ERR_INVALID_SUBCOMMAND (see handle).
func (hs *clientPINState) getUVRetries() error {
	n := uint64(hs.a.uvRetries())
	hs.resp.UVRetries = &n
	return nil
}

// getPinUvAuthTokenUsingUV is getPinUvAuthTokenUsingUvWithPermissions
// (§6.5.5.7.3). The verification answers CTAP2_ERR_UV_INVALID on a
// mismatch, CTAP2_ERR_UV_BLOCKED when it used the last retry or none was
// left, CTAP2_ERR_USER_ACTION_TIMEOUT without a sample, and
// CTAP2_ERR_OPERATION_DENIED when the user declines, which this key
// treats as the refused consent of step 8 (no retry is used). The token
// has userVerified and, the sensor having been touched, userPresent set
// (step 13).
func (hs *clientPINState) getPinUvAuthTokenUsingUV() error {
	a, r := hs.a, &hs.req
	if err := require("pinUvAuthProtocol", r.PinUvAuthProtocol, "keyAgreement", r.KeyAgreement,
		"permissions", r.Permissions); err != nil { // step 1
		return err
	}
	if err := hs.checkProtocol(); err != nil { // step 2
		return err
	}
	perms := *r.Permissions
	if perms == 0 { // step 3
		return fmt.Errorf("%w: permissions 0", ctap.StatusInvalidParameter)
	}
	pcmr := perms&ctap.PermissionPersistentCredMgmtRO != 0 && a.pcmrSupported() // CTAP 2.2 (ctap22.go)
	if pcmr {
		if err := a.checkPCMRAlone(perms); err != nil {
			return err
		}
	} else if bad := perms & definedPermissions &^ (uvPermissions | a.bioPermissions()); bad != 0 { // step 4 (be: uvBioEnroll, bio.go)
		return fmt.Errorf("%w: permissions %#x", ctap.StatusUnauthorizedPermission, bad)
	}
	if !a.uvConfigured() { // step 5
		return fmt.Errorf("%w: built-in user verification not configured", ctap.StatusNotAllowed)
	}
	internalRetry := PreferredPlatformUVAttempts <= 1 // step 6
	if a.uvRetries() == 0 {                           // step 7
		return fmt.Errorf("%w: no uvRetries left", ctap.StatusUVBlocked)
	}
	if err := hs.decapsulate(); err != nil {
		return err
	}
	rpID := ""
	if r.RPID != nil {
		rpID = *r.RPID
	}
	o, err := a.performBuiltInUV(hs.ctx, UVRequest{Command: ctap.CmdClientPIN, RPID: rpID, Permissions: perms}, internalRetry) // steps 8, 9
	if err != nil {
		return err
	}
	switch o { // step 10
	case uvVerified:
	case uvDeclined:
		return fmt.Errorf("%w: user declined", ctap.StatusOperationDenied)
	case uvTimedOut:
		return fmt.Errorf("%w: no fingerprint in time", ctap.StatusUserActionTimeout)
	case uvBlocked:
		return fmt.Errorf("%w: no uvRetries left", ctap.StatusUVBlocked)
	default:
		if a.uvRetries() == 0 {
			return fmt.Errorf("%w: last uvRetry used", ctap.StatusUVBlocked)
		}
		return fmt.Errorf("%w: %d uvRetries left", ctap.StatusUVInvalid, a.uvRetries())
	}
	if pcmr {
		return hs.issuePersistentToken()
	}
	return hs.newToken(perms&definedPermissions, rpID, true) // steps 12 to 16
}
