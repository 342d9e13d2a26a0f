package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Person is the Controller of a real key: someone at a terminal next to
// it, told what to do. Presence is a standing instruction (touch the key
// whenever it asks; do not touch it; decline on it), given when it
// changes and acknowledged with Enter before the case goes on. A power
// cycle asks the person to unplug the key and plug it back in, and
// Replug sees it happen: the key goes away and comes back. Clock, UV
// outcomes and fingerprint samples cannot be scripted on a real key; they
// are unsupported, and so is a decline unless the key has a way to
// decline (Decline).
//
// This is what google/CTAP2-test-tool does for reset-window and
// power-cycle tests on hardware. The terminal is In and Out, so a test can
// play the person.
type Person struct {
	// In is where the person's answers come from (a line each), Out where
	// the instructions go.
	In  io.Reader
	Out io.Writer
	// Replug watches the key being unplugged and plugged back in; nil
	// means the person's Enter after plugging it back in is taken as the
	// sign.
	Replug Replug
	// Decline: the key has a way to decline a request (a "no" button, a
	// display); without it PresenceDeny is unsupported.
	Decline bool

	mu       sync.Mutex
	start    sync.Once
	lines    chan error // one value per line read from In: nil, or the read error
	presence Presence
	told     bool // presence was given to the person at least once
}

var _ Controller = (*Person)(nil)

// Replug watches a key being unplugged and plugged back in.
type Replug interface {
	// Gone returns once the key is gone, or with ctx's error.
	Gone(ctx context.Context) error
	// Back returns once the key is back and answers, or with ctx's error.
	Back(ctx context.Context) error
}

// Capabilities implements Controller: presence and power cycles.
func (p *Person) Capabilities() []Capability { return []Capability{CapControl, CapPowerCycle} }

func (p *Person) say(format string, args ...any) {
	fmt.Fprintf(p.Out, ">>> "+format+"\n", args...)
}

// readLines hands the lines of In to ackLocked, one at a time.
func (p *Person) readLines() {
	r := bufio.NewReader(p.In)
	for {
		_, err := r.ReadString('\n')
		p.lines <- err
		if err != nil {
			close(p.lines)
			return
		}
	}
}

// ackLocked waits for the person's Enter. p.mu must be held.
func (p *Person) ackLocked(ctx context.Context) error {
	p.start.Do(func() {
		p.lines = make(chan error)
		go p.readLines()
	})
	select {
	case err, ok := <-p.lines:
		if !ok {
			err = io.EOF
		}
		if err != nil {
			return fmt.Errorf("control: waiting for the person at the key: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// instructions are the standing instructions for each Presence.
var instructions = [...]string{
	PresenceAuto:    "touch the key whenever it asks for a touch (blinks), until told otherwise",
	PresenceDeny:    "decline on the key whenever it asks for a touch, until told otherwise",
	PresenceTimeout: "do NOT touch the key: let its requests time out, until told otherwise",
	PresenceWait:    "do NOT touch the key, until told otherwise",
}

// SetPresence implements Controller: a new instruction is shown and
// acknowledged with Enter; the same instruction again is not repeated.
func (p *Person) SetPresence(pr Presence) error {
	if pr < PresenceAuto || pr > PresenceWait {
		return fmt.Errorf("control: %v: no such presence", pr)
	}
	if pr == PresenceDeny && !p.Decline {
		return unsupported("the key cannot decline a request")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.told && p.presence == pr {
		return nil
	}
	if !p.told && pr == PresenceAuto {
		// Touching when asked is what a person does anyway.
		p.told, p.presence = true, pr
		p.say("%s", instructions[pr])
		return nil
	}
	p.say("%s; press Enter when ready", instructions[pr])
	if err := p.ackLocked(context.Background()); err != nil {
		return err
	}
	p.told, p.presence = true, pr
	return nil
}

// PowerCycle implements Controller: the person unplugs the key and plugs
// it back in; Replug sees it go and come back.
func (p *Person) PowerCycle(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Replug == nil {
		p.say("unplug the key, plug it back in, then press Enter")
		return p.ackLocked(ctx)
	}
	p.say("unplug the key")
	if err := p.Replug.Gone(ctx); err != nil {
		return fmt.Errorf("control: waiting for the key to be unplugged: %w", err)
	}
	p.say("the key is gone: plug it back in")
	if err := p.Replug.Back(ctx); err != nil {
		return fmt.Errorf("control: waiting for the key to be plugged back in: %w", err)
	}
	p.say("the key is back")
	return nil
}

// SetUV implements Controller: unsupported on a real key.
func (p *Person) SetUV(UVOutcome) error {
	return unsupported("a real key's user verification is not scripted")
}

// PushSamples implements Controller: unsupported on a real key.
func (p *Person) PushSamples(...FingerSample) error {
	return unsupported("a real key's fingerprint sensor is not scripted")
}

// Advance implements Controller: unsupported on a real key.
func (p *Person) Advance(time.Duration) error {
	return unsupported("a real key's clock cannot be moved")
}

// pollInterval is how often a replug watcher looks.
const pollInterval = 50 * time.Millisecond

// poll calls done every pollInterval until it reports true or ctx ends.
func poll(ctx context.Context, done func() bool) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// HIDRawReplug watches a hidraw node: the key is gone when the node is,
// and back when a node of that name is there again and opens. (The
// kernel may give the key another node number when it comes back, for
// instance while another key is plugged in; then Back waits until ctx
// ends.)
type HIDRawReplug struct{ Path string }

// Gone implements Replug.
func (h HIDRawReplug) Gone(ctx context.Context) error {
	return poll(ctx, func() bool {
		_, err := os.Stat(h.Path)
		return errors.Is(err, os.ErrNotExist)
	})
}

// Back implements Replug.
func (h HIDRawReplug) Back(ctx context.Context) error {
	return poll(ctx, func() bool {
		f, err := os.OpenFile(h.Path, os.O_RDWR, 0)
		if err != nil {
			return false
		}
		f.Close()
		return true
	})
}

// ProbeReplug watches a key through a probe that reports whether it
// answers, such as a CTAPHID_INIT over UDP, where there is no device node
// to watch: the key is gone when it stops answering, and back when it
// answers again.
type ProbeReplug struct {
	// Answers reports whether the key answers now; it returns within its
	// context's deadline.
	Answers func(ctx context.Context) bool
	// Timeout bounds one probe (default 250 ms).
	Timeout time.Duration
}

func (r ProbeReplug) answers(ctx context.Context) bool {
	t := r.Timeout
	if t <= 0 {
		t = 250 * time.Millisecond
	}
	pctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	return r.Answers(pctx)
}

// Gone implements Replug.
func (r ProbeReplug) Gone(ctx context.Context) error {
	return poll(ctx, func() bool { return !r.answers(ctx) })
}

// Back implements Replug.
func (r ProbeReplug) Back(ctx context.Context) error {
	return poll(ctx, func() bool { return r.answers(ctx) })
}
