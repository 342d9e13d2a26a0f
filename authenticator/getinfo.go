package authenticator

import "github.com/virtkey/virtkey/ctap"

// Versions lists the protocol versions in getInfo. FIDO_2_1_PRE stays for
// platforms that look for the 2.1 prototype commands (libfido2 1.12).
var Versions = []string{ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21}

// info builds the authenticatorGetInfo response (CTAP 2.1 §6.4). Features
// of later issues add their members here (clientPin, pinUvAuthToken,
// pinUvAuthProtocols, extensions, credMgmt, ...).
func (a *Authenticator) info() *ctap.InfoResponse {
	remaining := uint64(max(a.maxCreds-len(a.state.Credentials), 0))
	return &ctap.InfoResponse{
		Versions: Versions,
		AAGUID:   a.aaguid[:],
		Options: map[string]bool{
			ctap.OptionRK:   true,
			ctap.OptionUP:   true,
			ctap.OptionPlat: false,
		},
		MaxMsgSize:               MaxMsgSize,
		MaxCredentialCountInList: MaxCredentialCountInList,
		MaxCredentialIDLength:    maxCredentialIDLength,
		Transports:               []string{"usb"},
		Algorithms: []ctap.CredentialParameter{
			{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256},
			{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgEdDSA},
		},
		FirmwareVersion:                  a.firmware,
		RemainingDiscoverableCredentials: &remaining,
	}
}

// getInfo is authenticatorGetInfo (CTAP 2.1 §6.4).
func (a *Authenticator) getInfo() ([]byte, error) {
	return ctap.Marshal(a.info())
}
