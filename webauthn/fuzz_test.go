package webauthn_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/testvectors"
	"github.com/virtkey/virtkey/webauthn"
)

func vectors(t testing.TB, kind string) []testvectors.Vector {
	vs, err := testvectors.Load("webauthn")
	if err != nil {
		t.Fatal(err)
	}
	var out []testvectors.Vector
	for _, v := range vs {
		if v.Header["kind"] == kind {
			out = append(out, v)
		}
	}
	return out
}

func body(v testvectors.Vector) []byte { return []byte(strings.Join(v.Lines, "\n")) }

// TestVectors parses every options vector and checks its expect header.
func TestVectors(t *testing.T) {
	for _, kind := range []string{"creation", "request"} {
		for _, v := range vectors(t, kind) {
			t.Run(v.Name, func(t *testing.T) {
				var err error
				if kind == "creation" {
					_, err = webauthn.ParseCreationOptions(body(v))
				} else {
					_, err = webauthn.ParseRequestOptions(body(v))
				}
				got := "ok"
				if err != nil {
					got = webauthn.Name(err)
				}
				if got != v.Expect() {
					t.Fatalf("got %s (%v), want %s", got, err, v.Expect())
				}
			})
		}
	}
}

// FuzzParseCreationOptions: no panic; an error gives no value and is a
// TypeError; what parses re-encodes to JSON that parses to the same value.
func FuzzParseCreationOptions(f *testing.F) {
	for _, v := range vectors(f, "creation") {
		f.Add(body(v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := webauthn.ParseCreationOptions(data)
		if err != nil {
			if o != nil || webauthn.Name(err) != "TypeError" {
				t.Fatalf("error %v with value %v", err, o)
			}
			return
		}
		roundTrip(t, o, func(b []byte) (any, error) { return webauthn.ParseCreationOptions(b) })
	})
}

// FuzzParseRequestOptions is FuzzParseCreationOptions for request options.
func FuzzParseRequestOptions(f *testing.F) {
	for _, v := range vectors(f, "request") {
		f.Add(body(v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := webauthn.ParseRequestOptions(data)
		if err != nil {
			if o != nil || webauthn.Name(err) != "TypeError" {
				t.Fatalf("error %v with value %v", err, o)
			}
			return
		}
		roundTrip(t, o, func(b []byte) (any, error) { return webauthn.ParseRequestOptions(b) })
	})
}

func roundTrip(t *testing.T, v any, parse func([]byte) (any, error)) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := parse(b)
	if err != nil {
		t.Fatalf("re-encoded options do not parse: %v\n%s", err, b)
	}
	b2, err := json.Marshal(v2)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the options:\n%s\n%s", b, b2)
	}
}

// FuzzCeremonies runs create() and get() with arbitrary options against an
// in-process key: no panic, no hang, and every failure is a named *Error.
func FuzzCeremonies(f *testing.F) {
	for _, kind := range []string{"creation", "request"} {
		for _, v := range vectors(f, kind) {
			f.Add(kind == "creation", body(v))
		}
	}
	k := newFuzzKey(f)
	c, err := webauthn.Open(context.Background(), k.dev, "https://login.example.com",
		webauthn.WithTimeoutRange(time.Millisecond, 2*time.Second))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, create bool, data []byte) {
		var err error
		if create {
			_, err = c.Create(context.Background(), data)
		} else {
			_, err = c.Get(context.Background(), data)
		}
		if err != nil && webauthn.Name(err) == "" {
			t.Fatalf("error without a DOMException name: %v", err)
		}
	})
}

// newFuzzKey is newKey for a fuzz target: one key for the whole run.
func newFuzzKey(f *testing.F) *testKey {
	u := &user{}
	a, err := authenticator.New(authenticator.Config{Presence: u, Rand: &seededRand{s: "fuzz"}})
	if err != nil {
		f.Fatal(err)
	}
	dev, err := client.OpenInProcess(context.Background(), a, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dev.Close() })
	return &testKey{a: a, dev: dev, user: u}
}
