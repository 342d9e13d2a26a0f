package client

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/testvectors"
)

// getinfo22Vectors loads testvectors/getinfo22, written by
// testvectors/gen/getinfo22_vectors.py with pyca/cryptography and
// python-fido2's CBOR encoder.
func getinfo22Vectors(tb testing.TB) []testvectors.Vector {
	tb.Helper()
	vs, err := testvectors.Load("getinfo22")
	if err != nil {
		tb.Fatal(err)
	}
	return vs
}

func headerHex(tb testing.TB, v testvectors.Vector, key string) []byte {
	tb.Helper()
	s, ok := v.Header[key]
	if !ok {
		tb.Fatalf("%s: no %s", v.Name, key)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("%s: %s: %v", v.Name, key, err)
	}
	return b
}

// TestDecryptInfoMemberVectors opens the encIdentifier and
// encCredStoreState vectors (CTAP 2.2 §6.4) and checks the plaintext.
func TestDecryptInfoMemberVectors(t *testing.T) {
	t.Parallel()
	n := 0
	for _, v := range getinfo22Vectors(t) {
		if v.Header["info"] == "" {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			got, err := DecryptInfoMember(headerHex(t, v, "token"), headerHex(t, v, "encrypted"), v.Header["info"])
			if err != nil {
				t.Fatal(err)
			}
			if want := headerHex(t, v, "value"); !bytes.Equal(got, want) {
				t.Errorf("DecryptInfoMember = %x, want %x", got, want)
			}
			// The other member's info string gives another key, so other bytes.
			other := HKDFInfoEncCredStoreState
			if v.Header["info"] == other {
				other = HKDFInfoEncIdentifier
			}
			wrong, err := DecryptInfoMember(headerHex(t, v, "token"), headerHex(t, v, "encrypted"), other)
			if err != nil || bytes.Equal(wrong, got) {
				t.Errorf("DecryptInfoMember with info %q = %x, %v", other, wrong, err)
			}
		})
	}
	if n < 3 {
		t.Fatalf("%d decryption vectors, want at least 3", n)
	}
}

func TestDecryptInfoMemberErrors(t *testing.T) {
	t.Parallel()
	token := bytes.Repeat([]byte{1}, 32)
	for _, tt := range []struct {
		name          string
		token, member []byte
		bad           bool // wraps ErrBadResponse
	}{
		{"empty member", token, nil, true},
		{"IV only", token, make([]byte, 16), true},
		{"two blocks after the IV", token, make([]byte, 48), true},
		{"not whole blocks", token, make([]byte, 33), true},
		{"no token", nil, make([]byte, 32), false},
	} {
		got, err := DecryptInfoMember(tt.token, tt.member, HKDFInfoEncIdentifier)
		if err == nil || got != nil {
			t.Errorf("%s: DecryptInfoMember = %x, %v; want an error", tt.name, got, err)
			continue
		}
		if errors.Is(err, ErrBadResponse) != tt.bad {
			t.Errorf("%s: error %v, ErrBadResponse %v", tt.name, err, tt.bad)
		}
	}
}

// TestInfo22Vectors parses the CTAP 2.2 getInfo bodies encoded by
// python-fido2 (§6.4, members 0x16-0x1F) through Ctap2, whose strict mode
// also checks they are canonical as this project encodes.
func TestInfo22Vectors(t *testing.T) {
	t.Parallel()
	vs := map[string]testvectors.Vector{}
	for _, v := range getinfo22Vectors(t) {
		vs[v.Name] = v
	}
	parse := func(t *testing.T, name string) *Info {
		t.Helper()
		v, found := vs[name]
		if !found {
			t.Fatalf("no vector %s", name)
		}
		body, err := v.Hex()
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(context.Background(), &fakeTransport{steps: []step{{resp: ok(body)}}})
		if err != nil {
			t.Fatalf("New over %s: %v", name, err)
		}
		// The typed message re-encodes to python-fido2's bytes: every
		// member, 0x19-0x1F included, has its key and CBOR type.
		if again := mustMarshal(t, c.Info().Raw); !bytes.Equal(again, body) {
			t.Errorf("%s: ctap.Marshal(Raw) = %x, python-fido2 encoded %x", name, again, body)
		}
		return c.Info()
	}

	t.Run("full", func(t *testing.T) {
		v := vs["info-2.2-full"]
		info := parse(t, v.Name)
		want := struct {
			Versions, TransportsForReset, AttestationFormats []string
			PinComplexityPolicy                              *bool
			URL                                              string
			MaxPINLength                                     uint64
			ConfigCommands                                   []uint64
		}{
			[]string{"U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_2"}, []string{"usb"}, []string{"packed", "none"},
			boolp(false), "https://example.com/pin-policy", 63, []uint64{1, 2, 3},
		}
		got := want
		got.Versions, got.TransportsForReset, got.AttestationFormats = info.Versions, info.TransportsForReset, info.AttestationFormats
		got.PinComplexityPolicy, got.URL, got.MaxPINLength = info.PinComplexityPolicy, string(info.PinComplexityPolicyURL), info.MaxPINLength
		got.ConfigCommands = info.AuthenticatorConfigCommands
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("2.2 members (-want +got):\n%s", diff)
		}
		token := headerHex(t, v, "token")
		id, err := info.DecryptIdentifier(token)
		if err != nil || !bytes.Equal(id, headerHex(t, v, "identifier")) {
			t.Errorf("DecryptIdentifier = %x, %v; want %s", id, err, v.Header["identifier"])
		}
		st, err := info.DecryptCredStoreState(token)
		if err != nil || !bytes.Equal(st, headerHex(t, v, "cred-store-state")) {
			t.Errorf("DecryptCredStoreState = %x, %v; want %s", st, err, v.Header["cred-store-state"])
		}
		if !IsCredentialManagementReadOnlySupported(info) {
			t.Error("IsCredentialManagementReadOnlySupported = false with perCredMgmtRO true")
		}
		for _, tt := range []struct {
			sub           uint64
			supported, ok bool
		}{{ctap.ConfigSetMinPINLength, true, true}, {ctap.ConfigVendorPrototype, false, true}} {
			if s, o := info.SupportsConfigCommand(tt.sub); s != tt.supported || o != tt.ok {
				t.Errorf("SupportsConfigCommand(%#x) = %v, %v; want %v, %v", tt.sub, s, o, tt.supported, tt.ok)
			}
		}
	})

	t.Run("2.1", func(t *testing.T) {
		info := parse(t, "info-2.1")
		if info.MaxPINLength != DefaultMaxPINLength || info.PinComplexityPolicy != nil || info.HasMember(InfoMaxPINLength) {
			t.Errorf("absent 2.2 members: maxPINLength %d, pinComplexityPolicy %v", info.MaxPINLength, info.PinComplexityPolicy)
		}
		for name, f := range map[string]func([]byte) ([]byte, error){
			"DecryptIdentifier": info.DecryptIdentifier, "DecryptCredStoreState": info.DecryptCredStoreState,
		} {
			if got, err := f(bytes.Repeat([]byte{1}, 32)); !errors.Is(err, ErrNotSupported) || got != nil {
				t.Errorf("%s without the member = %x, %v; want ErrNotSupported", name, got, err)
			}
		}
		if IsCredentialManagementReadOnlySupported(info) {
			t.Error("IsCredentialManagementReadOnlySupported = true without perCredMgmtRO")
		}
		if !slices.Equal(info.AttestationFormats, []string{"packed"}) || info.HasMember(InfoAttestationFormats) {
			t.Errorf("attestationFormats absent: %v, want [packed] assumed", info.AttestationFormats)
		}
		// No authenticatorConfigCommands: authnrCfg answers, and ok says so.
		if s, o := info.SupportsConfigCommand(ctap.ConfigSetMinPINLength); !s || o {
			t.Errorf("SupportsConfigCommand without the member = %v, %v; want true, false", s, o)
		}
	})

	t.Run("policy", func(t *testing.T) {
		info := parse(t, "info-2.2-policy")
		if info.MaxPINLength != 12 || info.PinComplexityPolicy == nil || !*info.PinComplexityPolicy || info.MinPINLength != 6 {
			t.Errorf("maxPINLength %d, pinComplexityPolicy %v, minPINLength %d", info.MaxPINLength, info.PinComplexityPolicy, info.MinPINLength)
		}
		if s, o := info.SupportsConfigCommand(ctap.ConfigToggleAlwaysUv); s || !o {
			t.Errorf("SupportsConfigCommand(toggleAlwaysUv) = %v, %v; want false, true", s, o)
		}
	})
}

// FuzzDecryptInfoMember opens arbitrary members with arbitrary tokens: no
// panic, an error returns no value, a value is one block, and re-encrypting
// it under the same key and IV gives the member back. Seeds are the
// testvectors/getinfo22 vectors.
func FuzzDecryptInfoMember(f *testing.F) {
	for _, v := range getinfo22Vectors(f) {
		if v.Header["info"] == "" {
			continue
		}
		f.Add(headerHex(f, v, "token"), headerHex(f, v, "encrypted"), v.Header["info"] == HKDFInfoEncIdentifier)
	}
	f.Add([]byte{}, make([]byte, 32), true)
	f.Add([]byte{1}, make([]byte, 31), false)
	f.Fuzz(func(t *testing.T, token, member []byte, ident bool) {
		info := HKDFInfoEncCredStoreState
		if ident {
			info = HKDFInfoEncIdentifier
		}
		got, err := DecryptInfoMember(token, member, info)
		if err != nil {
			if got != nil {
				t.Fatalf("value %x with error %v", got, err)
			}
			return
		}
		if len(got) != 16 || len(member) != EncryptedMemberSize || len(token) == 0 {
			t.Fatalf("value of %d bytes from a member of %d and a token of %d", len(got), len(member), len(token))
		}
		key, err := hkdf.Key(sha256.New, token, make([]byte, 32), info, 16)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := aes.NewCipher(key)
		re := make([]byte, 16)
		cipher.NewCBCEncrypter(block, member[:16]).CryptBlocks(re, got)
		if !bytes.Equal(re, member[16:]) {
			t.Fatalf("re-encrypted %x, member %x", re, member)
		}
	})
}
