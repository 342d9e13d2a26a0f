package authenticator

import "github.com/virtkey/virtkey/ctap"

// thirdPartyPayment reports whether the credential was made for
// third-party payment (CTAP 2.2 §12, thirdPartyPayment).
func (c credentialRef) thirdPartyPayment() bool {
	if c.resident != nil {
		return c.resident.ThirdPartyPayment
	}
	return c.key.flags&sealedFlagThirdPartyPayment != 0
}

// thirdPartyPaymentExtension is step 15 for thirdPartyPayment (CTAP 2.2
// §12, sctn-thirdPartyPayment-extension). The input is a boolean (another
// type is CTAP2_ERR_CBOR_UNEXPECTED_TYPE). True marks the credential, of
// either kind, as usable for third-party payment; the output is whether
// it is.
func (hs *makeCredentialState) thirdPartyPaymentExtension() error {
	if !hs.a.hasExtension(extThirdPartyPayment) { // not this key's: ignored (features.go)
		return nil
	}
	want, present, err := extensionFlag(hs.req.Extensions, ctap.ExtThirdPartyPayment)
	if err != nil || !present {
		return err
	}
	hs.ext.thirdPartyPayment = want
	hs.extensionOutput(ctap.ExtThirdPartyPayment, want)
	return nil
}

// thirdPartyPaymentAssertion is step 10 for thirdPartyPayment: a boolean
// input; when true the output is each credential's flag.
func (hs *getAssertionState) thirdPartyPaymentAssertion() error {
	if !hs.a.hasExtension(extThirdPartyPayment) { // not this key's: ignored (features.go)
		return nil
	}
	want, _, err := extensionFlag(hs.req.Extensions, ctap.ExtThirdPartyPayment)
	if err != nil || !want {
		return err
	}
	hs.exts = append(hs.exts, func(c credentialRef, out map[string]any, _ *ctap.GetAssertionResponse) error {
		out[ctap.ExtThirdPartyPayment] = c.thirdPartyPayment()
		return nil
	})
	return nil
}
