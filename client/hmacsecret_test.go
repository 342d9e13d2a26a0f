package client

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// TestHmacSecretInProcess makes a credential with hmac-secret and
// hmac-secret-mc on a virtual key (CTAP 2.1 §12.5, CTAP 2.2 §12.8) and
// reads the secrets back with getAssertion, for both protocols.
func TestHmacSecretInProcess(t *testing.T) {
	for _, proto := range []*PinProtocol{PinProtocolV1(), PinProtocolV2()} {
		t.Run(string(rune('0'+proto.Version())), func(t *testing.T) {
			ctx := context.Background()
			a, err := authenticator.New(authenticator.Config{Rand: seeded(1)})
			if err != nil {
				t.Fatal(err)
			}
			d, err := OpenInProcess(ctx, a, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c, err := New(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := NewClientPin(c, proto)
			if err != nil {
				t.Fatal(err)
			}
			cp.Rand = seeded(2)
			hs := NewHmacSecret(cp)
			salt1, salt2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)

			exts, err := hs.MakeCredentialExtensions(ctx, salt1, salt2)
			if err != nil {
				t.Fatal(err)
			}
			att, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
				ClientDataHash:   cdh("mc"),
				RP:               &ctap.RPEntity{ID: "example.com"},
				User:             &ctap.UserEntity{ID: []byte("u")},
				PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
				Extensions:       exts,
			})
			if err != nil {
				t.Fatal(err)
			}
			if created, err := HmacSecretCreated(att.AuthData); err != nil || !created {
				t.Fatalf("HmacSecretCreated = %v, %v", created, err)
			}
			mc1, mc2, ok, err := hs.MCOutput(att.AuthData)
			if err != nil || !ok || len(mc1) != 32 || len(mc2) != 32 || bytes.Equal(mc1, mc2) {
				t.Fatalf("MCOutput = %x, %x, %v, %v", mc1, mc2, ok, err)
			}
			id := att.AuthData.AttestedCredential.CredentialID

			get := func(salt2 []byte) ([]byte, []byte) {
				t.Helper()
				exts, err := hs.GetAssertionExtensions(ctx, salt1, salt2)
				if err != nil {
					t.Fatal(err)
				}
				r, err := c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: cdh("ga"),
					AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: id}}, Extensions: exts})
				if err != nil {
					t.Fatal(err)
				}
				o1, o2, ok, err := hs.Output(r.AuthData)
				if err != nil || !ok {
					t.Fatalf("Output: %v, %v", ok, err)
				}
				return o1, o2
			}
			if o1, o2 := get(nil); !bytes.Equal(o1, mc1) || o2 != nil {
				t.Errorf("one salt: %x, %x; makeCredential gave %x", o1, o2, mc1)
			}
			if o1, o2 := get(salt2); !bytes.Equal(o1, mc1) || !bytes.Equal(o2, mc2) {
				t.Errorf("two salts: %x, %x; makeCredential gave %x, %x", o1, o2, mc1, mc2)
			}
		})
	}
}

func TestHmacSecretSaltLength(t *testing.T) {
	hs := NewHmacSecret(&ClientPin{protocol: PinProtocolV2()})
	if _, err := hs.Input(context.Background(), make([]byte, 31), nil); !errors.Is(err, ErrSaltLength) {
		t.Errorf("31-byte salt1: %v", err)
	}
	if _, err := hs.Input(context.Background(), make([]byte, 32), make([]byte, 33)); !errors.Is(err, ErrSaltLength) {
		t.Errorf("33-byte salt2: %v", err)
	}
	if _, _, _, err := hs.Output(&ctap.AuthData{}); err == nil {
		t.Error("Output before an input: no error")
	}
}

// TestHmacSecretBadOutput: an output that does not decrypt to 32 or 64
// bytes is ErrBadResponse; no output is ok false.
func TestHmacSecretBadOutput(t *testing.T) {
	shared := bytes.Repeat([]byte{7}, 32)
	hs := &HmacSecret{cp: &ClientPin{protocol: PinProtocolV1()}, shared: shared}
	enc, _ := PinProtocolV1().Encrypt(nil, shared, make([]byte, 48))
	ad := &ctap.AuthData{Extensions: ctap.MustMarshal(map[string]any{ctap.ExtHMACSecret: enc})}
	if _, _, _, err := hs.Output(ad); !errors.Is(err, ErrBadResponse) {
		t.Errorf("48-byte output: %v", err)
	}
	ad = &ctap.AuthData{Extensions: ctap.MustMarshal(map[string]any{ctap.ExtHMACSecret: true})}
	if _, _, _, err := hs.Output(ad); !errors.Is(err, ErrBadResponse) {
		t.Errorf("boolean output: %v", err)
	}
	if _, _, ok, err := hs.Output(&ctap.AuthData{}); ok || err != nil {
		t.Errorf("no output: %v, %v", ok, err)
	}
}
