// Package benchratio measures a command against its yardstick, the bare
// crypto it cannot avoid, in the same benchmark run: the machines the
// benchmarks run on are shared, so absolute times drift and a goal stated
// as a ratio is taken from one run. It is for tests only.
package benchratio

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

// Interleaved runs op and base alternately and reports both per operation
// (cmd-ns/op, base-ns/op) and their ratio (x-base), the figure benchstat
// compares.
func Interleaved(b *testing.B, op, base func()) {
	b.Helper()
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

// P256Sign returns the yardstick of an assertion: one bare ECDSA P-256
// signature of SHA-256(msg); with keygen, that of a makeCredential, a
// P-256 key generation first.
func P256Sign(b *testing.B, keygen bool, msg []byte) func() {
	b.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
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
