package authenticator

import (
	"strconv"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/testvectors"
)

// implemented says which commands this package answers; vectors for the
// others are skipped until their feature lands.
func statusByName(name string) (ctap.Status, bool) {
	for i := range 256 {
		if s := ctap.Status(i); s.String() == name {
			return s, true
		}
	}
	return 0, false
}

type ctapVector struct {
	name   string
	cmd    ctap.Command
	params []byte
	status string
}

func loadVectors(t testing.TB) []ctapVector {
	vs, err := testvectors.Load("ctap")
	if err != nil {
		t.Fatal(err)
	}
	var out []ctapVector
	for _, v := range vs {
		n, err := strconv.ParseUint(strings.TrimPrefix(v.Header["command"], "0x"), 16, 8)
		if err != nil {
			t.Fatalf("%s: command: %v", v.Name, err)
		}
		body, err := v.Hex()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ctapVector{v.Name, ctap.Command(n), body, v.Header["status"]})
	}
	return out
}

// TestVectors runs every request vector through a fresh key with
// AutoPresence and a fingerprint sensor (no PIN, no enrolled finger) and
// checks the status the vector names.
func TestVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			want, ok := statusByName(v.status)
			if !ok {
				t.Fatalf("unknown status %q", v.status)
			}
			k := newTestKey(t, func(c *Config) { c.BuiltInUV, c.BioEnrollment = true, true })
			if got, _ := k.a.Handle(t.Context(), v.cmd, v.params); got != want {
				t.Errorf("status %v, want %v", got, want)
			}
		})
	}
}
