package authenticator

import (
	"bytes"

	"github.com/virtkey/virtkey/ctap"
)

// credBlobExtension is step 15 for credBlob (CTAP 2.1 §12.2). The input
// is a byte string (another type is CTAP2_ERR_CBOR_UNEXPECTED_TYPE). A
// discoverable credential keeps a blob of at most maxCredBlobLength bytes
// and the output is true; a longer blob is not stored and the output is
// false. This key keeps credBlob with discoverable credentials only, so
// for a non-discoverable one the output is false.
func (hs *makeCredentialState) credBlobExtension() error {
	if !hs.a.hasExtension(extCredBlob) { // not this key's: ignored (features.go)
		return nil
	}
	raw, ok := hs.req.Extensions[ctap.ExtCredBlob]
	if !ok {
		return nil
	}
	var blob []byte
	if err := decodeExtensionInput(ctap.ExtCredBlob, raw, &blob); err != nil {
		return err
	}
	stored := hs.rk && len(blob) <= hs.a.feat.maxCredBlob && !hs.a.faulty(FaultCredBlobNotStored)
	if stored {
		hs.ext.credBlob = bytes.Clone(blob)
	}
	hs.extensionOutput(ctap.ExtCredBlob, stored)
	return nil
}

// credBlobAssertion is step 10 for credBlob (§12.2). The input is a
// boolean (another type is CTAP2_ERR_CBOR_UNEXPECTED_TYPE); when true the
// output is each credential's stored blob, an empty byte string when it
// has none. False asks for nothing.
func (hs *getAssertionState) credBlobAssertion() error {
	if !hs.a.hasExtension(extCredBlob) { // not this key's: ignored (features.go)
		return nil
	}
	want, _, err := extensionFlag(hs.req.Extensions, ctap.ExtCredBlob)
	if err != nil || !want {
		return err
	}
	hs.exts = append(hs.exts, func(c credentialRef, out map[string]any, _ *ctap.GetAssertionResponse) error {
		blob := []byte{} // an empty byte string, not null
		if c.resident != nil && len(c.resident.CredBlob) > 0 {
			blob = bytes.Clone(c.resident.CredBlob)
		}
		out[ctap.ExtCredBlob] = blob
		return nil
	})
	return nil
}
