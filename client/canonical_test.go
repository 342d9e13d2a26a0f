package client

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFastCanonical: the fast check takes canonical bodies of the usual
// items with the keys the decoder finds, and leaves everything else to
// the decoder.
func TestFastCanonical(t *testing.T) {
	t.Parallel()
	n := uint64(3)
	yes := map[string][]byte{
		"assertion":       assertionBody(t, "cred", &n),
		"info-like":       mustMarshal(t, map[int]any{1: []string{"FIDO_2_0", "FIDO_2_1"}, 3: make([]byte, 16), 4: map[string]bool{"rk": true, "up": false, "clientPin": true}, 5: 1200, 6: []int{2, 1}}),
		"negative ints":   mustMarshal(t, map[int]any{1: -1, 2: -24, 3: -25, 4: -256, 5: -65537, 6: -(1 << 40)}),
		"null":            mustMarshal(t, map[int]any{1: nil}),
		"empty map":       hexBytes(t, "a0"),
		"array":           mustMarshal(t, []any{1, "a", []byte{2}, true, nil}),
		"text keys":       mustMarshal(t, map[string]any{"a": 1, "bb": 2, "b": 3, "ab": map[string]any{}}),
		"large uint keys": mustMarshal(t, map[uint64]any{1: 1, 23: 2, 24: 3, 255: 4, 256: 5, 1 << 40: 6}),
	}
	for name, b := range yes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := fastCanonical(b)
			if !ok {
				t.Fatalf("fastCanonical(%x) = false", b)
			}
			var item any
			if err := ctap.Unmarshal(b, &item); err != nil {
				t.Fatal(err)
			}
			want := topKeysOf(item)
			want.canonical = true
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(topKeys{})); diff != "" {
				t.Errorf("keys (-decoder +fast):\n%s", diff)
			}
		})
	}
	no := map[string]string{
		"empty":                  "",
		"uint not shortest":      "a1 01 18 05",
		"length not shortest":    "a1 01 58 01 00",
		"key not shortest":       "a1 1800 01",
		"keys unsorted":          "a2 02 00 01 00",
		"duplicate keys":         "a2 01 00 01 00",
		"text keys unsorted":     "a2 6162 00 61 61 00",
		"mixed key types":        "a2 01 00 6161 00",
		"negative key":           "a1 20 00",
		"indefinite array":       "9f 01 ff",
		"trailing byte":          "a0 00",
		"truncated":              "a1 01 42 00",
		"float":                  "a1 01 f9 3c00",
		"double":                 "a1 01 fb 3ff0000000000000",
		"undefined":              "a1 01 f7",
		"simple value":           "a1 01 e0",
		"tag":                    "a1 01 c1 01",
		"negative beyond int64":  "3b 8000000000000000",
		"invalid utf-8":          "a1 01 61 ff",
		"invalid utf-8 text key": "a1 61 ff 00",
		"reserved":               "1c",
	}
	for name, h := range no {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, ok := fastCanonical(hexBytes(t, h)); ok {
				t.Errorf("fastCanonical(%s) = true", h)
			}
		})
	}
}

// FuzzFastCanonical: whatever the fast check takes, the decoder takes,
// re-encodes to the same bytes (ctap.IsCanonical), and finds the same
// top-level keys in.
func FuzzFastCanonical(f *testing.F) {
	n := uint64(2)
	for _, b := range [][]byte{
		assertionBody(f, "cred", &n),
		mustMarshal(f, map[int]any{1: []string{"FIDO_2_0"}, 4: map[string]bool{"rk": true}, 6: []int{2, 1}}),
		mustMarshal(f, map[string]any{"a": -1, "bb": nil, "b": true, "ab": map[string]any{"x": []byte{1}}}),
		mustMarshal(f, []any{1, "a", []byte{2}, false, nil, -(1 << 40)}),
		{0xa2, 0x01, 0x00, 0x61, 0x61, 0x00},
		{0xa1, 0x01, 0xf9, 0x3c, 0x00},
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := fastCanonical(b)
		if !ok {
			return
		}
		if !ctap.IsCanonical(b) {
			t.Fatalf("fastCanonical took %x, which is not canonical", b)
		}
		var item any
		if err := ctap.Unmarshal(b, &item); err != nil {
			t.Fatal(err)
		}
		want := topKeysOf(item)
		want.canonical = true
		if got != want {
			t.Fatalf("keys of %x: fast %+v, decoder %+v", b, got, want)
		}
	})
}
