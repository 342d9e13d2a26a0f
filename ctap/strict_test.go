package ctap

import (
	"encoding/hex"
	"errors"
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
