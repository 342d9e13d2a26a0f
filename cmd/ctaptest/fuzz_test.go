package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
