package authenticator

import (
	"bytes"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// asArray is b as a CBOR array of small integers: what a careless encoder
// sends for a byte string.
func asArray(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// generic re-encodes req as a map of its members, changed by set (a nil
// value sends CBOR null).
func generic(req any, set map[int]any) map[int]any {
	var m map[int]ctap.RawMessage
	if err := ctap.Unmarshal(ctap.MustMarshal(req), &m); err != nil {
		panic(err)
	}
	out := map[int]any{}
	for k, v := range m {
		out[k] = v
	}
	for k, v := range set {
		out[k] = v
	}
	return out
}

// swapFirstPairs re-encodes a canonical map with its first two pairs
// swapped: keys out of canonical order.
func swapFirstPairs(t *testing.T, canonical []byte) rawParams {
	t.Helper()
	var m map[int]ctap.RawMessage
	if err := ctap.Unmarshal(canonical, &m); err != nil {
		t.Fatal(err)
	}
	// The keys of the requests used here are 1, 2, 3, ...: small integers
	// encode as one byte.
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	keys[0], keys[1] = keys[1], keys[0]
	out := []byte{0xa0 | byte(len(keys))}
	for _, k := range keys {
		out = append(out, ctap.MustMarshal(k)...)
		out = append(out, m[k]...)
	}
	return out
}

// TestStrictCBOR sends requests that §8 rules out, or with members of the
// wrong type, that the key used to accept (CTAP 2.1 §8, §6.1.1, §6.2.1,
// §6.5.5).
func TestStrictCBOR(t *testing.T) {
	t.Parallel()
	mc := mcReq("example.com", []byte("user"), true)
	ga := gaReq("example.com", []byte("some credential id"))
	longKey := append([]byte{0xa4, 0x18, 0x01}, ctap.MustMarshal(testCDH)...) // key 1 as 0x18 0x01
	rest := ctap.MustMarshal(generic(mc, nil))
	var m map[int]ctap.RawMessage
	if err := ctap.Unmarshal(rest, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{2, 3, 4} {
		longKey = append(append(longKey, ctap.MustMarshal(k)...), m[k]...)
	}
	mcNoOpts := mcReq("example.com", []byte("user"), false)
	for _, tc := range []struct {
		name string
		cmd  ctap.Command
		req  any
		want ctap.Status
	}{
		{"mc keys out of order", ctap.CmdMakeCredential, swapFirstPairs(t, ctap.MustMarshal(mc)), ctap.StatusInvalidCBOR},
		{"mc key not shortest", ctap.CmdMakeCredential, rawParams(longKey), ctap.StatusInvalidCBOR},
		{"mc clientDataHash array", ctap.CmdMakeCredential, generic(mc, map[int]any{1: asArray(testCDH)}), ctap.StatusCBORUnexpectedType},
		{"mc user.id array", ctap.CmdMakeCredential, generic(mc, map[int]any{3: map[string]any{"id": asArray([]byte("user")), "name": "alice"}}), ctap.StatusCBORUnexpectedType},
		{"mc excludeList id array", ctap.CmdMakeCredential, generic(mc, map[int]any{5: []any{map[string]any{"id": []int{1, 2, 3}, "type": "public-key"}}}), ctap.StatusCBORUnexpectedType},
		{"mc credBlob array", ctap.CmdMakeCredential, generic(mc, map[int]any{6: map[string]any{"credBlob": []int{1, 2, 3}}}), ctap.StatusCBORUnexpectedType},
		{"mc options.rk null", ctap.CmdMakeCredential, generic(mcNoOpts, map[int]any{7: map[string]any{"rk": nil}}), ctap.StatusCBORUnexpectedType},
		{"mc options null", ctap.CmdMakeCredential, generic(mcNoOpts, map[int]any{7: nil}), ctap.StatusCBORUnexpectedType},
		{"mc clientDataHash empty", ctap.CmdMakeCredential, generic(mc, map[int]any{1: []byte{}}), ctap.StatusInvalidLength},
		{"mc clientDataHash 1024 bytes", ctap.CmdMakeCredential, generic(mc, map[int]any{1: make([]byte, 1024)}), ctap.StatusInvalidLength},
		{"ga keys out of order", ctap.CmdGetAssertion, swapFirstPairs(t, ctap.MustMarshal(ga)), ctap.StatusInvalidCBOR},
		{"ga clientDataHash array", ctap.CmdGetAssertion, generic(ga, map[int]any{2: asArray(testCDH)}), ctap.StatusCBORUnexpectedType},
		{"ga allowList id array", ctap.CmdGetAssertion, generic(ga, map[int]any{3: []any{map[string]any{"id": []int{1, 2, 3}, "type": "public-key"}}}), ctap.StatusCBORUnexpectedType},
		{"ga options.up null", ctap.CmdGetAssertion, generic(ga, map[int]any{5: map[string]any{"up": nil}}), ctap.StatusCBORUnexpectedType},
		{"ga clientDataHash 1 byte", ctap.CmdGetAssertion, generic(ga, map[int]any{2: []byte{1}}), ctap.StatusInvalidLength},
		{"clientPIN pinUvAuthProtocol null", ctap.CmdClientPIN, map[int]any{1: nil, 2: ctap.PINGetKeyAgreement}, ctap.StatusCBORUnexpectedType},
		{"clientPIN pinHashEnc array", ctap.CmdClientPIN, map[int]any{1: 2, 2: ctap.PINGetPinToken, 6: []int{1, 2}}, ctap.StatusCBORUnexpectedType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newTestKey(t)
			if got := k.do(tc.cmd, tc.req, nil); got != tc.want {
				var params []byte
				if r, ok := tc.req.(rawParams); ok {
					params = r
				} else {
					params = ctap.MustMarshal(tc.req)
				}
				t.Errorf("%v %x: %v, want %v", tc.cmd, params, got, tc.want)
			}
			if n := len(k.store.State().Credentials); n != 0 {
				t.Errorf("%d credentials stored after a refused request", n)
			}
		})
	}
	// The canonical requests the cases start from are fine.
	k := newTestKey(t)
	if s := k.do(ctap.CmdMakeCredential, generic(mc, nil), nil); s != ctap.StatusOK {
		t.Errorf("canonical makeCredential: %v", s)
	}
	if !bytes.Equal(ctap.MustMarshal(generic(mc, nil)), ctap.MustMarshal(mc)) {
		t.Errorf("generic changes the request")
	}
}
