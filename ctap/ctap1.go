package ctap

import "fmt"

// CTAP1/U2F constants shared by the authenticator and the client: the
// instructions, control bytes and status words of FIDO U2F Raw Message
// Formats v1.2 (§3 request and response encodings, §4 registration, §5
// authentication, §6 other messages), carried in CTAPHID_MSG
// (CTAP 2.1 §11.2.9.1.1).

// U2F instructions: the INS byte of a request APDU (U2F Raw Message
// Formats §4.1, §5.1, §6.1).
const (
	U2FRegister     byte = 0x01
	U2FAuthenticate byte = 0x02
	U2FVersion      byte = 0x03
)

// U2F_AUTHENTICATE control bytes: P1 of the request (U2F Raw Message
// Formats §5.1).
const (
	U2FEnforceUserPresence     byte = 0x03 // "enforce-user-presence-and-sign"
	U2FCheckOnly               byte = 0x07 // "check-only"
	U2FDontEnforceUserPresence byte = 0x08 // "dont-enforce-user-presence-and-sign"
)

// U2FRegisterReserved is the first byte of a registration response, a
// legacy reserved value (U2F Raw Message Formats §4.3).
const U2FRegisterReserved byte = 0x05

// U2FUserPresent is the user presence bit of an authentication response
// (U2F Raw Message Formats §5.4).
const U2FUserPresent byte = 0x01

// StatusWord is the two-byte status SW1 SW2 that ends every U2F response
// APDU (ISO 7816-4 §5.1.3; U2F Raw Message Formats §3.3). It implements
// error.
type StatusWord uint16

// Status words of U2F Raw Message Formats §3.3. SWUnknown (ISO 7816-4:
// "no precise diagnosis") is what virtkey answers when its own state
// cannot be saved.
const (
	SWNoError                StatusWord = 0x9000 // the command completed successfully
	SWConditionsNotSatisfied StatusWord = 0x6985 // the request was rejected due to test-of-user-presence being required
	SWWrongData              StatusWord = 0x6A80 // the request was rejected due to an invalid key handle
	SWWrongLength            StatusWord = 0x6700 // the length of the request was invalid
	SWClaNotSupported        StatusWord = 0x6E00 // the Class byte of the request is not supported
	SWInsNotSupported        StatusWord = 0x6D00 // the Instruction of the request is not supported
	SWUnknown                StatusWord = 0x6F00 // ISO 7816-4: no precise diagnosis
	// SWCommandNotAllowed is ISO 7816-4's "command not allowed": what a
	// key whose alwaysUv option is on answers U2F_REGISTER and
	// U2F_AUTHENTICATE (CTAP 2.1 §7.2, as OpenSK answers them).
	SWCommandNotAllowed StatusWord = 0x6986
)

var statusWordNames = map[StatusWord]string{
	SWNoError:                "SW_NO_ERROR",
	SWConditionsNotSatisfied: "SW_CONDITIONS_NOT_SATISFIED",
	SWWrongData:              "SW_WRONG_DATA",
	SWWrongLength:            "SW_WRONG_LENGTH",
	SWClaNotSupported:        "SW_CLA_NOT_SUPPORTED",
	SWInsNotSupported:        "SW_INS_NOT_SUPPORTED",
	SWUnknown:                "SW_UNKNOWN",
	SWCommandNotAllowed:      "SW_COMMAND_NOT_ALLOWED",
}

func (s StatusWord) String() string {
	if n, ok := statusWordNames[s]; ok {
		return fmt.Sprintf("%s (0x%04X)", n, uint16(s))
	}
	return fmt.Sprintf("StatusWord(0x%04X)", uint16(s))
}

func (s StatusWord) Error() string { return "ctap1: " + s.String() }

// Bytes returns SW1 SW2.
func (s StatusWord) Bytes() []byte { return []byte{byte(s >> 8), byte(s)} }
