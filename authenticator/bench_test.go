package authenticator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// BenchmarkMakeCredential is a non-discoverable ES256 credential with
// packed attestation, AutoPresence and a MemoryStore: two key derivations,
// one ECDSA signature, the sealing and a state save.
func BenchmarkMakeCredential(b *testing.B) {
	k := newTestKey(b)
	req := ctap.MustMarshal(mcReq("example.com", []byte{1}, false))
	b.ReportAllocs()
	for b.Loop() {
		if s, _ := k.a.Handle(context.Background(), ctap.CmdMakeCredential, req); s != ctap.StatusOK {
			b.Fatal(s)
		}
	}
}

// BenchmarkGetAssertion is an assertion with an allowList of one
// non-discoverable ES256 credential.
func BenchmarkGetAssertion(b *testing.B) {
	k := newTestKey(b)
	id, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
	req := ctap.MustMarshal(gaReq("example.com", id))
	b.ReportAllocs()
	for b.Loop() {
		if s, _ := k.a.Handle(context.Background(), ctap.CmdGetAssertion, req); s != ctap.StatusOK {
			b.Fatal(s)
		}
	}
}

// BenchmarkECDSAP256Sign is one bare P-256 signature, the floor under
// both commands above.
func BenchmarkECDSAP256Sign(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	hash := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, priv, hash); err != nil {
			b.Fatal(err)
		}
	}
}
