package virtkeytest

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/internal/benchratio"
)

// The benchmarks below run the whole in-process path: client, CTAPHID
// framing over the pipe, the command core. Each iteration also runs the
// yardstick, the bare crypto the command cannot avoid, timed apart: x-base
// is the command's time over the yardstick's, in the same run (the goal
// for getAssertion is 1.5).
//
//	go test ./virtkeytest -run '^$' -bench InProcess -count 10
//
// With GOMAXPROCS=2 on a two-vCPU virtual machine, getAssertion measures
// about 1.8 and with GOMAXPROCS=1 about 1.4. An execution trace shows
// where the difference goes: a request still wakes two parked goroutines
// (the device's loop on the host's first report, the host on the device's
// first response report), and each wake, with the second P idle, makes
// the runtime wake a thread for it (wakep, a futex wake), which keeps the
// writer 12 to 15 µs before it parks and lets the woken goroutine run on
// its P:
//
//	go test ./virtkeytest -run '^$' -bench InProcessGetAssertion -benchtime 300x -trace t.out
//	go tool trace -pprof=sched t.out > sched.pb && go tool pprof -top sched.pb
//
// Removing those two wakes means the host's goroutine running the
// device's loop and handler itself while the device is idle.

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
	benchratio.Interleaved(b, func() {
		i++
		if _, err := key.Ctap2.MakeCredential(ctx, benchRequest(i)); err != nil {
			b.Fatal(err)
		}
	}, benchratio.P256Sign(b, true, []byte("yardstick")))
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
	benchratio.Interleaved(b, func() {
		if _, err := key.Ctap2.GetAssertion(ctx, req); err != nil {
			b.Fatal(err)
		}
	}, benchratio.P256Sign(b, false, []byte("yardstick")))
}

func BenchmarkECDSAP256Sign(b *testing.B) {
	sign := benchratio.P256Sign(b, false, []byte("yardstick"))
	b.ReportAllocs()
	for b.Loop() {
		sign()
	}
}
