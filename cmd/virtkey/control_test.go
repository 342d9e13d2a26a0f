package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/profile"
)

// startControlled runs a daemon with a control socket and returns the
// socket's path with the UDP address.
func startControlled(t *testing.T, args ...string) (addr, sock string, logs *lockedBuffer, stop func() int) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "c.sock")
	addr, logs, stop = startDaemonLogs(t, append([]string{"--control", sock}, args...)...)
	return addr, sock, logs, stop
}

// ctl runs a control subcommand against sock.
func ctl(t *testing.T, sock string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append(args, "--control", sock), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustCtl runs a control subcommand that must succeed.
func mustCtl(t *testing.T, sock string, args ...string) string {
	t.Helper()
	code, out, errOut := ctl(t, sock, args...)
	if code != 0 {
		t.Fatalf("virtkey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// ctlErr runs a control subcommand from any goroutine.
func ctlErr(t *testing.T, sock string, args ...string) error {
	if code, _, errOut := ctl(t, sock, args...); code != 0 {
		return fmt.Errorf("virtkey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return nil
}

func makeCredRequest(rp string, user string) *ctap.MakeCredentialRequest {
	h := sha256.Sum256([]byte(rp + user))
	return &ctap.MakeCredentialRequest{
		ClientDataHash: h[:], RP: &ctap.RPEntity{ID: rp},
		User:             &ctap.UserEntity{ID: []byte(user)},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
		Options:          map[string]bool{ctap.OptionRK: true},
	}
}

// async runs f in a goroutine and returns its error on a channel.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func TestControlTouchDenyStatus(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.state")
	addr, sock, _, stop := startControlled(t, "--presence", "control", "--state", state)
	defer stop()
	c := connect(t, addr)
	ctx := context.Background()

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want 0600", fi.Mode().Perm())
	}

	if code, _, errOut := ctl(t, sock, "touch"); code != 1 || !strings.Contains(errOut, "nothing is waiting") {
		t.Errorf("touch with nothing waiting: exit %d, %q", code, errOut)
	}

	// makeCredential waits until `virtkey touch`.
	done := async(func() error {
		_, err := c.MakeCredential(ctx, makeCredRequest("example.com", "alice"))
		return err
	})
	out := mustCtl(t, sock, "status", "--wait")
	if !strings.Contains(out, "waiting for a touch for makeCredential on example.com since ") {
		t.Errorf("status while makeCredential waits:\n%s", out)
	}
	if out := mustCtl(t, sock, "touch"); !strings.Contains(out, "touched for makeCredential on example.com") {
		t.Errorf("touch: %q", out)
	}
	if err := <-done; err != nil {
		t.Fatalf("makeCredential after touch: %v", err)
	}

	var st daemonStatus
	if err := json.Unmarshal([]byte(mustCtl(t, sock, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	want := stateSummary{Credentials: 1, RPs: []string{"example.com"}, SignCount: 1}
	got := stateSummary{Credentials: st.Credentials, RPs: st.RPs, PINSet: st.PINSet, PINRetries: st.PINRetries, SignCount: st.SignCount}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after makeCredential (-want +got):\n%s", diff)
	}
	if st.Waiting != nil || st.Presence != "control" || st.Profile != defaultProfile || st.State != state {
		t.Errorf("status: %+v", st)
	}
	out = mustCtl(t, sock, "status")
	for _, s := range []string{"resident credentials: 1 on 1 RP (example.com)", "PIN: not set", "signature counter: 1", "waiting for nothing"} {
		if !strings.Contains(out, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}

	// getAssertion is declined with `virtkey deny --wait`, issued first.
	denied := async(func() error { return ctlErr(t, sock, "deny", "--wait") })
	h := sha256.Sum256([]byte("assert"))
	_, err = c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: h[:]})
	if !errors.Is(err, ctap.StatusOperationDenied) {
		t.Fatalf("getAssertion after deny: %v", err)
	}
	if err := <-denied; err != nil {
		t.Fatal(err)
	}

	// touch --wait, issued before the request, answers it.
	touched := async(func() error { return ctlErr(t, sock, "touch", "--wait") })
	if _, err := c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: h[:]}); err != nil {
		t.Fatalf("getAssertion after touch --wait: %v", err)
	}
	if err := <-touched; err != nil {
		t.Fatal(err)
	}
}

func TestControlPowerCycle(t *testing.T) {
	addr, sock, _, stop := startControlled(t, "--presence", "control")
	defer stop()
	c := connect(t, addr)

	done := async(func() error {
		_, err := c.MakeCredential(context.Background(), makeCredRequest("example.com", "bob"))
		return err
	})
	mustCtl(t, sock, "status", "--wait")
	if out := mustCtl(t, sock, "power-cycle"); !strings.Contains(out, "power cycled") {
		t.Errorf("power-cycle: %q", out)
	}
	if err := <-done; !errors.Is(err, ctap.StatusKeepaliveCancel) {
		t.Fatalf("makeCredential across a power cycle: %v, want %v", err, ctap.StatusKeepaliveCancel)
	}
	if out := mustCtl(t, sock, "status"); !strings.Contains(out, "waiting for nothing") || !strings.Contains(out, "resident credentials: 0 on 0 RPs") {
		t.Errorf("status after the power cycle:\n%s", out)
	}
	if code, _, errOut := ctl(t, sock, "touch"); code != 1 || !strings.Contains(errOut, "nothing is waiting") {
		t.Errorf("touch after the power cycle: exit %d, %q", code, errOut)
	}
}

func TestControlFinger(t *testing.T) {
	_, sock, _, stop := startControlled(t, "--profile", "fido21-bio")
	defer stop()
	out := mustCtl(t, sock, "finger", "2")
	if !strings.Contains(out, "finger 2 queued") || !strings.Contains(out, "1 queued") {
		t.Errorf("finger 2: %q", out)
	}
	if out := mustCtl(t, sock, "finger", "--bad"); !strings.Contains(out, "2 queued") {
		t.Errorf("finger --bad: %q", out)
	}
	if out := mustCtl(t, sock, "status"); !strings.Contains(out, "fingers queued: 2") {
		t.Errorf("status:\n%s", out)
	}
	mustCtl(t, sock, "power-cycle")
	if out := mustCtl(t, sock, "status"); strings.Contains(out, "fingers queued") {
		t.Errorf("fingers survived a power cycle:\n%s", out)
	}
	// In auto mode touch has nothing to answer, and says why.
	if code, _, errOut := ctl(t, sock, "touch"); code != 1 || !strings.Contains(errOut, `presence is "auto"`) {
		t.Errorf("touch with --presence auto: exit %d, %q", code, errOut)
	}
}

// TestControlFingerprintUV: on the fido21-bio key, makeCredential with the
// "uv" option waits for a finger, which `virtkey finger` gives. Fingers 4
// and 1 are enrolled first (bio_test.go), which sets a PIN.
func TestControlFingerprintUV(t *testing.T) {
	addr, sock, _, stop := startControlled(t, "--profile", "fido21-bio", "--presence", "control")
	defer stop()
	c := connect(t, addr)
	enrollFingers(t, c, sock, 4, 1)
	mc := func(user string) <-chan error {
		req := makeCredRequest("bio.example", user)
		req.Options[ctap.OptionUV] = true
		return async(func() error {
			_, err := c.MakeCredential(context.Background(), req)
			return err
		})
	}

	done := mc("erin")
	if out := mustCtl(t, sock, "status", "--wait"); !strings.Contains(out, "waiting for a finger for makeCredential on bio.example since ") {
		t.Errorf("status:\n%s", out)
	}
	if code, _, errOut := ctl(t, sock, "touch"); code != 1 || !strings.Contains(errOut, "waits for a finger") {
		t.Errorf("touch while a finger is wanted: exit %d, %q", code, errOut)
	}
	if out := mustCtl(t, sock, "finger", "4"); out != "finger 4 matched for makeCredential on bio.example\n" {
		t.Errorf("finger 4: %q", out)
	}
	if err := <-done; err != nil {
		t.Fatalf("makeCredential after a matching finger: %v", err)
	}

	done = mc("frank")
	mustCtl(t, sock, "status", "--wait")
	if out := mustCtl(t, sock, "finger", "--bad"); !strings.Contains(out, "did not match") {
		t.Errorf("finger --bad: %q", out)
	}
	if err := <-done; !errors.Is(err, ctap.StatusPUATRequired) { // §6.1.2 step 11.2: a PIN is set
		t.Fatalf("makeCredential after a bad finger: %v, want %v", err, ctap.StatusPUATRequired)
	}

	// A finger queued before the request answers it.
	mustCtl(t, sock, "finger", "1")
	if err := <-mc("gina"); err != nil {
		t.Fatalf("makeCredential with a queued finger: %v", err)
	}
	if out := mustCtl(t, sock, "status"); !strings.Contains(out, "resident credentials: 2 on 1 RP (bio.example)") {
		t.Errorf("status:\n%s", out)
	}
}

func TestControlFingerWithoutSensor(t *testing.T) {
	_, sock, _, stop := startControlled(t, "--profile", "fido20-pin")
	defer stop()
	if code, _, errOut := ctl(t, sock, "finger", "1"); code != 1 || !strings.Contains(errOut, "no fingerprint sensor") {
		t.Errorf("finger on fido20-pin: exit %d, %q", code, errOut)
	}
}

// TestControlProtocol speaks the socket's JSON lines directly: several
// requests on one connection, bad requests answered and survived.
func TestControlProtocol(t *testing.T) {
	_, sock, _, stop := startControlled(t, "--profile", "fido21-bio")
	defer stop()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	call := func(line string) controlResponse {
		t.Helper()
		if _, err := io.WriteString(conn, line+"\n"); err != nil {
			t.Fatal(err)
		}
		b, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var resp controlResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		return resp
	}
	for _, tc := range []struct {
		line    string
		ok      bool
		errPart string
	}{
		{`{"op":"status"}`, true, ""},
		{`{not json`, false, "bad request"},
		{`{"op":"frobnicate"}`, false, `unknown op "frobnicate"`},
		{`{"op":"finger"}`, false, "finger number"},
		{`{"op":"finger","finger":3,"bad":true}`, false, "finger number"},
		{`{"op":"finger","finger":11}`, false, "want 1 to 10"},
		{`{"op":"power-cycle","wait":true}`, false, "wait is for"},
		{`{"op":"finger","finger":3}`, true, ""},
		{`{"op":"power-cycle"}`, true, ""},
	} {
		resp := call(tc.line)
		if resp.OK != tc.ok || !strings.Contains(resp.Error, tc.errPart) {
			t.Errorf("%s: %+v", tc.line, resp)
		}
		if resp.Status == nil && tc.ok {
			t.Errorf("%s: no status", tc.line)
		}
	}
}

func TestPromptPresence(t *testing.T) {
	in, stdinW := io.Pipe()
	old := stdin
	stdin = in
	t.Cleanup(func() { stdin = old; stdinW.Close() })

	addr, sock, logs, stop := startControlled(t, "--presence", "prompt")
	defer stop()
	c := connect(t, addr)
	for _, tc := range []struct {
		answer string
		want   error
	}{{"y\n", nil}, {"n\n", ctap.StatusOperationDenied}, {"\n", ctap.StatusOperationDenied}} {
		done := async(func() error {
			_, err := c.MakeCredential(context.Background(), makeCredRequest("prompt.example", "carol"))
			return err
		})
		mustCtl(t, sock, "status", "--wait")
		if _, err := io.WriteString(stdinW, tc.answer); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("answer %q: %v, want %v", tc.answer, err, tc.want)
		}
	}
	if !strings.Contains(logs.String(), "Touch for makeCredential on prompt.example? [y/N]") {
		t.Errorf("no prompt in:\n%s", logs.String())
	}
	// The socket answers in prompt mode too.
	done := async(func() error {
		_, err := c.MakeCredential(context.Background(), makeCredRequest("prompt.example", "dave"))
		return err
	})
	mustCtl(t, sock, "touch", "--wait")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestProfilesGetInfo(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		profile   string
		args      []string // feature switches
		versions  []string
		options   []string // keys of getInfo options, sorted
		protocols []uint64
		aaguid    [16]byte
		only20    bool
		noRK      bool // no remainingDiscoverableCredentials
		bio       bool // uvModality and preferredPlatformUvAttempts
	}{
		{
			profile:  "fido21",
			versions: []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21},
			options: []string{"alwaysUv", "authnrCfg", "clientPin", "credMgmt", "credentialMgmtPreview", "ep", "largeBlobs",
				"makeCredUvNotRqd", "pinUvAuthToken", "plat", "rk", "setMinPINLength", "up"},
			protocols: []uint64{2, 1},
			aaguid:    [16]byte{0x4c, 0x5b, 0x69, 0x4a, 0xe1, 0x61, 0x4d, 0xf0, 0xb5, 0x7d, 0x35, 0xfc, 0xa9, 0x87, 0xaf, 0xc6},
		},
		{
			profile:  "fido21-bio",
			versions: []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21},
			options: []string{"alwaysUv", "authnrCfg", "bioEnroll", "clientPin", "credMgmt", "credentialMgmtPreview", "ep", "largeBlobs",
				"makeCredUvNotRqd", "pinUvAuthToken", "plat", "rk", "setMinPINLength", "up", "userVerificationMgmtPreview", "uv", "uvBioEnroll"},
			protocols: []uint64{2, 1},
			aaguid:    profile.BioAAGUID,
			bio:       true,
		},
		{
			profile:  "fido21",
			args:     []string{"--has-resident-key=false", "--has-user-verification"},
			versions: []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21},
			options: []string{"alwaysUv", "authnrCfg", "clientPin", "ep", "makeCredUvNotRqd", "pinUvAuthToken", "plat", "rk",
				"setMinPINLength", "up", "uv"},
			protocols: []uint64{2, 1},
			aaguid:    authenticator.DefaultAAGUID,
			noRK:      true,
			bio:       true,
		},
		{
			profile:   "fido20-pin",
			versions:  []string{ctap.VersionU2FV2, ctap.VersionFIDO20},
			options:   []string{"clientPin", "plat", "rk", "up"},
			protocols: []uint64{1},
			aaguid:    profile.FIDO20AAGUID,
			only20:    true,
		},
	} {
		name := tc.profile
		if len(tc.args) > 0 {
			name += "+switches"
		}
		t.Run(name, func(t *testing.T) {
			addr, stop := startDaemon(t, append([]string{"--profile", tc.profile}, tc.args...)...)
			defer stop()
			c := connect(t, addr)
			info, err := c.GetInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var opts []string
			for k := range info.Options {
				opts = append(opts, k)
			}
			got := struct {
				Versions  []string
				Options   []string
				Protocols []uint64
				AAGUID    [16]byte
			}{info.Versions, slices.Sorted(slices.Values(opts)), info.PinUvProtocols, info.AAGUID}
			want := struct {
				Versions  []string
				Options   []string
				Protocols []uint64
				AAGUID    [16]byte
			}{tc.versions, tc.options, tc.protocols, tc.aaguid}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("getInfo (-want +got):\n%s", diff)
			}
			for key := uint64(7); key <= 0x18; key++ {
				if info.HasMember(key) && tc.only20 {
					t.Errorf("CTAP 2.0 getInfo has member 0x%02x", key)
				}
			}
			if !tc.only20 && !tc.noRK && !info.HasMember(0x14) {
				t.Errorf("CTAP 2.1 getInfo lacks remainingDiscoverableCredentials")
			}
			if tc.bio != (info.UVModality == 2) || tc.bio != (info.PreferredPlatformUVAttempts > 0) {
				t.Errorf("uvModality %d, preferredPlatformUvAttempts %d", info.UVModality, info.PreferredPlatformUVAttempts)
			}
		})
	}
}

// TestProfilesTable checks that `virtkey profiles` prints each profile's
// getInfo values as a key of that profile answers them.
func TestProfilesTable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"profiles"}, &out, &errOut); code != 0 {
		t.Fatalf("profiles: exit %d: %s", code, errOut.String())
	}
	sections := map[string]string{}
	for _, sec := range strings.Split(out.String(), "\n\n")[1:] {
		name, body, _ := strings.Cut(sec, ":\n")
		sections[name] = body
	}
	for _, p := range profiles {
		if p.Description == "" || p.DeviceName == "" {
			t.Errorf("%s: no description or device name", p.Name)
		}
		body, ok := sections[p.Name]
		if !ok {
			t.Errorf("profiles does not list %s:\n%s", p.Name, out.String())
			continue
		}
		if !p.CTAP2 {
			if !strings.Contains(body, "no getInfo") {
				t.Errorf("%s: %q", p.Name, body)
			}
			continue
		}
		for _, member := range []string{"versions: ", "aaguid: ", "options: ", "extensions: ", "limits: maxMsgSize="} {
			if !strings.Contains(body, "  "+member) {
				t.Errorf("%s: no %q in\n%s", p.Name, member, body)
			}
		}
	}
	for name, want := range map[string][]string{
		"fido21":       {"pinUvAuthProtocols: 2 1", "algorithms: ES256(-7) EdDSA(-8) ES384(-35) RS256(-257)", "credMgmt=true", "rk=true", "maxCredBlobLength=32"},
		"fido20-pin":   {"versions: U2F_V2 FIDO_2_0\n", "pinUvAuthProtocols: 1\n", "extensions: hmac-secret\n"},
		"fido21-nork":  {"rk=false", "extensions: credProtect minPinLength hmac-secret hmac-secret-mc\n"},
		"fido21-es256": {"algorithms: ES256(-7)\n"},
		"fido22":       {"versions: U2F_V2 FIDO_2_0 FIDO_2_1_PRE FIDO_2_1 FIDO_2_2\n"},
	} {
		for _, w := range want {
			if !strings.Contains(sections[name], w) {
				t.Errorf("%s: no %q in\n%s", name, w, sections[name])
			}
		}
	}
	if strings.Contains(sections["fido20-pin"], "algorithms:") || strings.Contains(sections["fido20-pin"], "credMgmt") {
		t.Errorf("fido20-pin prints CTAP 2.1 members:\n%s", sections["fido20-pin"])
	}
}

func TestFlagErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, args := range [][]string{
		{"serve", "extra"},
		{"serve", "--udp", "127.0.0.1:0", "--profile", "nope"},
		{"serve", "--udp", "127.0.0.1:0", "--presence", "sometimes"},
		{"serve", "--udp", "127.0.0.1:0", "--name", "x"},
		{"serve", "--udp", "127.0.0.1:0", "--vid", "1209"},
		{"serve", "--vid", "zz"},
		{"serve", "--pid", "10000"},
		{"serve", "--pid", "0"},
		{"serve", "--udp", "127.0.0.1:0", "--presence", "control", "--control", "off"},
		{"serve", "--udp", "127.0.0.1:0", "--control", ""},
		{"serve", "--log-level", "loud"},
		{"serve", "--no-such-flag"},
		{"touch", "now", "--control", sock},
		{"finger", "--control", sock},
		{"finger", "11", "--control", sock},
		{"finger", "--bad", "3", "--control", sock},
		{"status", "--timeout", "0s", "--control", sock},
		{"power-cycle", "--wait", "--control", sock},
		{"status", "--control", "off"},
	} {
		var errOut bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, code, errOut.String())
		}
	}
	// A daemon that is not there is a failure, not a usage error.
	code, _, errOut := ctl(t, sock, "status")
	if code != 1 || !strings.Contains(errOut, "cannot reach the daemon") {
		t.Errorf("status without a daemon: exit %d, %q", code, errOut)
	}
}

func TestServeWithoutUHID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-uhid")
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--uhid", path, "--control", "off"}, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "--udp") {
		t.Errorf("serve without uhid: exit %d: %s", code, errOut.String())
	}
}

// TestCleanShutdown: a stopped daemon removes its socket and ready file.
func TestCleanShutdown(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	addr, sock, _, stop := startControlled(t, "--ready-file", ready)
	b, err := os.ReadFile(ready)
	if err != nil || strings.TrimSpace(string(b)) != addr {
		t.Fatalf("ready file: %q, %v; want %s", b, err, addr)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, p := range []string{sock, ready} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
}

// TestStaleSocket: a socket left by a killed daemon is replaced; a live
// one is not.
func TestStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--udp", "127.0.0.1:0", "--control", sock}, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "another virtkey") {
		t.Errorf("serve on a live socket: exit %d: %s", code, errOut.String())
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	_, _, stop := startDaemonLogs(t, "--control", sock)
	defer stop()
	mustCtl(t, sock, "status")
}
