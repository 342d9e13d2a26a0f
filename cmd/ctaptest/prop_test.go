package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/prop"
)

func TestPropInProcess(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"prop", "--checks", "5", "--steps", "20", "--seed", "1"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "5 sequences, 100 steps") || !strings.Contains(out.String(), "the key followed the model") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestPropReplay(t *testing.T) {
	file := filepath.Join(t.TempDir(), "seq.json")
	seq := prop.Failure{Seed: 1, Actions: []prop.Action{
		{Op: prop.OpMakeCredential, RP: 1, User: 0, RK: true},
		{Op: prop.OpMakeCredential, RP: 1, User: 2, RK: true},
		{Op: prop.OpGetAssertion, RP: 1},
	}}
	b, err := json.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"prop", "--replay", file}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "followed the model on all 3 actions") || !strings.Contains(out.String(), "credential #2 then #1") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestPropRefusesSharedKeyWithoutConsent(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"prop", "--udp", "127.0.0.1:1"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "--allow-destructive") {
		t.Errorf("stderr: %s", errb.String())
	}
}
