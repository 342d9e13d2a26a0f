package ctap

import "fmt"

// Command is an authenticator API command code (CTAP 2.1 §6, §8.1).
type Command byte

// Command codes. The 0x40 and 0x41 codes are the CTAP 2.1-PRE prototypes of
// bioEnrollment and credentialManagement that earlier platforms still send.
const (
	CmdMakeCredential          Command = 0x01
	CmdGetAssertion            Command = 0x02
	CmdGetInfo                 Command = 0x04
	CmdClientPIN               Command = 0x06
	CmdReset                   Command = 0x07
	CmdGetNextAssertion        Command = 0x08
	CmdBioEnrollment           Command = 0x09
	CmdCredentialManagement    Command = 0x0A
	CmdSelection               Command = 0x0B
	CmdLargeBlobs              Command = 0x0C
	CmdConfig                  Command = 0x0D
	CmdBioEnrollmentPre        Command = 0x40
	CmdCredentialManagementPre Command = 0x41
)

var commandNames = map[Command]string{
	CmdMakeCredential:          "authenticatorMakeCredential",
	CmdGetAssertion:            "authenticatorGetAssertion",
	CmdGetInfo:                 "authenticatorGetInfo",
	CmdClientPIN:               "authenticatorClientPIN",
	CmdReset:                   "authenticatorReset",
	CmdGetNextAssertion:        "authenticatorGetNextAssertion",
	CmdBioEnrollment:           "authenticatorBioEnrollment",
	CmdCredentialManagement:    "authenticatorCredentialManagement",
	CmdSelection:               "authenticatorSelection",
	CmdLargeBlobs:              "authenticatorLargeBlobs",
	CmdConfig:                  "authenticatorConfig",
	CmdBioEnrollmentPre:        "authenticatorBioEnrollment(PRE)",
	CmdCredentialManagementPre: "authenticatorCredentialManagement(PRE)",
}

func (c Command) String() string {
	if s, ok := commandNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Command(0x%02X)", byte(c))
}
