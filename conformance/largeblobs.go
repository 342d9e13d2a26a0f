package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// authenticatorLargeBlobs cases (CTAP 2.1 §6.10), for keys that list the
// largeBlobs option, a CTAP 2.1 feature. Cases that write set a PIN
// first, with the key's preferred PIN/UV auth protocol, and authenticate
// every fragment with a token carrying the largeBlobWrite permission, so
// that they run the same on keys with and without built-in user
// verification; they are destructive.

// initialLargeBlobArray is the initial serialized large-blob array
// (§6.10.1): 0x80 || LEFT(SHA-256(0x80), 16).
var initialLargeBlobArray, _ = hex.DecodeString("8076be8b528d0075f7aae98d6fa57a6d3c")

// serializedLargeBlobArray returns the serialized array of items.
func serializedLargeBlobArray(t *T, items ...any) []byte {
	if items == nil {
		items = []any{}
	}
	body := t.Encode(items)
	h := sha256.Sum256(body)
	return append(body, h[:16]...)
}

// needLargeBlobs skips a case on a key without the largeBlobs option.
func (t *T) needLargeBlobs() {
	if !client.LargeBlobsSupported(t.Ctap2().Info()) {
		t.skipFeature("the key has no largeBlobs option")
	}
}

// lbMaxFragment is maxFragmentLength, maxMsgSize − 64 (§6.10.1).
func (t *T) lbMaxFragment() uint64 { return t.Ctap2().Info().MaxMsgSize - 64 }

// lbGet sends get = n at off.
func (t *T) lbGet(off, n uint64) ([]byte, error) {
	return t.Ctap2().LargeBlobs(t.ctx, &ctap.LargeBlobsRequest{Get: &n, Offset: &off})
}

// lbArray reads the whole serialized large-blob array.
func (t *T) lbArray() []byte {
	lb, err := client.NewLargeBlobs(t.Ctap2(), nil, nil)
	if err != nil {
		t.Fatalf("LargeBlobs: %v", err)
	}
	b, err := lb.ReadSerialized(t.ctx)
	if err != nil {
		t.Fatalf("reading the large-blob array: %v", err)
	}
	return b
}

// expectLargeBlobArray fails the case unless the stored array is want.
func (t *T) expectLargeBlobArray(want []byte, when string) {
	if got := t.lbArray(); !bytes.Equal(got, want) {
		t.Fatalf("large-blob array %s: %x, want %x", when, got, want)
	}
}

// lbWriter writes fragments, with a pinUvAuthParam when tok is set.
type lbWriter struct {
	t   *T
	p   *client.PinProtocol
	tok []byte
}

// lbPinned starts a destructive case on a fresh key: it sets testPIN and
// gets a protocol-v token with permissions.
func (t *T) lbPinned(v, permissions uint64) (*lbWriter, *pinCase) {
	t.needLargeBlobs()
	pc := t.pinProtocol(v)
	pc.freshKey()
	pc.setPIN()
	return &lbWriter{t: t, p: pc.p, tok: pc.token(permissions, "")}, pc
}

// set sends one fragment; length nil leaves it out.
func (w *lbWriter) set(off uint64, frag []byte, length *uint64) error {
	req := &ctap.LargeBlobsRequest{Set: frag, Offset: &off, Length: length}
	if w.tok != nil {
		req.PinUvAuthParam = w.p.Authenticate(w.tok, ctap.LargeBlobsAuthMessage(off, frag))
		req.PinUvAuthProtocol = u64(w.p.Version())
	}
	_, err := w.t.Ctap2().LargeBlobs(w.t.ctx, req)
	return err
}

// mustSet sends one fragment and fails the case unless it is accepted.
func (w *lbWriter) mustSet(off uint64, frag []byte, length *uint64) {
	if err := w.set(off, frag, length); err != nil {
		w.t.Fatalf("set at offset %d: %v", off, err)
	}
}

// write writes data in fragments of n bytes and fails the case on error.
func (w *lbWriter) write(data []byte, n int) {
	for off := 0; off < len(data); off += n {
		var length *uint64
		if off == 0 {
			length = u64(uint64(len(data)))
		}
		w.mustSet(uint64(off), data[off:min(off+n, len(data))], length)
	}
}

// lbRaw sends a largeBlobs request map and checks the status.
func (t *T) lbRaw(m map[int]any, want ctap.Status) {
	st, _ := t.Raw(ctap.CmdLargeBlobs, t.Encode(m))
	if st != want {
		t.Fatalf("largeBlobs %v: got %v, want %v", m, st, want)
	}
}

// lbRequestCases are largeBlobs cases that differ only in the request
// maps they send and the status every one of them must get (CTAP 2.1
// §6.10.2 steps 1-5); they change nothing on the key.
var lbRequestCases = []struct {
	ID, Section, Title string
	Requests           []map[int]any
	Want               ctap.Status
}{
	{ID: "lb-missing-offset", Section: "CTAP 2.1 §6.10.2 step 1",
		Title: "a request without offset gives CTAP1_ERR_INVALID_PARAMETER",
		Want:  ctap.StatusInvalidParameter, Requests: []map[int]any{
			{1: 16},
		}},
	{ID: "lb-get-set-exclusive", Section: "CTAP 2.1 §6.10.2 steps 2, 3",
		Title: "neither get nor set, or both, give CTAP1_ERR_INVALID_PARAMETER",
		Want:  ctap.StatusInvalidParameter, Requests: []map[int]any{
			{3: 0},
			{1: 16, 2: initialLargeBlobArray, 3: 0, 4: len(initialLargeBlobArray)},
		}},
	{ID: "lb-get-extra-members", Section: "CTAP 2.1 §6.10.2 steps 4.a, 4.b",
		Title: "get with length, pinUvAuthParam or pinUvAuthProtocol gives CTAP1_ERR_INVALID_PARAMETER",
		Want:  ctap.StatusInvalidParameter, Requests: []map[int]any{
			{1: 16, 3: 0, 4: 16},
			{1: 16, 3: 0, 5: make([]byte, 32)},
			{1: 16, 3: 0, 6: 2},
		}},
	{ID: "lb-set-missing-length", Section: "CTAP 2.1 §6.10.2 step 5.b.i",
		Title: "set at offset 0 without length gives CTAP1_ERR_INVALID_PARAMETER",
		Want:  ctap.StatusInvalidParameter, Requests: []map[int]any{
			{2: initialLargeBlobArray, 3: 0},
		}},
	{ID: "lb-length-too-short", Section: "CTAP 2.1 §6.10.2 step 5.b.iii",
		Title: "length 16, less than the 17 bytes of the smallest array, gives CTAP1_ERR_INVALID_PARAMETER",
		Want:  ctap.StatusInvalidParameter, Requests: []map[int]any{
			{2: initialLargeBlobArray[:16], 3: 0, 4: 16},
		}},
	{ID: "lb-set-out-of-sequence", Section: "CTAP 2.1 §6.10.2 step 5.d",
		Title: "set at an offset where no write continues gives CTAP1_ERR_INVALID_SEQ",
		Want:  ctap.StatusInvalidSeq, Requests: []map[int]any{
			{2: []byte{1, 2, 3}, 3: 4093},
		}},
}

func init() {
	for _, rc := range lbRequestCases {
		Register(Case{ID: rc.ID, Section: rc.Section, Title: rc.Title, Versions: CTAP21,
			Run: func(t *T) {
				t.needLargeBlobs()
				for _, m := range rc.Requests {
					t.lbRaw(m, rc.Want)
				}
			}})
	}
}

func init() {
	Register(
		Case{ID: "lb-info", Section: "CTAP 2.1 §6.4, §6.10", Versions: CTAP21, Title: "getInfo lists largeBlobs true and a maxSerializedLargeBlobArray of at least 1024",
			Run: func(t *T) {
				t.needLargeBlobs()
				info := t.Ctap2().Info()
				if !info.HasMember(client.InfoMaxSerializedLargeBlobArray) || info.MaxLargeBlob < 1024 {
					t.Fatalf("maxSerializedLargeBlobArray %d (present %t), want at least 1024",
						info.MaxLargeBlob, info.HasMember(client.InfoMaxSerializedLargeBlobArray))
				}
			}},
		Case{ID: "lb-initial-array", Section: "CTAP 2.1 §6.10.1", Versions: CTAP21, Title: "a new key holds the initial serialized large-blob array 80 || LEFT(SHA-256(80), 16)",
			Destructive: true,
			Run: func(t *T) {
				t.needLargeBlobs()
				t.needFreshKey()
				t.expectLargeBlobArray(initialLargeBlobArray, "of a new key")
			}},
		Case{ID: "lb-get-fragments", Section: "CTAP 2.1 §6.10.2 step 4.e", Versions: CTAP21, Title: "get returns min(get, size − offset) bytes from offset; at the end an empty config",
			Run: func(t *T) {
				t.needLargeBlobs()
				whole := t.lbArray()
				var pieces []byte
				for off := uint64(0); ; off += 5 {
					frag, err := t.lbGet(off, 5)
					if err != nil {
						t.Fatalf("get 5 at %d: %v", off, err)
					}
					pieces = append(pieces, frag...)
					if len(frag) < 5 {
						break
					}
				}
				if !bytes.Equal(pieces, whole) {
					t.Fatalf("5-byte fragments %x, whole %x", pieces, whole)
				}
				frag, err := t.lbGet(uint64(len(whole)), 5)
				t.ExpectStatus(err, ctap.StatusOK, "get at the end")
				Equal(t, "bytes at the end", len(frag), 0)
			}},
		Case{ID: "lb-get-offset-past-end", Section: "CTAP 2.1 §6.10.2 step 4.d", Versions: CTAP21, Title: "get at an offset past the array gives CTAP1_ERR_INVALID_PARAMETER",
			Run: func(t *T) {
				t.needLargeBlobs()
				_, err := t.lbGet(uint64(len(t.lbArray())+1), 1)
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "get past the end")
			}},
		Case{ID: "lb-get-too-long", Section: "CTAP 2.1 §6.10.2 step 4.c", Versions: CTAP21, Title: "get = maxFragmentLength + 1 gives CTAP1_ERR_INVALID_LENGTH; maxFragmentLength works",
			Run: func(t *T) {
				t.needLargeBlobs()
				_, err := t.lbGet(0, t.lbMaxFragment()+1)
				t.ExpectStatus(err, ctap.StatusInvalidLength, "get maxFragmentLength+1")
				_, err = t.lbGet(0, t.lbMaxFragment())
				t.ExpectStatus(err, ctap.StatusOK, "get maxFragmentLength")
			}},
		Case{ID: "lb-storage-full", Section: "CTAP 2.1 §6.10.2 step 5.b.ii", Versions: CTAP21, Title: "length maxSerializedLargeBlobArray + 1 gives CTAP2_ERR_LARGE_BLOB_STORAGE_FULL",
			Run: func(t *T) {
				t.needLargeBlobs()
				n := t.Ctap2().Info().MaxLargeBlob
				if n < 1024 {
					t.Skipf("maxSerializedLargeBlobArray %d: the limit is unknown", n)
				}
				t.lbRaw(map[int]any{2: initialLargeBlobArray, 3: 0, 4: n + 1}, ctap.StatusLargeBlobStorageFull)
			}},
		Case{ID: "lb-write-no-pin", Section: "CTAP 2.1 §6.10.2 step 5", Versions: CTAP21, Title: "on a key without PIN or built-in UV, set needs no pinUvAuthParam; fragments commit with the last one",
			Destructive: true,
			Run: func(t *T) {
				t.needLargeBlobs()
				t.needFreshKey()
				if t.Ctap2().Info().Options[ctap.OptionUV] {
					t.Skipf("the key is protected by built-in user verification")
				}
				data := serializedLargeBlobArray(t, bytes.Repeat([]byte{0x5a}, 100), "virtkey")
				w := &lbWriter{t: t}
				w.write(data, 40)
				t.expectLargeBlobArray(data, "after the write")
			}},
		Case{ID: "lb-missing-pin-uv-auth-param", Section: "CTAP 2.1 §6.10.2 step 5.e.i", Versions: CTAP21, Title: "with a PIN set, set without pinUvAuthParam gives CTAP2_ERR_PUAT_REQUIRED",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				w.tok = nil
				data := serializedLargeBlobArray(t, 1)
				t.ExpectStatus(w.set(0, data, u64(uint64(len(data)))), ctap.StatusPUATRequired, "set without pinUvAuthParam")
				t.expectLargeBlobArray(initialLargeBlobArray, "after the refused write")
			}},
		Case{ID: "lb-missing-protocol", Section: "CTAP 2.1 §6.10.2 step 5.e.ii", Versions: CTAP21, Title: "set with pinUvAuthParam but no pinUvAuthProtocol gives CTAP2_ERR_MISSING_PARAMETER",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				data := serializedLargeBlobArray(t, 1)
				t.lbRaw(map[int]any{2: data, 3: 0, 4: len(data), 5: w.p.Authenticate(w.tok, ctap.LargeBlobsAuthMessage(0, data))},
					ctap.StatusMissingParameter)
			}},
		Case{ID: "lb-permission-refused", Section: "CTAP 2.1 §6.10.2 step 5.e.v", Versions: CTAP21, Title: "a token without the largeBlobWrite permission gives CTAP2_ERR_PIN_AUTH_INVALID",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionGetAssertion)
				data := serializedLargeBlobArray(t, 1)
				t.ExpectStatus(w.set(0, data, u64(uint64(len(data)))), ctap.StatusPINAuthInvalid, "set with a ga token")
				t.expectLargeBlobArray(initialLargeBlobArray, "after the refused write")
			}},
		Case{ID: "lb-bad-pin-uv-auth-param", Section: "CTAP 2.1 §6.10.2 step 5.e.iv", Versions: CTAP21, Title: "a pinUvAuthParam over another offset gives CTAP2_ERR_PIN_AUTH_INVALID",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				data := serializedLargeBlobArray(t, 1)
				t.lbRaw(map[int]any{2: data, 3: 0, 4: len(data), 5: w.p.Authenticate(w.tok, ctap.LargeBlobsAuthMessage(1, data)), 6: 2},
					ctap.StatusPINAuthInvalid)
				t.expectLargeBlobArray(initialLargeBlobArray, "after the refused write")
			}},
		Case{ID: "lb-length-on-continuation", Section: "CTAP 2.1 §6.10.2 step 5.c", Versions: CTAP21, Title: "length in a fragment at a non-zero offset gives CTAP1_ERR_INVALID_PARAMETER",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				data := serializedLargeBlobArray(t, "continued")
				size := u64(uint64(len(data)))
				w.mustSet(0, data[:10], size)
				t.ExpectStatus(w.set(10, data[10:], size), ctap.StatusInvalidParameter, "length at offset 10")
			}},
		Case{ID: "lb-fragment-past-length", Section: "CTAP 2.1 §6.10.2 step 5.f", Versions: CTAP21, Title: "a fragment that ends past length gives CTAP1_ERR_INVALID_PARAMETER",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				data := serializedLargeBlobArray(t, "too long")
				w.mustSet(0, data[:10], u64(uint64(len(data))))
				t.ExpectStatus(w.set(10, append(bytes.Clone(data[10:]), 0), nil), ctap.StatusInvalidParameter, "fragment past length")
				t.expectLargeBlobArray(initialLargeBlobArray, "after the refused write")
			}},
		Case{ID: "lb-offsets-out-of-order", Section: "CTAP 2.1 §6.10.2 step 5.d", Versions: CTAP21, Title: "fragments skipping ahead or repeating give CTAP1_ERR_INVALID_SEQ; the right offset then continues",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				data := serializedLargeBlobArray(t, bytes.Repeat([]byte{7}, 50))
				w.mustSet(0, data[:20], u64(uint64(len(data))))
				t.ExpectStatus(w.set(30, data[30:40], nil), ctap.StatusInvalidSeq, "skipping to 30")
				t.ExpectStatus(w.set(0, data[:20], nil), ctap.StatusInvalidParameter, "offset 0 again without length")
				w.mustSet(20, data[20:40], nil)
				t.ExpectStatus(w.set(20, data[20:40], nil), ctap.StatusInvalidSeq, "repeating offset 20")
				w.mustSet(40, data[40:], nil)
				t.expectLargeBlobArray(data, "after the write")
			}},
		Case{ID: "lb-bad-hash", Section: "CTAP 2.1 §6.10.2 step 5.j.i", Versions: CTAP21, Title: "an array whose trailing hash does not match gives CTAP2_ERR_INTEGRITY_FAILURE and keeps the old array",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				old := serializedLargeBlobArray(t, "old")
				w.write(old, 1000)
				bad := serializedLargeBlobArray(t, "new")
				bad[len(bad)-1] ^= 0x01
				w.mustSet(0, bad[:8], u64(uint64(len(bad))))
				t.ExpectStatus(w.set(8, bad[8:], nil), ctap.StatusIntegrityFailure, "last fragment with a bad hash")
				t.expectLargeBlobArray(old, "after the integrity failure")
			}},
		Case{ID: "lb-interrupted-by-power-cycle", Section: "CTAP 2.1 §6.10.2 steps 5.d, 5.j.ii", Versions: CTAP21, Title: "a write cut by a power cycle does not continue (CTAP1_ERR_INVALID_SEQ) and leaves the old array",
			Needs: []Capability{CapPowerCycle}, Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				old := serializedLargeBlobArray(t, "old")
				w.write(old, 1000)
				next := serializedLargeBlobArray(t, bytes.Repeat([]byte{9}, 40))
				w.mustSet(0, next[:20], u64(uint64(len(next))))
				t.PowerCycle()
				t.ExpectStatus(w.set(20, next[20:], nil), ctap.StatusInvalidSeq, "continuing after a power cycle")
				t.expectLargeBlobArray(old, "after the power cycle")
			}},
		Case{ID: "lb-interrupted-by-reads", Section: "CTAP 2.1 §6.10.2 steps 4.e, 5.j.ii", Versions: CTAP21, Title: "during a write, get and other commands see the old array; the last fragment commits the new one",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				old := serializedLargeBlobArray(t, "old")
				w.write(old, 1000)
				next := serializedLargeBlobArray(t, bytes.Repeat([]byte{9}, 40))
				w.mustSet(0, next[:20], u64(uint64(len(next))))
				t.expectLargeBlobArray(old, "during the write")
				if _, err := t.Ctap2().GetInfo(t.ctx); err != nil {
					t.Fatalf("getInfo: %v", err)
				}
				w.mustSet(20, next[20:], nil)
				t.expectLargeBlobArray(next, "after the last fragment")
			}},
		Case{ID: "lb-restarted-write", Section: "CTAP 2.1 §6.10.2 steps 5.b.iv, 5.b.v, 5.g", Versions: CTAP21, Title: "a new write from offset 0 abandons the pending one, whose next offset then gives CTAP1_ERR_INVALID_SEQ",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				first := serializedLargeBlobArray(t, "first")
				second := serializedLargeBlobArray(t, bytes.Repeat([]byte{2}, 30))
				w.mustSet(0, first[:10], u64(uint64(len(first))))
				w.mustSet(0, second[:20], u64(uint64(len(second))))
				t.ExpectStatus(w.set(10, first[10:], nil), ctap.StatusInvalidSeq, "continuing the abandoned write")
				t.expectLargeBlobArray(initialLargeBlobArray, "before the new write ends")
				w.mustSet(20, second[20:], nil)
				t.expectLargeBlobArray(second, "after the new write")
			}},
		Case{ID: "lb-lbw-outlives-mc", Section: "CTAP 2.1 §6.1.2 step 14, §6.5.5.7, §6.10.2 step 5.e.v", Versions: CTAP21, Title: "a mc|lbw token keeps lbw after makeCredential used it (clearPinUvAuthTokenPermissionsExceptLbw)",
			Destructive: true,
			Run: func(t *T) {
				w, pc := t.lbPinned(t.preferredProtocol(), ctap.PermissionMakeCredential|ctap.PermissionLargeBlobWrite)
				if _, err := pc.mc("lbw", false, w.tok); err != nil {
					t.Fatalf("makeCredential with the token: %v", err)
				}
				data := serializedLargeBlobArray(t, "after mc")
				w.write(data, 1000)
				t.expectLargeBlobArray(data, "after the write")
			}},
		Case{ID: "lb-reset", Section: "CTAP 2.1 §6.6", Versions: CTAP21, Title: "authenticatorReset restores the initial serialized large-blob array",
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				w.write(serializedLargeBlobArray(t, "gone after reset"), 1000)
				if t.target.Controller() != nil {
					t.PowerCycle() // into the reset window
				}
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				t.expectLargeBlobArray(initialLargeBlobArray, "after reset")
			}},
		Case{ID: "lb-client-roundtrip", Section: "CTAP 2.1 §6.10.3", Versions: CTAP21, Title: "the client's put, get and delete of per-credential blobs round-trip through the key",
			Destructive: true,
			Run: func(t *T) {
				w, pc := t.lbPinned(t.preferredProtocol(), ctap.PermissionLargeBlobWrite)
				lb, err := client.NewLargeBlobs(t.Ctap2(), pc.p, w.tok)
				if err != nil {
					t.Fatalf("LargeBlobs: %v", err)
				}
				k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
				d1, d2 := bytes.Repeat([]byte("certificate "), 50), []byte("second")
				for _, step := range []struct {
					key, data []byte
				}{{k1, d1}, {k2, d2}} {
					if err := lb.PutBlob(t.ctx, step.key, step.data); err != nil {
						t.Fatalf("put: %v", err)
					}
				}
				for _, want := range []struct{ key, data []byte }{{k1, d1}, {k2, d2}} {
					got, err := lb.GetBlob(t.ctx, want.key)
					if err != nil || !bytes.Equal(got, want.data) {
						t.Fatalf("get: %q, %v; want %q", got, err, want.data)
					}
				}
				if err := lb.DeleteBlob(t.ctx, k1); err != nil {
					t.Fatalf("delete: %v", err)
				}
				if got, err := lb.GetBlob(t.ctx, k1); got != nil || err != nil {
					t.Fatalf("get after delete: %q, %v", got, err)
				}
				entries, err := lb.ReadBlobArray(t.ctx)
				if err != nil || len(entries) != 1 {
					t.Fatalf("entries after delete: %d, %v; want 1", len(entries), err)
				}
			}},
	)
	for _, v := range []uint64{1, 2} {
		Register(Case{ID: fmt.Sprintf("lb-v%d-write-fragments", v), Section: "CTAP 2.1 §6.10.2 step 5, §6.10.3", Versions: CTAP21,
			Title:       fmt.Sprintf("protocol %d: a PIN-protected write in fragments with an lbw token commits with the last fragment", v),
			Destructive: true,
			Run: func(t *T) {
				w, _ := t.lbPinned(v, ctap.PermissionLargeBlobWrite)
				data := serializedLargeBlobArray(t, bytes.Repeat([]byte{0xc3}, 250), "entry")
				w.mustSet(0, data[:100], u64(uint64(len(data))))
				t.expectLargeBlobArray(initialLargeBlobArray, "after the first fragment")
				w.mustSet(100, data[100:200], nil)
				w.mustSet(200, data[200:], nil)
				t.expectLargeBlobArray(data, "after the last fragment")
			}})
	}
}
