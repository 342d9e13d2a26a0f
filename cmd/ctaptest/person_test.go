package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtkey/virtkey/control"
)

// standIn is a virtkey daemon standing in for a hardware key: a process
// that a test kills to unplug the key and starts again, on the same
// address and state file, to plug it back in. Its control socket is the
// person's hands: what the person does to the key (touch, decline, keep
// off) is scripted there, never by ctaptest, which runs without
// --control.
type standIn struct {
	t                 *testing.T
	bin, addr, state  string
	sock, profile     string
	cmd               *exec.Cmd
	exited            chan struct{}
	presence          control.Presence
	starts, killCount int
}

// start runs the daemon and returns once it serves: its log says so.
func (s *standIn) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "serve", "--udp", s.addr, "--state", s.state, "--control", s.sock,
		"--profile", s.profile, "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	serving := make(chan struct{})
	s.exited = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "msg=serving") {
				once.Do(func() { close(serving) })
			}
		}
		cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-serving:
	case <-s.exited:
		s.t.Fatalf("the stand-in daemon exited before serving")
	}
	s.cmd = cmd
	s.starts++
	s.setPresence(s.presence)
}

// kill pulls the plug: SIGKILL, no chance to save anything more.
func (s *standIn) kill() {
	s.cmd.Process.Kill()
	<-s.exited
	s.killCount++
}

// setPresence is what the person's hand does from now on.
func (s *standIn) setPresence(p control.Presence) {
	s.presence = p
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := control.Dial(s.sock).Call(ctx, &control.Request{Op: control.OpPresence, Presence: p.String()}); err != nil {
		s.t.Errorf("the person's hand: %v", err)
	}
}

func freeUDPAddr(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// TestPersonOnStandIn is the hardware run without hardware: ctaptest
// --person against a virtkey daemon over UDP, without --control. The
// test reads ctaptest's prompts and does what a person would: it sets
// what the person's hand does on the key, presses Enter, and for "unplug
// the key" kills the daemon, waits for ctaptest to see it gone, and starts
// it again. Every case that needs no sensor and no clock must run and
// pass. By default a selection runs (the presence and power-cycle cases
// and a sample of the rest); VIRTKEY_PERSON_ALL=1 runs the whole suite,
// destructive cases included.
func TestPersonOnStandIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts a daemon")
	}
	t.Parallel() // it waits on the daemon, as the other parallel tests do
	s := &standIn{t: t, bin: buildVirtkey(t), addr: freeUDPAddr(t), profile: "fido21",
		state: filepath.Join(t.TempDir(), "key.state"), sock: filepath.Join(t.TempDir(), "c.sock")}
	s.start()
	defer func() { s.kill() }()

	args := []string{"--udp", s.addr, "--person", "--can-decline", "--case-timeout", "20s"}
	if os.Getenv("VIRTKEY_PERSON_ALL") == "1" {
		args = append(args, "--allow-destructive")
	} else {
		args = append(args, "--allow-destructive", "--run",
			`^(info-reset.*|info-selection.*|info-power-cycle.*|mc-.*(deny|denied|timeout|cancel|up).*|ga-.*(deny|denied|timeout|cancel|up).*|hid-.*cancel.*|cp-v2-(set-pin|blocked.*|power.*)|gi-.*)$`)
	}

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	oldStdin := stdin
	stdin = inR
	defer func() { stdin = oldStdin }()

	var transcript strings.Builder
	done := make(chan int, 1)
	go func() {
		defer outW.Close()
		done <- run(args, outW, outW)
	}()
	sc := bufio.NewScanner(outR)
	prompts := map[string]int{}
	for sc.Scan() {
		line := sc.Text()
		transcript.WriteString(line + "\n")
		if !strings.HasPrefix(line, ">>> ") {
			continue
		}
		prompt := strings.TrimPrefix(line, ">>> ")
		switch {
		case strings.HasPrefix(prompt, "touch the key whenever"):
			s.setPresence(control.PresenceAuto)
		case strings.HasPrefix(prompt, "decline on the key"):
			s.setPresence(control.PresenceDeny)
		case strings.HasPrefix(prompt, "do NOT touch the key: let its requests time out"):
			s.setPresence(control.PresenceTimeout)
		case strings.HasPrefix(prompt, "do NOT touch the key"):
			s.setPresence(control.PresenceWait)
		case prompt == "unplug the key":
			s.kill()
		case prompt == "the key is gone: plug it back in":
			s.start()
		case prompt == "the key is back":
		default:
			t.Errorf("a prompt the person does not understand: %q", prompt)
		}
		prompts[strings.SplitN(prompt, ":", 2)[0]]++
		if strings.HasSuffix(prompt, "press Enter when ready") {
			fmt.Fprintln(inW, "")
		}
	}
	code := <-done
	inW.Close()
	out := transcript.String()
	m := regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed, (\d+) skipped`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary (exit %d):\n%s", code, out)
	}
	passed, _ := strconv.Atoi(m[1])
	failed, _ := strconv.Atoi(m[2])
	skipped, _ := strconv.Atoi(m[3])
	t.Logf("ctaptest --person on a stand-in key: %d passed, %d failed, %d skipped; %d replugs; prompts %v", passed, failed, skipped, s.killCount, prompts)
	if m := regexp.MustCompile(`(?m)^\d+ skipped: .*$`).FindString(out); m != "" {
		t.Log(m)
	}
	if failed > 0 || code != 0 {
		t.Errorf("exit %d with %d failures:\n%s", code, failed, out)
	}
	if s.killCount == 0 || prompts["unplug the key"] != s.killCount {
		t.Errorf("%d replugs for %d unplug prompts", s.killCount, prompts["unplug the key"])
	}
	// What may skip: cases that need a sensor, scripted UV or the clock,
	// and cases for keys of another kind.
	allowed := regexp.MustCompile(`lacks (clock|uv|fingerprint)|need (clock|uv|fingerprint)|no configured built-in user verification|does not list|clock|fingerprint|UV control|user verification is not scripted`)
	for _, l := range regexp.MustCompile(`(?m)^(?:\[\d+/\d+\] )?SKIP (\S+).*\n((?:    .*\n)*)`).FindAllStringSubmatch(out, -1) {
		if !allowed.MatchString(l[2]) {
			t.Errorf("skipped on a key with a person at it: %s: %s", l[1], strings.TrimSpace(l[2]))
		}
	}
}
