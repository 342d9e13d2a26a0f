package authenticator

import (
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// Versions lists the protocol versions in getInfo. FIDO_2_1_PRE stays for
// platforms that look for the 2.1 prototype commands (libfido2 1.12).
var Versions = []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21}

// info builds the authenticatorGetInfo response (CTAP 2.1 §6.4); each
// feature's file adds its members (configInfo, bioOptions,
// extensionsInfo, ...).
//
// clientPin is false until a PIN is set and true after; pinUvAuthToken is
// true (getPinUvAuthTokenUsingPinWithPermissions). makeCredUvNotRqd is
// true: with a PIN set, makeCredential without a pinUvAuthParam still
// works for a non-discoverable credential, and answers
// CTAP2_ERR_PUAT_REQUIRED for a discoverable one (§6.1.2 step 7).
// noMcGaPermissionsWithClientPin is absent (false).
//
// With Config.BuiltInUV, "uv" is true (built-in UV supported and
// configured), preferredPlatformUvAttempts is
// PreferredPlatformUVAttempts and uvModality is UVModalityFingerprint;
// without, all three are absent.
func (a *Authenticator) info() *ctap.InfoResponse {
	remaining := uint64(max(a.maxCreds-a.creds.len(), 0))
	forcePINChange := a.state.ForcePINChange
	info := &ctap.InfoResponse{
		Versions: a.versions,
		AAGUID:   a.infoAAGUID(),
		Options: map[string]bool{
			ctap.OptionRK:   true,
			ctap.OptionUP:   true,
			ctap.OptionPlat: false,

			ctap.OptionClientPIN:        a.pinSet(),
			ctap.OptionPinUvAuthToken:   true,
			ctap.OptionMakeCredUvNotRqd: true,
			ctap.OptionLargeBlobs:       true,
		},
		PinUvAuthProtocols:       []uint64{2, 1},
		MinPINLength:             MinPINLength,
		ForcePINChange:           &forcePINChange,
		MaxMsgSize:               MaxMsgSize,
		MaxCredentialCountInList: MaxCredentialCountInList,
		MaxCredentialIDLength:    maxCredentialIDLength,
		Transports:               []string{"usb"},

		Algorithms: supportedAlgorithms(), // in order of preference, algorithms.go

		FirmwareVersion:                  a.firmware,
		RemainingDiscoverableCredentials: a.faultyRemaining(remaining),
		MaxSerializedLargeBlobArray:      MaxSerializedLargeBlobArray,
	}
	if a.builtInUV {
		info.Options[ctap.OptionUV] = a.uvConfigured()
		info.PreferredPlatformUvAttempts = PreferredPlatformUVAttempts
		info.UVModality = UVModalityFingerprint
	}
	a.bioOptions(info.Options)
	// The extensions and maxCredBlobLength (extensions.go).
	a.extensionsInfo(info)
	a.configInfo(info) // authenticatorConfig's options and members, config.go
	// authenticatorCredentialManagement under both names (credman.go).
	info.Options[ctap.OptionCredMgmt] = true
	info.Options[ctap.OptionCredentialMgmtPreview] = true
	return info
}

// getInfo is authenticatorGetInfo (CTAP 2.1 §6.4).
func (a *Authenticator) getInfo() ([]byte, error) {
	return ctap.Marshal(a.info())
}

// implements reports whether the key implements protocol version v
// (Config.Versions).
func (a *Authenticator) implements(v string) bool { return slices.Contains(a.versions, v) }
