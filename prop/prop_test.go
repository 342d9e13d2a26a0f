package prop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/prop"
	"github.com/virtkey/virtkey/virtkeytest"
)

// inProcess is a target on an in-process key behind real CTAPHID framing,
// with a fault planted in its answers when fault is set.
type inProcess struct {
	mu  sync.Mutex
	key *control.Key
	// fault, when set, answers in the key's place: forward gives the
	// key's own answer.
	fault func(cmd ctap.Command, req []byte, forward func() []byte) []byte
	// store, when set, wraps each new key's store.
	store func(authenticator.Store) authenticator.Store
}

func (t *inProcess) config() prop.Config {
	return prop.Config{
		Open: func(ctx context.Context) (*client.Device, error) {
			return client.OpenInProcess(ctx, handler{t}, nil)
		},
		Fresh: func(ctx context.Context) error {
			cfg := authenticator.Config{Rand: virtkeytest.NewRand("prop")}
			if t.store != nil {
				cfg.Store = t.store(authenticator.NewMemoryStore())
			}
			k, err := control.NewKey(cfg)
			if err != nil {
				return err
			}
			t.mu.Lock()
			t.key = k
			t.mu.Unlock()
			return nil
		},
		PowerCycle: func(ctx context.Context) error { return t.current().PowerCycle(ctx) },
	}
}

func (t *inProcess) current() *control.Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.key
}

// handler forwards to the target's current key, through the fault.
type handler struct{ t *inProcess }

func (h handler) HandleCBOR(ctx context.Context, req []byte) []byte {
	forward := func() []byte { return h.t.current().HandleCBOR(ctx, req) }
	if h.t.fault == nil || len(req) == 0 {
		return forward()
	}
	return h.t.fault(ctap.Command(req[0]), req[1:], forward)
}

func (h handler) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	return h.t.current().HandleMsg(ctx, req)
}

// TestCheckInProcess: the virtual key follows the model.
func TestCheckInProcess(t *testing.T) {
	checks := 40
	if testing.Short() {
		checks = 10
	}
	tgt := &inProcess{}
	cfg := tgt.config()
	cfg.Seed, cfg.Checks, cfg.Steps = 1, checks, 30
	f, st, err := prop.Check(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		t.Fatalf("%s", f)
	}
	if st.Sequences != checks || st.Steps < checks*20 {
		t.Errorf("ran %d sequences, %d steps; want %d sequences of about 30 steps", st.Sequences, st.Steps, checks)
	}
}

// rewrite decodes a response map, lets edit change it, and re-encodes it;
// other answers pass unchanged.
func rewrite(resp []byte, edit func(m map[uint64]ctap.RawMessage)) []byte {
	if len(resp) < 2 || resp[0] != byte(ctap.StatusOK) {
		return resp
	}
	var m map[uint64]ctap.RawMessage
	if ctap.Unmarshal(resp[1:], &m) != nil {
		return resp
	}
	edit(m)
	b, err := ctap.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append([]byte{0}, b...)
}

// TestFaultsCaught plants faults a real key could have and checks that a
// check finds each and shrinks it to a short transcript.
func TestFaultsCaught(t *testing.T) {
	faults := []struct {
		name  string
		fault func(cmd ctap.Command, req []byte, forward func() []byte) []byte
		store func(authenticator.Store) authenticator.Store
	}{
		{name: "counter not saved, repeats after a power cycle", store: func(s authenticator.Store) authenticator.Store {
			return &counterNotSaved{Store: s}
		}},
		{name: "deleted credential still returned", fault: func(cmd ctap.Command, req []byte, forward func() []byte) []byte {
			// deleteCredential (0x06) acknowledged and not done.
			if cmd == ctap.CmdCredentialManagement && bytes.HasPrefix(req, []byte{0xa4, 0x01, 0x06}) {
				return []byte{byte(ctap.StatusOK)}
			}
			return forward()
		}},
		{name: "numberOfCredentials omitted", fault: func(cmd ctap.Command, req []byte, forward func() []byte) []byte {
			if cmd != ctap.CmdGetAssertion {
				return forward()
			}
			return rewrite(forward(), func(m map[uint64]ctap.RawMessage) { delete(m, 5) })
		}},
		{name: "user name without user verification", fault: func(cmd ctap.Command, req []byte, forward func() []byte) []byte {
			if cmd != ctap.CmdGetAssertion && cmd != ctap.CmdGetNextAssertion {
				return forward()
			}
			return rewrite(forward(), func(m map[uint64]ctap.RawMessage) {
				var u map[string]any
				if ctap.Unmarshal(m[4], &u) != nil {
					return
				}
				u["name"] = "leaked@example.com"
				b, err := ctap.Marshal(u)
				if err != nil {
					panic(err)
				}
				m[4] = b
			})
		}},
		{name: "pinRetries always 8", fault: func(cmd ctap.Command, req []byte, forward func() []byte) []byte {
			if cmd != ctap.CmdClientPIN {
				return forward()
			}
			return rewrite(forward(), func(m map[uint64]ctap.RawMessage) {
				if _, ok := m[3]; ok {
					m[3] = ctap.RawMessage{0x08}
				}
			})
		}},
	}
	for _, fc := range faults {
		t.Run(fc.name, func(t *testing.T) {
			tgt := &inProcess{fault: fc.fault, store: fc.store}
			cfg := tgt.config()
			cfg.Seed, cfg.Checks, cfg.Steps = 7, 60, 30
			f, _, err := prop.Check(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if f == nil {
				t.Fatalf("the fault went unnoticed")
			}
			t.Logf("%s", f)
			if n := len(f.Actions); n > 10 {
				t.Errorf("shrunk to %d actions, want at most 10", n)
			}
			// The shrunk sequence replays from its file form.
			b, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			var back prop.Failure
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			again, _, err := prop.Replay(context.Background(), cfg, back.Seed, back.Actions)
			if err != nil {
				t.Fatal(err)
			}
			if again == nil {
				t.Fatalf("the shrunk sequence does not fail on replay")
			}
			if !strings.Contains(f.String(), "!!") {
				t.Errorf("transcript marks no failing step:\n%s", f)
			}
		})
	}
}

// counterNotSaved is a store that keeps everything but the signature
// counter, which stays at its first saved value: a key whose counter
// repeats after a power cycle.
type counterNotSaved struct {
	authenticator.Store
	first *uint32
}

func (s *counterNotSaved) Commit(ch *authenticator.Change) error {
	if ch.State == nil {
		return s.Store.Commit(ch)
	}
	if s.first == nil {
		v := ch.State.SignCount
		s.first = &v
	}
	st := *ch.State
	st.SignCount = *s.first
	c := *ch
	c.State = &st
	return s.Store.Commit(&c)
}
