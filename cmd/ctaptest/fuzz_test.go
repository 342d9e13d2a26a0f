package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/devfuzz"
)

func TestFuzzInProcessCLI(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"fuzz", "--inputs", "30", "--seed", "1", "--out", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "30 inputs, 30 executions") || !strings.Contains(out.String(), "0 findings") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestFuzzReplayCLI(t *testing.T) {
	file := filepath.Join(t.TempDir(), "repro.json")
	f := devfuzz.Finding{Kind: devfuzz.KindDead, Input: devfuzz.Input{Origin: "PING", Frames: []devfuzz.Frame{
		{Chan: 0, Report: ctaphid.InitPacket(0, ctaphid.CmdPing, 3, []byte("abc"))},
	}}}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"fuzz", "--replay", file}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "the key survived the input") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestFuzzCatchesCrashOverUDP: a virtkey daemon with a crash planted in
// clientPIN's protocol check (virtkey serve --fault pin-protocol-crash)
// dies under ctaptest fuzz; the fuzzer reports that the key stopped
// answering and writes a reproducer, which crashes a restarted daemon
// again through --replay.
func TestFuzzCatchesCrashOverUDP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a daemon")
	}
	t.Parallel() // it waits on the daemon, as the other parallel tests do
	bin := buildVirtkey(t)
	addr := freeUDPAddr(t)
	start := func() chan error {
		cmd := exec.Command(bin, "serve", "--udp", addr, "--control", "off", "--fault", "pin-protocol-crash", "--log-level", "info")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		serving := make(chan struct{})
		exited := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			once := sync.Once{}
			for sc.Scan() {
				if strings.Contains(sc.Text(), "msg=serving") {
					once.Do(func() { close(serving) })
				}
			}
			exited <- cmd.Wait()
		}()
		t.Cleanup(func() { cmd.Process.Kill() })
		select {
		case <-serving:
		case err := <-exited:
			t.Fatalf("the daemon ended before serving: %v", err)
		}
		return exited
	}
	exited := start()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"fuzz", "--udp", addr, "--wait", "100ms", "--inputs", "3000", "--seed", "3", "--out", dir}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "FINDING: the key stopped answering") {
		t.Fatalf("exit %d, want 1 with a finding\n%s%s", code, out.String(), errb.String())
	}
	select {
	case err := <-exited:
		t.Logf("the daemon ended: %v", err)
	default:
		t.Fatalf("the key stopped answering but the daemon did not crash:\n%s", out.String())
	}
	repros, err := filepath.Glob(filepath.Join(dir, "ctaptest-fuzz-*.json"))
	if err != nil || len(repros) != 1 {
		t.Fatalf("reproducers %v (%v)", repros, err)
	}
	t.Logf("%s", out.String())

	start()
	out.Reset()
	errb.Reset()
	code = run([]string{"fuzz", "--udp", addr, "--wait", "100ms", "--replay", repros[0]}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "stopped answering") {
		t.Fatalf("replay: exit %d, want 1 with the finding again\n%s%s", code, out.String(), errb.String())
	}
}
