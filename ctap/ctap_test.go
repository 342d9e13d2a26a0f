package ctap

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

func TestStatusStrings(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{StatusOK, "CTAP2_OK"},
		{StatusPINInvalid, "CTAP2_ERR_PIN_INVALID"},
		{StatusCredentialExcluded, "CTAP2_ERR_CREDENTIAL_EXCLUDED"},
		{StatusPUATRequired, "CTAP2_ERR_PUAT_REQUIRED"},
		{Status(0xE3), "CTAP2_ERR_EXTENSION(0xE3)"},
		{Status(0xF5), "CTAP2_ERR_VENDOR(0xF5)"},
		{Status(0x38), "Status(0x38)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Status(0x%02X).String() = %q, want %q", byte(tt.s), got, tt.want)
		}
	}
	if got, want := StatusNoCredentials.Error(), "ctap: CTAP2_ERR_NO_CREDENTIALS (0x2E)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestStatusOf(t *testing.T) {
	wrapped := fmt.Errorf("making credential: %w", StatusKeyStoreFull)
	if got := StatusOf(wrapped); got != StatusKeyStoreFull {
		t.Errorf("StatusOf(wrapped) = %v", got)
	}
	if got := StatusOf(nil); got != StatusOK {
		t.Errorf("StatusOf(nil) = %v", got)
	}
	if got := StatusOf(errors.New("disk on fire")); got != StatusOther {
		t.Errorf("StatusOf(plain) = %v", got)
	}
	var req MakeCredentialRequest
	err := Unmarshal([]byte{0xa1, 0x01, 0x01}, &req) // {1: 1}: clientDataHash not bytes
	if got := StatusOf(err); got != StatusCBORUnexpectedType {
		t.Errorf("type mismatch: StatusOf = %v (%v)", got, err)
	}
	if !errors.Is(err, StatusCBORUnexpectedType) {
		t.Errorf("errors.Is(type mismatch, StatusCBORUnexpectedType) = false")
	}
	err = Unmarshal([]byte{0xa1, 0x01}, &req) // truncated
	if got := StatusOf(err); got != StatusInvalidCBOR {
		t.Errorf("truncated: StatusOf = %v (%v)", got, err)
	}
}

func TestUnmarshalStrict(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Status
	}{
		{"trailing byte", []byte{0xa0, 0x00}, StatusInvalidCBOR},
		{"duplicate key", []byte{0xa2, 0x01, 0x40, 0x01, 0x40}, StatusInvalidCBOR},
		{"indefinite map", []byte{0xbf, 0xff}, StatusInvalidCBOR},
		{"tag", []byte{0xc1, 0xa0}, StatusInvalidCBOR},
		{"array for map", []byte{0x80}, StatusCBORUnexpectedType},
		{"invalid utf-8 rp id", []byte{0xa1, 0x01, 0x61, 0xff}, StatusInvalidCBOR},
		{"option not bool", []byte{0xa1, 0x05, 0xa1, 0x62, 'u', 'p', 0x01}, StatusCBORUnexpectedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req GetAssertionRequest
			err := Unmarshal(tt.in, &req)
			if got := StatusOf(err); got != tt.want {
				t.Errorf("StatusOf(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func TestExplicitFalseSurvives(t *testing.T) {
	req := MakeCredentialRequest{
		ClientDataHash:   make([]byte, 32),
		RP:               &RPEntity{ID: "example.com"},
		User:             &UserEntity{ID: []byte{1}},
		PubKeyCredParams: []CredentialParameter{{Type: CredentialTypePublicKey, Alg: AlgES256}},
		Options:          map[string]bool{OptionRK: false},
	}
	b, err := Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	var got MakeCredentialRequest
	if err := Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Options[OptionRK]; !ok || v {
		t.Errorf("options after round trip = %v, want rk:false", got.Options)
	}
	if !IsCanonical(b) {
		t.Errorf("Marshal output %x is not canonical", b)
	}
}

func TestCanonicalKeyOrder(t *testing.T) {
	// CTAP 2.1 §8: shorter keys first, then bytewise; integer keys before text.
	b := MustMarshal(CredentialParameter{Type: "public-key", Alg: -7})
	want := []byte{0xa2, 0x63, 'a', 'l', 'g', 0x26, 0x64, 't', 'y', 'p', 'e',
		0x6a, 'p', 'u', 'b', 'l', 'i', 'c', '-', 'k', 'e', 'y'}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("encoding mismatch (-want +got):\n%s", diff)
	}
	if IsCanonical([]byte{0xa2, 0x64, 't', 'y', 'p', 'e', 0x60, 0x63, 'a', 'l', 'g', 0x26}) {
		t.Error("IsCanonical accepted a map with unsorted keys")
	}
}

func TestCOSEKeyRoundTrip(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		alg  int64
		pub  any
	}{
		{"ES256", AlgES256, &p256.PublicKey},
		{"ES384", AlgES384, &p384.PublicKey},
		{"EdDSA", AlgEdDSA, edPub},
		{"RS256", AlgRS256, &rsaKey.PublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewCOSEKey(tt.alg, tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			if !IsCanonical(b) {
				t.Errorf("COSE key %x not canonical", b)
			}
			var got COSEKey
			if err := Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(k, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			pub, err := got.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Errorf("public key differs: %v vs %v", tt.pub, pub)
			}
		})
	}
}

func TestCOSEKeyRejectsPointOffCurve(t *testing.T) {
	k := COSEKey{Kty: KtyEC2, Alg: AlgECDHESHKDF256, Crv: CrvP256, X: make([]byte, 32), Y: make([]byte, 32)}
	k.X[31], k.Y[31] = 1, 1
	if _, err := k.PublicKey(); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("PublicKey() error = %v, want ErrInvalidKey", err)
	}
	if _, err := k.ECDHPublicKey(); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("ECDHPublicKey() error = %v, want ErrInvalidKey", err)
	}
}

func TestVerifySignatureRejectsWrongKey(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	msg := []byte("authData||clientDataHash")
	h := sha256sum(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, k1, h[:])
	if err := VerifySignature(AlgES256, &k1.PublicKey, msg, sig); err != nil {
		t.Errorf("valid signature: %v", err)
	}
	if err := VerifySignature(AlgES256, &k2.PublicKey, msg, sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong key: %v, want ErrBadSignature", err)
	}
	if err := VerifySignature(AlgEdDSA, &k1.PublicKey, msg, sig); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("wrong key type: %v, want ErrInvalidKey", err)
	}
}

func TestAuthDataRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := &AuthData{
			Flags:     AuthDataFlags(rapid.Byte().Draw(t, "flags")) &^ (FlagAT | FlagED),
			SignCount: rapid.Uint32().Draw(t, "count"),
		}
		copy(a.RPIDHash[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "rpIdHash"))
		if rapid.Bool().Draw(t, "at") {
			ac := &AttestedCredentialData{
				CredentialID: rapid.SliceOfN(rapid.Byte(), 1, 300).Draw(t, "credId"),
				PublicKey: COSEKey{Kty: KtyOKP, Alg: AlgEdDSA, Crv: CrvEd25519,
					X: rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "x")},
			}
			copy(ac.AAGUID[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "aaguid"))
			a.AttestedCredential = ac
		}
		if rapid.Bool().Draw(t, "ed") {
			a.Extensions = MustMarshal(map[string]any{"credProtect": rapid.IntRange(1, 3).Draw(t, "cp")})
		}
		b, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseAuthData(b)
		if err != nil {
			t.Fatalf("ParseAuthData(%x): %v", b, err)
		}
		if a.AttestedCredential != nil {
			a.Flags |= FlagAT
		}
		if a.Extensions != nil {
			a.Flags |= FlagED
		}
		if diff := cmp.Diff(a, got, cmpopts.IgnoreFields(AttestedCredentialData{}, "PublicKeyRaw")); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
		b2, err := got.Marshal()
		if err != nil || string(b2) != string(b) {
			t.Fatalf("re-encoding differs: %x vs %x (%v)", b2, b, err)
		}
	})
}

func TestParseAuthDataErrors(t *testing.T) {
	base := make([]byte, 37)
	tests := []struct {
		name string
		in   []byte
	}{
		{"short", base[:36]},
		{"AT without data", append(append([]byte{}, base[:32]...), byte(FlagAT), 0, 0, 0, 0)},
		{"ED without map", append(append([]byte{}, base[:32]...), byte(FlagED), 0, 0, 0, 0)},
		{"trailing", append(append([]byte{}, base...), 0xa0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseAuthData(tt.in); !errors.Is(err, ErrAuthData) {
				t.Errorf("ParseAuthData error = %v, want ErrAuthData", err)
			}
		})
	}
}

// TestMessagesRoundTrip encodes random messages of every type, decodes them
// and checks that the result is equal and the encoding canonical.
func TestMessagesRoundTrip(t *testing.T) {
	u64 := func(t *rapid.T, l string) *uint64 {
		if !rapid.Bool().Draw(t, l+"?") {
			return nil
		}
		v := rapid.Uint64().Draw(t, l)
		return &v
	}
	bs := func(t *rapid.T, l string) []byte {
		return rapid.SliceOfN(rapid.Byte(), 1, 64).Draw(t, l)
	}
	str := func(t *rapid.T, l string) string { return rapid.StringN(1, 20, -1).Draw(t, l) }
	desc := func(t *rapid.T) []CredentialDescriptor {
		return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) CredentialDescriptor {
			return CredentialDescriptor{Type: CredentialTypePublicKey, ID: bs(t, "id")}
		}), 1, 3).Draw(t, "descs")
	}
	opts := func(t *rapid.T) map[string]bool {
		return rapid.MapOfN(rapid.SampledFrom([]string{"rk", "up", "uv"}), rapid.Bool(), 1, 3).Draw(t, "opts")
	}
	gens := map[string]func(t *rapid.T) any{
		"makeCredential": func(t *rapid.T) any {
			return &MakeCredentialRequest{
				ClientDataHash:    bs(t, "cdh"),
				RP:                &RPEntity{ID: str(t, "rp"), Name: str(t, "rpname")},
				User:              &UserEntity{ID: bs(t, "uid"), Name: str(t, "name"), DisplayName: str(t, "dn")},
				PubKeyCredParams:  []CredentialParameter{{Type: CredentialTypePublicKey, Alg: rapid.Int64().Draw(t, "alg")}},
				ExcludeList:       desc(t),
				Options:           opts(t),
				PinUvAuthParam:    bs(t, "pa"),
				PinUvAuthProtocol: u64(t, "pp"),
			}
		},
		"getAssertion": func(t *rapid.T) any {
			return &GetAssertionRequest{RPID: str(t, "rp"), ClientDataHash: bs(t, "cdh"),
				AllowList: desc(t), Options: opts(t), PinUvAuthProtocol: u64(t, "pp")}
		},
		"getAssertionResponse": func(t *rapid.T) any {
			b := rapid.Bool().Draw(t, "sel")
			return &GetAssertionResponse{Credential: &desc(t)[0], AuthData: bs(t, "ad"), Signature: bs(t, "sig"),
				User: &UserEntity{ID: bs(t, "uid")}, NumberOfCredentials: u64(t, "n"), UserSelected: &b}
		},
		"clientPIN": func(t *rapid.T) any {
			return &ClientPINRequest{PinUvAuthProtocol: u64(t, "p"), SubCommand: u64(t, "s"),
				NewPinEnc: bs(t, "np"), Permissions: u64(t, "perm")}
		},
		"info": func(t *rapid.T) any {
			f := rapid.Bool().Draw(t, "fpc")
			return &InfoResponse{Versions: []string{VersionFIDO20, VersionFIDO21}, AAGUID: bs(t, "aaguid"),
				Options: opts(t), ForcePINChange: &f, PinUvAuthProtocols: []uint64{2, 1},
				RemainingDiscoverableCredentials: u64(t, "rem")}
		},
		"credMgmt": func(t *rapid.T) any {
			return &CredentialManagementResponse{TotalRPs: u64(t, "n"), RPIDHash: bs(t, "h"),
				RP: &RPEntity{ID: str(t, "rp")}}
		},
		"bio": func(t *rapid.T) any {
			return &BioEnrollmentResponse{TemplateID: bs(t, "tid"), LastEnrollSampleStatus: u64(t, "s"),
				RemainingSamples: u64(t, "r")}
		},
		"largeBlobs": func(t *rapid.T) any {
			return &LargeBlobsRequest{Get: u64(t, "g"), Set: bs(t, "s"), Offset: u64(t, "o")}
		},
		"config": func(t *rapid.T) any {
			return &ConfigRequest{SubCommand: u64(t, "s"),
				SubCommandParams: MustMarshal(SetMinPINLengthParams{MinPinLengthRPIDs: []string{str(t, "rp")}})}
		},
	}
	for name, gen := range gens {
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				msg := gen(t)
				b, err := Marshal(msg)
				if err != nil {
					t.Fatal(err)
				}
				if !IsCanonical(b) {
					t.Fatalf("not canonical: %x", b)
				}
				got := newLike(msg)
				if err := Unmarshal(b, got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(msg, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("round trip (-want +got):\n%s", diff)
				}
			})
		})
	}
}
