package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestProfileNames checks that `virtkey profiles --names` prints the
// profiles `virtkey profiles` lists, one name a line and nothing else:
// scripts (interop/profiles.sh) serve each name it prints.
func TestProfileNames(t *testing.T) {
	var out, errOut, list bytes.Buffer
	if code := run(context.Background(), []string{"profiles", "--names"}, &out, &errOut); code != 0 {
		t.Fatalf("profiles --names: exit %d: %s", code, errOut.String())
	}
	if code := run(context.Background(), []string{"profiles"}, &list, &errOut); code != 0 {
		t.Fatalf("profiles: exit %d: %s", code, errOut.String())
	}
	names := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(names) < 2 {
		t.Fatalf("profiles --names printed %q", out.String())
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, " \t") || seen[n] {
			t.Errorf("profiles --names printed %q: not one name a line, each once", out.String())
		}
		seen[n] = true
		if !strings.Contains(list.String(), n) {
			t.Errorf("profiles --names printed %q, which `virtkey profiles` does not list", n)
		}
	}
	if code := run(context.Background(), []string{"profiles", "--bogus"}, &out, &errOut); code != 2 {
		t.Errorf("profiles --bogus: exit %d, want 2", code)
	}
}
