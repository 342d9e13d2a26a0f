package authenticator

import (
	"bytes"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// largeBlobKeyLength is the length of a credential's largeBlobKey (CTAP
// 2.1 §12.3).
const largeBlobKeyLength = 32

// largeBlobKeyExtension is step 15 for largeBlobKey (CTAP 2.1 §12.3). The
// input is a boolean (another type is CTAP2_ERR_CBOR_UNEXPECTED_TYPE); a
// value other than true is CTAP2_ERR_INVALID_OPTION, and so is a
// non-discoverable credential (the extension is for discoverable
// credentials only). The key gets 32 random bytes, kept with the
// credential and returned in the response's largeBlobKey member (0x05),
// not in the authenticator data.
func (hs *makeCredentialState) largeBlobKeyExtension() error {
	if !hs.a.hasExtension(extLargeBlobKey) { // not this key's: ignored (features.go)
		return nil
	}
	want, present, err := extensionFlag(hs.req.Extensions, ctap.ExtLargeBlobKey)
	switch {
	case err != nil || !present:
		return err
	case !want:
		return fmt.Errorf("%w: largeBlobKey is false", ctap.StatusInvalidOption)
	case !hs.rk:
		return fmt.Errorf("%w: largeBlobKey for a non-discoverable credential", ctap.StatusInvalidOption)
	}
	key, err := hs.a.randomBytes(largeBlobKeyLength)
	if err != nil {
		return err
	}
	hs.ext.largeBlobKey = key
	hs.resp.LargeBlobKey = bytes.Clone(key)
	return nil
}

// largeBlobKeyAssertion is step 10 for largeBlobKey (§12.3): a boolean
// input, true or CTAP2_ERR_INVALID_OPTION, asks for each credential's
// largeBlobKey in the response member 0x07, left out for a credential
// without one.
func (hs *getAssertionState) largeBlobKeyAssertion() error {
	if !hs.a.hasExtension(extLargeBlobKey) { // not this key's: ignored (features.go)
		return nil
	}
	want, present, err := extensionFlag(hs.req.Extensions, ctap.ExtLargeBlobKey)
	switch {
	case err != nil || !present:
		return err
	case !want:
		return fmt.Errorf("%w: largeBlobKey is false", ctap.StatusInvalidOption)
	}
	hs.exts = append(hs.exts, func(c credentialRef, _ map[string]any, resp *ctap.GetAssertionResponse) error {
		if c.resident != nil && len(c.resident.LargeBlobKey) > 0 {
			resp.LargeBlobKey = bytes.Clone(c.resident.LargeBlobKey)
		}
		return nil
	})
	return nil
}
