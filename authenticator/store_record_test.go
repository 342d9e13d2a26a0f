package authenticator

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

// putPayloads returns the payloads of the put records in the journal
// vectors (testvectors/store), to seed FuzzDecodeCredRecord.
func putPayloads(tb testing.TB) [][]byte {
	var out [][]byte
	for _, v := range storeVectors(tb) {
		b, err := v.Hex()
		if err != nil {
			tb.Fatal(err)
		}
		if len(b) < headerSize || string(b[:8]) != fileMagic {
			continue
		}
		for off := headerSize; off+recordOverhead <= len(b); {
			n := int(binary.LittleEndian.Uint32(b[off:]))
			if off+recordOverhead+n > len(b) {
				break
			}
			if b[off+4] == kindPut {
				out = append(out, b[off+5:off+5+n])
			}
			off += recordOverhead + n
		}
	}
	if len(out) == 0 {
		tb.Fatal("no put records in the store vectors")
	}
	return out
}

// TestDecodeCredRecord: every member, each optional one present and
// absent, decodes to the credential that was encoded; so do the put
// records of the vectors; non-canonical forms are refused.
func TestDecodeCredRecord(t *testing.T) {
	t.Parallel()
	full := ResidentCredential{
		ID: bytes.Repeat([]byte{1}, 32), RPID: "example.com", RPName: "Example", UserID: []byte("u1"),
		UserName: "alice", UserDisplayName: "Alice Ä", Alg: ctap.AlgES256, PrivateKey: bytes.Repeat([]byte{2}, 32),
		Sequence: 300, Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), LargeBlobKey: bytes.Repeat([]byte{3}, 32),
		CredProtect: 3, CredBlob: []byte("blob"), ThirdPartyPayment: true, HMACSecret: true, PublicKey: []byte{0xa0},
	}
	minimal := ResidentCredential{ID: []byte{9}, RPID: "r", UserID: []byte{}, Alg: ctap.AlgEdDSA, PrivateKey: []byte{1},
		Sequence: 1 << 40, Created: time.Unix(0, -1).UTC()}
	nilUser := minimal
	nilUser.UserID = nil
	for name, c := range map[string]ResidentCredential{"full": full, "minimal": minimal, "nil user ID": nilUser} {
		t.Run(name, func(t *testing.T) {
			rec := toCredRecord(&c)
			b := ctap.MustMarshal(&rec)
			got, err := decodeCredRecord(b, map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("round trip:\n%s", diff)
			}
		})
	}
	for i, p := range putPayloads(t) {
		if _, err := decodeCredRecord(p, nil); err != nil {
			t.Errorf("vector put record %d: %v", i, err)
		}
	}
	rec := toCredRecord(&minimal)
	ok := ctap.MustMarshal(&rec)
	for name, b := range map[string][]byte{
		"empty":            {},
		"trailing byte":    append(bytes.Clone(ok), 0),
		"cut short":        ok[:len(ok)-1],
		"not a map":        {0x80},
		"indefinite map":   append([]byte{0xbf}, ok[1:]...),
		"long-form length": append([]byte{0xb8, ok[0] & 0x1f}, ok[1:]...),
		"missing members":  {0xa1, 0x01, 0x41, 0x09},
	} {
		if _, err := decodeCredRecord(b, nil); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeCredRecord: the hand-written decoder never panics, agrees
// with the generic strict decoder on everything it accepts, and what it
// accepts re-encodes to the same bytes (it takes only the canonical form).
func FuzzDecodeCredRecord(f *testing.F) {
	for _, p := range putPayloads(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCredRecord(b, map[string]string{})
		if err != nil {
			return
		}
		var r credRecord
		if err := ctap.Unmarshal(b, &r); err != nil {
			t.Fatalf("decoded %x, which the strict decoder refuses: %v", b, err)
		}
		if diff := cmp.Diff(r.credential(), c); diff != "" {
			t.Fatalf("decoders differ on %x:\n%s", b, diff)
		}
		rec := toCredRecord(&c)
		if again := ctap.MustMarshal(&rec); !bytes.Equal(again, b) {
			t.Fatalf("decoded %x, which re-encodes as %x", b, again)
		}
	})
}

// TestStoredES256Key: the shortcut reads what the generic decoder reads
// from an ES256 key as makeCredential keeps it, and declines anything
// else.
func TestStoredES256Key(t *testing.T) {
	t.Parallel()
	k, err := generateKey(seededRand(3), ctap.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.publicKey()
	if err != nil {
		t.Fatal(err)
	}
	b := ctap.MustMarshal(&pub)
	got, ok := storedES256Key(b)
	if !ok {
		t.Fatalf("declined %x", b)
	}
	var want ctap.COSEKey
	if err := ctap.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shortcut differs:\n%s", diff)
	}
	ed, err := generateKey(seededRand(4), ctap.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	edPub, err := ed.publicKey()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"EdDSA":      ctap.MustMarshal(&edPub),
		"cut short":  b[:76],
		"trailing":   append(bytes.Clone(b), 0),
		"y mislabel": append(append(bytes.Clone(b[:42]), 0x23), b[43:]...),
	} {
		if _, ok := storedES256Key(b); ok {
			t.Errorf("%s: taken", name)
		}
	}
}
