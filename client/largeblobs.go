package client

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Large-blob storage (CTAP 2.1 §6.10): the platform's side of
// authenticatorLargeBlobs and of the large, per-credential blobs kept in
// the serialized large-blob array (§6.10.3).

// largeBlobHashSize is the length of the truncated SHA-256 that ends a
// serialized large-blob array (§6.10.1).
const largeBlobHashSize = 16

// MaxLargeBlobArray is the most bytes ReadSerialized reads, whatever the
// device's getInfo says: maxSerializedLargeBlobArray has a floor of 1024
// in the spec (§6.4) but no ceiling, and real keys offer a few KiB. A
// device that sends more, or announces more, is answered ErrTooMany.
const MaxLargeBlobArray = 1 << 20

// maxLargeBlobGets bounds the authenticatorLargeBlobs get commands one
// ReadSerialized sends, for a device with tiny fragments (a small
// maxMsgSize).
const maxLargeBlobGets = 4096

// LargeBlobsSupported reports whether the authenticator implements
// authenticatorLargeBlobs: getInfo option largeBlobs true (CTAP 2.1 §6.4).
// This is python-fido2's LargeBlobs.is_supported.
func LargeBlobsSupported(info *Info) bool {
	v, _ := info.Option(ctap.OptionLargeBlobs)
	return v
}

// LargeBlobs sends authenticatorLargeBlobs (CTAP 2.1 §6.10.2) with req and
// returns config (0x01) of the response: nil for a set, which answers
// with an empty response, and the fragment read for a get (empty, not
// nil, when the authenticator had no more bytes). This is python-fido2's
// Ctap2.large_blobs; the LargeBlobs type builds the requests.
func (c *Ctap2) LargeBlobs(ctx context.Context, req *ctap.LargeBlobsRequest, opts ...CallOption) ([]byte, error) {
	if req == nil {
		return nil, errors.New("client: nil LargeBlobsRequest")
	}
	var resp map[uint64]ctap.RawMessage
	if err := c.SendCBOR(ctx, ctap.CmdLargeBlobs, req, &resp, opts...); err != nil {
		return nil, err
	}
	if req.Get == nil {
		return nil, nil
	}
	raw, ok := resp[1]
	if !ok {
		return nil, fmt.Errorf("%w: authenticatorLargeBlobs: config (0x01) missing", ErrBadResponse)
	}
	config := []byte{}
	if err := ctap.Unmarshal(raw, &config); err != nil {
		return nil, fmt.Errorf("%w: authenticatorLargeBlobs: config: %v", ErrBadResponse, err)
	}
	if config == nil {
		config = []byte{}
	}
	return config, nil
}

// LargeBlobs reads and writes the authenticator's serialized large-blob
// array and the per-credential blobs in it, like python-fido2's
// LargeBlobs (CTAP 2.1 §6.10). Writes carry a pinUvAuthParam per
// fragment when the LargeBlobs has a pinUvAuthToken, which then needs the
// largeBlobWrite permission; reads need none. Set Rand before use.
type LargeBlobs struct {
	// Rand is where the nonces of new entries come from; nil means
	// crypto/rand.
	Rand io.Reader

	c           *Ctap2
	protocol    *PinProtocol
	token       []byte
	maxFragment uint64
	maxArray    uint64 // maxSerializedLargeBlobArray, 0 when not advertised
}

// NewLargeBlobs returns a LargeBlobs for c. token is a pinUvAuthToken
// with the largeBlobWrite permission obtained with protocol, or nil on
// an authenticator without a PIN or built-in user verification (writes
// then carry no pinUvAuthParam). Without the largeBlobs option the error
// wraps ErrNotSupported. Fragments are maxFragmentLength, maxMsgSize − 64
// bytes (§6.10.1), long.
func NewLargeBlobs(c *Ctap2, protocol *PinProtocol, token []byte) (*LargeBlobs, error) {
	if c == nil {
		return nil, errors.New("client: NewLargeBlobs: nil Ctap2")
	}
	info := c.Info()
	if info == nil {
		return nil, errors.New("client: NewLargeBlobs: no getInfo response")
	}
	if !LargeBlobsSupported(info) {
		return nil, fmt.Errorf("%w: no largeBlobs option", ErrNotSupported)
	}
	if token != nil && (protocol == nil || protocol.PINProtocol == nil) {
		return nil, errors.New("client: NewLargeBlobs: a token without its PIN/UV auth protocol")
	}
	if info.MaxMsgSize <= 64 {
		return nil, fmt.Errorf("%w: maxMsgSize %d leaves no room for a fragment", ErrNotSupported, info.MaxMsgSize)
	}
	// A CTAPHID message carries at most ctaphid.MaxMessageSize bytes
	// (§11.2.4), whatever maxMsgSize says.
	maxMsg := min(info.MaxMsgSize, ctaphid.MaxMessageSize)
	return &LargeBlobs{c: c, protocol: protocol, token: bytes.Clone(token),
		maxFragment: maxMsg - 64, maxArray: info.MaxLargeBlob}, nil
}

// Ctap returns the Ctap2 lb sends through (python-fido2's
// LargeBlobs.ctap).
func (lb *LargeBlobs) Ctap() *Ctap2 { return lb.c }

// Protocol returns the PIN/UV auth protocol lb authenticates writes with
// (nil without a token); with Token it is python-fido2's LargeBlobs.pin_uv.
func (lb *LargeBlobs) Protocol() *PinProtocol { return lb.protocol }

// Token returns a copy of lb's pinUvAuthToken, nil without one.
func (lb *LargeBlobs) Token() []byte { return bytes.Clone(lb.token) }

// MaxFragmentLength returns maxFragmentLength, the size of the fragments
// lb reads and writes (§6.10.1).
func (lb *LargeBlobs) MaxFragmentLength() int { return int(lb.maxFragment) }

// ReadSerialized reads the whole serialized large-blob array (§6.10.3,
// reading): get = maxFragmentLength at offsets 0, maxFragmentLength, ...
// until a fragment is shorter than asked. It checks nothing of the
// content.
//
// It reads at most the device's maxSerializedLargeBlobArray (§6.4: the
// stored array never exceeds it, §6.10.2 step 5.b.ii), and never more than
// MaxLargeBlobArray bytes or maxLargeBlobGets commands; a device that keeps
// sending full fragments past that is answered with an error wrapping
// ErrTooMany.
func (lb *LargeBlobs) ReadSerialized(ctx context.Context) ([]byte, error) {
	limit := uint64(MaxLargeBlobArray)
	if lb.maxArray != 0 {
		limit = min(lb.maxArray, limit)
	}
	var buf []byte
	for gets := 1; ; gets++ {
		off, n := uint64(len(buf)), lb.maxFragment
		frag, err := lb.c.LargeBlobs(ctx, &ctap.LargeBlobsRequest{Get: &n, Offset: &off})
		if err != nil {
			return nil, err
		}
		if uint64(len(frag)) > n {
			return nil, fmt.Errorf("%w: authenticatorLargeBlobs: %d bytes for get %d", ErrBadResponse, len(frag), n)
		}
		buf = append(buf, frag...)
		if uint64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: authenticatorLargeBlobs: the serialized large-blob array has more than %d bytes", ErrTooMany, limit)
		}
		if uint64(len(frag)) < n {
			return buf, nil
		}
		if gets == maxLargeBlobGets {
			return nil, fmt.Errorf("%w: authenticatorLargeBlobs: still full fragments after %d gets of %d bytes", ErrTooMany, gets, n)
		}
	}
}

// ReadBlobArray reads the large-blob array (§6.10.3): the serialized
// array is read, its trailing LEFT(SHA-256(rest), 16) checked, and the
// rest decoded as a CBOR array whose items are returned as they are. An
// array whose hash does not match, or that does not decode as an array,
// is treated as empty, as the spec asks and python-fido2's
// read_blob_array does.
func (lb *LargeBlobs) ReadBlobArray(ctx context.Context) ([]ctap.RawMessage, error) {
	ser, err := lb.ReadSerialized(ctx)
	if err != nil {
		return nil, err
	}
	entries, ok := ParseSerializedLargeBlobArray(ser)
	if !ok {
		return []ctap.RawMessage{}, nil
	}
	return entries, nil
}

// ParseSerializedLargeBlobArray splits a serialized large-blob array into
// its CBOR array items, reporting false when the trailing 16 bytes are not
// LEFT(SHA-256(rest), 16) or the rest is not one CBOR array (§6.10.1).
func ParseSerializedLargeBlobArray(ser []byte) ([]ctap.RawMessage, bool) {
	if len(ser) < largeBlobHashSize+1 {
		return nil, false
	}
	body, check := ser[:len(ser)-largeBlobHashSize], ser[len(ser)-largeBlobHashSize:]
	h := sha256.Sum256(body)
	if !bytes.Equal(h[:largeBlobHashSize], check) {
		return nil, false
	}
	var entries []ctap.RawMessage
	if err := ctap.Unmarshal(body, &entries); err != nil {
		return nil, false
	}
	if entries == nil {
		entries = []ctap.RawMessage{}
	}
	return entries, true
}

// SerializeLargeBlobArray encodes entries as a CBOR array followed by
// LEFT(SHA-256(array), 16): a serialized large-blob array (§6.10.1).
func SerializeLargeBlobArray(entries []ctap.RawMessage) ([]byte, error) {
	if entries == nil {
		entries = []ctap.RawMessage{}
	}
	body, err := ctap.Marshal(entries)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the large-blob array: %w", err)
	}
	h := sha256.Sum256(body)
	return append(body, h[:largeBlobHashSize]...), nil
}

// WriteBlobArray replaces the large-blob array with entries (§6.10.3,
// writing): it serializes them with SerializeLargeBlobArray and writes
// the result with WriteSerialized.
func (lb *LargeBlobs) WriteBlobArray(ctx context.Context, entries []ctap.RawMessage) error {
	ser, err := SerializeLargeBlobArray(entries)
	if err != nil {
		return err
	}
	return lb.WriteSerialized(ctx, ser)
}

// WriteSerialized writes ser as the serialized large-blob array in
// fragments of maxFragmentLength (§6.10.2 step 5): set and offset in each,
// length = len(ser) in the first one only, and, with a token,
// pinUvAuthParam = authenticate(token, 32×0xff || 0x0c 0x00 ||
// uint32LittleEndian(offset) || SHA-256(fragment)) with pinUvAuthProtocol.
// The authenticator commits the array with the last fragment.
func (lb *LargeBlobs) WriteSerialized(ctx context.Context, ser []byte) error {
	if len(ser) == 0 {
		return errors.New("client: an empty serialized large-blob array")
	}
	size := uint64(len(ser))
	for off := uint64(0); off < size; off += lb.maxFragment {
		frag := ser[off:min(off+lb.maxFragment, size)]
		req := &ctap.LargeBlobsRequest{Set: frag, Offset: &off}
		if off == 0 {
			req.Length = &size
		}
		if lb.token != nil {
			req.PinUvAuthParam = lb.protocol.Authenticate(lb.token, ctap.LargeBlobsAuthMessage(off, frag))
			v := lb.protocol.Version()
			req.PinUvAuthProtocol = &v
		}
		if _, err := lb.c.LargeBlobs(ctx, req); err != nil {
			return fmt.Errorf("client: writing the large-blob array at offset %d: %w", off, err)
		}
	}
	return nil
}

// LargeBlobEntry is one entry of the large-blob array (§6.10.3): a blob
// encrypted under a credential's largeBlobKey.
type LargeBlobEntry struct {
	// Ciphertext is AEAD_AES_256_GCM(largeBlobKey, nonce, DEFLATE(blob),
	// "blob" || uint64LittleEndian(origSize)), the 16-byte tag last.
	Ciphertext []byte `cbor:"1,keyasint"`
	// Nonce is the 12-byte GCM nonce.
	Nonce []byte `cbor:"2,keyasint"`
	// OrigSize is the blob's length before compression.
	OrigSize uint64 `cbor:"3,keyasint"`
}

// largeBlobAD is the associated data of an entry: "blob" ||
// uint64LittleEndian(origSize) (§6.10.3).
func largeBlobAD(origSize uint64) []byte {
	return binary.LittleEndian.AppendUint64([]byte("blob"), origSize)
}

func largeBlobAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("client: a largeBlobKey of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealLargeBlob makes the entry for data under key (§6.10.3): data is
// compressed with raw DEFLATE (RFC 1951), then encrypted with AES-256-GCM
// under a 12-byte nonce from rand (crypto/rand if nil).
func SealLargeBlob(rand io.Reader, key, data []byte) (*LargeBlobEntry, error) {
	aead, err := largeBlobAEAD(key)
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	fw, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(data); err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(randReader(rand), nonce); err != nil {
		return nil, fmt.Errorf("client: nonce: %w", err)
	}
	size := uint64(len(data))
	return &LargeBlobEntry{Ciphertext: aead.Seal(nil, nonce, z.Bytes(), largeBlobAD(size)), Nonce: nonce, OrigSize: size}, nil
}

// errWrongKey is an entry that does not decrypt under the key.
var errWrongKey = errors.New("client: the large-blob entry is not for this key")

// OpenLargeBlob decrypts and decompresses an entry under key (§6.10.3).
// An entry that is not a map with ciphertext, a 12-byte nonce and
// origSize, or that does not decrypt under key, or whose blob is not
// origSize bytes, is an error. The plaintext is raw DEFLATE as the spec
// says; a zlib stream (RFC 1950), as python-fido2 before 1.0 wrote, is
// accepted too.
func OpenLargeBlob(key []byte, entry ctap.RawMessage) ([]byte, error) {
	aead, err := largeBlobAEAD(key)
	if err != nil {
		return nil, err
	}
	var e LargeBlobEntry
	if err := ctap.Unmarshal(entry, &e); err != nil || len(e.Nonce) != aead.NonceSize() || len(e.Ciphertext) < aead.Overhead() {
		return nil, fmt.Errorf("%w: malformed entry", errWrongKey)
	}
	z, err := aead.Open(nil, e.Nonce, e.Ciphertext, largeBlobAD(e.OrigSize))
	if err != nil {
		return nil, errWrongKey
	}
	data, err := inflate(flate.NewReader(bytes.NewReader(z)), e.OrigSize)
	if err != nil {
		zr, zerr := zlib.NewReader(bytes.NewReader(z))
		if zerr != nil {
			return nil, err
		}
		if data, err = inflate(zr, e.OrigSize); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// inflate reads all of r, which must be exactly size bytes; it stops
// reading one byte past size, so a compressed bomb costs nothing.
func inflate(r io.ReadCloser, size uint64) ([]byte, error) {
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, int64(min(size, 1<<40))+1))
	if err != nil {
		return nil, fmt.Errorf("client: decompressing a large blob: %w", err)
	}
	if uint64(len(data)) != size {
		return nil, fmt.Errorf("client: a large blob of %d bytes, origSize %d", len(data), size)
	}
	return data, nil
}

// GetBlob returns the blob stored for the credential with largeBlobKey
// key (§6.10.3): the first entry of the array that opens under key with
// OpenLargeBlob. No such entry is (nil, nil); an empty blob is a non-nil
// empty slice.
func (lb *LargeBlobs) GetBlob(ctx context.Context, key []byte) ([]byte, error) {
	if _, err := largeBlobAEAD(key); err != nil {
		return nil, err
	}
	entries, err := lb.ReadBlobArray(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if data, err := OpenLargeBlob(key, e); err == nil {
			return data, nil
		}
	}
	return nil, nil
}

// PutBlob stores data for the credential with largeBlobKey key,
// replacing its entries (§6.10.3): every entry that decrypts under key is
// dropped, the others kept as they were, and a new entry sealed with
// SealLargeBlob appended; the array is written back. A nil data deletes
// (DeleteBlob), and then nothing is written when no entry was for key.
func (lb *LargeBlobs) PutBlob(ctx context.Context, key, data []byte) error {
	aead, err := largeBlobAEAD(key)
	if err != nil {
		return err
	}
	entries, err := lb.ReadBlobArray(ctx)
	if err != nil {
		return err
	}
	modified := data != nil
	kept := make([]ctap.RawMessage, 0, len(entries)+1)
	for _, e := range entries {
		if entryOpens(aead, e) {
			modified = true
			continue
		}
		kept = append(kept, e)
	}
	if data != nil {
		entry, err := SealLargeBlob(lb.Rand, key, data)
		if err != nil {
			return err
		}
		raw, err := ctap.Marshal(entry)
		if err != nil {
			return err
		}
		kept = append(kept, raw)
	}
	if !modified {
		return nil
	}
	return lb.WriteBlobArray(ctx, kept)
}

// DeleteBlob removes every entry for the credential with largeBlobKey key.
func (lb *LargeBlobs) DeleteBlob(ctx context.Context, key []byte) error {
	return lb.PutBlob(ctx, key, nil)
}

// entryOpens reports whether entry decrypts under aead, whatever its
// plaintext: such an entry belongs to the key (python-fido2's put_blob
// drops it too).
func entryOpens(aead cipher.AEAD, entry ctap.RawMessage) bool {
	var e LargeBlobEntry
	if err := ctap.Unmarshal(entry, &e); err != nil || len(e.Nonce) != aead.NonceSize() || len(e.Ciphertext) < aead.Overhead() {
		return false
	}
	_, err := aead.Open(nil, e.Nonce, e.Ciphertext, largeBlobAD(e.OrigSize))
	return err == nil
}

func randReader(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
