package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// benchDaemon runs `virtkey serve --udp 127.0.0.1:0` (memory state, no
// control socket, touches answered at once) for a benchmark.
func benchDaemon(b *testing.B) string {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	addrs := make(chan net.Addr, 1)
	listening = func(a net.Addr) { addrs <- a }
	go func() {
		done <- run(ctx, []string{"serve", "--udp", "127.0.0.1:0", "--control", "off", "--log-level", "error"}, io.Discard, io.Discard)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		listening = func(net.Addr) {}
	})
	select {
	case a := <-addrs:
		return a.String()
	case code := <-done:
		b.Fatalf("daemon exited with %d", code)
		return ""
	}
}

// BenchmarkUDPGetAssertion runs getAssertion against the daemon over UDP
// from 1, 4 and 16 clients at once, each on its own socket and channel
// (CTAP 2.1 §11.2.3), for b.N assertions in all. A client answered
// ERR_CHANNEL_BUSY (the key runs one transaction at a time, §11.2.5.1)
// retries at once (retry=0), or after a pause of 1 ms (retry=1ms), as a
// host that backs off would. Reported: aggregate assertions per second, and
// busy answers per assertion.
func BenchmarkUDPGetAssertion(b *testing.B) {
	for _, bc := range []struct {
		clients int
		pause   time.Duration
	}{{1, 0}, {4, 0}, {16, 0}, {4, time.Millisecond}, {16, time.Millisecond}} {
		b.Run(fmt.Sprintf("clients=%d/retry=%v", bc.clients, bc.pause), func(b *testing.B) {
			clients := bc.clients
			addr := benchDaemon(b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cs := make([]*client.Ctap2, clients)
			for i := range cs {
				dev, err := client.OpenUDP(ctx, addr)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { dev.Close() })
				if cs[i], err = client.New(ctx, dev); err != nil {
					b.Fatal(err)
				}
			}
			h := sha256.Sum256([]byte("udp bench"))
			att, err := cs[0].MakeCredential(ctx, &ctap.MakeCredentialRequest{
				ClientDataHash: h[:], RP: &ctap.RPEntity{ID: "bench.example"}, User: &ctap.UserEntity{ID: []byte("bench")},
				PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
			})
			if err != nil {
				b.Fatal(err)
			}
			req := &ctap.GetAssertionRequest{RPID: "bench.example", ClientDataHash: h[:],
				AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: att.AuthData.AttestedCredential.CredentialID}}}

			var (
				left    atomic.Int64 // assertions still to make
				busy    atomic.Int64
				wg      sync.WaitGroup
				errOnce sync.Once
				first   error
			)
			left.Store(int64(b.N))
			b.ResetTimer()
			for _, c := range cs {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						for {
							_, err := c.GetAssertion(ctx, req)
							if errors.Is(err, ctaphid.ErrChannelBusy) {
								busy.Add(1)
								if bc.pause > 0 {
									time.Sleep(bc.pause)
								}
								continue
							}
							if err != nil {
								errOnce.Do(func() { first = err })
								left.Store(0)
								return
							}
							break
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if first != nil {
				b.Fatal(first)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "assertions/s")
			b.ReportMetric(float64(busy.Load())/float64(b.N), "busy/assertion")
		})
	}
}
