package virtkeytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// The benchmarks below run the whole in-process path: client, CTAPHID
// framing over the pipe, the command core. Each iteration also runs the
// yardstick, the bare crypto the command cannot avoid, timed apart: x-base
// is the command's time over the yardstick's, in the same run (the goal
// for getAssertion is 1.5).
//
//	go test ./virtkeytest -run '^$' -bench InProcess -count 10

// interleaved runs op and base alternately and reports both per
// operation and their ratio.
func interleaved(b *testing.B, op, base func()) {
	var opT, baseT time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		op()
		t1 := time.Now()
		base()
		t2 := time.Now()
		opT += t1.Sub(t0)
		baseT += t2.Sub(t1)
		n++
	}
	b.ReportMetric(float64(opT.Nanoseconds())/float64(n), "cmd-ns/op")
	b.ReportMetric(float64(baseT.Nanoseconds())/float64(n), "base-ns/op")
	b.ReportMetric(float64(opT)/float64(baseT), "x-base")
}

// p256Sign is one bare P-256 signature of a SHA-256 hash; with keygen, a
// P-256 key generation first.
func p256Sign(b *testing.B, keygen bool) func() {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("yardstick")
	return func() {
		if keygen {
			if _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
		h := sha256.Sum256(msg)
		if _, err := ecdsa.SignASN1(rand.Reader, k, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

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
	i := 0
	interleaved(b, func() {
		i++
		if _, err := key.Ctap2.MakeCredential(ctx, benchRequest(i)); err != nil {
			b.Fatal(err)
		}
	}, p256Sign(b, true))
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
	interleaved(b, func() {
		if _, err := key.Ctap2.GetAssertion(ctx, req); err != nil {
			b.Fatal(err)
		}
	}, p256Sign(b, false))
}

func BenchmarkECDSAP256Sign(b *testing.B) {
	sign := p256Sign(b, false)
	b.ReportAllocs()
	for b.Loop() {
		sign()
	}
}
