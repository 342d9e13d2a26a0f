package authenticator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/virtkey/virtkey/testvectors"
)

// parseStateFile reads a state file as OpenFileStore does: a journal, or
// the JSON of the first release.
func parseStateFile(b []byte) (*State, error) {
	if !bytes.HasPrefix(b, []byte(fileMagic)) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
		return decodeLegacyJSON(b)
	}
	j, err := parseJournal(b)
	if err != nil {
		return nil, err
	}
	return j.st, nil
}

func storeVectors(t testing.TB) []testvectors.Vector {
	vs, err := testvectors.Load("store")
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestStoreVectors reads the state file vectors: "ok" ones with the
// number of credentials they name, "corrupt" ones refused.
func TestStoreVectors(t *testing.T) {
	t.Parallel()
	for _, v := range storeVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			b, err := v.Hex()
			if err != nil {
				t.Fatal(err)
			}
			st, err := parseStateFile(b)
			switch v.Expect() {
			case "ok":
				if err != nil {
					t.Fatal(err)
				}
				if n, _ := strconv.Atoi(v.Header["credentials"]); len(st.Credentials) != n {
					t.Errorf("%d credentials, want %d", len(st.Credentials), n)
				}
			case "corrupt":
				if !errors.Is(err, ErrCorruptState) {
					t.Errorf("parsed: %v, want ErrCorruptState", err)
				}
			default:
				t.Fatalf("expect %q", v.Expect())
			}
		})
	}
}

// maxFuzzStateFile bounds the state files FuzzParseJournal looks at. Go's
// minimizer tries every byte range of a new interesting input, so its cost
// grows with the square of the input's length: with the 1.7 and 2.4 KiB
// vectors as seeds, each new input stopped the fuzzer for the whole
// minimization time (60 s). The large vectors are read by
// TestStoreVectors; the fuzzer starts from the small ones.
const maxFuzzStateFile = 1024

// FuzzParseJournal: no panic; an error returns no state and wraps
// ErrCorruptState; a state that parses is valid and comes back the same
// from a snapshot of it. With seal set, the header's and every record's
// checksum are made right first, so that mutations reach the record
// decoders instead of stopping at a checksum; without it, the checksums
// are tested as they are.
func FuzzParseJournal(f *testing.F) {
	for _, v := range storeVectors(f) {
		b, err := v.Hex()
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= maxFuzzStateFile {
			f.Add(false, b)
			f.Add(true, b)
		}
	}
	f.Fuzz(func(t *testing.T, seal bool, b []byte) {
		if len(b) > maxFuzzStateFile {
			return
		}
		if seal {
			b = sealJournal(b)
		}
		st, err := parseStateFile(b)
		if err != nil {
			if st != nil || !errors.Is(err, ErrCorruptState) {
				t.Fatalf("error %v with state %v", err, st)
			}
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("parsed an invalid state: %v", err)
		}
		snap, err := snapshot(st, 1)
		if err != nil {
			t.Fatal(err)
		}
		// The key's index of the records holds the same credentials
		// (in no set order among equal sequence numbers).
		if recs, err := readJournal(snap); err != nil {
			t.Fatalf("snapshot does not read: %v", err)
		} else if x, err := newCredIndex(recs.tab, nil); err != nil {
			t.Fatalf("index of the records: %v", err)
		} else {
			byID := func(p, q ResidentCredential) int { return bytes.Compare(p.ID, q.ID) }
			want, got := slices.Clone(st.Credentials), x.all()
			slices.SortFunc(want, byID)
			slices.SortFunc(got, byID)
			if !reflect.DeepEqual(want, got) {
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("index of the records (-want +got):\n%s", diff)
				}
			}
		}
		j, err := parseJournal(snap)
		if err != nil {
			t.Fatalf("snapshot does not parse: %v", err)
		}
		// No credentials is the same state whether nil (JSON) or empty.
		// reflect.DeepEqual first: cmp.Diff costs as much as the rest,
		// and the minimizer runs this for every byte range of an input.
		if len(st.Credentials) == 0 {
			st.Credentials = j.st.Credentials
		}
		if reflect.DeepEqual(st, j.st) {
			return
		}
		if diff := cmp.Diff(st, j.st, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("snapshot round trip:\n%s", diff)
		}
	})
}

// sealJournal returns a copy of b with the header checksum and the
// checksum of every record that fits before the header's end made right.
func sealJournal(b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) < headerSize || string(b[:8]) != fileMagic {
		return b
	}
	binary.LittleEndian.PutUint32(b[36:], crc32.Checksum(b[:36], castagnoli))
	end := min(binary.LittleEndian.Uint64(b[24:]), uint64(len(b)))
	for off := uint64(headerSize); off+recordOverhead <= end; {
		n := uint64(binary.LittleEndian.Uint32(b[off:]))
		if off+recordOverhead+n > end {
			break
		}
		binary.LittleEndian.PutUint32(b[off+5+n:], crc32.Checksum(b[off:off+5+n], castagnoli))
		off += recordOverhead + n
	}
	return b
}
