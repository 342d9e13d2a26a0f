package ctap

import (
	"bytes"
	"errors"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// RawMessage is a raw encoded CBOR value, kept as sent. Messages use it where
// a MAC is computed over the exact bytes (subCommandParams) and for
// extension inputs and outputs whose shape depends on the extension.
type RawMessage = cbor.RawMessage

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
	// bufEncMode is encMode, for AppendMarshal.
	bufEncMode cbor.UserBufferEncMode
)

func init() {
	var err error
	// CTAP 2.1 §8: CTAP2 canonical CBOR encoding form.
	bufEncMode, err = cbor.CTAP2EncOptions().UserBufferEncMode()
	if err != nil {
		panic(err)
	}
	encMode = bufEncMode
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  16,
		MaxArrayElements: 4096,
		MaxMapPairs:      4096,
		UTF8:             cbor.UTF8RejectInvalid,
		DefaultMapType:   nil,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v in CTAP2 canonical form (CTAP 2.1 §8: sorted map keys,
// definite lengths, shortest integer forms, no tags).
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// AppendMarshal appends the encoding Marshal gives v to dst and returns
// the extended slice; when dst has the room, v is encoded in place, without
// Marshal's copy of the encoding into a slice of its own.
func AppendMarshal(dst []byte, v any) ([]byte, error) {
	buf := appendBuffers.Get().(*bytes.Buffer)
	*buf = *bytes.NewBuffer(dst)
	err := bufEncMode.MarshalToBuffer(v, buf)
	out := buf.Bytes()
	*buf = bytes.Buffer{}
	appendBuffers.Put(buf)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// appendBuffers hold AppendMarshal's bytes.Buffer, which would otherwise
// be allocated for each call: it escapes through the encoder interface.
var appendBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// MustMarshal is Marshal for values that always encode, such as messages
// built from this package's own types; it panics on an encoding error.
func MustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Unmarshal decodes one whole CBOR item into v with the strict decode mode:
// duplicate map keys, indefinite lengths, tags, invalid UTF-8 and trailing
// bytes are errors. The error maps to a Status with StatusOf: a well-formed
// item of the wrong type is StatusCBORUnexpectedType, anything else
// StatusInvalidCBOR.
func Unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return &DecodeError{Err: err}
	}
	return nil
}

// UnmarshalFirst decodes the first CBOR item of data into v and returns the
// bytes after it.
func UnmarshalFirst(data []byte, v any) (rest []byte, err error) {
	rest, err = decMode.UnmarshalFirst(data, v)
	if err != nil {
		return nil, &DecodeError{Err: err}
	}
	return rest, nil
}

// Valid reports whether data is exactly one well-formed CBOR item under the
// strict decode mode.
func Valid(data []byte) bool {
	return decMode.Wellformed(data) == nil
}

// IsCanonical reports whether data is one CBOR item in CTAP2 canonical form:
// decoding it and encoding it again gives the same bytes.
func IsCanonical(data []byte) bool {
	var v any
	if err := decMode.Unmarshal(data, &v); err != nil {
		return false
	}
	re, err := encMode.Marshal(v)
	return err == nil && bytes.Equal(re, data)
}

// DecodeError is a CBOR decoding failure. Its Status is the one the
// authenticator answers with (CTAP 2.1 §8.2).
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return "ctap: cbor: " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// Status returns StatusCBORUnexpectedType for a value of the wrong CBOR type
// and StatusInvalidCBOR for malformed input.
func (e *DecodeError) Status() Status {
	var te *cbor.UnmarshalTypeError
	if errors.As(e.Err, &te) {
		return StatusCBORUnexpectedType
	}
	return StatusInvalidCBOR
}

// Is makes errors.Is(err, ctap.StatusInvalidCBOR) true for decode errors.
func (e *DecodeError) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status()
}

func asStatus(err error, s *Status) bool {
	var de *DecodeError
	if errors.As(err, &de) {
		*s = de.Status()
		return true
	}
	return errors.As(err, s)
}
