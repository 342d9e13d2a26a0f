package authenticator

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/virtkey/virtkey/ctap"
)

// decodeCredRecord reads the payload of a put record (kindPut), the
// CTAP2-canonical CBOR of a credRecord, without reflection: start-up
// decodes one per stored credential, and a generic decoder spent most of
// a 100,000-credential start-up there (docs/store.md, "Scale and speed").
//
// It accepts exactly what ctap.Marshal writes for a credRecord: a map of
// definite length whose keys are the field numbers 1 to 16 in ascending
// order, the members without omitempty always present, those with it
// never holding their zero value, every head in its shortest form, text
// valid UTF-8, and nothing after the map. Anything else is an error, so a
// payload that decodes re-encodes to the same bytes (FuzzDecodeCredRecord
// checks it against ctap.Unmarshal and ctap.Marshal).
//
// The byte fields of the result alias b (capped, so an append copies),
// and so do its name strings; the caller keeps b unchanged for as long as
// the credential lives.
//
// rpIDs, when not nil, interns RP IDs: credentials of one RP share one
// string. Start-up passes nil: the RP ID aliases b like the rest, and a
// map lookup per credential costs more than it saves.
func decodeCredRecord(b []byte, rpIDs map[string]string) (ResidentCredential, error) {
	var c ResidentCredential
	err := decodeCredRecordInto(&c, b, rpIDs)
	return c, err
}

// decodeCredRecordInto is decodeCredRecord into *c, which must be the
// zero value: start-up decodes straight into the list it builds, rather
// than copying each credential there.
func decodeCredRecordInto(c *ResidentCredential, b []byte, rpIDs map[string]string) error {
	d := cborReader{b: b}
	major, n, err := d.head()
	if err != nil {
		return err
	}
	if major != cborMap || n > 16 {
		return errors.New("not a map of at most 16 members")
	}
	// The members that are always encoded (no omitempty): ID, RPID,
	// UserID, Alg, PrivateKey, Sequence, Created.
	const required = 1<<1 | 1<<2 | 1<<4 | 1<<7 | 1<<8 | 1<<9 | 1<<10
	var seen uint32
	last := uint64(0)
	var rpName, userName, displayName []byte
	for range n {
		major, key, err := d.head()
		if err != nil {
			return err
		}
		if major != cborUint || key <= last || key > 16 {
			return fmt.Errorf("map key %d after %d", key, last)
		}
		last = key
		seen |= 1 << key
		switch key {
		case 1:
			c.ID, err = d.bytesOrNull(false)
		case 2:
			c.RPID, err = d.text(false, rpIDs)
		case 3:
			rpName, err = d.rawText(true)
		case 4:
			c.UserID, err = d.bytesOrNull(false)
		case 5:
			userName, err = d.rawText(true)
		case 6:
			displayName, err = d.rawText(true)
		case 7:
			c.Alg, err = d.int64()
		case 8:
			c.PrivateKey, err = d.bytesOrNull(false)
		case 9:
			c.Sequence, err = d.uint()
		case 10:
			var ns int64
			ns, err = d.int64()
			c.Created = time.Unix(0, ns).UTC()
		case 11:
			c.LargeBlobKey, err = d.bytesOrNull(true)
		case 12:
			c.CredProtect, err = d.uint()
			if err == nil && c.CredProtect == 0 {
				err = errors.New("zero credProtect encoded")
			}
		case 13:
			c.CredBlob, err = d.bytesOrNull(true)
		case 14:
			c.ThirdPartyPayment, err = d.true()
		case 15:
			c.HMACSecret, err = d.true()
		case 16:
			c.PublicKey, err = d.bytesOrNull(true)
		}
		if err != nil {
			return fmt.Errorf("member %d: %w", key, err)
		}
	}
	if seen&required != required {
		return fmt.Errorf("members %#x missing", required&^seen)
	}
	if len(d.b) != 0 {
		return errors.New("trailing bytes")
	}
	// The three names alias b as the byte fields do (b is not changed
	// while the credential lives): no allocation, and no object per
	// credential for the garbage collector to mark.
	c.RPName, c.UserName, c.UserDisplayName = aliasText(rpName), aliasText(userName), aliasText(displayName)
	return nil
}

// CBOR major types (RFC 8949 §3.1) that a credRecord uses.
const (
	cborUint   = 0
	cborNegInt = 1
	cborBytes  = 2
	cborText   = 3
	cborMap    = 5
	cborSimple = 7
)

// cborReader reads CTAP2-canonical CBOR heads (RFC 8949 §4.2.1: the
// shortest form of each argument, definite lengths only).
type cborReader struct{ b []byte }

var errCBORShort = errors.New("cut short")

// head reads one initial byte and its argument. Simple values (major 7)
// come back with their additional information as the argument, and are
// only the one-byte ones.
func (d *cborReader) head() (major byte, arg uint64, err error) {
	major, info, arg, n, e := ctap.ReadHead(d.b)
	if major == cborSimple && info >= 24 && len(d.b) > 0 {
		return 0, 0, fmt.Errorf("simple value or float %#x", d.b[0])
	}
	switch e {
	case ctap.HeadShort:
		return 0, 0, errCBORShort
	case ctap.HeadIndefinite:
		return 0, 0, fmt.Errorf("initial byte %#x: reserved or indefinite length", d.b[0])
	case ctap.HeadNotShortest:
		return 0, 0, fmt.Errorf("argument %d not in its shortest form", arg)
	}
	d.b = d.b[n:]
	return major, arg, nil
}

// content returns the n bytes of a byte or text string's content.
func (d *cborReader) content(n uint64) ([]byte, error) {
	if n > uint64(len(d.b)) {
		return nil, errCBORShort
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s, nil
}

// bytesOrNull reads a byte string; null is nil. With omitEmpty (an
// omitempty member) neither null nor an empty string may appear.
func (d *cborReader) bytesOrNull(omitEmpty bool) ([]byte, error) {
	major, n, err := d.head()
	switch {
	case err != nil:
		return nil, err
	case major == cborSimple && n == 22 && !omitEmpty:
		return nil, nil
	case major != cborBytes:
		return nil, fmt.Errorf("major type %d, want a byte string", major)
	case n == 0 && omitEmpty:
		return nil, errors.New("empty value encoded")
	}
	return d.content(n)
}

// text reads a text string, valid UTF-8, aliasing d's bytes. With
// omitEmpty it may not be empty. With intern, equal strings are returned
// as one.
func (d *cborReader) text(omitEmpty bool, intern map[string]string) (string, error) {
	s, err := d.textBytes(omitEmpty)
	if err != nil {
		return "", err
	}
	if intern != nil {
		if t, ok := intern[string(s)]; ok {
			return t, nil // checked when it was interned
		}
	}
	if !utf8.Valid(s) {
		return "", errors.New("invalid UTF-8")
	}
	t := aliasText(s)
	if intern != nil {
		intern[t] = t
	}
	return t, nil
}

// rawText is text before its conversion to a string: the bytes of a
// text string, valid UTF-8. With omitEmpty it may not be empty.
func (d *cborReader) rawText(omitEmpty bool) ([]byte, error) {
	s, err := d.textBytes(omitEmpty)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(s) {
		return nil, errors.New("invalid UTF-8")
	}
	return s, nil
}

// textBytes reads a text string's bytes, not yet checked as UTF-8. With
// omitEmpty it may not be empty.
func (d *cborReader) textBytes(omitEmpty bool) ([]byte, error) {
	major, n, err := d.head()
	switch {
	case err != nil:
		return nil, err
	case major != cborText:
		return nil, fmt.Errorf("major type %d, want a text string", major)
	case n == 0 && omitEmpty:
		return nil, errors.New("empty value encoded")
	}
	return d.content(n)
}

// uint reads an unsigned integer.
func (d *cborReader) uint() (uint64, error) {
	major, n, err := d.head()
	if err != nil {
		return 0, err
	}
	if major != cborUint {
		return 0, fmt.Errorf("major type %d, want an unsigned integer", major)
	}
	return n, nil
}

// int64 reads an integer that fits an int64.
func (d *cborReader) int64() (int64, error) {
	major, n, err := d.head()
	switch {
	case err != nil:
		return 0, err
	case major == cborUint && n <= math.MaxInt64:
		return int64(n), nil
	case major == cborNegInt && n <= math.MaxInt64:
		return -1 - int64(n), nil
	}
	return 0, fmt.Errorf("major type %d argument %d, want an int64", major, n)
}

// true reads the simple value true (an omitempty bool is never false).
func (d *cborReader) true() (bool, error) {
	major, n, err := d.head()
	if err != nil {
		return false, err
	}
	if major != cborSimple || n != 21 {
		return false, errors.New("want true")
	}
	return true, nil
}

// aliasText is b as a string without a copy; b must never change after.
func aliasText(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
