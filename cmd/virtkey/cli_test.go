package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCLIScripts runs the scripts in testdata/script against the built
// virtkey binary, as a user would type the commands, in the manner of
// filippo.io/age's cmd/age/testdata: help texts, exit codes and error
// messages are checked, not only code paths. The script language:
//
//	# comment
//	env NAME=VALUE          set (or, with an empty VALUE, unset) a variable
//	[!] virtkey ARGS...     run virtkey; ! expects a non-zero exit status
//	virtkey ARGS... &       run virtkey in the background (one at a time)
//	waitlog REGEXP          wait until the background's stderr has a matching line
//	stop                    SIGINT the background and wait for it to exit
//	exit N                  the last command exited with status N
//	[!] stdout|stderr RE    the last command's output matches RE (multi-line mode)
//	skipif root             skip the rest of the script when running as root
//	asnobody                run the next commands as user nobody (65534) when root,
//	                        with TMPDIR a folder anyone may write, as /tmp is
//
// Arguments are split at spaces; '...' quotes one argument. $WORK is the
// script's own temporary folder, which is also HOME and holds XDG_RUNTIME_DIR.
func TestCLIScripts(t *testing.T) {
	binDir := t.TempDir()
	bin := filepath.Join(binDir, "virtkey")
	// Readable by all, for scripts that run it as another user (asnobody).
	for _, d := range []string{binDir, filepath.Dir(binDir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// virtkey is this test binary run as virtkey (TestMain), copied where
	// the other user can run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	scripts, err := filepath.Glob(filepath.Join("testdata", "script", "*.txt"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range scripts {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s := newScript(t, bin)
			defer s.cleanup()
			for i, line := range strings.Split(string(src), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				if err := s.step(line); err != nil {
					t.Fatalf("%s:%d: %s: %v", path, i+1, line, err)
				}
			}
		})
	}
}

type script struct {
	t    *testing.T
	bin  string
	work string
	env  map[string]string

	// The last command that finished.
	stdout, stderr string
	code           int

	bg *background
	// asNobody runs commands as uid/gid 65534 (asnobody, as root only).
	asNobody bool
}

type background struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	lines  chan string // the background's stderr, line by line
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{} // closed when stderr is read to the end
}

func newScript(t *testing.T, bin string) *script {
	work := t.TempDir()
	run := filepath.Join(work, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	return &script{t: t, bin: bin, work: work, env: map[string]string{
		"HOME": work, "XDG_RUNTIME_DIR": run, "PATH": os.Getenv("PATH"), "TMPDIR": work,
	}}
}

func (s *script) cleanup() {
	if s.bg != nil {
		s.bg.cmd.Process.Kill()
		s.bg.cmd.Wait()
	}
}

func (s *script) environ() []string {
	var env []string
	for k, v := range s.env {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// fields splits a line at spaces, with '...' quoting, and expands $WORK.
func (s *script) fields(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if have {
		out = append(out, cur.String())
	}
	for i := range out {
		out[i] = strings.ReplaceAll(out[i], "$WORK", s.work)
	}
	return out, nil
}

func (s *script) step(line string) error {
	f, err := s.fields(line)
	if err != nil {
		return err
	}
	neg := f[0] == "!"
	if neg {
		f = f[1:]
		if len(f) == 0 {
			return fmt.Errorf("! without a command")
		}
	}
	switch f[0] {
	case "env":
		if len(f) != 2 || !strings.Contains(f[1], "=") {
			return fmt.Errorf("usage: env NAME=VALUE")
		}
		k, v, _ := strings.Cut(f[1], "=")
		s.env[k] = v
	case "virtkey":
		if f[len(f)-1] == "&" {
			if neg {
				return fmt.Errorf("! with a background command")
			}
			return s.start(f[1 : len(f)-1])
		}
		return s.run(f[1:], neg)
	case "waitlog":
		if len(f) != 2 {
			return fmt.Errorf("usage: waitlog REGEXP")
		}
		return s.waitlog(f[1])
	case "stop":
		return s.stop()
	case "asnobody":
		if os.Geteuid() != 0 {
			return nil // already not root
		}
		tmp := filepath.Join(s.work, "tmp")
		if err := os.Mkdir(tmp, 0o777|os.ModeSticky); err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil { // past the umask
			return err
		}
		for _, d := range []string{s.work, filepath.Dir(s.work)} {
			if err := os.Chmod(d, 0o755); err != nil {
				return err
			}
		}
		s.env["TMPDIR"], s.env["HOME"] = tmp, tmp
		s.asNobody = true
	case "skipif":
		if len(f) != 2 || f[1] != "root" {
			return fmt.Errorf("usage: skipif root")
		}
		if os.Geteuid() == 0 {
			s.t.Skip("runs as root")
		}
	case "exit":
		want, err := strconv.Atoi(f[1])
		if err != nil || len(f) != 2 {
			return fmt.Errorf("usage: exit N")
		}
		if s.code != want {
			return fmt.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", s.code, want, s.stdout, s.stderr)
		}
	case "stdout", "stderr":
		if len(f) != 2 {
			return fmt.Errorf("usage: %s REGEXP", f[0])
		}
		re, err := regexp.Compile("(?m)" + f[1])
		if err != nil {
			return err
		}
		out := s.stdout
		if f[0] == "stderr" {
			out = s.stderr
		}
		if re.MatchString(out) == neg {
			verb := "does not match"
			if neg {
				verb = "matches"
			}
			return fmt.Errorf("%s %s:\n%s", f[0], verb, out)
		}
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	return nil
}

// prepare gives cmd the script's environment, folder and user.
func (s *script) prepare(cmd *exec.Cmd) {
	cmd.Env = append(s.environ(), asVirtkey+"=1")
	cmd.Dir = s.work
	if s.asNobody {
		cmd.Dir = s.env["TMPDIR"]
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
}

func (s *script) run(args []string, neg bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	s.prepare(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	s.stdout, s.stderr, s.code = stdout.String(), stderr.String(), 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return err
		}
		s.code = ee.ExitCode()
	}
	if (s.code != 0) != neg {
		return fmt.Errorf("exit status %d\nstdout:\n%s\nstderr:\n%s", s.code, s.stdout, s.stderr)
	}
	return nil
}

func (s *script) start(args []string) error {
	if s.bg != nil {
		return fmt.Errorf("a background command runs already")
	}
	cmd := exec.Command(s.bin, args...)
	s.prepare(cmd)
	bg := &background{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	cmd.Stdout = &bg.stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		defer close(bg.done)
		defer close(bg.lines)
		r := bufio.NewReader(pipe)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				bg.mu.Lock()
				bg.stderr.WriteString(line)
				bg.mu.Unlock()
				select {
				case bg.lines <- line:
				default: // nobody waits for it
				}
			}
			if err != nil {
				io.Copy(io.Discard, pipe)
				return
			}
		}
	}()
	s.bg = bg
	return nil
}

// waitlog waits for a line of the background's stderr that matches.
func (s *script) waitlog(expr string) error {
	re, err := regexp.Compile(expr)
	if err != nil {
		return err
	}
	if s.bg == nil {
		return fmt.Errorf("nothing runs in the background")
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-s.bg.lines:
			if !ok {
				return fmt.Errorf("the background command ended without a line matching %q", expr)
			}
			if re.MatchString(line) {
				return nil
			}
		case <-timeout.C:
			return fmt.Errorf("no line matching %q in 30s", expr)
		}
	}
}

func (s *script) stop() error {
	bg := s.bg
	if bg == nil {
		return fmt.Errorf("nothing runs in the background")
	}
	s.bg = nil
	if err := bg.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	<-bg.done
	err := bg.cmd.Wait()
	bg.mu.Lock()
	s.stdout, s.stderr, s.code = bg.stdout.String(), bg.stderr.String(), 0
	bg.mu.Unlock()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return err
		}
		s.code = ee.ExitCode()
	}
	return nil
}
