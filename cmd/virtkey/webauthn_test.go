package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/webauthn"
)

// runWebauthn runs virtkey webauthn with stdin.
func runWebauthn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	webauthnStdin = strings.NewReader(stdin)
	t.Cleanup(func() { webauthnStdin = os.Stdin })
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"webauthn"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestWebauthnCommand registers and logs in through the shell command
// against a daemon over UDP, with the options wrapped as Syncthing sends
// them; a second registration of an excluded credential prints
// InvalidStateError and exits 1.
func TestWebauthnCommand(t *testing.T) {
	addr, _ := startDaemon(t)
	b64 := base64.RawURLEncoding.EncodeToString
	create := `{"publicKey":{"rp":{"name":"Syncthing","id":"localhost"},"user":{"id":"` + b64([]byte("admin")) +
		`","name":"admin","displayName":"admin"},"challenge":"` + b64([]byte("registration challenge")) +
		`","pubKeyCredParams":[{"type":"public-key","alg":-7}],"timeout":60000,"attestation":"none"}}`
	code, out, errs := runWebauthn(t, create, "create", "--origin", "http://localhost:8384", "--udp", addr)
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errs)
	}
	var reg webauthn.RegistrationResponseJSON
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatalf("create output: %v\n%s", err, out)
	}
	if reg.Type != "public-key" || len(reg.RawID) == 0 || reg.Response.PublicKeyAlgorithm != -7 {
		t.Fatalf("create output %s", out)
	}
	get := `{"publicKey":{"challenge":"` + b64([]byte("login challenge")) + `","rpId":"localhost","allowCredentials":[{"type":"public-key","id":"` +
		reg.ID + `","transports":["usb"]}],"userVerification":"discouraged"}}`
	code, out, errs = runWebauthn(t, get, "get", "--origin", "http://localhost:8384", "--udp", addr)
	if code != 0 {
		t.Fatalf("get: exit %d: %s", code, errs)
	}
	var ar webauthn.AuthenticationResponseJSON
	if err := json.Unmarshal([]byte(out), &ar); err != nil || ar.ID != reg.ID || len(ar.Response.Signature) == 0 {
		t.Fatalf("get output %s (%v)", out, err)
	}
	excl := strings.Replace(create, `"attestation":"none"`, `"excludeCredentials":[{"type":"public-key","id":"`+reg.ID+`"}]`, 1)
	code, out, errs = runWebauthn(t, excl, "create", "--origin", "http://localhost:8384", "--udp", addr)
	if code != 1 || out != "" || !strings.Contains(errs, "InvalidStateError") {
		t.Fatalf("excluded: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = runWebauthn(t, create, "create", "--origin", "http://example.com", "--udp", addr)
	if code != 1 || !strings.Contains(errs, "SecurityError") {
		t.Fatalf("insecure origin: exit %d, stderr %q", code, errs)
	}
}

// TestWebauthnCommandPIN: a discoverable credential on a key with a PIN
// takes the PIN from --pin-file; without it the command fails with
// NotAllowedError.
func TestWebauthnCommandPIN(t *testing.T) {
	addr, _ := startDaemon(t)
	c := connect(t, addr)
	cp, err := client.NewClientPin(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.SetPIN(context.Background(), "4711pin"); err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte("4711pin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	create := `{"rp":{"name":"Example","id":"example.com"},"user":{"id":"dQ","name":"u","displayName":"u"},"challenge":"Y2g",` +
		`"pubKeyCredParams":[{"type":"public-key","alg":-7}],"authenticatorSelection":{"residentKey":"required","userVerification":"required"}}`
	code, _, errs := runWebauthn(t, create, "create", "--origin", "https://example.com", "--udp", addr)
	if code != 1 || !strings.Contains(errs, "NotAllowedError") {
		t.Fatalf("without the PIN: exit %d, stderr %q", code, errs)
	}
	code, out, errs := runWebauthn(t, create, "create", "--origin", "https://example.com", "--udp", addr, "--pin-file", pinFile)
	if code != 0 {
		t.Fatalf("with the PIN: exit %d: %s", code, errs)
	}
	var reg webauthn.RegistrationResponseJSON
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runWebauthn(t, `{"challenge":"Y2g","rpId":"example.com","userVerification":"required"}`,
		"get", "--origin", "https://example.com", "--udp", addr, "--pin-file", pinFile, "--user", "u")
	if code != 0 || !strings.Contains(out, reg.ID) {
		t.Fatalf("discoverable login: exit %d, stdout %s, stderr %s", code, out, errs)
	}
}

// TestWebauthnCommandUsage: usage errors exit 2.
func TestWebauthnCommandUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"sign"}, {"create"}, {"get", "--origin", "https://x.example", "--udp", "a", "--device", "b"}, {"get", "extra"}} {
		if code, _, _ := runWebauthn(t, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := runWebauthn(t, "", "--help"); code != 0 || !strings.Contains(out, "--origin") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

// TestWebauthnCommandU2F: on the u2f profile (CTAP1/U2F only) the command
// registers with a fido-u2f attestation and logs in with U2F signatures
// (CTAP 2.1 §10), as a browser does with such a key.
func TestWebauthnCommandU2F(t *testing.T) {
	addr, _ := startDaemon(t, "--profile", "u2f")
	create := `{"rp":{"name":"Example","id":"example.com"},"user":{"id":"dQ","name":"u","displayName":"u"},"challenge":"Y2hhbGxlbmdl",` +
		`"pubKeyCredParams":[{"type":"public-key","alg":-7}],"attestation":"direct"}`
	code, out, errs := runWebauthn(t, create, "create", "--origin", "https://example.com", "--udp", addr)
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errs)
	}
	var reg webauthn.RegistrationResponseJSON
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	var obj map[string]ctap.RawMessage
	if err := ctap.Unmarshal(reg.Response.AttestationObject, &obj); err != nil {
		t.Fatal(err)
	}
	var fmtName string
	if err := ctap.Unmarshal(obj["fmt"], &fmtName); err != nil || fmtName != "fido-u2f" {
		t.Fatalf("fmt %q (%v), want fido-u2f", fmtName, err)
	}
	get := `{"challenge":"bG9naW4","rpId":"example.com","allowCredentials":[{"type":"public-key","id":"` + reg.ID + `"}]}`
	code, out, errs = runWebauthn(t, get, "get", "--origin", "https://example.com", "--udp", addr)
	if code != 0 || !strings.Contains(out, reg.ID) {
		t.Fatalf("get: exit %d, stdout %s, stderr %s", code, out, errs)
	}
}
