// Package killtest checks that `virtkey serve --state` loses nothing it
// acknowledged when it is killed at any moment.
//
// The test builds virtkey, then for each round starts `virtkey serve --udp
// 127.0.0.1:0 --state F`, checks that the credentials acknowledged so far
// are all there, makes resident credentials as fast as it can, and sends
// SIGKILL at a random moment. Some rounds kill the daemon while it starts.
// Between rounds it loads F with the authenticator's FileStore: the file
// must always decode and hold every acknowledged credential, and the
// signature counter must never fall below one that was sent.
//
//	go test ./tests/killtest/                    # a random seed, logged
//	go test ./tests/killtest/ -seed=42 -rounds=200 -v
package killtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

var (
	seedFlag   = flag.Uint64("seed", 0, "random seed for the kill moments (0: from the clock)")
	roundsFlag = flag.Int("rounds", 250, "number of kill rounds")
	budgetFlag = flag.Duration("budget", 40*time.Second, "stop starting rounds after this long")
)

// minRounds is what a run must reach within the budget.
const minRounds = 50

// resetAbove is the number of acknowledged credentials above which a
// round starts with authenticatorReset, to stay below the key's capacity.
const resetAbove = 60

// cred is an acknowledged resident credential.
type cred struct {
	id     []byte
	rp     string
	user   string
	pubKey ctap.COSEKey
}

type tracker struct {
	mu         sync.Mutex
	creds      map[string]cred // by hex ID
	maxCounter uint32          // highest signature counter the key sent
}

func (tr *tracker) add(c cred, counter uint32) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.creds[fmt.Sprintf("%x", c.id)] = c
	tr.counter(counter)
}

func (tr *tracker) counter(n uint32) {
	if n > tr.maxCounter {
		tr.maxCounter = n
	}
}

func (tr *tracker) all() []cred {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []cred
	for _, c := range tr.creds {
		out = append(out, c)
	}
	return out
}

func TestKillAtRandomMoments(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with: go test ./tests/killtest/ -seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))

	bin := buildVirtkey(t, t.TempDir())
	dir := stateDir(t)
	state := filepath.Join(dir, "key.state")
	ready := filepath.Join(dir, "ready")
	tr := &tracker{creds: map[string]cred{}}
	start := time.Now()

	var lastRound []cred // acknowledged in the previous round: the ones at risk
	rounds, made, startupKills := 0, 0, 0
	for ; rounds < *roundsFlag && time.Since(start) < *budgetFlag; rounds++ {
		checkStateFile(t, rounds, state, tr)

		if rng.IntN(8) == 0 {
			// Kill it while it starts: loading the state, saving the first
			// state, binding the socket.
			d := time.Duration(rng.IntN(15000)) * time.Microsecond
			t.Logf("round %d: kill %v after exec", rounds, d)
			p := startDaemon(t, bin, state, ready)
			time.Sleep(d)
			p.kill()
			startupKills++
			continue
		}

		p := startDaemon(t, bin, state, ready)
		addr := p.waitReady(t)
		c, dev := connect(t, addr)

		// Everything acknowledged in the last round, and a sample of the
		// older credentials, is there.
		check := append([]cred(nil), lastRound...)
		all := tr.all()
		for i := 0; i < 4 && len(all) > 0; i++ {
			check = append(check, all[rng.IntN(len(all))])
		}
		for _, cr := range check {
			verifyCred(t, rounds, c, cr, tr)
		}
		if len(all) > resetAbove {
			if err := c.Reset(context.Background()); err != nil {
				t.Fatalf("round %d: reset: %v\n%s", rounds, err, p.log.String())
			}
			tr.mu.Lock()
			tr.creds = map[string]cred{}
			tr.mu.Unlock()
			lastRound = nil
			t.Logf("round %d: reset the key", rounds)
		}

		// Make credentials until the kill.
		d := time.Duration(rng.IntN(40000)) * time.Microsecond
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var acked []cred
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ctx.Err() == nil; i++ {
				rp := fmt.Sprintf("r%d-%d.example", rounds, i)
				user := fmt.Sprintf("u%d-%d", rounds, i)
				h := sha256.Sum256([]byte(rp))
				att, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
					ClientDataHash: h[:], RP: &ctap.RPEntity{ID: rp},
					User:             &ctap.UserEntity{ID: []byte(user)},
					PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
					Options:          map[string]bool{ctap.OptionRK: true},
				})
				if err != nil {
					return // killed: this one was not acknowledged
				}
				cr := cred{id: att.AuthData.AttestedCredential.CredentialID, rp: rp, user: user,
					pubKey: att.AuthData.AttestedCredential.PublicKey}
				tr.add(cr, att.AuthData.SignCount)
				mu.Lock()
				acked = append(acked, cr)
				mu.Unlock()
			}
		}()
		time.Sleep(d)
		p.kill()
		cancel()
		<-done
		dev.Close()
		mu.Lock()
		lastRound = acked
		made += len(acked)
		mu.Unlock()
		t.Logf("round %d: killed after %v, %d credentials acknowledged", rounds, d, len(acked))
	}
	if rounds < minRounds {
		t.Fatalf("only %d rounds in %v, want at least %d", rounds, *budgetFlag, minRounds)
	}

	// A last start: the file loads, every credential is there, and a
	// SIGTERM stops the daemon cleanly.
	checkStateFile(t, rounds, state, tr)
	p := startDaemon(t, bin, state, ready)
	c, dev := connect(t, p.waitReady(t))
	for _, cr := range tr.all() {
		verifyCred(t, rounds, c, cr, tr)
	}
	dev.Close()
	if err := p.stop(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.log.String())
	}
	t.Logf("%d rounds (%d killed while starting), %d credentials acknowledged, %d kept at the end, in %v",
		rounds, startupKills, made, len(tr.all()), time.Since(start).Round(time.Millisecond))
}

// stateDir returns a new folder for the key's state, removed at the end:
// on a tmpfs (/dev/shm) where the machine has one, else the test's
// temporary folder. SIGKILL ends the process, not the machine, so what
// the daemon wrote before it acknowledged is in the page cache whether
// or not it was synced: the kills test the same thing on either. On a
// disk each command's syncs take most of its time, and a round then
// makes and checks a third of the credentials in more time.
func stateDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "virtkey-killtest-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// buildVirtkey builds cmd/virtkey into dir.
func buildVirtkey(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "virtkey")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/virtkey/virtkey/cmd/virtkey")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type daemon struct {
	cmd    *exec.Cmd
	log    *lockedBuffer
	ready  string
	exited chan struct{} // closed when the process has been waited for
}

func startDaemon(t *testing.T, bin, state, ready string) *daemon {
	t.Helper()
	if err := os.Remove(ready); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	p := &daemon{log: &lockedBuffer{}, ready: ready, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--udp", "127.0.0.1:0", "--state", state,
		"--ready-file", ready, "--control", "off", "--log-level", "warn")
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *daemon) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// stop sends SIGTERM and returns the exit status.
func (p *daemon) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	<-p.exited
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("daemon: %v", p.cmd.ProcessState)
	}
	return nil
}

// waitReady returns the address from the ready file.
func (p *daemon) waitReady(t *testing.T) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		if b, err := os.ReadFile(p.ready); err == nil {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-p.exited:
			t.Fatalf("daemon exited before it was ready:\n%s", p.log.String())
		case <-timeout:
			t.Fatalf("daemon not ready after 10s:\n%s", p.log.String())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func connect(t *testing.T, addr string) (*client.Ctap2, *client.Device) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev, err := client.OpenUDP(ctx, addr)
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	c, err := client.New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	return c, dev
}

// verifyCred finds cr by discovery (getAssertion for its RP without an
// allow list) and by its ID in an allow list, checks the signatures, and
// that the counter only grows.
func verifyCred(t *testing.T, round int, c *client.Ctap2, cr cred, tr *tracker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := sha256.Sum256([]byte("assert " + cr.rp))
	for _, allow := range [][]ctap.CredentialDescriptor{nil, {{Type: ctap.CredentialTypePublicKey, ID: cr.id}}} {
		a, err := c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: cr.rp, ClientDataHash: h[:], AllowList: allow})
		if err != nil {
			t.Fatalf("round %d: credential %x for %s (allow list %v) lost: %v", round, cr.id, cr.rp, allow != nil, err)
		}
		if a.Credential != nil && !bytes.Equal(a.Credential.ID, cr.id) {
			t.Fatalf("round %d: %s answers with credential %x, want %x", round, cr.rp, a.Credential.ID, cr.id)
		}
		if allow == nil && (a.User == nil || string(a.User.ID) != cr.user) {
			t.Fatalf("round %d: %s: user %+v, want %s", round, cr.rp, a.User, cr.user)
		}
		if err := a.Verify(h[:], cr.pubKey); err != nil {
			t.Fatalf("round %d: %s: %v", round, cr.rp, err)
		}
		tr.mu.Lock()
		if a.AuthData.SignCount <= tr.maxCounter {
			tr.mu.Unlock()
			t.Fatalf("round %d: signature counter %d after %d was sent", round, a.AuthData.SignCount, tr.maxCounter)
		}
		tr.counter(a.AuthData.SignCount)
		tr.mu.Unlock()
	}
}

// checkStateFile loads the state as the daemon would: it must decode,
// hold every acknowledged credential and a counter at least as high as
// any the key sent.
func checkStateFile(t *testing.T, round int, path string, tr *tracker) {
	t.Helper()
	fs, err := authenticator.OpenFileStore(path)
	if err != nil {
		t.Fatalf("round %d: state does not open: %v", round, err)
	}
	st, err := fs.Load()
	fs.Close()
	if err != nil {
		t.Fatalf("round %d: state does not load: %v", round, err)
	}
	// A compaction the kill interrupted leaves its temporary file, with
	// the key's secrets; opening the state removes it.
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")); err == nil {
		t.Fatalf("round %d: the temporary state file is still there after opening the state", round)
	}
	if st == nil {
		if len(tr.all()) > 0 {
			t.Fatalf("round %d: state file gone", round)
		}
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("round %d: state file mode %v, want 0600", round, fi.Mode().Perm())
	}
	have := map[string]bool{}
	for _, c := range st.Credentials {
		have[fmt.Sprintf("%x", c.ID)] = true
	}
	for _, c := range tr.all() {
		if !have[fmt.Sprintf("%x", c.id)] {
			t.Fatalf("round %d: acknowledged credential %x for %s is not in the state file", round, c.id, c.rp)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if st.SignCount < tr.maxCounter {
		t.Fatalf("round %d: state counter %d, but %d was sent", round, st.SignCount, tr.maxCounter)
	}
}

// lockedBuffer collects a daemon's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
