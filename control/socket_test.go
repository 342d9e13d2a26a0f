package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
)

// serveKey serves an in-memory key's Controller on a Unix socket and
// returns a client for it.
func serveKey(t *testing.T, cfg authenticator.Config) (*control.Key, *control.Client) {
	t.Helper()
	k, err := control.NewKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- (&control.Server{Backend: control.ControllerBackend(k)}).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return k, control.Dial(path)
}

// TestClientDrivesKey: every Controller method over the socket reaches the
// key (CTAP 2.1 §6.2.2 step 9 for the scripted touch).
func TestClientDrivesKey(t *testing.T) {
	k, c := serveKey(t, authenticator.Config{BuiltInUV: true, BioEnrollment: true})
	ctx := context.Background()
	v, caps, err := c.Hello(ctx)
	if err != nil || v != control.ProtocolVersion {
		t.Fatalf("hello: %d %v", v, err)
	}
	if diff := cmp.Diff(k.Capabilities(), caps); diff != "" {
		t.Errorf("capabilities (-key +socket):\n%s", diff)
	}

	dev, err := k.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	c2, err := client.New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetPresence(control.PresenceDeny); err != nil {
		t.Fatal(err)
	}
	if err := c2.Selection(ctx); !errors.Is(err, ctap.StatusOperationDenied) {
		t.Errorf("selection with presence deny: %v, want %v", err, ctap.StatusOperationDenied)
	}
	if err := c.SetPresence(control.PresenceAuto); err != nil {
		t.Fatal(err)
	}
	if err := c2.Selection(ctx); err != nil {
		t.Errorf("selection with presence auto: %v", err)
	}

	if err := c.SetUV(control.UVNoMatch); err != nil {
		t.Fatal(err)
	}
	if err := c.PushSamples(control.FingerSample{Finger: 4}); err != nil {
		t.Fatal(err)
	}
	s, err := k.User().Capture(ctx, authenticator.CaptureRequest{Enroll: true})
	if err != nil || s.Finger != 4 {
		t.Errorf("pushed sample: %+v %v", s, err)
	}
	s, _ = k.User().Capture(ctx, authenticator.CaptureRequest{})
	if s.Status != authenticator.SamplePoorQuality {
		t.Errorf("capture with UV no-match: %+v", s)
	}

	before := k.Clock().Now()
	if err := c.Advance(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := k.Clock().Now().Sub(before); d != 90*time.Second {
		t.Errorf("clock moved %v", d)
	}
	if err := c.PowerCycle(ctx); err != nil || k.PowerCycles() != 1 {
		t.Errorf("power cycle: %v, %d cycles", err, k.PowerCycles())
	}
	if _, err := c.Touch(ctx, false); !errors.Is(err, control.ErrUnsupported) {
		t.Errorf("touch on a bare controller: %v, want ErrUnsupported", err)
	}
}

func TestClientUnsupported(t *testing.T) {
	_, c := serveKey(t, authenticator.Config{})
	if err := c.SetUV(control.UVMatch); !errors.Is(err, control.ErrUnsupported) {
		t.Errorf("SetUV on a key without UV: %v", err)
	}
	if err := c.PushSamples(control.FingerSample{Finger: 1}); !errors.Is(err, control.ErrUnsupported) {
		t.Errorf("PushSamples on a key without a sensor: %v", err)
	}
}

// TestServerRejects: malformed and oversize requests are answered, or end
// the connection, without reaching the key.
func TestServerRejects(t *testing.T) {
	k, c := serveKey(t, authenticator.Config{})
	conn, err := net.Dial("unix", c.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for _, tc := range []struct{ line, want string }{
		{`{not json`, "bad request"},
		{`{"op":"frobnicate"}`, `unknown op "frobnicate"`},
		{`{"op":"presence","presence":"maybe"}`, "want auto, deny, timeout, wait or default"},
		{`{"op":"uv","uv":""}`, "want match, no-match"},
		{`{"op":"advance","nanoseconds":-5}`, "want a positive number"},
		{`{"op":"advance","nanoseconds":5,"extra":1}`, "unknown field"},
		{`{"op":"samples","samples":[]}`, "give 1 to"},
		{`{"op":"finger"}`, "finger number"},
		{`{"op":"power-cycle","wait":true}`, "wait is for"},
		{`{"op":"status"} {"op":"status"}`, "more than one JSON value"},
	} {
		if _, err := conn.Write([]byte(tc.line + "\n")); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var resp control.Response
		if err := json.Unmarshal([]byte(line), &resp); err != nil {
			t.Fatalf("%s: answer %q: %v", tc.line, line, err)
		}
		if resp.OK || !strings.Contains(resp.Error, tc.want) {
			t.Errorf("%s: answered %s, want an error with %q", tc.line, line, tc.want)
		}
	}
	if k.PowerCycles() != 0 || k.Clock().Offset() != 0 {
		t.Error("a rejected request reached the key")
	}
	// A line longer than MaxLine ends the connection unanswered.
	if _, err := conn.Write([]byte(`{"op":"status","x":"` + strings.Repeat("a", control.MaxLine) + "\"}\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err == nil {
		t.Errorf("oversize line answered: %.80s", line)
	}
}
