package client

import (
	"bytes"
	"math"
	"unicode/utf8"

	"github.com/virtkey/virtkey/ctap"
)

// topKeys describes the top-level item of a response body, as far as the
// assertion parser needs it: whether it is a map whose keys are all
// unsigned integers, and which of those below 64 it has.
type topKeys struct {
	uintMap bool   // a map, every key an unsigned integer
	mask    uint64 // bit k: key k is present (k < 64)
	// canonical is set by fastCanonical: the body is in the form
	// decodeAssertion reads.
	canonical bool
}

func (t topKeys) has(k uint64) bool { return k < 64 && t.mask&(1<<k) != 0 }

// topKeysOf is topKeys for an item decoded by the generic decoder.
func topKeysOf(item any) topKeys {
	m, ok := item.(map[any]any)
	if !ok {
		return topKeys{}
	}
	t := topKeys{uintMap: true}
	for k := range m {
		u, ok := k.(uint64)
		if !ok {
			return topKeys{}
		}
		if u < 64 {
			t.mask |= 1 << u
		}
	}
	return t
}

// Bounds of the fast canonical check, within the decode mode's
// (MaxNestedLevels 16, MaxArrayElements and MaxMapPairs 4096): an item
// beyond them is left to the generic decoder.
const (
	fastMaxDepth = 15
	fastMaxItems = 4096
)

// fastCanonical reports whether data is certainly one CBOR item that the
// strict decode mode accepts and that encodes back to the same bytes
// (ctap.IsCanonical), checked without decoding it: every length and
// integer in its shortest form, map keys in canonical order (CTAP 2.1
// §8), text valid UTF-8. It covers what responses are made of: unsigned
// and int64 integers, byte and text strings, arrays, maps whose keys are
// all unsigned integers or all text strings, false, true and null. For
// anything else (tags, floats, other simple values, mixed key types,
// deeper nesting, non-canonical or malformed input) it answers false,
// and the caller decides with the decoder. With true it also returns the
// top-level keys.
func fastCanonical(data []byte) (topKeys, bool) {
	c := canonScanner{data: data}
	var t topKeys
	if !c.item(0, &t) || c.off != len(data) {
		return topKeys{}, false
	}
	t.canonical = true
	return t, true
}

type canonScanner struct {
	data []byte
	off  int
}

// head reads an item's initial byte and argument, which must be in
// shortest form and definite.
func (c *canonScanner) head() (major byte, arg uint64, ok bool) {
	major, ai, arg, n, e := ctap.ReadHead(c.data[c.off:])
	if e != ctap.HeadOK || (major == 7 && ai >= 24) { // only false, true and null are simple values here
		return 0, 0, false
	}
	c.off += n
	return major, arg, true
}

// item checks one item at nesting depth; at depth 0, t gets the keys.
func (c *canonScanner) item(depth int, t *topKeys) bool {
	if depth > fastMaxDepth {
		return false
	}
	major, arg, ok := c.head()
	if !ok {
		return false
	}
	switch major {
	case 0: // unsigned integer
		return true
	case 1: // negative integer: -1-arg, decoded to an int64 when it fits
		return arg <= math.MaxInt64
	case 2, 3: // byte string, text string
		if uint64(len(c.data)-c.off) < arg {
			return false
		}
		s := c.data[c.off : c.off+int(arg)]
		c.off += int(arg)
		return major == 2 || utf8.Valid(s)
	case 4: // array
		if arg > fastMaxItems {
			return false
		}
		for range arg {
			if !c.item(depth+1, nil) {
				return false
			}
		}
		return true
	case 5: // map
		if arg > fastMaxItems {
			return false
		}
		return c.mapItems(depth, int(arg), t)
	case 7: // false, true, null
		return arg >= 20 && arg <= 22
	}
	return false // a tag
}

// mapItems checks n key-value pairs: keys all unsigned integers or all
// text strings, in increasing canonical order (shorter encoding first,
// then bytewise), which also rules out duplicates.
func (c *canonScanner) mapItems(depth, n int, t *topKeys) bool {
	var prev []byte
	var keyMajor byte
	for i := range n {
		start := c.off
		major, arg, ok := c.head()
		if !ok {
			return false
		}
		switch {
		case major == 0:
		case major == 3:
			if uint64(len(c.data)-c.off) < arg {
				return false
			}
			s := c.data[c.off : c.off+int(arg)]
			c.off += int(arg)
			if !utf8.Valid(s) {
				return false
			}
		default:
			return false
		}
		key := c.data[start:c.off]
		if i > 0 {
			if major != keyMajor {
				return false
			}
			if len(key) < len(prev) || (len(key) == len(prev) && bytes.Compare(key, prev) <= 0) {
				return false
			}
		}
		keyMajor, prev = major, key
		if t != nil && major == 0 && arg < 64 {
			t.mask |= 1 << arg
		}
		if !c.item(depth+1, nil) {
			return false
		}
	}
	if t != nil {
		t.uintMap = n == 0 || keyMajor == 0
	}
	return true
}
