package authenticator

import (
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// runtime is the key's volatile state: everything a power cycle forgets.
// The persistent state (State) is what the Store keeps; this is the rest,
// in one value so that power-up (New), PowerCycle and authenticatorReset
// each replace it with one assignment and nothing is left behind.
type runtime struct {
	// powerOn is when the key last powered up: the reset window (§6.6)
	// counts from it. authenticatorReset keeps it.
	powerOn time.Time

	// keyAgreement is the PIN/UV auth protocols' key agreement key
	// (§6.5.4 initialize, regenerate), made from Config.Rand the first time
	// a subcommand needs it after power-up, which keeps Rand's output for
	// keys that never use clientPIN as it was. nil until needed.
	keyAgreement *ctap.KeyAgreementKey
	// token is the pinUvAuthToken (§6.5.2.1), token.go.
	token pinToken
	// mismatches counts consecutive wrong PINs since power-up (§6.5.5.6
	// step 7, §6.5.5.7.2 step 8).
	mismatches int

	// pending is the remembered getAssertion state for getNextAssertion
	// (§6.2.2 step 12, §6.3).
	pending *assertionState
	// credMan is the remembered credentialManagement enumeration (§6.8.3,
	// §6.8.4), credman.go.
	credMan *credManEnumeration
	// enroll is the fingerprint enrollment in progress (§6.7.2), bio.go.
	enroll enrollment
	// largeBlobWrite is the pending authenticatorLargeBlobs write
	// (§6.10.2), largeblobs.go.
	largeBlobWrite largeBlobWrite
}

// powerUp is the volatile state of a key that has just powered up at now.
func powerUp(now time.Time) runtime { return runtime{powerOn: now} }
