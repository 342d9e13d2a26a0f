package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/virtkeytest"
)

func TestListDevicesNone(t *testing.T) {
	if devs, err := client.ListHIDDevices(); err != nil || len(devs) > 0 {
		t.Skipf("this machine has hidraw devices or cannot list them: %v, %v", devs, err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--list-devices"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := out.String(); got != "no FIDO devices found\n" {
		t.Fatalf("output %q, want the no-devices message", got)
	}
}

// withDevices makes ctaptest see devs (or err) as the hidraw devices.
func withDevices(t *testing.T, devs []client.HIDInfo, err error) {
	old := listHIDDevices
	listHIDDevices = func() ([]client.HIDInfo, error) { return devs, err }
	t.Cleanup(func() { listHIDDevices = old })
}

func TestListDevices(t *testing.T) {
	withDevices(t, []client.HIDInfo{
		{Path: "/dev/hidraw3", VendorID: 0x1050, ProductID: 0x0407, Product: "Yubico YubiKey OTP+FIDO+CCID", InputReportSize: 64, OutputReportSize: 64},
		{Path: "/dev/hidraw11", VendorID: 0x15d9, ProductID: 0x0a37, Product: "virtkey", InputReportSize: 64, OutputReportSize: 64},
	}, nil)
	var out, errb bytes.Buffer
	if code := run([]string{"--list-devices"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^/dev/hidraw3 +1050:0407 +"Yubico YubiKey OTP\+FIDO\+CCID" +reports: 64 bytes in, 64 bytes out$`),
		regexp.MustCompile(`^/dev/hidraw11 +15d9:0a37 +"virtkey" +reports: 64 bytes in, 64 bytes out$`),
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want %v", i, lines[i], re)
		}
	}

	withDevices(t, nil, errors.New("sysfs unreadable"))
	out.Reset()
	errb.Reset()
	if code := run([]string{"--list-devices"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "sysfs unreadable") {
		t.Fatalf("listing error: exit %d, stderr %q", code, errb.String())
	}
}

func TestDeviceFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--udp", "127.0.0.1:1", "--device", "/dev/hidraw0"}, &out, &errb); code != 2 {
		t.Fatalf("--udp with --device: exit %d, want 2", code)
	}
	errb.Reset()
	if code := run([]string{"--device", "/nonexistent/hidraw9", "--run", "^gi-versions$"}, &out, &errb); code != 1 {
		t.Fatalf("missing device: exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "/nonexistent/hidraw9") {
		t.Fatalf("missing device: stderr %q does not name it", errb.String())
	}
}

// noControl is the in-process key seen as a hardware key: one shared key,
// no controller, no capabilities.
type noControl struct{ key *virtkeytest.Target }

func (n noControl) Open(ctx context.Context) (*client.Device, error) { return n.key.Open(ctx) }
func (n noControl) Capabilities() []conformance.Capability           { return nil }
func (n noControl) Controller() conformance.Controller               { return nil }

// newNoControl returns a shared in-process key behind noControl whose
// presence requests are answered with p.
func newNoControl(t *testing.T, p conformance.Presence) noControl {
	key := virtkeytest.NewTarget(authenticator.Config{}, false)
	if _, err := key.Key(); err != nil {
		t.Fatal(err)
	}
	if err := key.SetPresence(p); err != nil {
		t.Fatal(err)
	}
	return noControl{key: key}
}

// TestPromptOnUPNeeded checks that a case whose key waits for a touch
// prompts once, through ctaptest's prompter, on a target without a
// controller. The key waits until the request is cancelled; the case
// cancels it a while after the prompt, when several STATUS_UPNEEDED
// keepalives have arrived.
func TestPromptOnUPNeeded(t *testing.T) {
	target := newNoControl(t, conformance.PresenceWait)
	prompted := make(chan struct{}, 16)
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	say := prompter(&lockedWriter{w: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})})
	touchCase := conformance.Case{ID: "touch-me", Section: "CTAP 2.1 §6.9", Title: "selection waits for a touch",
		Run: func(t *conformance.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				select {
				case <-prompted:
					cancel()
				case <-ctx.Done():
				}
			}()
			err := t.Ctap2().Selection(ctx)
			t.ExpectStatus(err, ctap.StatusKeepaliveCancel, "selection cancelled after the prompt")
		}}
	rs := conformance.Run(context.Background(), target, conformance.Options{
		Cases:       []conformance.Case{touchCase},
		CaseTimeout: 10 * time.Second,
		Prompt: func(msg string) {
			say(msg)
			prompted <- struct{}{}
		},
	})
	if len(rs) != 1 || rs[0].Outcome != conformance.Pass {
		t.Fatalf("results %+v", rs)
	}
	mu.Lock()
	got := out.String()
	mu.Unlock()
	if !regexp.MustCompile(`^>>> touch-me: touch your key now \(the case gives up in \d+s\)\n$`).MatchString(got) {
		t.Fatalf("prompt output %q, want one touch prompt", got)
	}
	if !strings.Contains(strings.Join(rs[0].Messages, "\n"), "asked for user presence") {
		t.Errorf("case messages %q do not record the request", rs[0].Messages)
	}
}

// TestNoPromptWithController checks that a target with a controller, which
// scripts touches itself, is never prompted for, and that a key that needs
// no touch is never either.
func TestNoPromptWithController(t *testing.T) {
	selection := conformance.Case{ID: "select", Section: "CTAP 2.1 §6.9", Title: "selection",
		Run: func(t *conformance.T) { t.ExpectStatus(t.Ctap2().Selection(t.Context()), ctap.StatusOK, "selection") }}
	getInfo := conformance.Case{ID: "info", Section: "CTAP 2.1 §6.4", Title: "getInfo",
		Run: func(t *conformance.T) { t.Ctap2() }}
	var calls int
	var mu sync.Mutex
	prompt := func(string) { mu.Lock(); calls++; mu.Unlock() }

	controlled := virtkeytest.NewTarget(authenticator.Config{}, true)
	rs := conformance.Run(context.Background(), controlled, conformance.Options{
		Cases: []conformance.Case{selection}, Prompt: prompt})
	if rs[0].Outcome != conformance.Pass {
		t.Fatalf("controlled: %+v", rs[0])
	}
	rs = conformance.Run(context.Background(), newNoControl(t, conformance.PresenceAuto), conformance.Options{
		Cases: []conformance.Case{getInfo}, Prompt: prompt})
	if rs[0].Outcome != conformance.Pass {
		t.Fatalf("getInfo: %+v", rs[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Fatalf("prompted %d times", calls)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestSkipSummary(t *testing.T) {
	// The runner's reasons on a target like a hardware key.
	target := newNoControl(t, conformance.PresenceAuto)
	noop := func(t *conformance.T) {}
	cases := []conformance.Case{
		{ID: "a-control", Section: "§1", Needs: []conformance.Capability{conformance.CapControl}, Run: noop},
		{ID: "b-control", Section: "§1", Run: func(t *conformance.T) { t.SetPresence(conformance.PresenceDeny) }},
		{ID: "c-clock", Section: "§1", Needs: []conformance.Capability{conformance.CapControl, conformance.CapClock}, Run: noop},
		{ID: "d-destructive", Section: "§1", Destructive: true, Run: noop},
		{ID: "e-own", Section: "§1", Run: func(t *conformance.T) { t.Skipf("key has no clientPin option") }},
		{ID: "f-passes", Section: "§1", Run: noop},
		{ID: "g-control", Section: "§1", Needs: []conformance.Capability{conformance.CapControl}, Run: noop},
	}
	rs := conformance.Run(context.Background(), target, conformance.Options{Cases: cases})
	got := skipSummary(rs, false)
	want := "6 skipped: 3 need control (power cycle, scripted touches), " +
		"1 need control (power cycle, scripted touches) and clock control, " +
		"1 destructive (erase the key or change its PIN), 1 key has no clientPin option"
	if got != want {
		t.Errorf("skipSummary =\n%q\nwant\n%q", got, want)
	}
	verbose := skipSummary(rs, true)
	if !strings.Contains(verbose, "\n    need control (power cycle, scripted touches): a-control b-control g-control") {
		t.Errorf("verbose summary lacks the IDs:\n%s", verbose)
	}

	// --allow-destructive runs the destructive case.
	rs = conformance.Run(context.Background(), target, conformance.Options{Cases: cases[3:4], AllowDestructive: true})
	if rs[0].Outcome != conformance.Pass {
		t.Errorf("destructive case with AllowDestructive: %v %v", rs[0].Outcome, rs[0].Messages)
	}
}

func TestSummaryLine(t *testing.T) {
	var out, errb bytes.Buffer
	// The in-process key has every capability: nothing is skipped, and no
	// skip line is printed.
	if code := run([]string{"--run", "^gi-versions$"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "skipped:") {
		t.Fatalf("skip summary without skips:\n%s", out.String())
	}
}
