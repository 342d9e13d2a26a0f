package authenticator

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// FuzzParseJournal: no panic; an error returns no state and wraps
// ErrCorruptState; a state that parses is valid and comes back the same
// from a snapshot of it.
func FuzzParseJournal(f *testing.F) {
	for _, v := range storeVectors(f) {
		b, err := v.Hex()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
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
		j, err := parseJournal(snap)
		if err != nil {
			t.Fatalf("snapshot does not parse: %v", err)
		}
		if diff := cmp.Diff(st, j.st); diff != "" {
			t.Errorf("snapshot round trip:\n%s", diff)
		}
	})
}
