package authenticator

import (
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// The credProtect extension (CTAP 2.1 §12.1). Level 1
// (credProtectUVOptional, credman.go) is the default of a credential made
// without it.
const (
	// credProtectUVOptionalWithList is
	// userVerificationOptionalWithCredentialIDList: without user
	// verification the credential is used only when an allowList names it.
	credProtectUVOptionalWithList = 2
	// credProtectUVRequired is userVerificationRequired: without user
	// verification the credential is not used, nor even seen, at all.
	credProtectUVRequired = 3
)

// credProtectLevel is the credential's level, 1 when it was made without
// the extension.
func (c *ResidentCredential) credProtectLevel() uint64 {
	if c.CredProtect == 0 {
		return credProtectUVOptional
	}
	return c.CredProtect
}

// credProtect is the credential's level: a discoverable credential's
// stored one, or the one sealed in a non-discoverable credential's ID.
func (c credentialRef) credProtect() uint64 {
	if c.resident != nil {
		return c.resident.credProtectLevel()
	}
	if l := uint64(c.key.flags & sealedFlagCredProtect); l != 0 {
		return l
	}
	return credProtectUVOptional
}

// credProtectExtension is step 15 for credProtect. The input is an
// unsigned integer (another type is CTAP2_ERR_CBOR_UNEXPECTED_TYPE) naming
// one of the three levels. §12.1 gives no status for another value; this
// key answers CTAP1_ERR_INVALID_PARAMETER rather than make a credential
// with less protection than the relying party asked for. The level is
// kept with the credential, for either kind, and is the output.
func (hs *makeCredentialState) credProtectExtension() error {
	if !hs.a.hasExtension(extCredProtect) { // not this key's: ignored (features.go)
		return nil
	}
	raw, ok := hs.req.Extensions[ctap.ExtCredProtect]
	if !ok {
		return nil
	}
	var level uint64
	if err := decodeExtensionInput(ctap.ExtCredProtect, raw, &level); err != nil {
		return err
	}
	if level < credProtectUVOptional || level > credProtectUVRequired {
		return fmt.Errorf("%w: credProtect %d", ctap.StatusInvalidParameter, level)
	}
	hs.ext.credProtect = level
	hs.extensionOutput(ctap.ExtCredProtect, level)
	return nil
}

// excludes is §6.1.2 step 12.2 for a credential of excludeList: one
// with userVerificationRequired excludes only when the "uv" bit is set
// (step 11 verified the user); otherwise it is removed from the list and
// the rest of the list is checked.
func (hs *makeCredentialState) excludes(c credentialRef) bool {
	return c.credProtect() != credProtectUVRequired || hs.flags&ctap.FlagUV != 0
}

// filterCredProtect is §6.2.2 steps 7.4 and 7.5: without the "uv" bit,
// userVerificationRequired credentials are removed from the applicable
// credentials, and userVerificationOptionalWithCredentialIDList ones too
// when there is no allowList.
func (hs *getAssertionState) filterCredProtect() {
	if hs.flags&ctap.FlagUV != 0 || hs.a.faulty(FaultCredProtectIgnored) {
		return
	}
	withList := len(hs.req.AllowList) > 0
	if v := hs.view; v != nil {
		v.hide[credProtectUVRequired] = true
		v.hide[credProtectUVOptionalWithList] = !withList
		if v.rp != nil {
			v.n -= v.rp.byProtect[credProtectUVRequired]
			if !withList {
				v.n -= v.rp.byProtect[credProtectUVOptionalWithList]
			}
		}
		return
	}
	hs.creds = slices.DeleteFunc(hs.creds, func(c credentialRef) bool {
		switch c.credProtect() {
		case credProtectUVRequired:
			return true
		case credProtectUVOptionalWithList:
			return !withList
		}
		return false
	})
}

// usableWithoutUV reports whether a CTAP1/U2F key handle may sign: U2F
// has no user verification, so a userVerificationRequired credential
// stays unusable there (§12.1) and U2F_AUTHENTICATE treats its handle as
// not this key's.
func (k credentialKey) usableWithoutUV() bool {
	return k.flags&sealedFlagCredProtect != credProtectUVRequired
}
