package client

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// assertionBodies are getAssertion response bodies with every member
// decodeAssertion reads.
func assertionBodies(t testing.TB) [][]byte {
	ad := testAuthData(t, 7)
	return [][]byte{
		assertionBody(t, "cred", nil),
		assertionBody(t, "cred", u64(3)),
		mustMarshal(t, ctap.GetAssertionResponse{AuthData: ad, Signature: []byte{}}),
		mustMarshal(t, ctap.GetAssertionResponse{
			Credential:          &ctap.CredentialDescriptor{Type: "other", ID: []byte{}, Transports: []string{"usb", "nfc"}},
			AuthData:            ad,
			Signature:           []byte("sig"),
			User:                &ctap.UserEntity{ID: []byte("u"), Name: "a@example.com", DisplayName: "A", Icon: "https://example.com/i.png"},
			NumberOfCredentials: u64(1 << 40),
			UserSelected:        boolp(true),
			LargeBlobKey:        bytes.Repeat([]byte{7}, 32),
		}),
		mustMarshal(t, map[uint64]any{2: ad, 3: []byte("sig"), 4: map[string]any{}, 6: false}),
		mustMarshal(t, map[uint64]any{1: map[string]any{"transports": []string{}}, 2: ad, 3: []byte("sig")}),
	}
}

// TestDecodeAssertion: the usual bodies take the hand-written path and
// come out as the decoder has them; anything it does not read exactly so
// is left to the decoder.
func TestDecodeAssertion(t *testing.T) {
	t.Parallel()
	for _, b := range assertionBodies(t) {
		if _, ok := fastCanonical(b); !ok {
			t.Fatalf("fastCanonical(%x) = false", b)
		}
		got, ok := decodeAssertion(b, new(ctap.CredentialDescriptor))
		if !ok {
			t.Errorf("decodeAssertion(%x) = false", b)
			continue
		}
		var want ctap.GetAssertionResponse
		if err := ctap.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decodeAssertion(%x): (-decoder +fast)\n%s", b, diff)
		}
	}
	ad := testAuthData(t, 7)
	for _, v := range []any{
		map[uint64]any{2: ad, 3: []byte("sig"), 8: map[string]any{}},                     // extension outputs
		map[uint64]any{2: ad, 3: []byte("sig"), 9: 1},                                    // an unknown member
		map[uint64]any{2: ad, 3: []byte("sig"), 5: nil},                                  // null
		map[uint64]any{2: ad, 3: "sig"},                                                  // text for bytes
		map[uint64]any{1: map[string]any{"Type": "public-key"}, 2: ad, 3: []byte("sig")}, // the decoder's case folding
		map[uint64]any{1: []any{}, 2: ad, 3: []byte("sig")},                              // not a map
		map[uint64]any{2: ad, 3: []byte("sig"), 6: 1},                                    // not a bool
		map[string]any{"2": ad},
	} {
		b := mustMarshal(t, v)
		if _, ok := decodeAssertion(b, new(ctap.CredentialDescriptor)); ok {
			t.Errorf("decodeAssertion(%x) = true", b)
		}
	}
}

// TestDecodeAssertionCapsBytes: the byte strings are body's, and
// appending to one does not overwrite the next.
func TestDecodeAssertionCapsBytes(t *testing.T) {
	t.Parallel()
	b := assertionBodies(t)[3]
	m, ok := decodeAssertion(b, new(ctap.CredentialDescriptor))
	if !ok {
		t.Fatal("decodeAssertion = false")
	}
	sig := bytes.Clone(m.Signature)
	_ = append(m.AuthData, 0xff, 0xff, 0xff)
	if !bytes.Equal(m.Signature, sig) {
		t.Fatalf("Signature = %x after authData was appended to, want %x", m.Signature, sig)
	}
}

// reusingTransport answers every getAssertion from one buffer, which it
// overwrites for the next answer, as a transport may.
type reusingTransport struct {
	info, buf []byte
}

func (r *reusingTransport) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, _ func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	if ctap.Command(payload[0]) == ctap.CmdGetInfo {
		return r.info, nil
	}
	return r.buf, nil
}

// TestGetAssertionCopiesReusedBuffer: over a transport other than the
// package's own, the assertion does not share the transport's buffer.
func TestGetAssertionCopiesReusedBuffer(t *testing.T) {
	t.Parallel()
	rt := &reusingTransport{info: ok(minimalInfoBody(t)), buf: ok(assertionBody(t, "cred", nil))}
	c, err := New(context.Background(), rt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetAssertion(context.Background(), testGARequest())
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(got.Signature)
	clear(rt.buf)
	if !bytes.Equal(got.Signature, want) || string(got.Credential.ID) != "cred" {
		t.Fatalf("after the transport reused its buffer: signature %x (want %x), credential %q", got.Signature, want, got.Credential.ID)
	}
}

// FuzzDecodeAssertion: whatever canonical body decodeAssertion takes, the
// decoder takes too and decodes to the same response; and the client's
// parse of it agrees with ParseAssertionResponse. Seeds are the bodies
// above and the request vectors of testvectors/ctap (maps of credential
// descriptors and user entities).
func FuzzDecodeAssertion(f *testing.F) {
	for _, b := range assertionBodies(f) {
		f.Add(b)
	}
	for _, b := range requestVectors(f) {
		if len(b) > 1 {
			f.Add(b[1:]) // the parameters after the command byte
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, ok := fastCanonical(b)
		if !ok {
			return
		}
		got, ok := decodeAssertion(b, new(ctap.CredentialDescriptor))
		if ok {
			var want ctap.GetAssertionResponse
			if err := ctap.Unmarshal(b, &want); err != nil {
				t.Fatalf("decodeAssertion took %x, which the decoder refuses: %v", b, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("decodeAssertion(%x): (-decoder +fast)\n%s", b, diff)
			}
		}
		want, wantErr := ParseAssertionResponse(b)
		one, oneErr := parseAssertion(b, keys)
		if diff := cmp.Diff(want, one); diff != "" || (wantErr == nil) != (oneErr == nil) {
			t.Fatalf("parseAssertion(%x) = %v, %v; ParseAssertionResponse = %v, %v", b, one, oneErr, want, wantErr)
		}
	})
}
