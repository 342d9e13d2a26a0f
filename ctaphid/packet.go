package ctaphid

import (
	"encoding/binary"
	"fmt"
)

// initBit marks an initialization packet in the CMD byte; a continuation
// packet has it clear in the SEQ byte (CTAP 2.1 §11.2.4).
const initBit = 0x80

// Packet is one CTAPHID packet (CTAP 2.1 §11.2.4). An initialization packet
// is CID(4, big-endian) | CMD(1, bit 7 set) | BCNTH | BCNTL | DATA(57); a
// continuation packet is CID(4) | SEQ(1, 0..0x7f) | DATA(59).
type Packet struct {
	CID  uint32
	Init bool   // an initialization packet
	Cmd  Cmd    // initialization packets: the command, without bit 7
	BCNT uint16 // initialization packets: the length of the whole message
	Seq  byte   // continuation packets: the sequence number
	// Data is the packet's data field, padding included: InitDataSize bytes
	// in an initialization packet, ContDataSize in a continuation packet.
	Data []byte
}

// ParsePacket parses one report of exactly ReportSize bytes. It does not
// judge the contents: any 64 bytes are a packet. The returned Data aliases
// report.
func ParsePacket(report []byte) (Packet, error) {
	if len(report) != ReportSize {
		return Packet{}, fmt.Errorf("ctaphid: report is %d bytes, want %d", len(report), ReportSize)
	}
	p := Packet{CID: binary.BigEndian.Uint32(report)}
	if report[4]&initBit != 0 {
		p.Init = true
		p.Cmd = Cmd(report[4] &^ initBit)
		p.BCNT = binary.BigEndian.Uint16(report[5:])
		p.Data = report[initHeaderSize:]
	} else {
		p.Seq = report[4]
		p.Data = report[contHeaderSize:]
	}
	return p, nil
}

// Bytes encodes p as a ReportSize-byte report, zero-padding Data. It panics
// if Data does not fit, or if a continuation packet's Seq has bit 7 set.
func (p Packet) Bytes() []byte {
	if p.Init {
		return InitPacket(p.CID, p.Cmd, p.BCNT, p.Data)
	}
	return ContPacket(p.CID, p.Seq, p.Data)
}

// InitPacket builds an initialization packet (CTAP 2.1 §11.2.4). bcnt is
// written as given, so it may disagree with data on purpose; data is
// zero-padded to InitDataSize bytes. It panics if data is longer than
// InitDataSize or cmd has bit 7 set.
func InitPacket(cid uint32, cmd Cmd, bcnt uint16, data []byte) []byte {
	if len(data) > InitDataSize || cmd&initBit != 0 {
		panic(fmt.Sprintf("ctaphid: InitPacket with %d data bytes and command 0x%02x", len(data), byte(cmd)))
	}
	r := make([]byte, ReportSize)
	binary.BigEndian.PutUint32(r, cid)
	r[4] = byte(cmd) | initBit
	binary.BigEndian.PutUint16(r[5:], bcnt)
	copy(r[initHeaderSize:], data)
	return r
}

// ContPacket builds a continuation packet (CTAP 2.1 §11.2.4); data is
// zero-padded to ContDataSize bytes. It panics if data is longer than
// ContDataSize or seq is above MaxSeq.
func ContPacket(cid uint32, seq byte, data []byte) []byte {
	if len(data) > ContDataSize || seq > MaxSeq {
		panic(fmt.Sprintf("ctaphid: ContPacket with %d data bytes and sequence 0x%02x", len(data), seq))
	}
	r := make([]byte, ReportSize)
	binary.BigEndian.PutUint32(r, cid)
	r[4] = seq
	copy(r[contHeaderSize:], data)
	return r
}

// errorPacket builds a CTAPHID_ERROR response (CTAP 2.1 §11.2.9.1.6).
func errorPacket(cid uint32, code ErrorCode) []byte {
	return InitPacket(cid, CmdError, 1, []byte{byte(code)})
}

// Fragment splits a message into one initialization packet and as many
// continuation packets as it needs (CTAP 2.1 §11.2.4). A message longer than
// MaxMessageSize is an ErrInvalidLen error.
func Fragment(cid uint32, cmd Cmd, msg []byte) ([][]byte, error) {
	if err := checkMessageSize(msg); err != nil {
		return nil, err
	}
	out := make([][]byte, 0, packetCount(msg))
	eachPacket(cid, cmd, msg, func(r []byte) error {
		out = append(out, r)
		return nil
	})
	return out, nil
}

// checkMessageSize is Fragment's check of a message's length.
func checkMessageSize(msg []byte) error {
	if len(msg) > MaxMessageSize {
		return fmt.Errorf("ctaphid: %d-byte message: %w", len(msg), ErrInvalidLen)
	}
	return nil
}

// packetCount is the number of packets Fragment splits msg into.
func packetCount(msg []byte) int {
	n := 1
	if len(msg) > InitDataSize {
		n += (len(msg) - InitDataSize + ContDataSize - 1) / ContDataSize
	}
	return n
}

// eachPacket builds the packets of msg, as Fragment returns them, and
// hands each to emit in order, without a slice of them all; it returns
// emit's first error. The caller has checked msg's length
// (checkMessageSize). The reports share one allocation, each capped at
// its own ReportSize bytes so that appending to one cannot spill into the
// next, and emit may keep them.
func eachPacket(cid uint32, cmd Cmd, msg []byte, emit func([]byte) error) error {
	if cmd&initBit != 0 {
		panic(fmt.Sprintf("ctaphid: Fragment with command 0x%02x", byte(cmd)))
	}
	buf := make([]byte, packetCount(msg)*ReportSize)
	r := buf[:ReportSize:ReportSize]
	binary.BigEndian.PutUint32(r, cid)
	r[4] = byte(cmd) | initBit
	binary.BigEndian.PutUint16(r[5:], uint16(len(msg)))
	rest := msg[copy(r[initHeaderSize:], msg):]
	if err := emit(r); err != nil {
		return err
	}
	off := ReportSize
	for seq := byte(0); len(rest) > 0; seq++ {
		r := buf[off : off+ReportSize : off+ReportSize]
		off += ReportSize
		binary.BigEndian.PutUint32(r, cid)
		r[4] = seq
		rest = rest[copy(r[contHeaderSize:], rest):]
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// Message is a whole CTAPHID message: a command and its payload on a channel.
type Message struct {
	CID  uint32
	Cmd  Cmd
	Data []byte
}

// Reassemble joins the reports of exactly one message, as Fragment produced
// them. Errors are ErrorCode values: ErrInvalidSeq for a missing or
// misordered packet or one from another channel, ErrInvalidLen for a length
// above MaxMessageSize or reports left over.
func Reassemble(reports [][]byte) (Message, error) {
	if len(reports) == 0 {
		return Message{}, fmt.Errorf("ctaphid: no reports: %w", ErrInvalidSeq)
	}
	p, err := ParsePacket(reports[0])
	if err != nil {
		return Message{}, err
	}
	a, err := newAssembler(p)
	if err != nil {
		return Message{}, err
	}
	for i, r := range reports[1:] {
		if a.done() {
			return Message{}, fmt.Errorf("ctaphid: %d reports left over: %w", len(reports)-1-i, ErrInvalidLen)
		}
		p, err := ParsePacket(r)
		if err != nil {
			return Message{}, err
		}
		if p.Init || p.CID != a.cid {
			return Message{}, fmt.Errorf("ctaphid: report %d is not a continuation on channel %08x: %w", i+1, a.cid, ErrInvalidSeq)
		}
		if err := a.add(p); err != nil {
			return Message{}, err
		}
	}
	if !a.done() {
		return Message{}, fmt.Errorf("ctaphid: message truncated at %d of %d bytes: %w", len(a.buf), a.n, ErrInvalidSeq)
	}
	return Message{CID: a.cid, Cmd: a.cmd, Data: a.buf}, nil
}

// assembler collects the packets of one message (CTAP 2.1 §11.2.5.4). Both
// sides use it; callers route packets by channel before calling add.
type assembler struct {
	cid uint32
	cmd Cmd
	n   int    // the message length from BCNT
	buf []byte // the bytes so far
	seq byte   // the next expected sequence number
}

// newAssembler starts a message from its initialization packet. It rejects a
// length above MaxMessageSize before allocating.
func newAssembler(p Packet) (*assembler, error) {
	a := new(assembler)
	if err := a.start(p); err != nil {
		return nil, err
	}
	return a, nil
}

// start is newAssembler in a of the caller's, which it overwrites; the
// message gets a new buffer, so one a caller still holds is its own.
func (a *assembler) start(p Packet) error {
	if !p.Init {
		return fmt.Errorf("ctaphid: continuation packet without an initialization packet: %w", ErrInvalidSeq)
	}
	n := int(p.BCNT)
	if n > MaxMessageSize {
		return ErrInvalidLen
	}
	*a = assembler{cid: p.CID, cmd: p.Cmd, n: n, buf: make([]byte, 0, n)}
	a.buf = append(a.buf, p.Data[:min(n, len(p.Data))]...)
	return nil
}

// add appends a continuation packet of the same channel.
func (a *assembler) add(p Packet) error {
	if p.Seq != a.seq {
		return ErrInvalidSeq
	}
	a.seq++
	want := a.n - len(a.buf)
	a.buf = append(a.buf, p.Data[:min(want, len(p.Data))]...)
	return nil
}

func (a *assembler) done() bool { return len(a.buf) == a.n }

// padReport returns report zero-padded to ReportSize bytes, or false for an
// empty report or one longer than ReportSize. Some transports (UDP, hidraw
// with short reads) deliver short reports.
func padReport(report []byte) ([]byte, bool) {
	switch {
	case len(report) == ReportSize:
		return report, true
	case len(report) == 0 || len(report) > ReportSize:
		return nil, false
	}
	r := make([]byte, ReportSize)
	copy(r, report)
	return r, true
}
