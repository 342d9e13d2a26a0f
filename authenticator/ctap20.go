package authenticator

import (
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// A CTAP 2.0 key (FIDO CTAP 2.0 Proposed Standard 2019-01-30): a key whose
// Config.Versions lists neither FIDO_2_1 nor FIDO_2_1_PRE. Besides the
// commands, subcommands, protocols, getInfo members and extensions that
// features.go and getinfo.go leave out, it differs from a CTAP 2.1 key in
// how makeCredential and getAssertion treat the PIN:
//
//   - makeCredential without a pinAuth on a key with a PIN set is refused:
//     "If pinAuth parameter is not present and clientPin been set on the
//     authenticator, return CTAP2_ERR_PIN_REQUIRED error" (CTAP 2.0 §5.1
//     step 6). CTAP2_ERR_PIN_REQUIRED is 0x36, the code CTAP 2.1 renamed
//     CTAP2_ERR_PUAT_REQUIRED. A CTAP 2.0 key has no makeCredUvNotRqd
//     option, so this holds for non-discoverable credentials too; a
//     request with the "uv" option on a key with built-in UV verifies the
//     user itself and is not refused.
//   - A pinAuth under a pinProtocol the key does not support is
//     CTAP2_ERR_PIN_AUTH_INVALID (CTAP 2.0 §5.1 step 7, §5.2 step 7), not
//     CTAP 2.1's CTAP1_ERR_INVALID_PARAMETER (checkPinUvAuthProtocol).
//   - getPinToken's pinToken has no permissions and no permissions RP ID
//     (CTAP 2.0 §5.5.4 "Getting pinToken from the authenticator" and
//     §5.5.7 "Using pinToken"): it authorizes any number of
//     makeCredential and getAssertion requests, for any RP, until it
//     expires or the key regenerates it (a power cycle, a new token, a PIN
//     change). CTAP 2.0 lets a key expire pinToken on a timeout, so the
//     CTAP 2.1 usage timer of token.go still applies.
//   - The enterpriseAttestation member of makeCredential (0x0A) is not a
//     CTAP 2.0 member and is ignored (enterprise.go).

// ctap20PINRequired is CTAP 2.0 §5.1 step 6 (see above); CTAP 2.1 keys
// run checkUvRequired's step 7 instead.
func (hs *makeCredentialState) ctap20PINRequired() error {
	if hs.a.pinSet() && hs.req.PinUvAuthParam == nil && !hs.uv {
		return fmt.Errorf("%w: CTAP 2.0 makeCredential without pinAuth on a key with a PIN", ctap.StatusPUATRequired)
	}
	return nil
}

// ctap20Token adapts a token use to a CTAP 2.0 pinToken: no RP binding
// (use.rpID, which also asks for userVerified, is dropped).
func ctap20Token(use tokenUse) tokenUse {
	use.rpID = nil
	return use
}
