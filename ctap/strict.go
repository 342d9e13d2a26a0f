package ctap

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// UnmarshalRequest decodes a command's parameters (or a member that holds
// encoded CBOR, such as subCommandParams or an extension input) into v, as
// Unmarshal does, after checking what the decoder alone lets through
// (CTAP 2.1 §8):
//
//   - the encoding is CTAP2 canonical (§8.1): every length and integer in
//     its shortest form, map keys in canonical order without duplicates;
//     otherwise CTAP2_ERR_INVALID_CBOR;
//   - a member that is a byte string in the spec is a byte string, not an
//     array of small integers; no member is null or undefined (no
//     request member of CTAP 2.1 may be null: an optional member is
//     omitted), a float or another simple value; map keys are integers or
//     text strings; otherwise CTAP2_ERR_CBOR_UNEXPECTED_TYPE.
//
// Responses are not checked this way: the client decodes them with
// Unmarshal and checks canonical form with IsCanonical.
func UnmarshalRequest(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("ctap: UnmarshalRequest into %T", v)
	}
	w := strictWalker{data: data}
	if err := w.item(t.Elem(), 0); err != nil {
		return err
	}
	if w.off != len(data) {
		return &DecodeError{Err: fmt.Errorf("%d bytes after the request", len(data)-w.off)}
	}
	return Unmarshal(data, v)
}

// StrictError is a request that decodes but breaks a rule of CTAP 2.1 §8
// that the decoder does not enforce: non-canonical encoding
// (CTAP2_ERR_INVALID_CBOR), or a member of the wrong type
// (CTAP2_ERR_CBOR_UNEXPECTED_TYPE).
type StrictError struct {
	status Status
	Path   string // the member, such as "1" or "3.id"
	Reason string
}

func (e *StrictError) Error() string {
	p := e.Path
	if p == "" {
		p = "request"
	}
	return fmt.Sprintf("ctap: cbor: %s: %s", p, e.Reason)
}

// Status returns the status the authenticator answers with.
func (e *StrictError) Status() Status { return e.status }

// Unwrap returns the status, for errors.Is, errors.As and StatusOf.
func (e *StrictError) Unwrap() error { return e.status }

// maxStrictDepth bounds nesting like the decode mode's MaxNestedLevels.
const maxStrictDepth = 16

var (
	byteSliceType = reflect.TypeOf([]byte(nil))
	rawType       = reflect.TypeOf(RawMessage(nil))
	coseKeyType   = reflect.TypeOf(COSEKey{})
)

type strictWalker struct {
	data []byte
	off  int
	// path[:npath] are the members around the item being checked: at
	// most one per level of nesting, a fixed array so that the walk
	// allocates nothing.
	path  [maxStrictDepth + 1]strictMember
	npath int
}

// strictMember is one step of an error path: a map member, by its encoded
// key, or an array element (key nil). It is spelt out only by fail.
type strictMember struct {
	key   []byte
	index uint64
}

func (w *strictWalker) fail(s Status, format string, args ...any) error {
	path := ""
	for _, m := range w.path[:w.npath] {
		if m.key != nil {
			path = joinPath(path, keyName(m.key))
		} else {
			path = joinPath(path, strconv.FormatUint(m.index, 10))
		}
	}
	return &StrictError{status: s, Path: path, Reason: fmt.Sprintf(format, args...)}
}

// push adds m to the path. item(t, depth) is entered with at most depth
// members on it and refuses a depth over maxStrictDepth, so the array has
// room.
func (w *strictWalker) push(m strictMember) {
	w.path[w.npath] = m
	w.npath++
}

// head reads one item head: major type, additional information and
// argument. It enforces the shortest form of the argument (§8.1: "integers
// must be encoded as small as possible", and the same for lengths);
// floats (major 7, ai 25 to 27) are refused by item.
func (w *strictWalker) head() (major, ai byte, arg uint64, err error) {
	major, ai, arg, n, e := ReadHead(w.data[w.off:])
	switch e {
	case HeadShort:
		return 0, 0, 0, w.fail(StatusInvalidCBOR, "truncated")
	case HeadIndefinite: // 28-30 reserved, 31 indefinite length: both forbidden
		return 0, 0, 0, w.fail(StatusInvalidCBOR, "additional information %d (indefinite length or reserved)", ai)
	case HeadNotShortest:
		return 0, 0, 0, w.fail(StatusInvalidCBOR, "%d encoded in %d bytes, not the shortest form", arg, n-1)
	}
	w.off += n
	return major, ai, arg, nil
}

// item checks one item whose Go destination is t (nil: any).
func (w *strictWalker) item(t reflect.Type, depth int) error {
	if depth > maxStrictDepth {
		return w.fail(StatusInvalidCBOR, "nested more than %d levels", maxStrictDepth)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawType || (t != nil && t.Kind() == reflect.Interface) {
		t = nil // any CBOR item: only the encoding rules apply
	}
	start := w.off
	major, ai, arg, err := w.head()
	if err != nil {
		return err
	}
	if t == byteSliceType && major != 2 {
		w.off = start
		return w.fail(StatusCBORUnexpectedType, "%s where a byte string is required", majorName(major, ai))
	}
	switch major {
	case 0, 1:
		return nil
	case 2, 3:
		if arg > uint64(len(w.data)-w.off) {
			return w.fail(StatusInvalidCBOR, "truncated")
		}
		if major == 3 && !utf8.Valid(w.data[w.off:w.off+int(arg)]) {
			return w.fail(StatusInvalidCBOR, "text string is not UTF-8")
		}
		w.off += int(arg)
		return nil
	case 4:
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			elem = t.Elem()
		}
		for i := uint64(0); i < arg; i++ {
			w.push(strictMember{index: i})
			if err := w.item(elem, depth+1); err != nil {
				return err
			}
			w.npath--
		}
		return nil
	case 5:
		return w.mapItems(t, arg, depth)
	case 6:
		return w.fail(StatusInvalidCBOR, "tag %d", arg)
	}
	// Major type 7.
	switch {
	case ai == 20 || ai == 21: // false, true
		return nil
	case ai == 22 || ai == 23:
		return w.fail(StatusCBORUnexpectedType, "%s: an optional member is omitted, never null", majorName(major, ai))
	case ai >= 25 && ai <= 27:
		return w.fail(StatusCBORUnexpectedType, "a float: no CTAP request member is one")
	}
	return w.fail(StatusCBORUnexpectedType, "simple value %d", arg)
}

// mapItems checks n key/value pairs: keys in CTAP2 canonical order
// (canonicalLess), each value against the member type the key selects.
func (w *strictWalker) mapItems(t reflect.Type, n uint64, depth int) error {
	var prev []byte
	ms := membersIn(t)
	for i := uint64(0); i < n; i++ {
		kstart := w.off
		if err := w.item(nil, depth+1); err != nil {
			return err
		}
		key := w.data[kstart:w.off]
		if m := key[0] >> 5; m != 0 && m != 1 && m != 3 {
			return w.fail(StatusCBORUnexpectedType, "map key %x: CTAP maps are keyed by integers or text strings", key)
		}
		if prev != nil && !canonicalLess(prev, key) {
			return w.fail(StatusInvalidCBOR, "map key %x after %x: not in canonical order", key, prev)
		}
		prev = key
		w.push(strictMember{key: key})
		if err := w.item(ms.of(key), depth+1); err != nil {
			return err
		}
		w.npath--
	}
	return nil
}

// canonicalLess reports whether encoded key a sorts before b in CTAP2
// canonical order (§8.1): the lower major type first, then the shorter
// encoding, then bytewise.
func canonicalLess(a, b []byte) bool {
	if ma, mb := a[0]>>5, b[0]>>5; ma != mb {
		return ma < mb
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return bytes.Compare(a, b) < 0
}

// keyName is an encoded map key as error paths spell it.
func keyName(key []byte) string {
	var k any
	if err := decMode.Unmarshal(key, &k); err != nil {
		return "?"
	}
	return fmt.Sprint(k)
}

// memberType finds the Go type of the member that encoded key selects in
// t (a struct with keyasint or name tags, or a map). key is the canonical
// encoding of an integer or a text string (mapItems has checked it).
func memberType(t reflect.Type, key []byte) reflect.Type { return membersIn(t).of(key) }

// members finds the Go types of the members of one map.
type members struct {
	byKey map[string]reflect.Type // a struct's (membersOf), or
	elem  reflect.Type            // a map's element type
}

// membersIn returns the members of t, looked up once for all the keys of
// a map.
func membersIn(t reflect.Type) members {
	if t == nil {
		return members{}
	}
	if t == coseKeyType {
		return members{byKey: membersOf(t)}
	}
	switch t.Kind() {
	case reflect.Map:
		return members{elem: t.Elem()}
	case reflect.Struct:
		return members{byKey: membersOf(t)}
	}
	return members{}
}

// of returns the type of the member that encoded key selects, nil for
// none.
func (m members) of(key []byte) reflect.Type {
	if m.byKey != nil {
		return m.byKey[string(key)]
	}
	return m.elem
}

// memberTables holds membersOf's tables by type.
var memberTables sync.Map // reflect.Type -> map[string]reflect.Type

// membersOf returns the member types of struct t by the canonical
// encoding of the key that selects each, built once per type: a field
// tagged keyasint is selected by its integer, another tagged field by its
// name as a text string; where two fields share a key, the first counts.
// COSE_Key labels -2 and -3 are byte strings for every key type (RFC 9053
// §7.1.1 x and y, §7.1.2 (OKP) x, RFC 8230 §4 e; -1 is crv for EC2 and
// OKP but n for RSA), whether sent as integers or, by a confused client,
// as text.
func membersOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := memberTables.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	add := func(key []byte, ft reflect.Type) {
		if _, ok := m[string(key)]; !ok {
			m[string(key)] = ft
		}
	}
	if t == coseKeyType {
		for _, label := range []int64{-2, -3} {
			add(appendCBORInt(nil, label), byteSliceType)
			add(appendTextKey(nil, strconv.FormatInt(label, 10)), byteSliceType)
		}
	} else {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("cbor")
			if tag == "" || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if !strings.Contains(opts, "keyasint") {
				add(appendTextKey(nil, name), f.Type)
			} else if v, err := strconv.ParseInt(name, 10, 64); err == nil && strconv.FormatInt(v, 10) == name {
				add(appendCBORInt(nil, v), f.Type)
			} else if u, err := strconv.ParseUint(name, 10, 64); err == nil && strconv.FormatUint(u, 10) == name {
				add(appendCBORHead(nil, 0, u), f.Type)
			}
		}
	}
	actual, _ := memberTables.LoadOrStore(t, m)
	return actual.(map[string]reflect.Type)
}

// appendTextKey appends the canonical encoding of text string s.
func appendTextKey(b []byte, s string) []byte {
	return append(appendCBORHead(b, 3, uint64(len(s))), s...)
}

func joinPath(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

func majorName(major, ai byte) string {
	switch major {
	case 0, 1:
		return "an integer"
	case 2:
		return "a byte string"
	case 3:
		return "a text string"
	case 4:
		return "an array"
	case 5:
		return "a map"
	case 6:
		return "a tag"
	}
	switch ai {
	case 20, 21:
		return "a boolean"
	case 22:
		return "null"
	case 23:
		return "undefined"
	}
	return "a simple value or float"
}
