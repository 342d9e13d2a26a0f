package ctap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestUnmarshalRequestStrict checks the §8 rules UnmarshalRequest adds to
// the decoder: each input was accepted by Unmarshal before.
func TestUnmarshalRequestStrict(t *testing.T) {
	cdh := "5820" + "0000000000000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct {
		name string
		into func() any
		hex  string
		want Status
	}{
		{"canonical", func() any { return new(GetAssertionRequest) }, "a2" + "0161" + "61" + "02" + cdh, StatusOK},
		{"keys out of order", func() any { return new(GetAssertionRequest) }, "a2" + "02" + cdh + "0161" + "61", StatusInvalidCBOR},
		{"key not shortest", func() any { return new(GetAssertionRequest) }, "a2" + "1801" + "6161" + "02" + cdh, StatusInvalidCBOR},
		{"length not shortest", func() any { return new(GetAssertionRequest) }, "a2" + "01" + "780161" + "02" + cdh, StatusInvalidCBOR},
		{"map length not shortest", func() any { return new(GetAssertionRequest) }, "b80002" + "0161" + "61" + "02" + cdh, StatusInvalidCBOR},
		{"array for clientDataHash", func() any { return new(GetAssertionRequest) }, "a2" + "0161" + "61" + "02" + "83010203", StatusCBORUnexpectedType},
		{"null clientDataHash", func() any { return new(GetAssertionRequest) }, "a2" + "0161" + "61" + "02" + "f6", StatusCBORUnexpectedType},
		{"options.up null", func() any { return new(GetAssertionRequest) }, "a3" + "0161" + "61" + "02" + cdh + "05a1627570f6", StatusCBORUnexpectedType},
		{"options.up undefined", func() any { return new(GetAssertionRequest) }, "a3" + "0161" + "61" + "02" + cdh + "05a1627570f7", StatusCBORUnexpectedType},
		{"allowList id array", func() any { return new(GetAssertionRequest) },
			"a3" + "0161" + "61" + "02" + cdh + "0381a2" + "626964820102" + "6474797065" + "6a7075626c69632d6b6579", StatusCBORUnexpectedType},
		{"user.id array", func() any { return new(MakeCredentialRequest) },
			"a4" + "01" + cdh + "02a1626964616" + "1" + "03a16269648101" + "0480", StatusCBORUnexpectedType},
		{"pinHashEnc array", func() any { return new(ClientPINRequest) }, "a2" + "0202" + "068101", StatusCBORUnexpectedType},
		{"keyAgreement x array", func() any { return new(ClientPINRequest) }, "a2" + "0202" + "03a1" + "21" + "8101", StatusCBORUnexpectedType},
		{"tag", func() any { return new(ClientPINRequest) }, "a1" + "02" + "c102", StatusInvalidCBOR},
		{"trailing bytes", func() any { return new(ClientPINRequest) }, "a1020200", StatusInvalidCBOR},
		{"raw member any shape", func() any { return new(MakeCredentialRequest) },
			"a5" + "01" + cdh + "02a1626964616" + "1" + "03a1626964410" + "1" + "0480" + "06a1" + "6b6372656450726f74656374" + "8101", StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			err = UnmarshalRequest(data, tc.into())
			if got := StatusOf(err); got != tc.want {
				t.Errorf("UnmarshalRequest(%s) = %v (%v), want %v", tc.hex, got, err, tc.want)
			}
			if tc.want != StatusOK && !errors.Is(err, tc.want) {
				t.Errorf("errors.Is(%v, %v) false", err, tc.want)
			}
		})
	}
}

// FuzzUnmarshalRequest decodes arbitrary bytes strictly as every request
// type. It must never panic; an error maps to one of the two CBOR
// statuses; what it accepts Unmarshal accepts too, is canonical, and
// re-encodes to the same bytes when the type keeps every member.
func FuzzUnmarshalRequest(f *testing.F) {
	addRequestVectors(f)
	f.Fuzz(func(t *testing.T, cmd byte, data []byte) {
		req := NewRequest(Command(cmd))
		if req == nil {
			return
		}
		if err := UnmarshalRequest(data, req); err != nil {
			if s := StatusOf(err); s != StatusInvalidCBOR && s != StatusCBORUnexpectedType {
				t.Fatalf("strict decode error %v maps to %v", err, s)
			}
			return
		}
		if !IsCanonical(data) {
			t.Fatalf("accepted non-canonical %x", data)
		}
		if err := Unmarshal(data, NewRequest(Command(cmd))); err != nil {
			t.Fatalf("accepted what Unmarshal refuses: %v", err)
		}
	})
}

// TestMemberType checks memberType's tables against the reflection walk
// they replace, which decoded the key and compared it with every field's
// tag: for every struct and map reachable from a request type and a set
// of keys holding every tag name, both as an integer and as text.
func TestMemberType(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var types []reflect.Type
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if seen[t] || (t.Kind() != reflect.Struct && t.Kind() != reflect.Map) {
			return
		}
		seen[t] = true
		types = append(types, t)
		if t.Kind() == reflect.Map {
			walk(t.Elem())
			return
		}
		for i := 0; i < t.NumField(); i++ {
			walk(t.Field(i).Type)
		}
	}
	for c := range 256 {
		if r := NewRequest(Command(c)); r != nil {
			walk(reflect.TypeOf(r))
		}
	}
	walk(coseKeyType)
	var keys [][]byte
	texts := map[string]bool{"x": true, "": true, "-1": true, "-2": true, "-3": true}
	for _, t := range types {
		if t.Kind() != reflect.Struct {
			continue
		}
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("cbor"), ",")
			texts[name] = true
		}
	}
	for s := range texts {
		keys = append(keys, MustMarshal(s))
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			keys = append(keys, MustMarshal(v))
		}
	}
	for v := int64(-300); v <= 300; v++ {
		keys = append(keys, MustMarshal(v))
	}
	keys = append(keys, MustMarshal(uint64(math.MaxUint64)), MustMarshal(int64(math.MinInt64)))
	if len(types) < 10 {
		t.Fatalf("walked only %d types", len(types))
	}
	for _, typ := range types {
		for _, key := range keys {
			if got, want := memberType(typ, key), memberTypeByTags(typ, key); got != want {
				t.Errorf("memberType(%v, %x) = %v, want %v", typ, key, got, want)
			}
		}
	}
}

// memberTypeByTags is memberType as a walk over t's fields for each key.
func memberTypeByTags(t reflect.Type, key []byte) reflect.Type {
	var k any
	if err := decMode.Unmarshal(key, &k); err != nil {
		return nil
	}
	name := fmt.Sprint(k)
	_, isInt := k.(uint64)
	if _, ok := k.(int64); ok {
		isInt = true
	}
	if t == coseKeyType {
		if name == "-2" || name == "-3" {
			return byteSliceType
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem()
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("cbor")
			if tag == "" || tag == "-" {
				continue
			}
			fname, opts, _ := strings.Cut(tag, ",")
			if fname == name && strings.Contains(opts, "keyasint") == isInt {
				return f.Type
			}
		}
	}
	return nil
}

// TestUnmarshalRequestNesting nests arrays and maps ever deeper inside a
// request, through members with a Go type and through an extension input
// of any shape: up to the decoder's limit they decode, beyond it they are
// CTAP2_ERR_INVALID_CBOR, and the walk's path never outgrows its array.
func TestUnmarshalRequestNesting(t *testing.T) {
	cdh := "5820" + strings.Repeat("00", 32)
	for depth := 0; depth <= maxStrictDepth+4; depth++ {
		for _, shape := range []struct{ open, close string }{{"81", ""}, {"a101", ""}, {"a16178", ""}} {
			inner := strings.Repeat(shape.open, depth) + "01"
			for name, h := range map[string]string{
				"extension": "a5" + "01" + cdh + "02a1626964616" + "1" + "03a1626964410" + "1" + "0480" + "06a1" + "6178" + inner,
				"options":   "a3" + "0161" + "61" + "02" + cdh + "05a1" + "6178" + inner,
			} {
				data, err := hex.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				var into any = new(MakeCredentialRequest)
				if name == "options" {
					into = new(GetAssertionRequest)
				}
				err = UnmarshalRequest(data, into)
				if s := StatusOf(err); err != nil && s != StatusInvalidCBOR && s != StatusCBORUnexpectedType {
					t.Errorf("%s depth %d (%s): %v", name, depth, shape.open, err)
				}
				if depth > maxStrictDepth && err == nil {
					t.Errorf("%s depth %d (%s): accepted", name, depth, shape.open)
				}
			}
		}
	}
}

// TestAppendMarshal: AppendMarshal gives Marshal's bytes after dst's, in
// dst's own array when it has the room, and dst unchanged on an error.
func TestAppendMarshal(t *testing.T) {
	v := &GetAssertionRequest{RPID: "example.com", ClientDataHash: make([]byte, 32)}
	want, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, room := range []int{0, 1, len(want) + 1} {
		dst := append(make([]byte, 0, 1+room), 0x02)
		got, err := AppendMarshal(dst, v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte{0x02}, want...)) {
			t.Fatalf("AppendMarshal with room %d = %x, want 02%x", room, got, want)
		}
		if inPlace := &got[0] == &dst[0]; inPlace != (room > len(want)) {
			t.Errorf("AppendMarshal with room %d: in dst's array = %v", room, inPlace)
		}
	}
	dst := []byte{0x02}
	if got, err := AppendMarshal(dst, make(chan int)); err == nil || !bytes.Equal(got, dst) {
		t.Fatalf("AppendMarshal(chan) = %x, %v; want 02 and an error", got, err)
	}
}
