package gowebauthn_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// TestSyncthingShapedLogin runs the shell walk-through of
// docs/webauthn.md: a relying party whose login API has the shapes of
// Syncthing's (a start call answering {"publicKey": request options}, a
// finish call taking {"credential": AuthenticationResponseJSON,
// "stayLoggedIn": true} and answering 204 with a session cookie), backed
// by go-webauthn as Syncthing's is, and the built virtkey binary between
// them: a daemon over UDP and `virtkey webauthn create|get`.
func TestSyncthingShapedLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the virtkey binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "virtkey")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/virtkey/virtkey/cmd/virtkey").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := startDaemon(t, ctx, bin)

	const origin = "http://localhost:8384"
	rp, err := webauthn.New(&webauthn.Config{RPID: "localhost", RPDisplayName: "Syncthing", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	admin := &user{}
	browser := func(op string, options []byte) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, "webauthn", op, "--origin", origin, "--udp", addr)
		cmd.Stdin = bytes.NewReader(options)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("virtkey webauthn %s: %v: %s", op, err, stderr.String())
		}
		return out
	}

	// Enrolment: the RP's options through virtkey webauthn create.
	creation, session, err := rp.BeginRegistration(admin)
	if err != nil {
		t.Fatal(err)
	}
	created, err := protocol.ParseCredentialCreationResponseBytes(browser("create", must(json.Marshal(creation))))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := rp.CreateCredential(admin, *session, created)
	if err != nil {
		t.Fatal(err)
	}
	admin.creds = append(admin.creds, *cred)

	// The login API.
	var pending *webauthn.SessionData
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/start", func(w http.ResponseWriter, r *http.Request) {
		assertion, s, err := rp.BeginLogin(admin, webauthn.WithUserVerification(protocol.VerificationDiscouraged))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		pending = s
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(assertion)
	})
	mux.HandleFunc("POST /login/finish", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Credential   json.RawMessage `json:"credential"`
			StayLoggedIn bool            `json:"stayLoggedIn"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || pending == nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		parsed, err := protocol.ParseCredentialRequestResponseBytes(body.Credential)
		if err == nil {
			_, err = rp.ValidateLogin(admin, *pending, parsed)
		}
		pending = nil
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		cookie := &http.Cookie{Name: "sessionid-TEST", Value: "session", Path: "/", Secure: true}
		if body.StayLoggedIn {
			cookie.MaxAge = 604800
		}
		http.SetCookie(w, cookie)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	login := func() []byte {
		t.Helper()
		resp, err := http.Get(srv.URL + "/login/start")
		if err != nil {
			t.Fatal(err)
		}
		options, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("start: %s, %v", resp.Status, err)
		}
		return browser("get", options)
	}
	finish := func(credential []byte) *http.Response {
		t.Helper()
		body := must(json.Marshal(map[string]any{"credential": json.RawMessage(credential), "stayLoggedIn": true}))
		resp, err := http.Post(srv.URL+"/login/finish", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	credential := login()
	resp := finish(credential)
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge != 604800 {
		t.Fatalf("finish: %s, cookies %v", resp.Status, resp.Cookies())
	}
	// The same response again, for a new login: refused.
	login()
	if resp := finish(credential); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("replayed login: %s", resp.Status)
	}
}

// startDaemon runs `virtkey serve --udp 127.0.0.1:0` and returns the
// address its log says it serves.
func startDaemon(t *testing.T, ctx context.Context, bin string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, "serve", "--udp", "127.0.0.1:0", "--control", "off")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	serving := regexp.MustCompile(`msg=serving transport="udp ([0-9.:]+)"`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := serving.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1]
		}
	}
	t.Fatalf("virtkey serve ended without serving: %v", sc.Err())
	return ""
}
