package virtkeytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// The benchmarks below run the whole in-process path: client, CTAPHID
// framing over the pipe, the command core. BenchmarkECDSAP256Sign is the
// yardstick: one bare P-256 signature in the same run.

func benchRequest(i int) *ctap.MakeCredentialRequest {
	h := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
	return &ctap.MakeCredentialRequest{
		ClientDataHash:   h[:],
		RP:               &ctap.RPEntity{ID: "bench.example"},
		User:             &ctap.UserEntity{ID: []byte("bench-user")},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
	}
}

func BenchmarkInProcessMakeCredential(b *testing.B) {
	key := New(b, authenticator.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := key.Ctap2.MakeCredential(ctx, benchRequest(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInProcessGetAssertion(b *testing.B) {
	key := New(b, authenticator.Config{})
	ctx := context.Background()
	att, err := key.Ctap2.MakeCredential(ctx, benchRequest(0))
	if err != nil {
		b.Fatal(err)
	}
	req := &ctap.GetAssertionRequest{RPID: "bench.example", ClientDataHash: make([]byte, 32),
		AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: att.AuthData.AttestedCredential.CredentialID}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := key.Ctap2.GetAssertion(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkECDSAP256Sign(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte("yardstick"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}
