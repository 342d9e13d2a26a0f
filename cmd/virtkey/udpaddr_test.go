package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestUDPRemoteRefused checks that --udp listens on other interfaces only
// with --udp-allow-remote: the UDP transport has no access control.
func TestUDPRemoteRefused(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string // "" means the flags are accepted
	}{
		{[]string{"--udp", "127.0.0.1:8111"}, ""},
		{[]string{"--udp", "127.0.0.2:0"}, ""},
		{[]string{"--udp", "[::1]:8111"}, ""},
		{[]string{"--udp", "0.0.0.0:8111"}, "not a loopback address"},
		{[]string{"--udp", ":8111"}, "not a loopback address"},
		{[]string{"--udp", "[::]:8111"}, "not a loopback address"},
		{[]string{"--udp", "192.0.2.1:8111"}, "not a loopback address"},
		{[]string{"--udp", "0.0.0.0:8111", "--udp-allow-remote"}, ""},
		{[]string{"--udp", ":8111", "--udp-allow-remote"}, ""},
		{[]string{"--udp", "8111"}, "want HOST:PORT"},
		{[]string{"--udp-allow-remote"}, "goes with --udp"},
	} {
		_, err := parseServeFlags(append(tc.args, "--control", "off"), io.Discard)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.wantErr)
		}
	}

	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--udp", "0.0.0.0:0", "--control", "off"}, io.Discard, &stderr); code != 2 {
		t.Errorf("serve --udp 0.0.0.0:0 exited %d, want 2; stderr:\n%s", code, &stderr)
	}
	if !strings.Contains(stderr.String(), "--udp-allow-remote") {
		t.Errorf("the refusal does not name --udp-allow-remote:\n%s", &stderr)
	}
	var help bytes.Buffer
	run(context.Background(), []string{"serve", "--help"}, io.Discard, &help)
	if !strings.Contains(help.String(), "no access control") {
		t.Errorf("serve --help does not say why --udp-allow-remote exists:\n%s", &help)
	}
}
