package ctap

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
)

// The messages a pinUvAuthParam authenticates where it is not the
// clientDataHash: both sides build them the same way.

// LargeBlobsAuthMessage is what a largeBlobs set's pinUvAuthParam
// authenticates (CTAP 2.1 §6.10.2 step 5.e.iv): 32×0xff || 0x0c 0x00 ||
// uint32LittleEndian(offset) || SHA-256(fragment). An offset beyond 32 bits
// is cut to its low 32 bits, as uint32LittleEndian does; no key accepts one
// (it is past any maxSerializedLargeBlobArray).
func LargeBlobsAuthMessage(offset uint64, fragment []byte) []byte {
	msg := make([]byte, 0, 32+2+4+sha256.Size)
	msg = append(msg, bytes.Repeat([]byte{0xff}, 32)...)
	msg = append(msg, byte(CmdLargeBlobs), 0x00)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(offset))
	h := sha256.Sum256(fragment)
	return append(msg, h[:]...)
}

// ConfigAuthMessage is what an authenticatorConfig pinUvAuthParam
// authenticates (CTAP 2.1 §6.11): 32×0xff || 0x0d || uint8(subCommand) ||
// subCommandParams as sent.
func ConfigAuthMessage(subCommand uint64, subCommandParams []byte) []byte {
	msg := append(bytes.Repeat([]byte{0xff}, 32), byte(CmdConfig), byte(subCommand))
	return append(msg, subCommandParams...)
}
