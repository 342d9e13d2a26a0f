package client

import (
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// getInfo member keys (CTAP 2.1 §6.4; 0x16 and later from CTAP 2.2 §6.4).
const (
	InfoVersions                      uint64 = 0x01
	InfoExtensions                    uint64 = 0x02
	InfoAAGUID                        uint64 = 0x03
	InfoOptions                       uint64 = 0x04
	InfoMaxMsgSize                    uint64 = 0x05
	InfoPinUvAuthProtocols            uint64 = 0x06
	InfoMaxCredentialCountInList      uint64 = 0x07
	InfoMaxCredentialIDLength         uint64 = 0x08
	InfoTransports                    uint64 = 0x09
	InfoAlgorithms                    uint64 = 0x0A
	InfoMaxSerializedLargeBlobArray   uint64 = 0x0B
	InfoForcePINChange                uint64 = 0x0C
	InfoMinPINLength                  uint64 = 0x0D
	InfoFirmwareVersion               uint64 = 0x0E
	InfoMaxCredBlobLength             uint64 = 0x0F
	InfoMaxRPIDsForSetMinPINLength    uint64 = 0x10
	InfoPreferredPlatformUvAttempts   uint64 = 0x11
	InfoUVModality                    uint64 = 0x12
	InfoCertifications                uint64 = 0x13
	InfoRemainingDiscoverableCreds    uint64 = 0x14
	InfoVendorPrototypeConfigCommands uint64 = 0x15
	InfoAttestationFormats            uint64 = 0x16
	InfoUVCountSinceLastPinEntry      uint64 = 0x17
	InfoLongTouchForReset             uint64 = 0x18
	InfoEncIdentifier                 uint64 = 0x19
	InfoTransportsForReset            uint64 = 0x1A
	InfoPinComplexityPolicy           uint64 = 0x1B
	InfoPinComplexityPolicyURL        uint64 = 0x1C
	InfoMaxPINLength                  uint64 = 0x1D
	InfoEncCredStoreState             uint64 = 0x1E
	InfoAuthenticatorConfigCommands   uint64 = 0x1F
)

// Defaults for absent getInfo members (CTAP 2.1 §6.4).
const (
	// DefaultMaxMsgSize is the message size a platform may assume when
	// maxMsgSize is absent.
	DefaultMaxMsgSize = 1024
	// DefaultMinPINLength is the minimum PIN length when minPINLength is
	// absent (CTAP 2.1 §6.5.1).
	DefaultMinPINLength = 4
	// DefaultAttestationFormat is the one attestation statement format a
	// platform assumes when attestationFormats (0x16) is absent: packed
	// (CTAP 2.2 §6.4, as python-fido2's Info.attestation_formats default
	// has it).
	DefaultAttestationFormat = "packed"
	// DefaultMaxPINLength is the maximum PIN length in Unicode code points
	// when maxPINLength (0x1D) is absent: 63, the most a paddedNewPin of
	// 64 bytes holds (CTAP 2.2 §6.4; python-fido2's Info.max_pin_length
	// default).
	DefaultMaxPINLength = 63
)

// Info is the authenticatorGetInfo response (CTAP 2.1 §6.4), the Go
// counterpart of python-fido2's Info. Absent optional members are zero
// values, except MaxMsgSize (DefaultMaxMsgSize), MinPINLength
// (DefaultMinPINLength), MaxPINLength (DefaultMaxPINLength) and
// AttestationFormats ([DefaultAttestationFormat]); HasMember
// tells absent from zero. The members from 0x16 on are CTAP 2.2's (§6.4); a
// key that does not know them leaves them out.
type Info struct {
	Versions                      []string                   // 0x01
	Extensions                    []string                   // 0x02
	AAGUID                        [16]byte                   // 0x03
	Options                       map[string]bool            // 0x04; nil when absent
	MaxMsgSize                    uint64                     // 0x05; DefaultMaxMsgSize when absent
	PinUvProtocols                []uint64                   // 0x06
	MaxCredsInList                uint64                     // 0x07
	MaxCredIDLength               uint64                     // 0x08
	Transports                    []string                   // 0x09
	Algorithms                    []ctap.CredentialParameter // 0x0A
	MaxLargeBlob                  uint64                     // 0x0B maxSerializedLargeBlobArray
	ForcePINChange                bool                       // 0x0C
	MinPINLength                  uint64                     // 0x0D; DefaultMinPINLength when absent
	FirmwareVersion               uint64                     // 0x0E
	MaxCredBlobLength             uint64                     // 0x0F
	MaxRPIDsForMinPIN             uint64                     // 0x10 maxRPIDsForSetMinPINLength
	PreferredPlatformUVAttempts   uint64                     // 0x11
	UVModality                    uint64                     // 0x12
	Certifications                map[string]uint64          // 0x13
	RemainingDiscCreds            *uint64                    // 0x14 remainingDiscoverableCredentials
	VendorPrototypeConfigCommands []uint64                   // 0x15
	AttestationFormats            []string                   // 0x16 (CTAP 2.2); ["packed"] when absent
	UVCountSinceLastPINEntry      *uint64                    // 0x17 (CTAP 2.2)
	LongTouchForReset             bool                       // 0x18 (CTAP 2.2)
	// EncIdentifier (0x19, CTAP 2.2) is the key's identifier encrypted
	// for the holder of a persistent pinUvAuthToken; DecryptIdentifier
	// opens it.
	EncIdentifier []byte
	// TransportsForReset (0x1A, CTAP 2.2) lists the transports over which
	// authenticatorReset is accepted; empty when absent.
	TransportsForReset []string
	// PinComplexityPolicy (0x1B, CTAP 2.2) is nil when absent, which
	// means the key cannot enforce a PIN complexity policy; false or true
	// say whether it does now (setMinPINLength pinComplexityPolicy,
	// §6.11.4).
	PinComplexityPolicy *bool
	// PinComplexityPolicyURL (0x1C, CTAP 2.2) is a URL, as bytes, that
	// describes the policy.
	PinComplexityPolicyURL []byte
	// MaxPINLength (0x1D, CTAP 2.2) is the longest PIN the key accepts, in
	// Unicode code points; DefaultMaxPINLength when absent.
	MaxPINLength uint64
	// EncCredStoreState (0x1E, CTAP 2.2) is the state of the credential
	// store encrypted for the holder of a persistent pinUvAuthToken;
	// DecryptCredStoreState opens it.
	EncCredStoreState []byte
	// AuthenticatorConfigCommands (0x1F, CTAP 2.2) lists the
	// authenticatorConfig subcommands the key supports; nil when absent.
	AuthenticatorConfigCommands []uint64

	// Raw is the decoded message as it came.
	Raw ctap.InfoResponse
	// Encoded is the response body, the CBOR map.
	Encoded []byte

	members map[uint64]bool
}

// ParseInfo parses a getInfo response body (CTAP 2.1 §6.4): one CBOR map
// with integer keys, decoded with ctap.Unmarshal. versions and an aaguid of
// 16 bytes are required. It does not check canonical form (Ctap2 does).
func ParseInfo(body []byte) (*Info, error) {
	var keys map[uint64]ctap.RawMessage
	if err := ctap.Unmarshal(body, &keys); err != nil {
		return nil, fmt.Errorf("%w: getInfo: %v", ErrBadResponse, err)
	}
	var raw ctap.InfoResponse
	if err := ctap.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: getInfo: %v", ErrBadResponse, err)
	}
	if _, ok := keys[InfoVersions]; !ok {
		return nil, fmt.Errorf("%w: getInfo: versions (0x01) missing", ErrBadResponse)
	}
	if _, ok := keys[InfoAAGUID]; !ok {
		return nil, fmt.Errorf("%w: getInfo: aaguid (0x03) missing", ErrBadResponse)
	}
	if len(raw.AAGUID) != 16 {
		return nil, fmt.Errorf("%w: getInfo: aaguid of %d bytes", ErrBadResponse, len(raw.AAGUID))
	}
	members := make(map[uint64]bool, len(keys))
	for k := range keys {
		members[k] = true
	}
	info := &Info{
		Versions:                      raw.Versions,
		Extensions:                    raw.Extensions,
		AAGUID:                        [16]byte(raw.AAGUID),
		Options:                       raw.Options,
		MaxMsgSize:                    raw.MaxMsgSize,
		PinUvProtocols:                raw.PinUvAuthProtocols,
		MaxCredsInList:                raw.MaxCredentialCountInList,
		MaxCredIDLength:               raw.MaxCredentialIDLength,
		Transports:                    raw.Transports,
		Algorithms:                    raw.Algorithms,
		MaxLargeBlob:                  raw.MaxSerializedLargeBlobArray,
		MinPINLength:                  raw.MinPINLength,
		FirmwareVersion:               raw.FirmwareVersion,
		MaxCredBlobLength:             raw.MaxCredBlobLength,
		MaxRPIDsForMinPIN:             raw.MaxRPIDsForSetMinPINLength,
		PreferredPlatformUVAttempts:   raw.PreferredPlatformUvAttempts,
		UVModality:                    raw.UVModality,
		Certifications:                raw.Certifications,
		RemainingDiscCreds:            raw.RemainingDiscoverableCredentials,
		VendorPrototypeConfigCommands: raw.VendorPrototypeConfigCommands,
		AttestationFormats:            raw.AttestationFormats,
		UVCountSinceLastPINEntry:      raw.UVCountSinceLastPinEntry,
		EncIdentifier:                 raw.EncIdentifier,
		TransportsForReset:            raw.TransportsForReset,
		PinComplexityPolicy:           raw.PinComplexityPolicy,
		PinComplexityPolicyURL:        raw.PinComplexityPolicyURL,
		MaxPINLength:                  raw.MaxPINLength,
		EncCredStoreState:             raw.EncCredStoreState,
		AuthenticatorConfigCommands:   raw.AuthenticatorConfigCommands,
		Raw:                           raw,
		Encoded:                       append([]byte(nil), body...),
		members:                       members,
	}
	if !members[InfoMaxMsgSize] {
		info.MaxMsgSize = DefaultMaxMsgSize
	}
	if !members[InfoMinPINLength] {
		info.MinPINLength = DefaultMinPINLength
	}
	if !members[InfoAttestationFormats] {
		info.AttestationFormats = []string{DefaultAttestationFormat}
	}
	if !members[InfoMaxPINLength] {
		info.MaxPINLength = DefaultMaxPINLength
	}
	if raw.ForcePINChange != nil {
		info.ForcePINChange = *raw.ForcePINChange
	}
	if raw.LongTouchForReset != nil {
		info.LongTouchForReset = *raw.LongTouchForReset
	}
	return info, nil
}

// Supports reports whether versions lists version, such as
// ctap.VersionFIDO21.
func (i *Info) Supports(version string) bool {
	return slices.Contains(i.Versions, version)
}

// Option returns the value of option name and whether the authenticator
// listed it (CTAP 2.1 §6.4). An absent option has its spec default, which
// this method does not apply.
func (i *Info) Option(name string) (value, present bool) {
	value, present = i.Options[name]
	return value, present
}

// HasExtension reports whether extensions lists ext, such as
// ctap.ExtHMACSecret.
func (i *Info) HasExtension(ext string) bool {
	return slices.Contains(i.Extensions, ext)
}

// HasMember reports whether the response carried the member with integer
// key key (InfoVersions, ...), telling an absent member from a zero one.
func (i *Info) HasMember(key uint64) bool { return i.members[key] }
