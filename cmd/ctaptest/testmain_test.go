package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// asCtaptest is the environment variable that makes the test binary run
// as ctaptest (TestMain).
const asCtaptest = "CTAPTEST_TEST_AS_MAIN"

// TestMain runs the tests; with asCtaptest=1 in its environment the test
// binary is ctaptest instead, what main runs with the arguments it was
// given. TestScripts runs its scripts against this binary re-executed,
// as filippo.io/age's script tests do, rather than linking ctaptest
// once more.
func TestMain(m *testing.M) {
	if os.Getenv(asCtaptest) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the virtkey daemon buildVirtkey built, once for all the tests
// that start one.
var built struct {
	once     sync.Once
	dir, bin string
	skip     string
	err      error
	out      []byte
}

// buildVirtkey builds the daemon, once for the test binary, and returns
// its path.
func buildVirtkey(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if _, err := exec.LookPath("go"); err != nil {
			built.skip = "no go command to build the daemon with"
			return
		}
		if built.dir, built.err = os.MkdirTemp("", "ctaptest-virtkey-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "virtkey")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, "../virtkey").CombinedOutput()
	})
	switch {
	case built.skip != "":
		t.Skip(built.skip)
	case built.err != nil:
		t.Fatalf("go build ../virtkey: %v\n%s", built.err, built.out)
	}
	return built.bin
}
