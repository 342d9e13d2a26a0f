package devfuzz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/devfuzz"
	"github.com/virtkey/virtkey/virtkeytest"
)

func newTarget(t *testing.T, wrap func(h *control.Key) interface {
	HandleCBOR(ctx context.Context, req []byte) []byte
	HandleMsg(ctx context.Context, req []byte) ([]byte, error)
}) (devfuzz.Config, *devfuzz.Process) {
	t.Helper()
	key, err := control.NewKey(authenticator.Config{Rand: virtkeytest.NewRand(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	// The key is in this process and answers at once: a short transaction
	// timeout, so that a message an input leaves unfinished holds the key
	// busy for 20 ms, not the default 3 s, and short waits for answers.
	// Wait stays above the transaction timeout, so that the
	// ERR_MSG_TIMEOUT an unfinished message gets is read and checked.
	// These make the same (command, status) pairs as 200 ms and the
	// defaults, in a quarter of the time.
	p := &devfuzz.Process{Handler: key, Config: &ctaphid.ServerConfig{TransactionTimeout: 20 * time.Millisecond}}
	if wrap != nil {
		p.Handler = wrap(key)
	}
	t.Cleanup(p.Close)
	return devfuzz.Config{Open: p.Open, PowerCycle: key.PowerCycle, Wait: 40 * time.Millisecond, Quiet: 5 * time.Millisecond}, p
}

// TestFuzzInProcess: the virtual key survives a bounded run.
func TestFuzzInProcess(t *testing.T) {
	cfg, _ := newTarget(t, nil)
	cfg.Seed, cfg.MaxInputs = 1, 300
	if testing.Short() {
		cfg.MaxInputs = 60
	}
	st, findings, err := devfuzz.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("%s", f)
	}
	if st.Inputs != cfg.MaxInputs || len(st.Pairs) < 10 {
		t.Errorf("%d inputs, %d (command, status) pairs: %v", st.Inputs, len(st.Pairs), st.Pairs)
	}
}

// panicky plants a panic in one subcommand's parser: clientPIN
// getKeyAgreement (0x02) with a pinUvAuthProtocol member of any value but
// the canonical 1 or 2.
type panicky struct{ *control.Key }

func (p panicky) HandleCBOR(ctx context.Context, req []byte) []byte {
	if len(req) > 2 && ctap.Command(req[0]) == ctap.CmdClientPIN {
		var m map[uint64]ctap.RawMessage
		if ctap.Unmarshal(req[1:], &m) == nil && bytes.Equal(m[2], []byte{0x02}) {
			if v, ok := m[1]; ok && !bytes.Equal(v, []byte{0x01}) && !bytes.Equal(v, []byte{0x02}) {
				panic("planted: clientPIN getKeyAgreement parser")
			}
		}
	}
	return p.Key.HandleCBOR(ctx, req)
}

// TestFuzzFindsPlantedPanic: a panic planted in a subcommand's parser is
// found, minimized and reproduced from its saved form.
func TestFuzzFindsPlantedPanic(t *testing.T) {
	var crashes atomic.Int32 // Crashed runs on the key's goroutine
	cfg, p := newTarget(t, func(k *control.Key) interface {
		HandleCBOR(ctx context.Context, req []byte) []byte
		HandleMsg(ctx context.Context, req []byte) ([]byte, error)
	} {
		return panicky{k}
	})
	p.Crashed = func(any) { crashes.Add(1) }
	cfg.Seed, cfg.MaxInputs, cfg.MaxFindings = 3, 3000, 1
	st, findings, err := devfuzz.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) == 0 {
		t.Fatalf("no finding in %d inputs", st.Inputs)
	}
	f := findings[0]
	t.Logf("after %d inputs (%d executions): %s", st.Inputs, st.Execs, f)
	if f.Kind != devfuzz.KindDead || crashes.Load() == 0 {
		t.Fatalf("finding %q, %d crashes", f.Kind, crashes.Load())
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back devfuzz.Finding
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	again, err := devfuzz.Replay(context.Background(), cfg, back.Input)
	if err != nil {
		t.Fatal(err)
	}
	if again == nil || again.Kind != devfuzz.KindDead {
		t.Fatalf("the reproducer does not reproduce: %v", again)
	}
	if !strings.Contains(f.String(), ">>> chan") {
		t.Errorf("no frames in %s", f)
	}
}

// FuzzReproducer: any file given to --replay either parses into frames of
// exactly one report each, or is refused; what parses writes back the same.
func FuzzReproducer(f *testing.F) {
	f.Add([]byte(`{"kind":"stopped answering","input":{"origin":"x","frames":[{"chan":0,"report":"` + strings.Repeat("00", 64) + `"}]}}`))
	f.Add([]byte(`{"input":{"frames":[{"chan":-1,"report":"zz"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got devfuzz.Finding
		if err := json.Unmarshal(data, &got); err != nil {
			return
		}
		for _, fr := range got.Input.Frames {
			if len(fr.Report) != ctaphid.ReportSize && fr.Report != nil {
				t.Fatalf("a frame of %d bytes", len(fr.Report))
			}
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var again devfuzz.Finding
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("what parsed does not parse again: %v", err)
		}
	})
}
