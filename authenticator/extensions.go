package authenticator

import (
	"bytes"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// Extensions (CTAP 2.1 §12; thirdPartyPayment from CTAP 2.2 §12).
//
// makeCredential's step 15 and getAssertion's step 10 call one method per
// extension (ext_*.go). A makeCredential step parses its input, records
// what the new credential keeps in credentialExtensions and its output
// with extensionOutput; a getAssertion step parses its input and appends
// an assertionExtension, which adds the output for each credential the
// command, or getNextAssertion after it, returns. An input of the wrong
// CBOR type is CTAP2_ERR_CBOR_UNEXPECTED_TYPE; unknown extensions are
// ignored (§6.1.1, §6.2.1).

// MaxCredBlobLength is getInfo's maxCredBlobLength (CTAP 2.1 §6.4 member
// 0x0F, §12.2): the longest credBlob this key stores, the least the spec
// allows.
const MaxCredBlobLength = 32

// extensionsInfo adds the extensions' getInfo members: the key's
// extensions (Config.Extensions, features.go) and, with credBlob, its
// maxCredBlobLength.
func (a *Authenticator) extensionsInfo(info *ctap.InfoResponse) {
	info.Extensions = a.feat.extensions
	if a.hasExtension(extCredBlob) {
		info.MaxCredBlobLength = uint64(a.feat.maxCredBlob)
	}
}

// credentialExtensions is what makeCredential's extensions keep with the
// new credential: a discoverable credential in its ResidentCredential
// fields, a non-discoverable one in its sealed ID's flags byte
// (credential.go), which has room for credProtect and thirdPartyPayment
// only.
type credentialExtensions struct {
	credProtect       uint64 // 0 when not requested: level 1
	credBlob          []byte // discoverable credentials only
	largeBlobKey      []byte // discoverable credentials only
	thirdPartyPayment bool
	hmacSecret        bool // ext_hmacsecret.go
}

// Bits of a sealed credential ID's flags byte (credential.go).
const (
	sealedFlagCredProtect       byte = 0x03 // the credProtect level; 0 means 1
	sealedFlagThirdPartyPayment byte = 0x04
	sealedFlagHMACSecret        byte = 0x08 // ext_hmacsecret.go
	sealedFlagsKnown                 = sealedFlagCredProtect | sealedFlagThirdPartyPayment | sealedFlagHMACSecret
)

// sealedFlags is the flags byte for a non-discoverable credential.
func (e *credentialExtensions) sealedFlags() byte {
	f := byte(e.credProtect) & sealedFlagCredProtect
	if e.thirdPartyPayment {
		f |= sealedFlagThirdPartyPayment
	}
	if e.hmacSecret {
		f |= sealedFlagHMACSecret
	}
	return f
}

// storeIn records the extensions' state in a discoverable credential.
func (e *credentialExtensions) storeIn(c *ResidentCredential) {
	c.CredProtect = e.credProtect
	c.CredBlob = bytes.Clone(e.credBlob)
	c.LargeBlobKey = bytes.Clone(e.largeBlobKey)
	c.ThirdPartyPayment = e.thirdPartyPayment
	c.HMACSecret = e.hmacSecret
}

// decodeExtensionInput decodes the input of extension id into v. A value
// of another CBOR type, null and undefined included, is
// CTAP2_ERR_CBOR_UNEXPECTED_TYPE.
func decodeExtensionInput(id string, raw ctap.RawMessage, v any) error {
	if len(raw) == 1 && (raw[0] == 0xf6 || raw[0] == 0xf7) {
		return fmt.Errorf("%w: extension %s is null", ctap.StatusCBORUnexpectedType, id)
	}
	if err := ctap.UnmarshalRequest(raw, v); err != nil {
		return fmt.Errorf("extension %s: %w", id, err)
	}
	return nil
}

// extensionFlag decodes a boolean extension input: present reports
// whether the extension was sent at all.
// The decoded value is a variable of its own, so that a request without
// the extension allocates nothing.
func extensionFlag(exts map[string]ctap.RawMessage, id string) (value, present bool, err error) {
	raw, ok := exts[id]
	if !ok {
		return false, false, nil
	}
	var v bool
	if err := decodeExtensionInput(id, raw, &v); err != nil {
		return false, true, err
	}
	return v, true, nil
}

// addAssertionExtensions runs the assertion's extensions for c and puts
// their authenticator extension outputs, if any, in ad (WebAuthn §6.1).
func addAssertionExtensions(ad *ctap.AuthData, exts []assertionExtension, c credentialRef, resp *ctap.GetAssertionResponse) error {
	if len(exts) == 0 {
		return nil
	}
	outputs := make(map[string]any)
	for _, e := range exts {
		if err := e(c, outputs, resp); err != nil {
			return err
		}
	}
	if len(outputs) > 0 {
		ad.Extensions = ctap.MustMarshal(outputs)
	}
	return nil
}
