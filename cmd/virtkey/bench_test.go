package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/internal/benchratio"
)

// BenchmarkDaemonUDPGetAssertion is getAssertion over loopback UDP against
// the daemon (client, CTAPHID over UDP, the command core, the store), each
// iteration interleaved with one bare P-256 signature: x-base is the ratio
// in the same run. "state" keeps the key in a --state file, so every
// assertion commits the signature counter with two fsyncs.
//
//	go test ./cmd/virtkey -run '^$' -bench DaemonUDP -count 10
func BenchmarkDaemonUDPGetAssertion(b *testing.B) {
	for _, withState := range []bool{false, true} {
		name := "memory"
		if withState {
			name = "state"
		}
		b.Run(name, func(b *testing.B) {
			var args []string
			if withState {
				args = []string{"--state", filepath.Join(b.TempDir(), "key.state")}
			}
			addr, stop := startDaemon(b, args...)
			defer stop()
			c := connect(b, addr)
			ctx := context.Background()
			h := sha256.Sum256([]byte("bench"))
			att, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
				ClientDataHash: h[:], RP: &ctap.RPEntity{ID: "bench.example"},
				User:             &ctap.UserEntity{ID: []byte("u")},
				PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
			})
			if err != nil {
				b.Fatal(err)
			}
			req := &ctap.GetAssertionRequest{RPID: "bench.example", ClientDataHash: h[:],
				AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: att.AuthData.AttestedCredential.CredentialID}}}
			priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			benchratio.Interleaved(b, func() {
				if _, err := c.GetAssertion(ctx, req); err != nil {
					b.Fatal(err)
				}
			}, func() {
				if _, err := ecdsa.SignASN1(rand.Reader, priv, h[:]); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
