package authenticator

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// authenticatorLargeBlobs (CTAP 2.1 §6.10): the key stores one opaque
// serialized large-blob array, which platforms read and write in
// fragments of at most MaxFragmentLength bytes.
const (
	// MaxSerializedLargeBlobArray is getInfo's maxSerializedLargeBlobArray
	// (§6.4), the most bytes the stored serialized large-blob array may
	// have, its 16-byte hash included. The spec requires at least 1024
	// (§6.10.2 step 5.b.ii).
	MaxSerializedLargeBlobArray = 4096
	// MaxFragmentLength is maxFragmentLength, maxMsgSize − 64 (§6.10.1),
	// of a key whose Config.MaxMsgSize is zero:
	// the most bytes one get may ask for and one set may carry.
	MaxFragmentLength = MaxMsgSize - 64
	// minSerializedLargeBlobArray is the shortest valid serialized
	// large-blob array: one byte of CBOR array and the 16-byte hash
	// (§6.10.2 step 5.b.iii).
	minSerializedLargeBlobArray = 17
	// largeBlobHashSize is the length of the truncated SHA-256 that ends
	// a serialized large-blob array (§6.10.1).
	largeBlobHashSize = 16
)

// InitialLargeBlobArray is the initial serialized large-blob array of a
// new or reset key (§6.10.1): the empty CBOR array 0x80 followed by
// LEFT(SHA-256(0x80), 16).
var InitialLargeBlobArray = func() []byte {
	h := sha256.Sum256([]byte{0x80})
	return append([]byte{0x80}, h[:largeBlobHashSize]...)
}()

// largeBlobWrite is the volatile state of a write in progress (§6.10.2
// step 5): expectedLength, expectedNextOffset and the buffer of the
// pending serialized large-blob array. The zero value is "no write": its
// expectedNextOffset is 0, so only a write starting at offset 0 goes
// through. A power cycle or a reset forgets it; the stored array changes
// only when the last fragment arrives and the whole buffer checks out.
type largeBlobWrite struct {
	expectedLength     uint64
	expectedNextOffset uint64
	buf                []byte
}

// largeBlobArray returns the stored serialized large-blob array: the one
// the last complete write committed, or InitialLargeBlobArray.
func (a *Authenticator) largeBlobArray() []byte {
	if a.state.LargeBlobArray == nil {
		return InitialLargeBlobArray
	}
	return a.state.LargeBlobArray
}

// largeBlobsState is one authenticatorLargeBlobs command (§6.10.2);
// handle runs the spec's numbered steps in order.
type largeBlobsState struct {
	a   *Authenticator
	req ctap.LargeBlobsRequest
}

// largeBlobsGetResponse is the response to get (§6.10.2 step 4.e).
// Unlike ctap.LargeBlobsResponse, config is always present, also as an
// empty byte string when offset is the array's length.
type largeBlobsGetResponse struct {
	Config []byte `cbor:"1,keyasint"`
}

func (a *Authenticator) largeBlobs(params []byte) ([]byte, error) {
	hs := &largeBlobsState{a: a}
	if err := ctap.UnmarshalRequest(params, &hs.req); err != nil {
		return nil, err
	}
	return hs.handle()
}

// handle is §6.10.2 steps 1 to 3 and the dispatch of steps 4 and 5. A
// request without offset, with neither get nor set or with both is
// CTAP1_ERR_INVALID_PARAMETER (a missing offset too: step 1 says so,
// rather than CTAP2_ERR_MISSING_PARAMETER).
func (hs *largeBlobsState) handle() ([]byte, error) {
	r := &hs.req
	switch {
	case r.Offset == nil: // step 1
		return nil, fmt.Errorf("%w: no offset", ctap.StatusInvalidParameter)
	case r.Get == nil && r.Set == nil: // step 2
		return nil, fmt.Errorf("%w: neither get nor set", ctap.StatusInvalidParameter)
	case r.Get != nil && r.Set != nil: // step 3
		return nil, fmt.Errorf("%w: both get and set", ctap.StatusInvalidParameter)
	case r.Get != nil: // step 4
		return hs.get()
	}
	return nil, hs.set() // step 5
}

// get is §6.10.2 step 4: up to get bytes of the stored array from
// offset, fewer at its end (none when offset is its length). A write in
// progress does not show: get reads the committed array.
func (hs *largeBlobsState) get() ([]byte, error) {
	r := &hs.req
	if r.Length != nil { // step 4.a
		return nil, fmt.Errorf("%w: length with get", ctap.StatusInvalidParameter)
	}
	if r.PinUvAuthParam != nil || r.PinUvAuthProtocol != nil { // step 4.b
		return nil, fmt.Errorf("%w: pinUvAuthParam or pinUvAuthProtocol with get", ctap.StatusInvalidParameter)
	}
	if maxFrag := uint64(hs.a.feat.maxMsgSize - 64); *r.Get > maxFrag { // step 4.c
		return nil, fmt.Errorf("%w: get %d, more than maxFragmentLength %d", ctap.StatusInvalidLength, *r.Get, maxFrag)
	}
	stored := hs.a.largeBlobArray()
	size := uint64(len(stored))
	off := *r.Offset
	if off > size { // step 4.d
		return nil, fmt.Errorf("%w: offset %d past the %d-byte array", ctap.StatusInvalidParameter, off, size)
	}
	end := off + min(*r.Get, size-off) // step 4.e
	return ctap.Marshal(&largeBlobsGetResponse{Config: bytes.Clone(stored[off:end])})
}

// set is §6.10.2 step 5: one fragment of a write. The final fragment
// commits the pending array, durably, before the response; until then
// the stored array is the old one.
func (hs *largeBlobsState) set() error {
	a, r := hs.a, &hs.req
	w := &a.rt.largeBlobWrite
	off := *r.Offset
	if maxFrag := a.feat.maxMsgSize - 64; len(r.Set) > maxFrag { // step 5.a
		return fmt.Errorf("%w: a %d-byte fragment, more than maxFragmentLength %d", ctap.StatusInvalidLength, len(r.Set), maxFrag)
	}
	if off == 0 { // step 5.b
		if r.Length == nil { // 5.b.i
			return fmt.Errorf("%w: no length at offset 0", ctap.StatusInvalidParameter)
		}
		if *r.Length > uint64(hs.a.feat.maxLargeBlob) { // 5.b.ii
			return fmt.Errorf("%w: length %d, more than %d", ctap.StatusLargeBlobStorageFull, *r.Length, hs.a.feat.maxLargeBlob)
		}
		if *r.Length < minSerializedLargeBlobArray { // 5.b.iii
			return fmt.Errorf("%w: length %d, less than %d", ctap.StatusInvalidParameter, *r.Length, minSerializedLargeBlobArray)
		}
		w.expectedLength = *r.Length // 5.b.iv
		w.expectedNextOffset = 0     // 5.b.v
	} else if r.Length != nil { // step 5.c
		return fmt.Errorf("%w: length at offset %d", ctap.StatusInvalidParameter, off)
	}
	if off != w.expectedNextOffset && !a.faulty(FaultLargeBlobOffsetUnchecked) { // step 5.d
		return fmt.Errorf("%w: offset %d, expected %d", ctap.StatusInvalidSeq, off, w.expectedNextOffset)
	}
	if a.protectedByUV() || a.alwaysUV() { // step 5.e
		if err := hs.verifyPinUvAuthParam(); err != nil {
			return err
		}
	}
	if off+uint64(len(r.Set)) > w.expectedLength { // step 5.f
		return fmt.Errorf("%w: fragment ends at %d, past length %d", ctap.StatusInvalidParameter, off+uint64(len(r.Set)), w.expectedLength)
	}
	if off == 0 { // step 5.g
		w.buf = make([]byte, 0, w.expectedLength)
	}
	w.buf = append(w.buf, r.Set...)           // step 5.h
	w.expectedNextOffset = uint64(len(w.buf)) // step 5.i
	if w.expectedNextOffset < w.expectedLength {
		return nil // step 5.k: await further writes
	}
	// Step 5.j. Either way the write is over: a later fragment needs a
	// new write from offset 0.
	pending := w.buf
	*w = largeBlobWrite{}
	body, check := pending[:len(pending)-largeBlobHashSize], pending[len(pending)-largeBlobHashSize:]
	h := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(h[:largeBlobHashSize], check) != 1 && !a.faulty(FaultLargeBlobHashUnchecked) { // 5.j.i
		return fmt.Errorf("%w: the array's hash does not match", ctap.StatusIntegrityFailure)
	}
	a.state.LargeBlobArray = pending // 5.j.ii
	return a.save()
}

// verifyPinUvAuthParam is §6.10.2 step 5.e, for a key protected by a PIN
// or built-in UV, or with alwaysUv on: pinUvAuthParam must be present
// (CTAP2_ERR_PUAT_REQUIRED), pinUvAuthProtocol present
// (CTAP2_ERR_MISSING_PARAMETER) and supported
// (CTAP1_ERR_INVALID_PARAMETER), and pinUvAuthParam must be
// authenticate(pinUvAuthToken, 32×0xff || 0x0c 0x00 ||
// uint32LittleEndian(offset) || SHA-256(set)) under the token in use, of
// that protocol, with the largeBlobWrite permission; otherwise
// CTAP2_ERR_PIN_AUTH_INVALID. Unlike makeCredential and getAssertion,
// the token's RP ID and its userVerified flag do not matter: the lbw
// permission outlives the token's use in makeCredential and getAssertion
// (§6.5.5.7, clearPinUvAuthTokenPermissionsExceptLbw).
func (hs *largeBlobsState) verifyPinUvAuthParam() error {
	r := &hs.req
	return hs.a.verifyToken(r.PinUvAuthProtocol, r.PinUvAuthParam,
		ctap.LargeBlobsAuthMessage(*r.Offset, r.Set), tokenUse{perm: ctap.PermissionLargeBlobWrite})
}
