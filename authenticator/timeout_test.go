package authenticator

import (
	"context"
	"testing"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// deadlinePresence is a user who never answers and records the deadline
// each request carried.
type deadlinePresence struct{ deadlines chan time.Duration }

func (p deadlinePresence) Touch(ctx context.Context, req TouchRequest) error {
	return p.wait(ctx)
}

func (p deadlinePresence) VerifyUser(ctx context.Context, req UVRequest) error { return p.wait(ctx) }

func (p deadlinePresence) wait(ctx context.Context) error {
	d, ok := ctx.Deadline()
	if !ok {
		p.deadlines <- -1
	} else {
		p.deadlines <- time.Until(d)
	}
	<-ctx.Done()
	return ctx.Err()
}

// handleOrStall runs cmd on k in the background and returns its status, or
// fails the test if the key has not answered within stall (real time): a
// request nobody answers must end by itself.
func handleOrStall(t *testing.T, k *testKey, cmd ctap.Command, req any, stall time.Duration) ctap.Status {
	t.Helper()
	params := ctap.MustMarshal(req)
	if req == nil {
		params = nil
	}
	done := make(chan ctap.Status, 1)
	go func() {
		s, _ := k.a.Handle(context.Background(), cmd, params)
		done <- s
	}()
	select {
	case s := <-done:
		return s
	case <-time.After(stall):
		k.a.PowerCycle() // end the stalled command so the goroutine exits
		t.Fatalf("%v: no answer %v after a request for the user nobody answered", cmd, stall)
		return 0
	}
}

// TestUnansweredTouchTimesOut checks that every request to the user ends
// after Config.TouchTimeout with the status its command gives for a
// timeout (CTAP 2.1 §6.1.2 step 14 and §6.2.2 step 9: OPERATION_DENIED;
// §6.6 and §6.9: USER_ACTION_TIMEOUT; §6.5.5.7.3 built-in UV:
// USER_ACTION_TIMEOUT), rather than waiting until the host cancels.
func TestUnansweredTouchTimesOut(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cmd  ctap.Command
		req  any
		opts []keyOption
		want ctap.Status
	}{
		{"makeCredential", ctap.CmdMakeCredential, mcReq("example.com", []byte("u"), false), nil, ctap.StatusOperationDenied},
		{"getAssertion", ctap.CmdGetAssertion, nil, nil, ctap.StatusOperationDenied},
		{"reset", ctap.CmdReset, nil, nil, ctap.StatusUserActionTimeout},
		{"selection", ctap.CmdSelection, nil, nil, ctap.StatusUserActionTimeout},
		{"makeCredential uv", ctap.CmdMakeCredential, func() any {
			r := mcReq("example.com", []byte("u"), false)
			r.Options = map[string]bool{"uv": true}
			return r
		}(), []keyOption{func(c *Config) { c.BuiltInUV = true }}, ctap.StatusUserActionTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := NewScriptedPresence()
			opts := append([]keyOption{withPresence(p), func(c *Config) { c.TouchTimeout = time.Millisecond }}, tc.opts...)
			k := newTestKey(t, opts...)
			req := tc.req
			if tc.cmd == ctap.CmdGetAssertion {
				p.Push(nil)
				k.mustRegister(mcReq("example.com", []byte("u"), true))
				req = gaReq("example.com")
			}
			if s := handleOrStall(t, k, tc.cmd, req, 10*time.Second); s != tc.want {
				t.Errorf("%v after the touch timeout: %v, want %v", tc.cmd, s, tc.want)
			}
		})
	}
}

// TestDefaultTouchTimeout checks that a key configured with no
// TouchTimeout gives the user DefaultTouchTimeout (30 s) for a touch and a
// built-in UV, and that CANCEL still ends a request at once.
func TestDefaultTouchTimeout(t *testing.T) {
	t.Parallel()
	p := deadlinePresence{deadlines: make(chan time.Duration, 1)}
	k := newTestKey(t, withPresence(p), func(c *Config) { c.BuiltInUV = true })
	for _, cmd := range []struct {
		name string
		cmd  ctap.Command
		req  any
	}{
		{"touch", ctap.CmdSelection, nil},
		{"uv", ctap.CmdMakeCredential, func() any {
			r := mcReq("example.com", []byte("u"), false)
			r.Options = map[string]bool{"uv": true}
			return r
		}()},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan ctap.Status, 1)
		params := []byte(nil)
		if cmd.req != nil {
			params = ctap.MustMarshal(cmd.req)
		}
		go func() {
			s, _ := k.a.Handle(ctx, cmd.cmd, params)
			done <- s
		}()
		d := <-p.deadlines
		if d <= DefaultTouchTimeout-5*time.Second || d > DefaultTouchTimeout {
			t.Errorf("%s: the request has %v left, want about %v", cmd.name, d, DefaultTouchTimeout)
		}
		cancel() // CTAPHID_CANCEL
		if s := <-done; s != ctap.StatusKeepaliveCancel {
			t.Errorf("%s cancelled: %v, want KEEPALIVE_CANCEL", cmd.name, s)
		}
	}
}

// TestLazyDeadline checks that the deadline askUser gives a Presence
// behaves as context.WithDeadline's: the earlier deadline, the parent's
// cancellation, its own expiry, and cancellation once askUser is done
// (even for a context first looked at after that), and that a Presence
// that only answers starts no timer.
func TestLazyDeadline(t *testing.T) {
	far := time.Now().Add(time.Hour)
	parent, cancel := context.WithCancel(context.Background())
	d := &lazyDeadline{parent: parent, deadline: far}
	if got, ok := d.Deadline(); !ok || !got.Equal(far) {
		t.Fatalf("Deadline %v %v, want %v", got, ok, far)
	}
	if d.ctx != nil {
		t.Fatal("Deadline made the timer context")
	}
	select {
	case <-d.Done():
		t.Fatal("done before anything happened")
	default:
	}
	cancel()
	<-d.Done()
	if err := d.Err(); err != context.Canceled {
		t.Fatalf("Err after the parent's cancel: %v", err)
	}
	d.stop()

	near, cancelNear := context.WithDeadline(context.Background(), time.Now().Add(time.Minute))
	defer cancelNear()
	if got, _ := (&lazyDeadline{parent: near, deadline: far}).Deadline(); !got.Before(far) {
		t.Fatalf("Deadline %v, not the parent's earlier one", got)
	}

	past := &lazyDeadline{parent: context.Background(), deadline: time.Now().Add(-time.Second)}
	<-past.Done()
	if err := past.Err(); err != context.DeadlineExceeded {
		t.Fatalf("Err after the deadline: %v", err)
	}
	past.stop()

	late := &lazyDeadline{parent: context.Background(), deadline: far}
	late.stop()
	<-late.Done()
	if err := late.Err(); err != context.Canceled {
		t.Fatalf("Err of a stopped context: %v", err)
	}

	var seen context.Context
	k := newTestKey(t, func(c *Config) {
		c.TouchTimeout = time.Hour
		c.Presence = presenceFunc(func(ctx context.Context) error { seen = ctx; return nil })
	})
	k.mustRegister(mcReq("example.com", []byte{1}, false))
	ld, ok := seen.(*lazyDeadline)
	if !ok {
		t.Fatalf("the Presence got a %T", seen)
	}
	if ld.ctx != nil {
		t.Error("a Presence that only answered started a timer")
	}
	if !ld.stopped {
		t.Error("askUser did not stop the deadline")
	}
}

// presenceFunc is a Presence answering every touch with f.
type presenceFunc func(context.Context) error

func (f presenceFunc) Touch(ctx context.Context, req TouchRequest) error { return f(ctx) }
