package ctap

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/testvectors"
)

// statusByName finds a Status by its spec name.
func statusByName(name string) (Status, bool) {
	for i := 0; i < 256; i++ {
		if Status(i).String() == name {
			return Status(i), true
		}
	}
	return 0, false
}

func loadRequestVectors(t testing.TB) []testvectors.Vector {
	vs, err := testvectors.Load("ctap")
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// addRequestVectors seeds a fuzz target that takes a command byte and its
// parameters with every request vector.
func addRequestVectors(f *testing.F) {
	for _, v := range loadRequestVectors(f) {
		body, err := v.Hex()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(vectorCommand(f, v)), body)
	}
}

func vectorCommand(t testing.TB, v testvectors.Vector) Command {
	n, err := strconv.ParseUint(strings.TrimPrefix(v.Header["command"], "0x"), 16, 8)
	if err != nil {
		t.Fatalf("%s: command: %v", v.Name, err)
	}
	return Command(n)
}

// TestRequestVectors decodes requests that another implementation encoded
// and checks the status and the decoded members each vector names.
func TestRequestVectors(t *testing.T) {
	for _, v := range loadRequestVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			body, err := v.Hex()
			if err != nil {
				t.Fatal(err)
			}
			req := NewRequest(vectorCommand(t, v))
			if req == nil {
				t.Fatalf("no request type for command %s", v.Header["command"])
			}
			err = Unmarshal(body, req)
			want := v.Expect()
			if want == "ok" {
				if err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				checkFields(t, v, req)
				return
			}
			ws, ok := statusByName(want)
			if !ok {
				t.Fatalf("unknown status %q", want)
			}
			if got := StatusOf(err); got != ws {
				t.Errorf("StatusOf(%v) = %v, want %v", err, got, ws)
			}
		})
	}
}

func checkFields(t *testing.T, v testvectors.Vector, req any) {
	t.Helper()
	var rpID, userID, alg, options string
	var exclude, allow int
	var sub *uint64
	optString := func(m map[string]bool) string {
		var parts []string
		for k, b := range m {
			parts = append(parts, fmt.Sprintf("%s=%t", k, b))
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	}
	switch r := req.(type) {
	case *MakeCredentialRequest:
		if r.RP != nil {
			rpID = r.RP.ID
		}
		if r.User != nil {
			userID = hex.EncodeToString(r.User.ID)
		}
		if len(r.PubKeyCredParams) > 0 {
			alg = strconv.FormatInt(r.PubKeyCredParams[0].Alg, 10)
		}
		options, exclude = optString(r.Options), len(r.ExcludeList)
	case *GetAssertionRequest:
		rpID, options, allow = r.RPID, optString(r.Options), len(r.AllowList)
	case *ClientPINRequest:
		sub = r.SubCommand
	case *CredentialManagementRequest:
		sub = r.SubCommand
	case *ConfigRequest:
		sub = r.SubCommand
	}
	check := func(key, got string) {
		if want, ok := v.Header[key]; ok && want != got {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	check("rp-id", rpID)
	check("user-id", userID)
	check("alg", alg)
	check("options", options)
	check("exclude", strconv.Itoa(exclude))
	check("allow", strconv.Itoa(allow))
	if sub != nil {
		check("subcommand", strconv.FormatUint(*sub, 10))
	} else if _, ok := v.Header["subcommand"]; ok {
		t.Errorf("subcommand missing, want %s", v.Header["subcommand"])
	}
}

// FuzzDecodeRequest decodes arbitrary bytes as every request type. It must
// never panic, an error must leave a status that is one of the two CBOR
// statuses, and a canonical input must re-encode to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	addRequestVectors(f)
	f.Fuzz(func(t *testing.T, cmd byte, data []byte) {
		req := NewRequest(Command(cmd))
		if req == nil {
			return
		}
		if err := Unmarshal(data, req); err != nil {
			if s := StatusOf(err); s != StatusInvalidCBOR && s != StatusCBORUnexpectedType {
				t.Fatalf("decode error maps to %v", s)
			}
			return
		}
		if _, err := Marshal(req); err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
	})
}

// FuzzParseAuthData parses arbitrary authenticator data; what parses must
// encode back to the same bytes.
func FuzzParseAuthData(f *testing.F) {
	f.Add(make([]byte, 37))
	a := &AuthData{AttestedCredential: &AttestedCredentialData{CredentialID: []byte{1, 2, 3},
		PublicKey: COSEKey{Kty: KtyOKP, Alg: AlgEdDSA, Crv: CrvEd25519, X: make([]byte, 32)}},
		Extensions: MustMarshal(map[string]int{"credProtect": 2})}
	b, _ := a.Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		ad, err := ParseAuthData(data)
		if err != nil {
			if ad != nil {
				t.Fatal("error with a value")
			}
			return
		}
		out, err := ad.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if string(out) != string(data) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", data, out)
		}
	})
}
