// Package ctaphid implements CTAPHID, the USB HID transport of FIDO2 security
// keys (CTAP 2.1 §11.2), for both ends of the link.
//
// The device side is [Serve]: it reads 64-byte reports from a [ReportDevice],
// allocates channels, reassembles messages, answers the transport commands
// (INIT, PING, WINK, LOCK, CANCEL) itself and hands CTAPHID_CBOR and
// CTAPHID_MSG payloads to a [Handler], sending KEEPALIVE packets while the
// handler runs. The host side is [Conn]: it allocates a channel with
// CTAPHID_INIT and exchanges whole messages with [Conn.Call].
//
// The package moves bytes; it never parses CBOR.
package ctaphid

import "fmt"

// ReportSize is the size of a HID report on a full-speed FIDO device, without
// a report-ID byte (CTAP 2.1 §11.2.4).
const ReportSize = 64

// BroadcastCID is the broadcast channel, used to allocate channels with
// CTAPHID_INIT (CTAP 2.1 §11.2.3).
const BroadcastCID uint32 = 0xffffffff

// Packet and message limits (CTAP 2.1 §11.2.4).
const (
	initHeaderSize = 7 // CID(4) | CMD(1) | BCNTH(1) | BCNTL(1)
	contHeaderSize = 5 // CID(4) | SEQ(1)

	// InitDataSize is the number of payload bytes in an initialization packet.
	InitDataSize = ReportSize - initHeaderSize // 57
	// ContDataSize is the number of payload bytes in a continuation packet.
	ContDataSize = ReportSize - contHeaderSize // 59
	// MaxSeq is the highest continuation sequence number.
	MaxSeq = 0x7f
	// MaxMessageSize is the largest message payload a 64-byte report
	// transport can carry: 57 + 128*59 = 7609 bytes.
	MaxMessageSize = InitDataSize + (MaxSeq+1)*ContDataSize

	nonceSize = 8 // CTAPHID_INIT nonce (CTAP 2.1 §11.2.9.1.3)
)

// ProtocolVersion is the CTAPHID protocol version a device reports in its
// INIT response (CTAP 2.1 §11.2.9.1.3).
const ProtocolVersion = 2

// Capability flags in the CTAPHID_INIT response (CTAP 2.1 §11.2.9.1.3).
const (
	CapWink = 0x01 // the device implements CTAPHID_WINK
	CapCBOR = 0x04 // the device implements CTAPHID_CBOR
	CapNMsg = 0x08 // the device does NOT implement CTAPHID_MSG
)

// Cmd is a CTAPHID command code, without the initialization-packet bit
// (CTAP 2.1 §11.2.9).
type Cmd byte

// CTAPHID commands (CTAP 2.1 §11.2.9.1 and §11.2.9.2).
const (
	CmdPing      Cmd = 0x01 // §11.2.9.1.4
	CmdMsg       Cmd = 0x03 // §11.2.9.1.1
	CmdLock      Cmd = 0x04 // §11.2.9.2.2
	CmdInit      Cmd = 0x06 // §11.2.9.1.3
	CmdWink      Cmd = 0x08 // §11.2.9.2.1
	CmdCBOR      Cmd = 0x10 // §11.2.9.1.2
	CmdCancel    Cmd = 0x11 // §11.2.9.1.5
	CmdKeepalive Cmd = 0x3B // §11.2.9.1.7
	CmdError     Cmd = 0x3F // §11.2.9.1.6
)

var cmdNames = map[Cmd]string{
	CmdPing:      "CTAPHID_PING",
	CmdMsg:       "CTAPHID_MSG",
	CmdLock:      "CTAPHID_LOCK",
	CmdInit:      "CTAPHID_INIT",
	CmdWink:      "CTAPHID_WINK",
	CmdCBOR:      "CTAPHID_CBOR",
	CmdCancel:    "CTAPHID_CANCEL",
	CmdKeepalive: "CTAPHID_KEEPALIVE",
	CmdError:     "CTAPHID_ERROR",
}

func (c Cmd) String() string {
	if s, ok := cmdNames[c]; ok {
		return s
	}
	if c >= 0x40 && c <= 0x7f {
		return fmt.Sprintf("CTAPHID_VENDOR(0x%02x)", byte(c))
	}
	return fmt.Sprintf("Cmd(0x%02x)", byte(c))
}

// ErrorCode is the payload byte of a CTAPHID_ERROR response
// (CTAP 2.1 §11.2.9.1.6). It implements error.
type ErrorCode byte

// CTAPHID error codes (CTAP 2.1 §11.2.9.1.6).
const (
	ErrInvalidCmd     ErrorCode = 0x01 // the command in the request is invalid
	ErrInvalidPar     ErrorCode = 0x02 // a parameter in the request is invalid
	ErrInvalidLen     ErrorCode = 0x03 // the length field (BCNT) is invalid for the request
	ErrInvalidSeq     ErrorCode = 0x04 // the sequence does not match the expected value
	ErrMsgTimeout     ErrorCode = 0x05 // the message has timed out
	ErrChannelBusy    ErrorCode = 0x06 // the device is busy for the requesting channel
	ErrLockRequired   ErrorCode = 0x0A // the command requires a channel lock
	ErrInvalidChannel ErrorCode = 0x0B // the CID is not valid
	ErrOther          ErrorCode = 0x7F // unspecified error
)

var errorNames = map[ErrorCode]string{
	ErrInvalidCmd:     "ERR_INVALID_CMD",
	ErrInvalidPar:     "ERR_INVALID_PAR",
	ErrInvalidLen:     "ERR_INVALID_LEN",
	ErrInvalidSeq:     "ERR_INVALID_SEQ",
	ErrMsgTimeout:     "ERR_MSG_TIMEOUT",
	ErrChannelBusy:    "ERR_CHANNEL_BUSY",
	ErrLockRequired:   "ERR_LOCK_REQUIRED",
	ErrInvalidChannel: "ERR_INVALID_CHANNEL",
	ErrOther:          "ERR_OTHER",
}

func (e ErrorCode) String() string {
	if s, ok := errorNames[e]; ok {
		return s
	}
	return fmt.Sprintf("ErrorCode(0x%02x)", byte(e))
}

func (e ErrorCode) Error() string { return "ctaphid: " + e.String() }

// KeepaliveStatus is the payload byte of a CTAPHID_KEEPALIVE packet
// (CTAP 2.1 §11.2.9.1.7).
type KeepaliveStatus byte

// Keepalive status codes (CTAP 2.1 §11.2.9.1.7).
const (
	StatusProcessing KeepaliveStatus = 1 // the authenticator is still processing the request
	StatusUPNeeded   KeepaliveStatus = 2 // the authenticator is waiting for user presence
)

func (s KeepaliveStatus) String() string {
	switch s {
	case StatusProcessing:
		return "STATUS_PROCESSING"
	case StatusUPNeeded:
		return "STATUS_UPNEEDED"
	}
	return fmt.Sprintf("KeepaliveStatus(0x%02x)", byte(s))
}

// ReportDevice moves whole 64-byte HID reports, without a report-ID byte.
// Implementations: [Pipe], [ListenUDP], [DialUDP], and the uhid and hidraw
// devices elsewhere in this module.
type ReportDevice interface {
	// ReadReport blocks until one report arrives. After Close it returns an
	// error wrapping net.ErrClosed or io.EOF.
	ReadReport() ([]byte, error)
	// WriteReport sends one report. The device does not keep report.
	WriteReport(report []byte) error
	// Close releases the device and unblocks ReadReport.
	Close() error
}
