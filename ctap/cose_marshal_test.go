package ctap

import (
	"bytes"
	"testing"
)

// marshalCOSEKeyGeneric is the map-based encoding COSEKey.MarshalCBOR
// replaced, kept to check that the hand-written one writes the same bytes.
func marshalCOSEKeyGeneric(k COSEKey) ([]byte, error) {
	m := map[int]any{coseKty: k.Kty}
	if k.Alg != 0 {
		m[coseAlg] = k.Alg
	}
	switch k.Kty {
	case KtyEC2:
		m[coseCrv], m[coseX], m[coseY] = k.Crv, k.X, k.Y
	case KtyOKP:
		m[coseCrv], m[coseX] = k.Crv, k.X
	case KtyRSA:
		m[coseN], m[coseE] = k.N, k.E
	}
	return encMode.Marshal(m)
}

// TestCOSEKeyMarshalMatchesGeneric: the hand-written encoder writes the
// generic encoder's canonical bytes for every key type, large and
// negative values, empty and nil byte strings.
func TestCOSEKeyMarshalMatchesGeneric(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte{7}, 300)
	for _, k := range []COSEKey{
		{Kty: KtyEC2, Alg: AlgES256, Crv: CrvP256, X: bytes.Repeat([]byte{1}, 32), Y: bytes.Repeat([]byte{2}, 32)},
		{Kty: KtyEC2, Alg: AlgES384, Crv: CrvP384, X: bytes.Repeat([]byte{1}, 48), Y: bytes.Repeat([]byte{2}, 48)},
		{Kty: KtyEC2, Crv: CrvP256, X: []byte{}, Y: nil},
		{Kty: KtyEC2, Alg: -25, Crv: -70000, X: big, Y: bytes.Repeat([]byte{3}, 70000)},
		{Kty: KtyOKP, Alg: AlgEdDSA, Crv: 6, X: bytes.Repeat([]byte{4}, 32)},
		{Kty: KtyOKP, Alg: 1 << 40},
		{Kty: KtyRSA, Alg: AlgRS256, N: big, E: []byte{1, 0, 1}},
		{Kty: KtyRSA, Alg: -1 << 62, N: nil, E: []byte{}},
		{Kty: KtyEC2, Alg: 23, Crv: 24},
		{Kty: KtyEC2, Alg: -24, Crv: -25, X: bytes.Repeat([]byte{5}, 23), Y: bytes.Repeat([]byte{5}, 24)},
	} {
		want, err := marshalCOSEKeyGeneric(k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.MarshalCBOR()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v:\n got %x\nwant %x", k, got[:min(len(got), 40)], want[:min(len(want), 40)])
		}
	}
	if _, err := (COSEKey{Kty: 9}).MarshalCBOR(); err == nil {
		t.Error("key type 9 encoded")
	}
}
