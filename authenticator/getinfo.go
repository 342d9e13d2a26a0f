package authenticator

import (
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// Versions lists the protocol versions in getInfo. FIDO_2_1_PRE stays for
// platforms that look for the 2.1 prototype commands (libfido2 1.12).
var Versions = []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21}

// info builds the authenticatorGetInfo response (CTAP 2.1 §6.4) from what
// the key implements (features.go); each feature's file adds its members
// (configInfo, bioOptions, extensionsInfo, ...). A CTAP 2.0 key answers
// with the members CTAP 2.0 defines alone (ctap20Info).
//
// clientPin is false until a PIN is set and true after, and absent on a
// key without a PIN (Config.NoClientPIN); pinUvAuthToken is true
// (getPinUvAuthTokenUsingPinWithPermissions) on a key with a PIN/UV auth
// protocol. makeCredUvNotRqd is true: with a PIN set, makeCredential
// without a pinUvAuthParam still works for a non-discoverable credential,
// and answers CTAP2_ERR_PUAT_REQUIRED for a discoverable one (§6.1.2 step
// 7). noMcGaPermissionsWithClientPin is absent (false).
//
// With Config.BuiltInUV, "uv" is true (built-in UV supported and
// configured), preferredPlatformUvAttempts is
// PreferredPlatformUVAttempts and uvModality is UVModalityFingerprint;
// without, all three are absent.
func (a *Authenticator) info() *ctap.InfoResponse {
	if a.ctap20() {
		return a.ctap20Info()
	}
	remaining := uint64(max(a.maxCreds-a.creds.len(), 0))
	forcePINChange := a.state.ForcePINChange
	f := &a.feat
	info := &ctap.InfoResponse{
		Versions: a.versions,
		AAGUID:   a.infoAAGUID(),
		Options: map[string]bool{
			ctap.OptionRK:   f.rk,
			ctap.OptionUP:   true,
			ctap.OptionPlat: false,
		},
		PinUvAuthProtocols:       f.protocols,
		MinPINLength:             MinPINLength,
		MaxMsgSize:               uint64(f.maxMsgSize),
		MaxCredentialCountInList: MaxCredentialCountInList,
		MaxCredentialIDLength:    maxCredentialIDLength,
		Transports:               f.transports,

		Algorithms: f.algParams, // in order of preference, algorithms.go

		FirmwareVersion: a.firmware,
	}
	if f.rk {
		info.RemainingDiscoverableCredentials = a.faultyRemaining(remaining)
	}
	if f.clientPIN {
		info.Options[ctap.OptionClientPIN] = a.pinSet()
		info.ForcePINChange = &forcePINChange
	}
	if len(f.protocols) > 0 {
		info.Options[ctap.OptionPinUvAuthToken] = true
		info.Options[ctap.OptionMakeCredUvNotRqd] = true
	}
	if f.largeBlobs {
		info.Options[ctap.OptionLargeBlobs] = true
		info.MaxSerializedLargeBlobArray = uint64(f.maxLargeBlob)
	}
	if a.builtInUV {
		info.Options[ctap.OptionUV] = a.uvConfigured()
		info.PreferredPlatformUvAttempts = PreferredPlatformUVAttempts
		info.UVModality = UVModalityFingerprint
	}
	a.bioOptions(info.Options)
	// The extensions and maxCredBlobLength (extensions.go).
	a.extensionsInfo(info)
	if f.authnrCfg {
		a.configInfo(info) // authenticatorConfig's options and members, config.go
		if !f.ep {
			delete(info.Options, ctap.OptionEP)
		}
	}
	if f.credMgmt {
		// authenticatorCredentialManagement under both names (credman.go).
		info.Options[ctap.OptionCredMgmt] = true
		info.Options[ctap.OptionCredentialMgmtPreview] = true
	}
	a.ctap22Info(info) // versions, and a 2.2 key's members 0x16 to 0x1F (ctap22.go)
	return info
}

// ctap20Info is getInfo of a CTAP 2.0 key (CTAP 2.0 §5.4): versions,
// extensions, aaguid, options, maxMsgSize and pinProtocols, the members
// 0x01 to 0x06 that CTAP 2.0 defines, and of the options those CTAP 2.0
// has: plat, rk, clientPin, up and uv.
func (a *Authenticator) ctap20Info() *ctap.InfoResponse {
	f := &a.feat
	info := &ctap.InfoResponse{
		Versions:   a.versions,
		Extensions: f.extensions,
		AAGUID:     a.infoAAGUID(),
		Options: map[string]bool{
			ctap.OptionRK:   f.rk,
			ctap.OptionUP:   true,
			ctap.OptionPlat: false,
		},
		MaxMsgSize:         uint64(f.maxMsgSize),
		PinUvAuthProtocols: f.protocols,
	}
	if f.clientPIN {
		info.Options[ctap.OptionClientPIN] = a.pinSet()
	}
	if a.builtInUV {
		info.Options[ctap.OptionUV] = a.uvConfigured()
	}
	return info
}

// getInfo is authenticatorGetInfo (CTAP 2.1 §6.4).
func (a *Authenticator) getInfo() ([]byte, error) {
	return ctap.Marshal(a.info())
}

// implements reports whether the key implements protocol version v
// (Config.Versions).
func (a *Authenticator) implements(v string) bool { return slices.Contains(a.versions, v) }
