package authenticator

import (
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// minPinLengthExtension is step 15 for minPinLength (CTAP 2.1 §12.4). The
// input is a boolean (another type is CTAP2_ERR_CBOR_UNEXPECTED_TYPE).
// When it is true and rp.id is one of the minPinLengthRPIDs that
// authenticatorConfig setMinPINLength stored (§6.11.4; this key has no
// pre-configured list), the output is the current minimum PIN length in
// code points; otherwise there is no output.
func (hs *makeCredentialState) minPinLengthExtension() error {
	if !hs.a.hasExtension(extMinPinLength) { // not this key's: ignored (features.go)
		return nil
	}
	want, _, err := extensionFlag(hs.req.Extensions, ctap.ExtMinPinLength)
	if err != nil || !want {
		return err
	}
	if slices.Contains(hs.a.state.MinPINLengthRPIDs, hs.req.RP.ID) {
		hs.extensionOutput(ctap.ExtMinPinLength, uint64(hs.a.minPINLength()))
	}
	return nil
}
