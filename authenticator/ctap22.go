package authenticator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// CTAP 2.2 in the key: the getInfo members 0x16 to 0x1F, the persistent
// pinUvAuthToken with the pcmr permission, and the U2F refusal under
// alwaysUv. A key implements 2.2 when Config.Versions lists FIDO_2_2
// (implements); a 2.1 key answers as before, but for what the 2.1 text
// already requires of it (listedVersions).
//
// The CTAP 2.2 Proposed Standard could not be read where this was
// written. The getInfo members and the pcmr rules are those of the CTAP
// 2.2 text as python-fido2 (ctap2/base.py Info.get_identifier), libfido2
// (fido_dev_get_puat, FIDO_PUAT_CREDMAN_RO) and pico-fido (cbor_get_info.c,
// cbor_client_pin.c and cbor_cred_mgmt.c at 1308b81) implement them; each
// function names its source.

const (
	// MaxPINLength is getInfo's maxPINLength (CTAP 2.2 §6.4 member 0x1D):
	// the longest PIN in code points. A PIN is at most 63 bytes (CTAP 2.1
	// §6.5.5.5 step 7), so it is at most 63 code points long.
	MaxPINLength = 63
	// PINComplexityPolicyURL is getInfo's pinComplexityPolicyURL (CTAP
	// 2.2 §6.4 member 0x1C): the page that states the rule
	// setMinPINLength's pinComplexityPolicy switches on (pinComplexity).
	PINComplexityPolicyURL = "https://github.com/virtkey/virtkey/blob/main/docs/pin-complexity.md"
	// persistentTokenSize is the size of the persistentPinUvAuthToken, as
	// of the pinUvAuthToken (CTAP 2.1 §6.5.2.1).
	persistentTokenSize = 32
	// encMemberSize is the size of the plaintext of encIdentifier and
	// encCredStoreState: one AES block, 128 bits.
	encMemberSize = aes.BlockSize
)

// listedVersions is getInfo's versions: Config.Versions, without U2F_V2
// while alwaysUv is on. CTAP1/U2F has no user verification, so a key
// whose alwaysUv option is true does not offer it (CTAP 2.1 §7.2, as
// OpenSK's allows_ctap1, pico-fido's cbor_get_info.c and trussed's
// fido-authenticator read it; the 2.1 text itself could not be read
// here). This holds for a 2.1 key as well as a 2.2 one: the rule is
// §7.2's, and every key here implements alwaysUv. ctap1.go refuses the
// U2F commands to match (u2fRefusedByAlwaysUV).
func (a *Authenticator) listedVersions() []string {
	if !a.alwaysUV() || a.faulty(FaultAlwaysUVKeepsU2F) {
		return a.versions
	}
	return slices.DeleteFunc(slices.Clone(a.versions), func(v string) bool { return v == ctap.VersionU2FV2 })
}

// ctap22Info adds the CTAP 2.2 members to getInfo (CTAP 2.2 §6.4) on a key
// that implements 2.2, and sets versions (listedVersions) on every key:
//   - attestationFormats (0x16): the formats makeCredential can give
//     (attestationFormats);
//   - uvCountSinceLastPinEntry (0x17), with built-in UV only: the built-in
//     user verifications since the PIN was last entered correctly;
//   - longTouchForReset (0x18) false: a reset takes an ordinary touch;
//   - encIdentifier (0x19) and encCredStoreState (0x1E), once a
//     persistentPinUvAuthToken exists (encryptMember);
//   - transportsForReset (0x1A): the key's transports, over each of
//     which authenticatorReset works;
//   - pinComplexityPolicy (0x1B), the current setting, and
//     pinComplexityPolicyURL (0x1C), on a key with clientPin and
//     authenticatorConfig (setMinPINLength switches it);
//   - maxPINLength (0x1D) 63, on a key with clientPin;
//   - authenticatorConfigCommands (0x1F): the authenticatorConfig
//     subcommands the key runs (config.go);
//   - the perCredMgmtRO option true where the key grants the pcmr
//     permission (pcmrSupported).
func (a *Authenticator) ctap22Info(info *ctap.InfoResponse) {
	info.Versions = a.listedVersions()
	if !a.implements(ctap.VersionFIDO22) {
		return
	}
	f := &a.feat
	info.AttestationFormats = a.attestationFormats()
	if a.builtInUV && f.clientPIN {
		n := a.state.UVCountSincePIN
		info.UVCountSinceLastPinEntry = &n
	}
	longTouch := false
	info.LongTouchForReset = &longTouch
	info.TransportsForReset = f.transports
	if f.clientPIN {
		info.MaxPINLength = MaxPINLength
	}
	if f.authnrCfg {
		info.AuthenticatorConfigCommands = []uint64{ctap.ConfigToggleAlwaysUv, ctap.ConfigSetMinPINLength}
		if f.ep {
			info.AuthenticatorConfigCommands = append([]uint64{ctap.ConfigEnableEnterpriseAttestation}, info.AuthenticatorConfigCommands...)
		}
		if f.clientPIN {
			policy := a.state.PINComplexityPolicy
			info.PinComplexityPolicy = &policy
			info.PinComplexityPolicyURL = []byte(PINComplexityPolicyURL)
		}
	}
	if !a.pcmrSupported() {
		return
	}
	info.Options[ctap.OptionPerCredMgmtRO] = true
	if tok := a.state.PersistentToken; tok != nil {
		// A random source that fails leaves both out rather than
		// failing getInfo.
		id, err1 := a.encryptMember(tok, "encIdentifier", a.state.DeviceID)
		st, err2 := a.encryptMember(tok, "encCredStoreState", a.state.CredStoreState)
		if err1 == nil && err2 == nil {
			info.EncIdentifier, info.EncCredStoreState = id, st
		}
	}
}

// pcmrSupported reports whether the key grants the pcmr permission: a 2.2
// key with a PIN/UV auth protocol, clientPin and credential management
// (Config, features.go).
func (a *Authenticator) pcmrSupported() bool {
	f := &a.feat
	return a.implements(ctap.VersionFIDO22) && f.clientPIN && f.credMgmt && len(f.protocols) > 0
}

// attestationFormats is getInfo's attestationFormats (CTAP 2.2 §6.4 member
// 0x16), in the key's order of preference: "packed" then "none" for a key
// with packed attestation (full or self, Config.Attestation), "none" alone
// for a key configured without attestation.
func (a *Authenticator) attestationFormats() []string {
	if a.attMode == AttestationNone {
		return []string{ctap.FormatNone}
	}
	return []string{ctap.FormatPacked, ctap.FormatNone}
}

// encryptMember is the encryption of encIdentifier and encCredStoreState
// (CTAP 2.2 §6.4 members 0x19 and 0x1E): the key is the first 16 bytes of
// HKDF-SHA-256 of the persistentPinUvAuthToken with 32 zero bytes of salt
// and info the member's name, the cipher AES-128-CBC without padding
// over the 16-byte value, and the result the fresh random IV followed by
// the ciphertext, 32 bytes that differ at every getInfo. Taken from
// python-fido2's Info.get_identifier and pico-fido's
// encrypt_dev_state_block, which agree.
func (a *Authenticator) encryptMember(token []byte, info string, plain []byte) ([]byte, error) {
	if len(plain) != encMemberSize {
		return nil, fmt.Errorf("authenticator: %s of %d bytes", info, len(plain))
	}
	key, err := hkdf.Key(sha256.New, token, make([]byte, 32), info, 16)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out, err := a.randomBytes(aes.BlockSize + encMemberSize)
	if err != nil {
		return nil, err
	}
	cipher.NewCBCEncrypter(block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], plain)
	if a.faulty(FaultEncIdentifierFixedIV) {
		clear(out[:aes.BlockSize])
		cipher.NewCBCEncrypter(block, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], plain)
	}
	return out, nil
}

// newCredStoreState gives the credential store state a new random value
// (CTAP 2.3 §6.1.2 step 17.5 as webauthn4j quotes it: "Generate a new
// 128-bit random value for credential store state"): after every change
// to the discoverable credentials of a key that implements 2.2 and has
// handed out a persistent token, so that encCredStoreState tells a
// platform holding the token that its cached list is stale. The caller
// saves the state.
func (a *Authenticator) newCredStoreState() error {
	if !a.implements(ctap.VersionFIDO22) || a.state.PersistentToken == nil || a.faulty(FaultCredStoreStateFixed) {
		return nil
	}
	v, err := a.randomBytes(encMemberSize)
	if err != nil {
		return err
	}
	a.state.CredStoreState = v
	return nil
}

// persistentToken returns the persistentPinUvAuthToken, making it on the
// first pcmr grant together with the device identifier and the first
// credential store state. The caller saves the state. Unlike the
// pinUvAuthToken it is kept in the State: it survives power cycles, has
// no usage timer and is not replaced by later grants, so that a platform
// that cached it can read the credentials on a later connection without
// the PIN. changePIN and authenticatorReset drop it (dropPersistentToken).
func (a *Authenticator) persistentToken() ([]byte, error) {
	if a.state.PersistentToken != nil {
		return a.state.PersistentToken, nil
	}
	tok, err := a.randomBytes(persistentTokenSize)
	if err != nil {
		return nil, err
	}
	if a.state.DeviceID == nil {
		if a.state.DeviceID, err = a.randomBytes(encMemberSize); err != nil {
			return nil, err
		}
	}
	if a.state.CredStoreState == nil {
		if a.state.CredStoreState, err = a.randomBytes(encMemberSize); err != nil {
			return nil, err
		}
	}
	a.state.PersistentToken = tok
	return tok, nil
}

// dropPersistentToken is resetPersistentPinUvAuthToken: changePIN calls
// it (a holder of the old token must learn the new PIN), and
// authenticatorReset with forgetDevice, which also gives the key a new
// device identifier and credential store state. The caller saves.
func (a *Authenticator) dropPersistentToken(forgetDevice bool) {
	if a.faulty(FaultPersistentTokenSurvivesChangePIN) && !forgetDevice {
		return
	}
	a.state.PersistentToken = nil
	if forgetDevice {
		a.state.DeviceID, a.state.CredStoreState = nil, nil
	}
}

// persistentTokenVerifies reports whether param is
// Authenticate(persistentPinUvAuthToken, msg) under a supported protocol:
// the check of a read-only credentialManagement subcommand made with a
// pcmr token (credman.go). The token carries only pcmr and no
// permissions RP ID, and, as in pico-fido's cbor_cred_mgmt.c, it is
// accepted under either PIN/UV auth protocol.
func (a *Authenticator) persistentTokenVerifies(protocol *uint64, param, msg []byte) bool {
	tok := a.state.PersistentToken
	if tok == nil || protocol == nil || param == nil || !a.pcmrSupported() || *protocol > 2 || !a.feat.protocol[*protocol] {
		return false
	}
	p, ok := ctap.PINProtocolByVersion(*protocol)
	return ok && p.Verify(tok, msg, param)
}

// checkPCMRAlone is the permissions check of a pcmr request (CTAP 2.2
// §6.5.5.7.2, §6.5.5.7.3; the rule as pico-fido's cbor_client_pin.c and
// libfido2's FIDO_PUAT_CREDMAN_RO have it): pcmr with any other permission
// is CTAP2_ERR_UNAUTHORIZED_PERMISSION.
func (a *Authenticator) checkPCMRAlone(perms uint64) error {
	if perms != ctap.PermissionPersistentCredMgmtRO && !a.faulty(FaultPCMRWithOtherPermissions) {
		return fmt.Errorf("%w: pcmr with permissions %#x", ctap.StatusUnauthorizedPermission, perms&^ctap.PermissionPersistentCredMgmtRO)
	}
	return nil
}

// grantPersistentToken is getPinUvAuthTokenUsingPinWithPermissions with
// the pcmr permission on a 2.2 key (CTAP 2.2 §6.5.5.7.2): pcmr alone
// (checkPCMRAlone); the rpId is ignored; then the PIN check as for any
// token, and the answer is the persistentPinUvAuthToken
// (issuePersistentToken). The pinUvAuthToken in use is left as it was.
func (hs *clientPINState) grantPersistentToken(perms uint64) error {
	a := hs.a
	if err := a.checkPCMRAlone(perms); err != nil {
		return err
	}
	if err := hs.checkPINUsable(); err != nil {
		return err
	}
	if err := hs.decapsulate(); err != nil {
		return err
	}
	if err := hs.checkPINHash(); err != nil {
		return err
	}
	if a.state.ForcePINChange {
		return fmt.Errorf("%w: forcePINChange", ctap.StatusPINPolicyViolation)
	}
	return hs.issuePersistentToken()
}

// issuePersistentToken answers a pcmr grant, after the PIN check or the
// built-in user verification (uv.go): the persistentPinUvAuthToken,
// made on the first grant and saved, encrypted under the shared secret.
func (hs *clientPINState) issuePersistentToken() error {
	a := hs.a
	tok, err := a.persistentToken()
	if err != nil {
		return err
	}
	if err := a.save(); err != nil {
		return err
	}
	enc, err := hs.proto.Encrypt(a.rand, hs.shared, tok)
	if err != nil {
		return err
	}
	hs.resp.PinUvAuthToken = enc
	return nil
}

// attestationFormat is the attestation statement format makeCredential
// chose by the platform's attestationFormatsPreference (CTAP 2.2 §6.1.2
// step 19; the text as webauthn4j-ctap and the ctap2 Rust crates quote
// it): a key that supports more than one format and implements 2.2 "MUST
// choose a supported format whose attestation statement format
// identifier appears with the lowest index" in the list. "" means the
// list leaves the choice to the key (absent, empty, none of the key's
// formats on it, or a 2.1 key), which then gives what Config.Attestation
// says. Unknown identifiers are passed over, not refused. A list that is
// not an array of text strings never gets here: the request's decoding
// refuses it (CTAP2_ERR_CBOR_UNEXPECTED_TYPE). "none" chosen this way
// leaves out an enterprise attestation too: the platform asked for no
// attestation statement.
func (hs *makeCredentialState) attestationFormat() string {
	if !hs.a.implements(ctap.VersionFIDO22) || hs.a.faulty(FaultAttFormatsPreferenceIgnored) {
		return ""
	}
	own := hs.a.attestationFormats()
	for _, f := range hs.req.AttestationFormatsPreference {
		if slices.Contains(own, f) {
			return f
		}
	}
	return ""
}
