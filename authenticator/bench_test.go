package authenticator

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/internal/benchratio"
)

// The benchmarks put the command next to its floor, the bare crypto it
// cannot avoid, in the same run: each iteration runs the command and the
// yardstick once, timed separately, and reports both per operation and
// their ratio (x-base), so benchstat shows the ratio directly.
//
//	go test ./authenticator -run '^$' -bench 'GetAssertion$|MakeCredential$' -count 10 | tee new.txt
//	benchstat old.txt new.txt
//
// The scale benchmarks (BenchmarkScale*) build keys with up to 100,000
// discoverable credentials; they run only with -bench.

// interleaved is benchratio.Interleaved with op's allocations reported
// too.
func interleaved(b *testing.B, op, base func()) {
	b.Helper()
	allocs := testing.AllocsPerRun(20, op)
	benchratio.Interleaved(b, op, base)
	b.ReportMetric(allocs, "cmd-allocs/op")
}

// p256Sign is the yardstick of an assertion: one bare ECDSA P-256
// signature of a SHA-256 hash.
func p256Sign(b *testing.B) func() { return benchratio.P256Sign(b, false, make([]byte, 69)) }

// p256KeygenSign is the yardstick of a non-discoverable makeCredential with
// packed attestation: a P-256 key pair and one signature.
func p256KeygenSign(b *testing.B) func() { return benchratio.P256Sign(b, true, make([]byte, 200)) }

func (k *testKey) mustHandle(cmd ctap.Command, req []byte) []byte {
	s, body := k.a.Handle(context.Background(), cmd, req)
	if s != ctap.StatusOK {
		k.t.Fatalf("%v: %v", cmd, s)
	}
	return body
}

// BenchmarkMakeCredential is a non-discoverable ES256 credential with
// packed attestation, AutoPresence and a MemoryStore, against a P-256 key
// generation and signature.
func BenchmarkMakeCredential(b *testing.B) {
	k := newTestKey(b, withRand(rand.Reader))
	req := ctap.MustMarshal(mcReq("example.com", []byte{1}, false))
	interleaved(b, func() { k.mustHandle(ctap.CmdMakeCredential, req) }, p256KeygenSign(b))
}

// BenchmarkGetAssertion is an assertion with an allowList of one
// non-discoverable ES256 credential, against one P-256 signature.
func BenchmarkGetAssertion(b *testing.B) {
	k := newTestKey(b, withRand(rand.Reader))
	id, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
	req := ctap.MustMarshal(gaReq("example.com", id))
	interleaved(b, func() { k.mustHandle(ctap.CmdGetAssertion, req) }, p256Sign(b))
}

// BenchmarkGetAssertionResident is an assertion without allowList, of the
// one discoverable credential of the RP.
func BenchmarkGetAssertionResident(b *testing.B) {
	k := newTestKey(b, withRand(rand.Reader))
	k.mustRegister(mcReq("example.com", []byte{1}, true))
	req := ctap.MustMarshal(gaReq("example.com"))
	interleaved(b, func() { k.mustHandle(ctap.CmdGetAssertion, req) }, p256Sign(b))
}

// BenchmarkECDSAP256Sign is one bare P-256 signature.
func BenchmarkECDSAP256Sign(b *testing.B) {
	sign := p256Sign(b)
	b.ReportAllocs()
	for b.Loop() {
		sign()
	}
}

// scaleState is a key's state with n synthetic discoverable ES256
// credentials spread round-robin over rps relying parties
// (rp0.example, rp1.example, ...), user IDs "u<i>".
func scaleState(tb testing.TB, n, rps int) *State {
	base := NewMemoryStore()
	if _, err := New(Config{Rand: seededRand(1), Store: base}); err != nil {
		tb.Fatal(err)
	}
	st := base.State()
	r := seededRand(2)
	st.Credentials = make([]ResidentCredential, n)
	for i := range st.Credentials {
		k, err := generateKey(r, ctap.AlgES256)
		if err != nil {
			tb.Fatal(err)
		}
		id := make([]byte, residentIDLength)
		io.ReadFull(r, id)
		pub, err := k.publicKey()
		if err != nil {
			tb.Fatal(err)
		}
		st.Credentials[i] = ResidentCredential{
			ID: id, RPID: fmt.Sprintf("rp%d.example", i%rps), RPName: "RP",
			UserID: fmt.Appendf(nil, "u%d", i), UserName: "user", UserDisplayName: "User",
			Alg: ctap.AlgES256, PrivateKey: k.priv, Sequence: uint64(i + 1),
			Created:   time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			PublicKey: ctap.MustMarshal(&pub),
		}
	}
	st.CreationSequence = uint64(n)
	return st
}

// scaleKey is a key on a MemoryStore holding scaleState(n, rps), with
// room for as many credentials again.
func scaleKey(tb testing.TB, n, rps int) *testKey {
	st := scaleState(tb, n, rps)
	m := NewMemoryStore()
	ch := &Change{State: st}
	for i := range st.Credentials {
		ch.Put = append(ch.Put, &st.Credentials[i])
	}
	if err := m.Commit(ch); err != nil {
		tb.Fatal(err)
	}
	k := &testKey{t: tb, store: m, clock: newFakeClock()}
	a, err := New(Config{Rand: rand.Reader, Now: k.clock.Now, Store: m, MaxCredentials: 2*n + 1_000_000})
	if err != nil {
		tb.Fatal(err)
	}
	k.a = a
	return k
}

var scaleSizes = []int{10, 1000, 10_000, 100_000}

// scaleLayouts are the ways the credentials are spread: over many RPs
// (ten credentials each) or all in one.
var scaleLayouts = []struct {
	name string
	rps  func(n int) int
}{
	{"manyRPs", func(n int) int { return max(n/10, 1) }},
	{"oneRP", func(int) int { return 1 }},
}

// BenchmarkScaleGetAssertion is getAssertion on a key with n credentials,
// interleaved with the same request on a key with 10 laid out alike: the
// x-base metric is the cost at n over the cost at 10. "allowList" names
// one discoverable credential of rp0.example; "discoverable" asks for all
// of rp0.example's.
func BenchmarkScaleGetAssertion(b *testing.B) {
	for _, lay := range scaleLayouts {
		for _, n := range scaleSizes {
			big, small := scaleKey(b, n, lay.rps(n)), scaleKey(b, 10, lay.rps(10))
			for _, mode := range []string{"allowList", "discoverable"} {
				b.Run(fmt.Sprintf("%s/n=%d/%s", lay.name, n, mode), func(b *testing.B) {
					bigReq, smallReq := gaReq("rp0.example"), gaReq("rp0.example")
					if mode == "allowList" {
						bigReq = gaReq("rp0.example", big.a.creds.forRP(rpHash("rp0.example"))[0].ID)
						smallReq = gaReq("rp0.example", small.a.creds.forRP(rpHash("rp0.example"))[0].ID)
					}
					bb, sb := ctap.MustMarshal(bigReq), ctap.MustMarshal(smallReq)
					interleaved(b, func() { big.mustHandle(ctap.CmdGetAssertion, bb) },
						func() { small.mustHandle(ctap.CmdGetAssertion, sb) })
				})
			}
		}
	}
}

// BenchmarkScaleGetNextAssertion is getNextAssertion on a key whose n
// credentials are all of one RP: each iteration takes the next one, and a
// new getAssertion (untimed) starts over when they run out.
func BenchmarkScaleGetNextAssertion(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			k := scaleKey(b, n, 1)
			req := ctap.MustMarshal(gaReq("rp0.example"))
			left := 0
			for b.Loop() {
				if left == 0 {
					b.StopTimer()
					k.mustHandle(ctap.CmdGetAssertion, req)
					left = n - 1
					b.StartTimer()
				}
				k.mustHandle(ctap.CmdGetNextAssertion, nil)
				left--
			}
		})
	}
}

// BenchmarkScaleMakeCredential is makeCredential, discoverable or not, on a
// key with n credentials over many RPs, against a P-256 key generation and
// signature.
func BenchmarkScaleMakeCredential(b *testing.B) {
	for _, n := range scaleSizes {
		for _, rk := range []bool{false, true} {
			b.Run(fmt.Sprintf("n=%d/rk=%v", n, rk), func(b *testing.B) {
				k := scaleKey(b, n, max(n/10, 1))
				i := 0
				interleaved(b, func() {
					i++
					k.mustHandle(ctap.CmdMakeCredential, ctap.MustMarshal(mcReq("new.example", fmt.Appendf(nil, "new%d", i), rk)))
				}, p256KeygenSign(b))
			})
		}
	}
}

// BenchmarkScaleEnumerate is one whole credentialManagement walk: every
// RP, and every credential of every RP, with n credentials over n/10 RPs.
// The platform's side is what a platform does, encode each request and
// decode each response (not the test helper's canonical-form check of
// every response). The goal for 100,000 credentials over 10,000 RPs is
// 2 s; cpu-ms/op is the process's CPU time per walk, which a busy machine
// inflates less than ns/op.
func BenchmarkScaleEnumerate(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			k := scaleKey(b, n, max(n/10, 1))
			p := newPlatform(k, 2)
			if s := p.setPIN("1234"); s != ctap.StatusOK {
				b.Fatalf("setPIN: %v", s)
			}
			cm := &cmPlatform{platform: p, cmd: ctap.CmdCredentialManagement, tok: p.mustToken("1234", ctap.PermissionCredentialManagement, "")}
			ctx := context.Background()
			call := func(sub uint64, params *ctap.CredentialManagementParams) *ctap.CredentialManagementResponse {
				auth := sub != ctap.CredMgmtEnumerateRPsGetNextRP && sub != ctap.CredMgmtEnumerateCredentialsGetNextCredential
				s, body := k.a.Handle(ctx, cm.cmd, ctap.MustMarshal(cm.request(sub, params, auth)))
				if s != ctap.StatusOK {
					b.Fatalf("subcommand %d: %v", sub, s)
				}
				var r ctap.CredentialManagementResponse
				if err := ctap.Unmarshal(body, &r); err != nil {
					b.Fatal(err)
				}
				return &r
			}
			var cpu time.Duration
			ops := 0
			for b.Loop() {
				c0 := processCPU()
				seen := 0
				rp := call(ctap.CredMgmtEnumerateRPsBegin, nil)
				hashes := [][]byte{rp.RPIDHash}
				for range int(*rp.TotalRPs) - 1 {
					hashes = append(hashes, call(ctap.CredMgmtEnumerateRPsGetNextRP, nil).RPIDHash)
				}
				for _, h := range hashes {
					c := call(ctap.CredMgmtEnumerateCredentialsBegin, &ctap.CredentialManagementParams{RPIDHash: h})
					seen++
					for range int(*c.TotalCredentials) - 1 {
						call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil)
						seen++
					}
				}
				if seen != n {
					b.Fatalf("walked %d credentials of %d", seen, n)
				}
				cpu += processCPU() - c0
				ops++
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(ops), "cpu-ms/op")
		})
	}
}

// BenchmarkScaleStartup opens a state file with n credentials over n/10
// RPs and starts a key on it, as the daemon does. cpu-ms/op is the
// process's CPU time per start (garbage collection included), which a
// busy machine inflates less than ns/op; heap-MiB is the live heap after
// the start, with the key held; peak-rss-MiB is the process's peak
// resident set during the start (VmHWM, reset before each start through
// /proc/self/clear_refs; the benchmark's own few MiB included).
func BenchmarkScaleStartup(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "state")
			st := scaleState(b, n, max(n/10, 1))
			data, err := snapshot(st, 1)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				b.Fatal(err)
			}
			fileMiB := float64(len(data)) / (1 << 20)
			st, data = nil, nil
			var heap, rss float64
			var cpu time.Duration
			ops := 0
			for b.Loop() {
				b.StopTimer()
				goruntime.GC()
				debug.FreeOSMemory()
				resetPeakRSS()
				c0 := processCPU()
				b.StartTimer()
				fs, err := OpenFileStore(path)
				if err != nil {
					b.Fatal(err)
				}
				a, err := New(Config{Store: fs, MaxCredentials: n})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += processCPU() - c0
				ops++
				rss = max(rss, peakRSSMiB())
				goruntime.GC()
				var ms goruntime.MemStats
				goruntime.ReadMemStats(&ms)
				heap = float64(ms.HeapAlloc) / (1 << 20)
				goruntime.KeepAlive(a)
				fs.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(ops), "cpu-ms/op")
			b.ReportMetric(heap, "heap-MiB")
			b.ReportMetric(rss, "peak-rss-MiB")
			b.ReportMetric(fileMiB, "file-MiB")
		})
	}
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS starts VmHWM again from the current resident set (Linux
// 4.0 and later); elsewhere peakRSSMiB reports the peak since start.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMiB is VmHWM from /proc/self/status, 0 where there is none.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkScaleBytesPerAssertion is getAssertion on a FileStore with n
// credentials; bytes-written/op is what each one adds to the state file.
// The goal at 100,000 credentials is 4 KiB.
func BenchmarkScaleBytesPerAssertion(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "state")
			data, err := snapshot(scaleState(b, n, max(n/10, 1)), 1)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				b.Fatal(err)
			}
			fs, err := OpenFileStore(path)
			if err != nil {
				b.Fatal(err)
			}
			defer fs.Close()
			a, err := New(Config{Store: fs, MaxCredentials: n})
			if err != nil {
				b.Fatal(err)
			}
			k := &testKey{t: b, a: a}
			req := ctap.MustMarshal(gaReq("rp0.example"))
			before, ops := fs.BytesWritten(), 0
			for b.Loop() {
				k.mustHandle(ctap.CmdGetAssertion, req)
				ops++
			}
			b.ReportMetric(float64(fs.BytesWritten()-before)/float64(ops), "bytes-written/op")
		})
	}
}

func withRand(r io.Reader) keyOption { return func(c *Config) { c.Rand = r } }
