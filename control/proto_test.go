package control

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/testvectors"
)

func controlVectors(t testing.TB) []testvectors.Vector {
	vs, err := testvectors.Load("control")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no control vectors")
	}
	return vs
}

// TestVectors runs each request vector through a server on an in-memory
// key with a fingerprint sensor: "ok" vectors are done, the others are
// refused with the expected words.
func TestVectors(t *testing.T) {
	for _, v := range controlVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			k, err := NewKey(authenticator.Config{BuiltInUV: true, BioEnrollment: true})
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{Backend: ControllerBackend(k)}
			resp := s.Handle(context.Background(), []byte(strings.Join(v.Lines, "")))
			switch want := v.Expect(); {
			case want == "ok" && !resp.OK:
				t.Errorf("refused: %s", resp.Error)
			case want != "ok" && (resp.OK || !strings.Contains(resp.Error, want)):
				t.Errorf("answer %+v, want an error with %q", resp, want)
			}
		})
	}
}

// FuzzDecodeRequest: no input panics; a refused line gives no request; a
// request that passes its checks re-encodes to a line that decodes to the
// same request.
func FuzzDecodeRequest(f *testing.F) {
	for _, v := range controlVectors(f) {
		f.Add([]byte(strings.Join(v.Lines, "")))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decodeRequest(line)
		if err != nil {
			if r != nil {
				t.Fatalf("error %v with a request %+v", err, r)
			}
			return
		}
		if r.check() != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeRequest(b)
		if err != nil {
			t.Fatalf("re-encoded %s: %v", b, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v != %+v", r, r2)
		}
	})
}
