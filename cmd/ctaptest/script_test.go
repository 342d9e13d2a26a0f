package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestScripts runs testdata/*.txt against the built ctaptest binary, in
// the manner of filippo.io/age's cmd/age/testdata: each line is a command
// and the lines after it check what it did.
//
//	exec ctaptest ARGS...   run the binary (ARGS split on spaces; '...' quotes)
//	status N                the exit status was N
//	stdout REGEXP           stdout matches (multi-line mode)
//	stderr REGEXP           stderr matches
//	! stdout REGEXP         stdout does not match (also ! stderr)
//
// Lines starting with # are comments. ctaptest is this test binary run as
// ctaptest (TestMain).
func TestScripts(t *testing.T) {
	t.Parallel() // errors.txt waits out the 3 s for a key that is not there
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob("testdata/*.txt")
	if len(scripts) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, path := range scripts {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			runScript(t, bin, path)
		})
	}
}

func runScript(t *testing.T, bin, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	var stdout, stderr string
	status := -1
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "! ")
		line = strings.TrimPrefix(line, "! ")
		verb, arg, _ := strings.Cut(line, " ")
		switch verb {
		case "exec":
			args := splitArgs(arg)
			if len(args) == 0 || args[0] != "ctaptest" {
				t.Fatalf("%s:%d: exec runs ctaptest only", path, n)
			}
			cmd := exec.Command(bin, args[1:]...)
			cmd.Env = append(os.Environ(), asCtaptest+"=1")
			cmd.Dir = dir
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			status = 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			stdout, stderr = o.String(), e.String()
		case "status":
			want, err := strconv.Atoi(arg)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			if status != want {
				t.Errorf("%s:%d: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", path, n, status, want, stdout, stderr)
			}
		case "stdout", "stderr":
			out := map[string]string{"stdout": stdout, "stderr": stderr}[verb]
			re, err := regexp.Compile("(?m)" + arg)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			if re.MatchString(out) == neg {
				t.Errorf("%s:%d: %s %s match %q:\n%s", path, n, verb, map[bool]string{false: "does not", true: "does"}[neg], arg, out)
			}
		default:
			t.Fatalf("%s:%d: unknown verb %q", path, n, verb)
		}
	}
}

// splitArgs splits s on spaces, keeping '...' together.
func splitArgs(s string) []string {
	var args []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '\'' {
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return append(args, s[1:])
			}
			args = append(args, s[1:end+1])
			s = s[end+2:]
			continue
		}
		word, rest, _ := strings.Cut(s, " ")
		args = append(args, word)
		s = rest
	}
	return args
}
