package authenticator

import (
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// The PIN complexity policy of a CTAP 2.2 key: setMinPINLength's
// pinComplexityPolicy parameter switches it on (CTAP 2.2 §6.11.4), getInfo
// reports it as pinComplexityPolicy with pinComplexityPolicyURL (§6.4,
// ctap22.go), setPIN and changePIN enforce it (pinComplexityOK), and the
// pinComplexityPolicy extension tells an RP of minPinLengthRPIDs its value
// (§12). The CTAP 2.2 text could not be read where this was written: the
// parameter's meaning is the one python-fido2 (Config.set_min_pin_length
// pin_complexity_policy) and pico-fido (cbor_config.c, cbor_client_pin.c
// pin_policy_pass) give it, and the extension's the one FIDO's CTAP 2.2
// test descriptions give it (output for an RP ID in minPinLengthRPIDs,
// as minPinLength's).
//
// The rule itself is the key's own, as the spec leaves it to the
// authenticator and points to pinComplexityPolicyURL for it; this key's is
// docs/pin-complexity.md: a new PIN that is one code point repeated or a
// run of consecutive digits is refused.

// pinComplexityPossible reports whether a key with features f and these
// versions can have the policy: a CTAP 2.2 key with clientPin and
// authenticatorConfig (features.go).
func pinComplexityPossible(f *features, versions []string) bool {
	return slices.Contains(versions, ctap.VersionFIDO22) && f.clientPIN && f.authnrCfg
}

// pinComplexityEnforced reports whether setPIN and changePIN apply the
// rule: the policy is on.
func (a *Authenticator) pinComplexityEnforced() bool {
	return a.state.PINComplexityPolicy && pinComplexityPossible(&a.feat, a.versions) && !a.faulty(FaultPINComplexityIgnored)
}

// pinComplexityOK reports whether pin (NFC UTF-8, as clientPIN decrypted
// it) meets the rule of docs/pin-complexity.md: it is not a single code
// point repeated (1111, aaaa) and not a run of consecutive decimal digits,
// ascending or descending (1234, 98765), the repetitive and sequential
// PINs NIST SP 800-63B §5.1.1.2 has verifiers refuse.
func pinComplexityOK(pin string) bool {
	rs := []rune(pin)
	if len(rs) < 2 {
		return true
	}
	repeated, up, down := true, true, true
	for i := 1; i < len(rs); i++ {
		p, c := rs[i-1], rs[i]
		repeated = repeated && c == p
		digits := '0' <= p && p <= '9' && '0' <= c && c <= '9'
		up = up && digits && c == p+1
		down = down && digits && c == p-1
	}
	return !repeated && !up && !down
}

// setPINComplexityPolicy is setMinPINLength's pinComplexityPolicy (CTAP
// 2.2 §6.11.4): true switches the policy on. false, or the parameter
// absent, leaves it as it is: like the minimum PIN length, the policy only
// tightens until authenticatorReset (resetConfig). A 2.1 key ignores the
// parameter, as any member it does not know. The caller saves.
func (a *Authenticator) setPINComplexityPolicy(p *bool) {
	if p != nil && *p && pinComplexityPossible(&a.feat, a.versions) {
		a.state.PINComplexityPolicy = true
	}
}

// pinComplexityPolicyExtension is step 15 for pinComplexityPolicy (CTAP
// 2.2 §12): the input is a boolean (another type is
// CTAP2_ERR_CBOR_UNEXPECTED_TYPE); when it is true and rp.id is one of the
// minPinLengthRPIDs, the output is the policy's current value, true or
// false; otherwise there is no output.
func (hs *makeCredentialState) pinComplexityPolicyExtension() error {
	if !hs.a.hasExtension(extPinComplexityPolicy) {
		return nil
	}
	want, _, err := extensionFlag(hs.req.Extensions, ctap.ExtPinComplexityPolicy)
	if err != nil || !want {
		return err
	}
	if slices.Contains(hs.a.state.MinPINLengthRPIDs, hs.req.RP.ID) {
		hs.extensionOutput(ctap.ExtPinComplexityPolicy, hs.a.state.PINComplexityPolicy)
	}
	return nil
}
