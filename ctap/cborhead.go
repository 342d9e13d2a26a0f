package ctap

import "encoding/binary"

// HeadError says why ReadHead could not read a CBOR head.
type HeadError uint8

const (
	// HeadOK: the head was read.
	HeadOK HeadError = iota
	// HeadShort: the input ends inside the head.
	HeadShort
	// HeadIndefinite: additional information 28 to 30 (reserved) or 31
	// (an indefinite length), which the CTAP2 canonical encoding forbids
	// (CTAP 2.1 §8.1).
	HeadIndefinite
	// HeadNotShortest: the argument has a shorter encoding (RFC 8949
	// §4.2.1; CTAP 2.1 §8.1: "integers must be encoded as small as
	// possible", and the same for lengths).
	HeadNotShortest
)

// ReadHead reads the head of the CBOR data item at the start of b (RFC
// 8949 §3): its major type, its additional information, its argument and
// the head's length in bytes. major and ai are set whenever b is not
// empty, also with an error. The argument of major type 7 (simple values
// and floats) is returned as it is encoded, without the shortest-form
// check, which is the caller's to make.
func ReadHead(b []byte) (major, ai byte, arg uint64, n int, e HeadError) {
	if len(b) == 0 {
		return 0, 0, 0, 0, HeadShort
	}
	major, ai = b[0]>>5, b[0]&0x1f
	var size int
	var min uint64
	switch {
	case ai < 24:
		return major, ai, uint64(ai), 1, HeadOK
	case ai == 24:
		size, min = 1, 24
	case ai == 25:
		size, min = 2, 1<<8
	case ai == 26:
		size, min = 4, 1<<16
	case ai == 27:
		size, min = 8, 1<<32
	default:
		return major, ai, 0, 0, HeadIndefinite
	}
	if len(b)-1 < size {
		return major, ai, 0, 0, HeadShort
	}
	p := b[1 : 1+size]
	switch size {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	case 8:
		arg = binary.BigEndian.Uint64(p)
	}
	if arg < min && major != 7 {
		return major, ai, arg, 1 + size, HeadNotShortest
	}
	return major, ai, arg, 1 + size, HeadOK
}
