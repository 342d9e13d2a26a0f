package client

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// blobKey is a small authenticatorLargeBlobs server (CTAP 2.1 §6.10.2)
// behind a Transport: it answers getInfo and largeBlobs, checks each
// set's pinUvAuthParam when it has a token, and records the requests.
type blobKey struct {
	mu       sync.Mutex
	info     ctap.InfoResponse
	stored   []byte
	pending  []byte
	expected uint64
	token    []byte
	protocol ctap.PINProtocol
	reqs     []ctap.LargeBlobsRequest
}

func newBlobKey(maxMsgSize uint64) *blobKey {
	h := sha256.Sum256([]byte{0x80})
	return &blobKey{
		info: ctap.InfoResponse{
			Versions: []string{ctap.VersionFIDO21}, AAGUID: testAAGUID[:],
			Options:    map[string]bool{ctap.OptionLargeBlobs: true},
			MaxMsgSize: maxMsgSize, MaxSerializedLargeBlobArray: 4096,
		},
		stored: append([]byte{0x80}, h[:16]...),
	}
}

func (k *blobKey) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, _ func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	status := func(s ctap.Status) ([]byte, error) { return []byte{byte(s)}, nil }
	switch ctap.Command(payload[0]) {
	case ctap.CmdGetInfo:
		return ok(ctap.MustMarshal(&k.info)), nil
	case ctap.CmdLargeBlobs:
	default:
		return status(ctap.StatusInvalidCommand)
	}
	var r ctap.LargeBlobsRequest
	if err := ctap.Unmarshal(payload[1:], &r); err != nil || r.Offset == nil {
		return status(ctap.StatusInvalidParameter)
	}
	k.reqs = append(k.reqs, r)
	off := *r.Offset
	if r.Get != nil {
		if off > uint64(len(k.stored)) || *r.Get > k.info.MaxMsgSize-64 {
			return status(ctap.StatusInvalidParameter)
		}
		end := min(off+*r.Get, uint64(len(k.stored)))
		return ok(ctap.MustMarshal(map[int][]byte{1: k.stored[off:end]})), nil
	}
	if uint64(len(r.Set)) > k.info.MaxMsgSize-64 {
		return status(ctap.StatusInvalidLength)
	}
	if off == 0 {
		if r.Length == nil {
			return status(ctap.StatusInvalidParameter)
		}
		k.expected, k.pending = *r.Length, nil
	} else if r.Length != nil {
		return status(ctap.StatusInvalidParameter)
	}
	if off != uint64(len(k.pending)) {
		return status(ctap.StatusInvalidSeq)
	}
	if k.token != nil {
		if r.PinUvAuthParam == nil {
			return status(ctap.StatusPUATRequired)
		}
		if r.PinUvAuthProtocol == nil || *r.PinUvAuthProtocol != k.protocol.Version() ||
			!k.protocol.Verify(k.token, ctap.LargeBlobsAuthMessage(off, r.Set), r.PinUvAuthParam) {
			return status(ctap.StatusPINAuthInvalid)
		}
	}
	k.pending = append(k.pending, r.Set...)
	if uint64(len(k.pending)) > k.expected {
		return status(ctap.StatusInvalidParameter)
	}
	if uint64(len(k.pending)) == k.expected {
		h := sha256.Sum256(k.pending[:len(k.pending)-16])
		if !bytes.Equal(h[:16], k.pending[len(k.pending)-16:]) {
			return status(ctap.StatusIntegrityFailure)
		}
		k.stored = k.pending
	}
	return ok(nil), nil
}

func (k *blobKey) requests() []ctap.LargeBlobsRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := slices.Clone(k.reqs)
	k.reqs = nil
	return r
}

func newTestLargeBlobs(t *testing.T, k *blobKey, p *PinProtocol, token []byte) *LargeBlobs {
	t.Helper()
	c, err := New(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewLargeBlobs(c, p, token)
	if err != nil {
		t.Fatal(err)
	}
	lb.Rand = seeded(9)
	return lb
}

func TestLargeBlobsFragments(t *testing.T) {
	t.Parallel()
	for _, v := range []uint64{1, 2} {
		k := newBlobKey(64 + 10) // maxFragmentLength 10
		p, _ := PinProtocolByVersion(v)
		k.token, k.protocol = bytes.Repeat([]byte{0x42}, 32), p.PINProtocol
		lb := newTestLargeBlobs(t, k, p, k.token)
		if lb.MaxFragmentLength() != 10 {
			t.Fatalf("MaxFragmentLength %d", lb.MaxFragmentLength())
		}
		entries := []ctap.RawMessage{ctap.MustMarshal(7), ctap.MustMarshal(bytes.Repeat([]byte{1}, 20))}
		if err := lb.WriteBlobArray(t.Context(), entries); err != nil {
			t.Fatalf("v%d: WriteBlobArray: %v", v, err)
		}
		ser, _ := SerializeLargeBlobArray(entries)
		reqs := k.requests()
		if len(reqs) != (len(ser)+9)/10 {
			t.Fatalf("v%d: %d requests for %d bytes", v, len(reqs), len(ser))
		}
		for i, r := range reqs {
			if *r.Offset != uint64(10*i) || (i == 0) != (r.Length != nil) || r.Get != nil ||
				r.PinUvAuthProtocol == nil || *r.PinUvAuthProtocol != v {
				t.Errorf("v%d: request %d: %+v", v, i, r)
			}
		}
		if *reqs[0].Length != uint64(len(ser)) {
			t.Errorf("length %d, want %d", *reqs[0].Length, len(ser))
		}
		got, err := lb.ReadBlobArray(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(entries, got); diff != "" {
			t.Errorf("read back (-want +got):\n%s", diff)
		}
		// 30 bytes: gets at 0, 10, 20 and 30, the last one empty.
		if n := len(k.requests()); n != len(ser)/10+1 {
			t.Errorf("%d gets for %d bytes", n, len(ser))
		}
	}
}

func TestLargeBlobsNoToken(t *testing.T) {
	t.Parallel()
	k := newBlobKey(1024)
	lb := newTestLargeBlobs(t, k, nil, nil)
	got, err := lb.ReadBlobArray(t.Context())
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("initial array: %v, %v", got, err)
	}
	if err := lb.WriteBlobArray(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range k.requests() {
		if r.PinUvAuthParam != nil || r.PinUvAuthProtocol != nil {
			t.Errorf("request with auth: %+v", r)
		}
	}
	// A token the key does not accept comes back as its status.
	k.token, k.protocol = bytes.Repeat([]byte{1}, 32), ctap.PINProtocolV2()
	if err := lb.WriteBlobArray(t.Context(), nil); !errors.Is(err, ctap.StatusPUATRequired) {
		t.Errorf("write without a token to a protected key: %v", err)
	}
	lb2 := newTestLargeBlobs(t, k, PinProtocolV2(), bytes.Repeat([]byte{2}, 32))
	if err := lb2.WriteBlobArray(t.Context(), nil); !errors.Is(err, ctap.StatusPINAuthInvalid) {
		t.Errorf("write with a wrong token: %v", err)
	}
}

func TestLargeBlobsBadHash(t *testing.T) {
	t.Parallel()
	k := newBlobKey(1024)
	k.stored = append(ctap.MustMarshal([]int{1}), make([]byte, 16)...)
	lb := newTestLargeBlobs(t, k, nil, nil)
	got, err := lb.ReadBlobArray(t.Context())
	if err != nil || len(got) != 0 {
		t.Errorf("array with a bad hash: %v, %v; want empty", got, err)
	}
	for _, ser := range [][]byte{nil, {0x80}, append([]byte{0xa0}, sha256Left(0xa0)...)} {
		if _, ok := ParseSerializedLargeBlobArray(ser); ok {
			t.Errorf("ParseSerializedLargeBlobArray(%x) ok", ser)
		}
	}
}

func sha256Left(b ...byte) []byte {
	h := sha256.Sum256(b)
	return h[:16]
}

func TestLargeBlobsPutGetDelete(t *testing.T) {
	t.Parallel()
	k := newBlobKey(200)
	lb := newTestLargeBlobs(t, k, nil, nil)
	ctx := t.Context()
	key1, key2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	foreign := ctap.MustMarshal(map[string]int{"x": 1})
	if err := lb.WriteBlobArray(ctx, []ctap.RawMessage{foreign}); err != nil {
		t.Fatal(err)
	}
	if b, err := lb.GetBlob(ctx, key1); b != nil || err != nil {
		t.Fatalf("GetBlob before put: %x, %v", b, err)
	}
	data1 := bytes.Repeat([]byte("large blob "), 40)
	if err := lb.PutBlob(ctx, key1, data1); err != nil {
		t.Fatal(err)
	}
	if err := lb.PutBlob(ctx, key2, []byte{}); err != nil {
		t.Fatal(err)
	}
	if b, err := lb.GetBlob(ctx, key1); err != nil || !bytes.Equal(b, data1) {
		t.Errorf("GetBlob(key1) = %q, %v", b, err)
	}
	if b, err := lb.GetBlob(ctx, key2); err != nil || b == nil || len(b) != 0 {
		t.Errorf("GetBlob(key2) = %x, %v; want empty", b, err)
	}
	// Replacing keeps one entry per key and the foreign entry.
	if err := lb.PutBlob(ctx, key1, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	entries, _ := lb.ReadBlobArray(ctx)
	if len(entries) != 3 || !bytes.Equal(entries[0], foreign) {
		t.Fatalf("entries after replace: %x", entries)
	}
	if b, _ := lb.GetBlob(ctx, key1); string(b) != "v2" {
		t.Errorf("GetBlob(key1) after replace = %q", b)
	}
	if err := lb.DeleteBlob(ctx, key1); err != nil {
		t.Fatal(err)
	}
	if b, err := lb.GetBlob(ctx, key1); b != nil || err != nil {
		t.Errorf("GetBlob after delete: %x, %v", b, err)
	}
	k.requests()
	if err := lb.DeleteBlob(ctx, key1); err != nil {
		t.Fatal(err)
	}
	for _, r := range k.requests() {
		if r.Set != nil {
			t.Errorf("deleting nothing wrote %+v", r)
		}
	}
	if err := lb.PutBlob(ctx, []byte{1}, nil); err == nil {
		t.Error("PutBlob with a 1-byte key succeeded")
	}
}

// TestOpenLargeBlobVectors opens entries made by hand: "hello" as raw
// DEFLATE (CTAP 2.1 §6.10.3) and as a zlib stream (python-fido2 0.9).
func TestOpenLargeBlobVectors(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0x11}, 32)
	nonce := bytes.Repeat([]byte{0x22}, 12)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	entry := func(compressed string, size uint64) ctap.RawMessage {
		z, _ := hex.DecodeString(compressed)
		ad := append([]byte("blob"), byte(size), 0, 0, 0, 0, 0, 0, 0)
		return ctap.MustMarshal(&LargeBlobEntry{Ciphertext: aead.Seal(nil, nonce, z, ad), Nonce: nonce, OrigSize: size})
	}
	for _, tt := range []struct {
		name  string
		entry ctap.RawMessage
		want  string
	}{
		{"raw deflate", entry("cb48cdc9c90700", 5), "hello"},
		{"zlib", entry("789ccb48cdc9c90700062c0215", 5), "hello"},
		{"wrong size", entry("cb48cdc9c90700", 4), ""},
		{"not compressed", entry("68656c6c6f", 5), ""},
		{"not a map", ctap.MustMarshal(5), ""},
		{"short nonce", ctap.MustMarshal(&LargeBlobEntry{Ciphertext: make([]byte, 20), Nonce: nonce[:8], OrigSize: 5}), ""},
	} {
		got, err := OpenLargeBlob(key, tt.entry)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: opened to %q", tt.name, got)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: %q, %v", tt.name, got, err)
		}
	}
	if _, err := OpenLargeBlob(bytes.Repeat([]byte{0x12}, 32), entry("cb48cdc9c90700", 5)); err == nil {
		t.Error("opened under another key")
	}
	// A sealed entry opens, and its plaintext is raw DEFLATE.
	e, err := SealLargeBlob(seeded(1), key, []byte("hello hello hello"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenLargeBlob(key, ctap.MustMarshal(e)); err != nil || string(got) != "hello hello hello" {
		t.Errorf("sealed entry: %q, %v", got, err)
	}
	z, err := aead.Open(nil, e.Nonce, e.Ciphertext, append([]byte("blob"), 17, 0, 0, 0, 0, 0, 0, 0))
	if err != nil || len(z) == 0 || z[0] == 0x78 {
		t.Errorf("sealed plaintext %x, %v: want raw DEFLATE", z, err)
	}
}

func TestNewLargeBlobsNotSupported(t *testing.T) {
	t.Parallel()
	c, _ := newTestCtap2(t, nil)
	if _, err := NewLargeBlobs(c, nil, nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("NewLargeBlobs without largeBlobs: %v", err)
	}
	k := newBlobKey(1024)
	c2, err := New(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLargeBlobs(c2, nil, make([]byte, 32)); err == nil {
		t.Error("a token without a protocol was accepted")
	}
	if _, err := c2.LargeBlobs(t.Context(), nil); err == nil {
		t.Error("nil request accepted")
	}
}
