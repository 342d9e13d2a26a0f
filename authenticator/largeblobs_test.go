package authenticator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// serializedArray returns body || LEFT(SHA-256(body), 16), a serialized
// large-blob array (CTAP 2.1 §6.10.1).
func serializedArray(body []byte) []byte {
	h := sha256.Sum256(body)
	return append(bytes.Clone(body), h[:16]...)
}

// lbGet reads n bytes at off.
func (k *testKey) lbGet(off, n uint64) ([]byte, ctap.Status) {
	k.t.Helper()
	var resp struct {
		Config []byte `cbor:"1,keyasint"`
	}
	s := k.do(ctap.CmdLargeBlobs, &ctap.LargeBlobsRequest{Get: &n, Offset: &off}, &resp)
	return resp.Config, s
}

// lbArray reads the whole stored array in one get.
func (k *testKey) lbArray() []byte {
	k.t.Helper()
	b, s := k.lbGet(0, MaxFragmentLength)
	if s != ctap.StatusOK {
		k.t.Fatalf("get: %v", s)
	}
	return b
}

// lbWriter writes fragments, authenticated with tok under p when tok is
// not nil.
type lbWriter struct {
	k   *testKey
	p   ctap.PINProtocol
	tok []byte
}

func (w *lbWriter) set(off uint64, frag []byte, length *uint64) ctap.Status {
	w.k.t.Helper()
	req := &ctap.LargeBlobsRequest{Set: frag, Offset: &off, Length: length}
	if w.tok != nil {
		req.PinUvAuthParam = w.p.Authenticate(w.tok, ctap.LargeBlobsAuthMessage(off, frag))
		req.PinUvAuthProtocol = ptr(w.p.Version())
	}
	return w.k.do(ctap.CmdLargeBlobs, req, nil)
}

// write writes data in fragments of n bytes and returns the status of
// the last one.
func (w *lbWriter) write(data []byte, n int) ctap.Status {
	w.k.t.Helper()
	for off := 0; off < len(data); off += n {
		var length *uint64
		if off == 0 {
			length = ptr(uint64(len(data)))
		}
		if s := w.set(uint64(off), data[off:min(off+n, len(data))], length); s != ctap.StatusOK || off+n >= len(data) {
			return s
		}
	}
	return ctap.StatusOK
}

func TestInitialLargeBlobArray(t *testing.T) {
	t.Parallel()
	want, _ := hex.DecodeString("8076be8b528d0075f7aae98d6fa57a6d3c")
	if !bytes.Equal(InitialLargeBlobArray, want) {
		t.Fatalf("InitialLargeBlobArray = %x, want %x", InitialLargeBlobArray, want)
	}
	k := newTestKey(t)
	if got := k.lbArray(); !bytes.Equal(got, want) {
		t.Errorf("stored array %x, want %x", got, want)
	}
	info := k.a.info()
	if !info.Options[ctap.OptionLargeBlobs] || info.MaxSerializedLargeBlobArray != MaxSerializedLargeBlobArray || MaxSerializedLargeBlobArray < 1024 {
		t.Errorf("getInfo largeBlobs %v, maxSerializedLargeBlobArray %d", info.Options[ctap.OptionLargeBlobs], info.MaxSerializedLargeBlobArray)
	}
}

func TestLargeBlobsGet(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	size := uint64(len(InitialLargeBlobArray))
	raw := func(m map[int]any) rawParams { return rawParams(ctap.MustMarshal(m)) }
	tests := []struct {
		name string
		req  any
		want ctap.Status
		body []byte
	}{
		{"all", &ctap.LargeBlobsRequest{Get: ptr[uint64](100), Offset: ptr[uint64](0)}, ctap.StatusOK, InitialLargeBlobArray},
		{"middle", &ctap.LargeBlobsRequest{Get: ptr[uint64](3), Offset: ptr[uint64](2)}, ctap.StatusOK, InitialLargeBlobArray[2:5]},
		{"tail", &ctap.LargeBlobsRequest{Get: ptr[uint64](100), Offset: ptr[uint64](10)}, ctap.StatusOK, InitialLargeBlobArray[10:]},
		{"at the end", &ctap.LargeBlobsRequest{Get: ptr[uint64](5), Offset: ptr(size)}, ctap.StatusOK, []byte{}},
		{"get 0", &ctap.LargeBlobsRequest{Get: ptr[uint64](0), Offset: ptr[uint64](0)}, ctap.StatusOK, []byte{}},
		{"maxFragmentLength", &ctap.LargeBlobsRequest{Get: ptr[uint64](MaxFragmentLength), Offset: ptr[uint64](0)}, ctap.StatusOK, InitialLargeBlobArray},
		{"past the end", &ctap.LargeBlobsRequest{Get: ptr[uint64](1), Offset: ptr(size + 1)}, ctap.StatusInvalidParameter, nil},
		{"over maxFragmentLength", &ctap.LargeBlobsRequest{Get: ptr[uint64](MaxFragmentLength + 1), Offset: ptr[uint64](0)}, ctap.StatusInvalidLength, nil},
		{"no offset", &ctap.LargeBlobsRequest{Get: ptr[uint64](1)}, ctap.StatusInvalidParameter, nil},
		{"neither", &ctap.LargeBlobsRequest{Offset: ptr[uint64](0)}, ctap.StatusInvalidParameter, nil},
		{"both", &ctap.LargeBlobsRequest{Get: ptr[uint64](1), Set: []byte{1}, Offset: ptr[uint64](0)}, ctap.StatusInvalidParameter, nil},
		{"empty set and get", raw(map[int]any{1: 1, 2: []byte{}, 3: 0}), ctap.StatusInvalidParameter, nil},
		{"length", &ctap.LargeBlobsRequest{Get: ptr[uint64](1), Offset: ptr[uint64](0), Length: ptr[uint64](1)}, ctap.StatusInvalidParameter, nil},
		{"pinUvAuthParam", &ctap.LargeBlobsRequest{Get: ptr[uint64](1), Offset: ptr[uint64](0), PinUvAuthParam: []byte{1}}, ctap.StatusInvalidParameter, nil},
		{"pinUvAuthProtocol", &ctap.LargeBlobsRequest{Get: ptr[uint64](1), Offset: ptr[uint64](0), PinUvAuthProtocol: ptr[uint64](2)}, ctap.StatusInvalidParameter, nil},
		{"get as a string", raw(map[int]any{1: "x", 3: 0}), ctap.StatusCBORUnexpectedType, nil},
		{"not a map", rawParams{0x80}, ctap.StatusCBORUnexpectedType, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp struct {
				Config []byte `cbor:"1,keyasint"`
			}
			k.t = t
			if s := k.do(ctap.CmdLargeBlobs, tt.req, &resp); s != tt.want {
				t.Fatalf("status %v, want %v", s, tt.want)
			}
			if tt.want == ctap.StatusOK && !bytes.Equal(resp.Config, tt.body) {
				t.Errorf("config %x, want %x", resp.Config, tt.body)
			}
		})
	}
	// config is present even when empty.
	_, body := k.a.Handle(t.Context(), ctap.CmdLargeBlobs, ctap.MustMarshal(&ctap.LargeBlobsRequest{Get: ptr[uint64](1), Offset: ptr(size)}))
	if !bytes.Equal(body, []byte{0xa1, 0x01, 0x40}) {
		t.Errorf("empty read %x, want a10140", body)
	}
}

func TestLargeBlobsWriteNoPIN(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 7, 16, 17, 100, MaxFragmentLength} {
		k := newTestKey(t)
		w := &lbWriter{k: k}
		data := serializedArray(ctap.MustMarshal([]any{bytes.Repeat([]byte{0xab}, 90)}))
		saves := k.store.Saves()
		if s := w.write(data, n); s != ctap.StatusOK {
			t.Fatalf("fragments of %d: %v", n, s)
		}
		if got := k.lbArray(); !bytes.Equal(got, data) {
			t.Errorf("fragments of %d: read %x", n, got)
		}
		if got := k.store.State().LargeBlobArray; !bytes.Equal(got, data) {
			t.Errorf("fragments of %d: saved %x", n, got)
		}
		if k.store.Saves() != saves+1 {
			t.Errorf("fragments of %d: %d saves, want 1", n, k.store.Saves()-saves)
		}
	}
}

func TestLargeBlobsWriteErrors(t *testing.T) {
	t.Parallel()
	good := serializedArray([]byte{0x81, 0x01})
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	type step struct {
		off    uint64
		frag   []byte
		length *uint64
		want   ctap.Status
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"no length at 0", []step{{0, good, nil, ctap.StatusInvalidParameter}}},
		{"length over the maximum", []step{{0, good, ptr[uint64](MaxSerializedLargeBlobArray + 1), ctap.StatusLargeBlobStorageFull}}},
		{"length at the maximum", []step{{0, good[:5], ptr[uint64](MaxSerializedLargeBlobArray), ctap.StatusOK}}},
		{"length 16", []step{{0, good[:16], ptr[uint64](16), ctap.StatusInvalidParameter}}},
		{"start elsewhere", []step{{5, good[5:], nil, ctap.StatusInvalidSeq}}},
		{"length on a later fragment", []step{{0, good[:5], ptr(uint64(len(good))), ctap.StatusOK}, {5, good[5:], ptr(uint64(len(good))), ctap.StatusInvalidParameter}}},
		{"skip ahead", []step{{0, good[:5], ptr(uint64(len(good))), ctap.StatusOK}, {6, good[6:], nil, ctap.StatusInvalidSeq}}},
		{"repeat", []step{{0, good[:5], ptr(uint64(len(good))), ctap.StatusOK}, {5, good[5:8], nil, ctap.StatusOK}, {5, good[5:8], nil, ctap.StatusInvalidSeq}}},
		{"past length", []step{{0, good[:5], ptr(uint64(len(good))), ctap.StatusOK}, {5, append(bytes.Clone(good[5:]), 0), nil, ctap.StatusInvalidParameter}}},
		{"past length at once", []step{{0, good, ptr(uint64(len(good) - 1)), ctap.StatusInvalidParameter}}},
		{"bad hash", []step{{0, bad, ptr(uint64(len(bad))), ctap.StatusIntegrityFailure}}},
		{"bad hash then continue", []step{{0, bad, ptr(uint64(len(bad))), ctap.StatusIntegrityFailure}, {uint64(len(bad)), []byte{0}, nil, ctap.StatusInvalidSeq}}},
		{"fragment over maxFragmentLength", []step{{0, make([]byte, MaxFragmentLength+1), ptr[uint64](MaxSerializedLargeBlobArray), ctap.StatusInvalidLength}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t)
			w := &lbWriter{k: k}
			for i, st := range tt.steps {
				if s := w.set(st.off, st.frag, st.length); s != st.want {
					t.Fatalf("step %d: %v, want %v", i, s, st.want)
				}
			}
			if got := k.lbArray(); !bytes.Equal(got, InitialLargeBlobArray) {
				t.Errorf("stored array changed to %x", got)
			}
			if st := k.store.State(); st.LargeBlobArray != nil {
				t.Errorf("saved array %x", st.LargeBlobArray)
			}
		})
	}
}

// TestLargeBlobsInterrupted: a write cut short by a power cycle, a new
// write from offset 0 or other commands leaves the old array (§6.10.2
// step 5.j.ii commits only the complete array).
func TestLargeBlobsInterrupted(t *testing.T) {
	t.Parallel()
	old := serializedArray(ctap.MustMarshal([]any{"old"}))
	next := serializedArray(ctap.MustMarshal([]any{"new array"}))
	k := newTestKey(t)
	w := &lbWriter{k: k}
	if s := w.write(old, 100); s != ctap.StatusOK {
		t.Fatal(s)
	}
	length := ptr(uint64(len(next)))

	// Other commands in between: reads see the old array, the write goes on.
	if s := w.set(0, next[:10], length); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if got := k.lbArray(); !bytes.Equal(got, old) {
		t.Errorf("during a write: %x", got)
	}
	if s := k.do(ctap.CmdGetInfo, nil, nil); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if s := w.set(10, next[10:], nil); s != ctap.StatusOK {
		t.Fatalf("finishing after other commands: %v", s)
	}
	if got := k.lbArray(); !bytes.Equal(got, next) {
		t.Errorf("after the write: %x", got)
	}

	// A power cycle forgets the pending write.
	if s := w.set(0, old[:10], ptr(uint64(len(old)))); s != ctap.StatusOK {
		t.Fatal(s)
	}
	k.a.PowerCycle()
	if s := w.set(10, old[10:], nil); s != ctap.StatusInvalidSeq {
		t.Errorf("after a power cycle: %v, want INVALID_SEQ", s)
	}
	if got := k.lbArray(); !bytes.Equal(got, next) {
		t.Errorf("after a power cycle: %x", got)
	}

	// A new write from offset 0 replaces the pending one.
	if s := w.set(0, old[:10], ptr(uint64(len(old)))); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if s := w.write(old, 7); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if got := k.lbArray(); !bytes.Equal(got, old) {
		t.Errorf("after a restarted write: %x", got)
	}
	if got := k.store.State().LargeBlobArray; !bytes.Equal(got, old) {
		t.Errorf("saved %x", got)
	}
}

func TestLargeBlobsSaveFails(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	w := &lbWriter{k: k}
	k.store.FailSaves(errors.New("disk full"))
	if s := w.write(serializedArray([]byte{0x80}), 100); s != ctap.StatusOther {
		t.Errorf("write with a failing store: %v, want CTAP1_ERR_OTHER", s)
	}
	k.store.FailSaves(nil)
	if got := k.lbArray(); !bytes.Equal(got, InitialLargeBlobArray) {
		t.Errorf("array after a failed save: %x", got)
	}
}

func TestLargeBlobsPinUvAuth(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		data := serializedArray(ctap.MustMarshal([]any{bytes.Repeat([]byte{1}, 40)}))
		k := newTestKey(t)
		p := newPlatform(k, v)
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatal(s)
		}
		lbw := p.mustToken("1234", ctap.PermissionLargeBlobWrite, "")
		length := ptr(uint64(len(data)))
		set := func(req *ctap.LargeBlobsRequest) ctap.Status { return k.do(ctap.CmdLargeBlobs, req, nil) }
		auth := func(tok []byte, off uint64, frag []byte) []byte {
			return p.proto.Authenticate(tok, ctap.LargeBlobsAuthMessage(off, frag))
		}
		other := map[uint64]uint64{1: 2, 2: 1}[v]
		tests := []struct {
			name string
			req  *ctap.LargeBlobsRequest
			want ctap.Status
		}{
			{"no pinUvAuthParam", &ctap.LargeBlobsRequest{Set: data, Offset: ptr[uint64](0), Length: length}, ctap.StatusPUATRequired},
			{"no protocol", &ctap.LargeBlobsRequest{Set: data, Offset: ptr[uint64](0), Length: length, PinUvAuthParam: auth(lbw, 0, data)}, ctap.StatusMissingParameter},
			{"protocol 3", &ctap.LargeBlobsRequest{Set: data, Offset: ptr[uint64](0), Length: length, PinUvAuthParam: auth(lbw, 0, data), PinUvAuthProtocol: ptr[uint64](3)}, ctap.StatusInvalidParameter},
			{"other protocol", &ctap.LargeBlobsRequest{Set: data, Offset: ptr[uint64](0), Length: length, PinUvAuthParam: auth(lbw, 0, data), PinUvAuthProtocol: ptr(other)}, ctap.StatusPINAuthInvalid},
			{"wrong offset authenticated", &ctap.LargeBlobsRequest{Set: data, Offset: ptr[uint64](0), Length: length, PinUvAuthParam: auth(lbw, 1, data), PinUvAuthProtocol: ptr(v)}, ctap.StatusPINAuthInvalid},
			{"other fragment authenticated", &ctap.LargeBlobsRequest{Set: data, Offset: ptr[uint64](0), Length: length, PinUvAuthParam: auth(lbw, 0, data[1:]), PinUvAuthProtocol: ptr(v)}, ctap.StatusPINAuthInvalid},
			{"out of sequence before auth", &ctap.LargeBlobsRequest{Set: data, Offset: ptr[uint64](3), PinUvAuthProtocol: ptr(v)}, ctap.StatusInvalidSeq},
		}
		for _, tt := range tests {
			if s := set(tt.req); s != tt.want {
				t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
			}
		}

		// A token without lbw is refused, after the signature checks out.
		ga := p.mustToken("1234", ctap.PermissionGetAssertion, "")
		if s := (&lbWriter{k: k, p: p.proto, tok: ga}).write(data, 100); s != ctap.StatusPINAuthInvalid {
			t.Errorf("token without lbw: %v, want PIN_AUTH_INVALID", s)
		}
		if got := k.lbArray(); !bytes.Equal(got, InitialLargeBlobArray) {
			t.Errorf("array after refused writes: %x", got)
		}

		// An lbw token bound to an RP works, and lbw outlives the token's
		// use in makeCredential (clearPinUvAuthTokenPermissionsExceptLbw).
		tok := p.mustToken("1234", ctap.PermissionMakeCredential|ctap.PermissionLargeBlobWrite, "example.com")
		req := mcReq("example.com", []byte("u"), false)
		req.PinUvAuthParam, req.PinUvAuthProtocol = p.proto.Authenticate(tok, req.ClientDataHash), ptr(v)
		if _, s := k.makeCredential(req); s != ctap.StatusOK {
			t.Fatalf("makeCredential: %v", s)
		}
		if s := (&lbWriter{k: k, p: p.proto, tok: tok}).write(data, 20); s != ctap.StatusOK {
			t.Fatalf("write with the token after makeCredential: %v", s)
		}
		if got := k.lbArray(); !bytes.Equal(got, data) {
			t.Errorf("array %x", got)
		}

		// An expired token is refused.
		k.clock.Advance(TokenMaxUsagePeriod + 1)
		if s := (&lbWriter{k: k, p: p.proto, tok: tok}).write(data, 100); s != ctap.StatusPINAuthInvalid {
			t.Errorf("expired token: %v, want PIN_AUTH_INVALID", s)
		}
	})
}

// TestLargeBlobsBuiltInUV: a key with built-in UV is protected even
// without a PIN, and its UV tokens can carry lbw (§6.5.5.7.3 step 4).
func TestLargeBlobsBuiltInUV(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, func(c *Config) { c.BuiltInUV = true })
	data := serializedArray([]byte{0x80})
	if s := (&lbWriter{k: k}).write(data, 100); s != ctap.StatusPUATRequired {
		t.Errorf("no PIN, built-in UV, no param: %v, want PUAT_REQUIRED", s)
	}
	p := newPlatform(k, 2)
	tok, s := p.uvToken(ptr(ctap.PermissionLargeBlobWrite), nil)
	if s != ctap.StatusOK {
		t.Fatalf("UV token with lbw: %v", s)
	}
	if s := (&lbWriter{k: k, p: p.proto, tok: tok}).write(data, 100); s != ctap.StatusOK {
		t.Errorf("write with a UV token: %v", s)
	}
}

func TestLargeBlobsReset(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	data := serializedArray(ctap.MustMarshal([]any{1, 2, 3}))
	w := &lbWriter{k: k}
	if s := w.write(data, 100); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if s := w.set(0, data[:5], ptr(uint64(len(data)))); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatalf("reset: %v", s)
	}
	if got := k.lbArray(); !bytes.Equal(got, InitialLargeBlobArray) {
		t.Errorf("after reset: %x", got)
	}
	if s := w.set(5, data[5:], nil); s != ctap.StatusInvalidSeq {
		t.Errorf("pending write after reset: %v, want INVALID_SEQ", s)
	}
}
