package client

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// The HKDF info strings of the two getInfo members a key encrypts for the
// holder of a persistent pinUvAuthToken (CTAP 2.2 §6.4, encIdentifier and
// encCredStoreState).
const (
	HKDFInfoEncIdentifier     = "encIdentifier"
	HKDFInfoEncCredStoreState = "encCredStoreState"
)

// EncryptedMemberSize is the length of encIdentifier and encCredStoreState:
// a 16-byte IV and one AES block holding the 128-bit value (CTAP 2.2 §6.4).
const EncryptedMemberSize = 2 * aes.BlockSize

// DecryptInfoMember opens encIdentifier or encCredStoreState (CTAP 2.2
// §6.4) with the persistent pinUvAuthToken token (a token obtained with the
// pcmr permission, §6.5.5.7): key = HKDF-SHA-256(salt = 32 zero bytes, IKM
// = token, info = info, L = 16), and the member is iv || AES-128-CBC(key,
// iv, value), the IV its first 16 bytes. info is HKDFInfoEncIdentifier or
// HKDFInfoEncCredStoreState.
//
// The CTAP 2.2 text itself could not be read here; the construction is
// python-fido2's (Yubico/python-fido2 d1fd711, fido2/ctap2/base.py,
// Info._decrypt: HKDF-SHA-256, 16-byte key, salt of 32 zero bytes, the info
// strings above, AES-CBC with the member's first 16 bytes as IV), and
// go-ctap/ctap's (crypto/credential_store_state.go) is the same. The value
// is 128 bits, so the member is 32 bytes, the IV and one block, as go-ctap
// also requires; a member of another length is an error wrapping
// ErrBadResponse, an empty token an error too. A wrong token is not
// detectable (CBC has no integrity): it yields 16 other bytes.
func DecryptInfoMember(token, member []byte, info string) ([]byte, error) {
	if len(token) == 0 {
		return nil, fmt.Errorf("client: %s: no persistent pinUvAuthToken", info)
	}
	if len(member) != EncryptedMemberSize {
		return nil, fmt.Errorf("%w: getInfo %s of %d bytes, want %d", ErrBadResponse, info, len(member), EncryptedMemberSize)
	}
	key, err := hkdf.Key(sha256.New, token, make([]byte, 32), info, aes.BlockSize)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", info, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", info, err)
	}
	out := make([]byte, aes.BlockSize)
	cipher.NewCBCDecrypter(block, member[:aes.BlockSize]).CryptBlocks(out, member[aes.BlockSize:])
	return out, nil
}

// DecryptIdentifier returns the key's 128-bit identifier from encIdentifier
// (0x19, CTAP 2.2 §6.4) with the persistent pinUvAuthToken token (see
// DecryptInfoMember). The identifier stays the same across power cycles
// until a reset, so a platform can tell which of its stored persistent
// tokens belongs to the key in front of it. This is python-fido2's
// Info.get_identifier. Without the member the error wraps ErrNotSupported.
func (i *Info) DecryptIdentifier(token []byte) ([]byte, error) {
	if !i.HasMember(InfoEncIdentifier) {
		return nil, fmt.Errorf("%w: getInfo has no encIdentifier (0x19)", ErrNotSupported)
	}
	return DecryptInfoMember(token, i.EncIdentifier, HKDFInfoEncIdentifier)
}

// DecryptCredStoreState returns the 128-bit credential store state from
// encCredStoreState (0x1E, CTAP 2.2 §6.4) with the persistent
// pinUvAuthToken token (see DecryptInfoMember). The value changes whenever
// a discoverable credential is created, updated or deleted, so a platform
// that cached an enumeration made with the pcmr permission knows when to
// read it again. This is python-fido2's Info.get_cred_store_state. Without
// the member the error wraps ErrNotSupported.
func (i *Info) DecryptCredStoreState(token []byte) ([]byte, error) {
	if !i.HasMember(InfoEncCredStoreState) {
		return nil, fmt.Errorf("%w: getInfo has no encCredStoreState (0x1E)", ErrNotSupported)
	}
	return DecryptInfoMember(token, i.EncCredStoreState, HKDFInfoEncCredStoreState)
}

// SupportsConfigCommand reports whether the key lists authenticatorConfig
// subcommand sub (ctap.ConfigSetMinPINLength, ...) in
// authenticatorConfigCommands (0x1F, CTAP 2.2 §6.4). A key that leaves the
// member out says nothing: ok is false then, and supported is whether
// authnrCfg is true, the 2.1 way of telling.
func (i *Info) SupportsConfigCommand(sub uint64) (supported, ok bool) {
	if !i.HasMember(InfoAuthenticatorConfigCommands) {
		v, _ := i.Option(ctap.OptionAuthnrCfg)
		return v, false
	}
	return slices.Contains(i.AuthenticatorConfigCommands, sub), true
}
