package control_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/virtkey/virtkey/control"
)

// fakeReplug is a key unplugged and plugged back in when the test says.
type fakeReplug struct{ gone, back chan struct{} }

func (f fakeReplug) Gone(ctx context.Context) error {
	select {
	case <-f.gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f fakeReplug) Back(ctx context.Context) error {
	select {
	case <-f.back:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// terminal is the person's side of a Person's terminal.
type terminal struct {
	lines *bufio.Scanner
	in    *io.PipeWriter
}

func newPerson(decline bool, replug control.Replug) (*control.Person, *terminal) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &control.Person{In: inR, Out: outW, Decline: decline, Replug: replug}
	return p, &terminal{lines: bufio.NewScanner(outR), in: inW}
}

func (tm *terminal) expect(t *testing.T, want string) {
	t.Helper()
	if !tm.lines.Scan() {
		t.Fatalf("no prompt; want %q", want)
	}
	if got := tm.lines.Text(); got != ">>> "+want {
		t.Fatalf("prompt %q, want %q", got, want)
	}
}

func TestPersonPresence(t *testing.T) {
	p, tm := newPerson(false, nil)
	if !control.Has(p, control.CapControl) || control.Has(p, control.CapClock) {
		t.Errorf("capabilities %v", p.Capabilities())
	}
	done := make(chan error, 1)
	go func() { done <- p.SetPresence(control.PresenceAuto) }()
	tm.expect(t, "touch the key whenever it asks for a touch (blinks), until told otherwise")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The same instruction again is not repeated: nothing is printed.
	if err := p.SetPresence(control.PresenceAuto); err != nil {
		t.Fatal(err)
	}
	// A change waits for the person's Enter.
	go func() { done <- p.SetPresence(control.PresenceWait) }()
	tm.expect(t, "do NOT touch the key, until told otherwise; press Enter when ready")
	select {
	case err := <-done:
		t.Fatalf("SetPresence returned before Enter: %v", err)
	default:
	}
	io.WriteString(tm.in, "\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.SetPresence(control.PresenceDeny); !errors.Is(err, control.ErrUnsupported) {
		t.Errorf("decline on a key that cannot: %v", err)
	}
	for _, err := range []error{p.Advance(time.Second), p.SetUV(control.UVMatch), p.PushSamples(control.FingerSample{Finger: 1})} {
		if !errors.Is(err, control.ErrUnsupported) {
			t.Errorf("%v, want ErrUnsupported", err)
		}
	}
	// The terminal closing is an error, not a hang.
	tm.in.Close()
	go func() { done <- p.SetPresence(control.PresenceTimeout) }()
	tm.expect(t, "do NOT touch the key: let its requests time out, until told otherwise; press Enter when ready")
	if err := <-done; err == nil {
		t.Error("SetPresence with the terminal closed succeeded")
	}
}

func TestPersonPowerCycle(t *testing.T) {
	r := fakeReplug{gone: make(chan struct{}), back: make(chan struct{})}
	p, tm := newPerson(true, r)
	done := make(chan error, 1)
	go func() { done <- p.PowerCycle(context.Background()) }()
	tm.expect(t, "unplug the key")
	close(r.gone)
	tm.expect(t, "the key is gone: plug it back in")
	close(r.back)
	tm.expect(t, "the key is back")
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A person who never unplugs the key: the case's context ends it.
	r = fakeReplug{gone: make(chan struct{}), back: make(chan struct{})}
	p, tm = newPerson(true, r)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- p.PowerCycle(ctx) }()
	tm.expect(t, "unplug the key")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("power cycle nobody did: %v", err)
	}
}

func TestHIDRawReplug(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hidraw0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := control.HIDRawReplug{Path: path}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gone := make(chan error, 1)
	go func() { gone <- r.Gone(ctx) }()
	os.Remove(path)
	if err := <-gone; err != nil {
		t.Fatalf("Gone: %v", err)
	}
	back := make(chan error, 1)
	go func() { back <- r.Back(ctx) }()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-back; err != nil {
		t.Fatalf("Back: %v", err)
	}
}

func TestProbeReplug(t *testing.T) {
	answers := make(chan bool, 1)
	up := true
	r := control.ProbeReplug{Answers: func(ctx context.Context) bool {
		select {
		case up = <-answers:
		default:
		}
		return up
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answers <- false
	if err := r.Gone(ctx); err != nil {
		t.Fatal(err)
	}
	answers <- true
	if err := r.Back(ctx); err != nil {
		t.Fatal(err)
	}
}
