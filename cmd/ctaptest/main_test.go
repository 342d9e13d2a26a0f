package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestList(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--list"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(l, "# ") { // the ID prefixes, explained
			lines = append(lines, l)
		}
	}
	if len(lines) < 60 {
		t.Fatalf("--list printed %d cases, want at least 60", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, "§") {
			t.Errorf("line without a section: %q", l)
		}
	}
}

func TestRunSelection(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"--run", "^gi-"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
	last := regexp.MustCompile(`(?m)^(\d+) passed, 0 failed, 0 skipped$`).FindStringSubmatch(out.String())
	if last == nil || last[1] == "0" {
		t.Fatalf("no closing line with passes:\n%s", out.String())
	}
	if strings.Contains(out.String(), "PASS mc-") {
		t.Fatalf("--run ^gi- ran makeCredential cases")
	}
}

func TestBadFlags(t *testing.T) {
	// No key at the address: ctaptest waits udpPreflight for one to
	// answer. Not a parallel test, so that no other run sees the short
	// wait; testdata/errors.txt waits the real 3 s.
	defer func(d time.Duration) { udpPreflight = d }(udpPreflight)
	udpPreflight = 100 * time.Millisecond
	var out, errb bytes.Buffer
	if code := run([]string{"--run", "("}, &out, &errb); code != 2 {
		t.Fatalf("bad regexp: exit %d, want 2", code)
	}
	if code := run([]string{"--udp", "127.0.0.1:1", "--wait", "1ms", "--run", "^gi-versions$"}, &out, &errb); code != 1 {
		t.Fatalf("no key at the address: exit %d, want 1", code)
	}
}
