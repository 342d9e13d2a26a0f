package authenticator

import (
	"fmt"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// pinToken is pinUvAuthTokenState (CTAP 2.1 §6.5.2.1): the one
// pinUvAuthToken of the key, with its permissions, permissions RP ID,
// usage timer and userPresent/userVerified flags. Its methods answer the
// questions §6.5.2.1 asks of it. The zero value is a token that is not in
// use, which authorizes nothing.
type pinToken struct {
	value        []byte // 32 random bytes; nil when not in use
	protocol     uint64 // the PIN/UV auth protocol that issued it
	permissions  uint64
	rpID         string // permissions RP ID; empty when none is bound
	issued       time.Time
	used         bool // used at least once: the initial usage limit no longer applies
	userPresent  bool
	userVerified bool
}

// inUse reports whether the token is in use at now, first running the
// usage timer (pinUvAuthTokenUsageTimerObserver, §6.5.2.1): a token past
// its initial usage limit without having been used, or past its maximum
// usage period, stops being in use.
func (t *pinToken) inUse(now time.Time) bool {
	if t.value == nil {
		return false
	}
	age := now.Sub(t.issued)
	if age > TokenMaxUsagePeriod || (!t.used && age > TokenInitialUsageLimit) {
		*t = pinToken{}
		return false
	}
	return true
}

// boundRPID is the permissions RP ID, or "" when none is bound.
func (t *pinToken) boundRPID() string { return t.rpID }

// userPresentFlag is getUserPresentFlagValue (§6.5.2.1): the in-use
// token's userPresent flag, which lapses TokenUserPresentTimeLimit after
// issue. Only a token from built-in UV has it set.
func (t *pinToken) userPresentFlag(now time.Time) bool {
	if !t.inUse(now) || !t.userPresent {
		return false
	}
	if now.Sub(t.issued) > TokenUserPresentTimeLimit {
		t.userPresent = false // clearUserPresentFlag
	}
	return t.userPresent
}

// consume is what makeCredential (§6.1.2 step 14) and getAssertion
// (§6.2.2 step 9) do after collecting user presence with a
// pinUvAuthParam: clearUserPresentFlag, clearUserVerifiedFlag and
// clearPinUvAuthTokenPermissionsExceptLbw. The token then serves no
// further makeCredential or getAssertion.
func (t *pinToken) consume() {
	t.userPresent = false
	t.userVerified = false
	t.permissions &= ctap.PermissionLargeBlobWrite
}

// tokenUse is what a command asks of the token besides a valid MAC: a
// permission, and for makeCredential and getAssertion the RP the request
// is for.
type tokenUse struct {
	perm uint64
	// rpID, when set, is the request's RP ID (makeCredential §6.1.2 step
	// 11, getAssertion §6.2.2 step 6): the token must be bound to it or to
	// no RP (it is then bound to it) and must have userVerified set.
	// Management commands, which check the binding against what they
	// touch themselves (credman.go), leave it nil.
	rpID *string
}

// authorize checks that param is Authenticate(token, msg) under protocol
// p by a token in use at now that was issued by p and allows use; it
// then binds the token to use.rpID and marks it used. Every failure is
// CTAP2_ERR_PIN_AUTH_INVALID.
func (t *pinToken) authorize(now time.Time, p ctap.PINProtocol, param, msg []byte, use tokenUse) error {
	switch {
	case !t.inUse(now):
		return fmt.Errorf("%w: no pinUvAuthToken in use", ctap.StatusPINAuthInvalid)
	case t.protocol != p.Version():
		// Each protocol has its own pinUvAuthToken and a new token resets
		// them all (§6.5.4 resetPinUvAuthToken), so a token is good only
		// under the protocol that issued it.
		return fmt.Errorf("%w: token of protocol %d used with protocol %d", ctap.StatusPINAuthInvalid, t.protocol, p.Version())
	case !p.Verify(t.value, msg, param):
		return fmt.Errorf("%w: pinUvAuthParam", ctap.StatusPINAuthInvalid)
	case t.permissions&use.perm == 0:
		return fmt.Errorf("%w: token lacks permission %#x", ctap.StatusPINAuthInvalid, use.perm)
	}
	if use.rpID != nil {
		switch {
		case t.rpID != "" && t.rpID != *use.rpID:
			return fmt.Errorf("%w: token bound to another RP", ctap.StatusPINAuthInvalid)
		case !t.userVerified:
			return fmt.Errorf("%w: token already used", ctap.StatusPINAuthInvalid)
		}
		if t.rpID == "" {
			t.rpID = *use.rpID
		}
	}
	t.used = true
	return nil
}

// verifyToken is the one pinUvAuthParam check of the key: makeCredential
// (§6.1.2 step 11), getAssertion (§6.2.2 step 6), bioEnrollment (§6.7),
// credentialManagement (§6.8), largeBlobs (§6.10.2 step 5.e) and
// authenticatorConfig (§6.11). A missing pinUvAuthParam is
// CTAP2_ERR_PUAT_REQUIRED, a missing pinUvAuthProtocol
// CTAP2_ERR_MISSING_PARAMETER and an unsupported one
// CTAP1_ERR_INVALID_PARAMETER; the rest is pinToken.authorize.
func (a *Authenticator) verifyToken(protocol *uint64, param, msg []byte, use tokenUse) error {
	if param == nil {
		return fmt.Errorf("%w: pinUvAuthParam", ctap.StatusPUATRequired)
	}
	if protocol == nil {
		return fmt.Errorf("%w: pinUvAuthProtocol", ctap.StatusMissingParameter)
	}
	p, ok := ctap.PINProtocolByVersion(*protocol)
	if !ok || !a.supportsProtocol(*protocol) {
		return fmt.Errorf("%w: pinUvAuthProtocol %d", ctap.StatusInvalidParameter, *protocol)
	}
	if a.ctap20() {
		use = ctap20Token(use) // no permissions RP ID (ctap20.go)
	}
	if a.faulty(FaultTokenNoExpiry) && a.rt.token.value != nil {
		a.rt.token.issued = a.now()
	}
	if a.faulty(FaultTokenPermissionsIgnored) {
		use.perm = a.rt.token.permissions | use.perm
	}
	if a.faulty(FaultTokenRPIDIgnored) && use.rpID != nil && a.rt.token.rpID != "" {
		use.rpID = &a.rt.token.rpID
	}
	if a.faulty(FaultTokenAnyProtocol) && a.rt.token.protocol != 0 {
		a.rt.token.protocol = p.Version()
	}
	return a.rt.token.authorize(a.now(), p, param, msg, use)
}
