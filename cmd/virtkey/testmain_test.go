package main

import (
	"os"
	"testing"
)

// asVirtkey is the environment variable that makes the test binary run
// as virtkey (TestMain).
const asVirtkey = "VIRTKEY_TEST_AS_MAIN"

// TestMain runs the tests; with asVirtkey=1 in its environment the test
// binary is virtkey instead, what main runs with the arguments it was
// given. TestCLIScripts runs its scripts against a copy of this binary,
// as filippo.io/age's script tests do, rather than linking virtkey once
// more.
func TestMain(m *testing.M) {
	if os.Getenv(asVirtkey) == "1" {
		main()
	}
	os.Exit(m.Run())
}
