package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// step is one scripted exchange of a fakeTransport.
type step struct {
	keepalives []ctaphid.KeepaliveStatus // reported before the answer
	resp       []byte                    // whole CTAPHID_CBOR response: status || body
	err        error
}

// fakeTransport answers Calls from a script, recording what was sent.
type fakeTransport struct {
	mu    sync.Mutex
	steps []step
	sent  [][]byte // CTAPHID_CBOR payloads: command || parameters
}

func (f *fakeTransport) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, onKeepalive func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cmd != ctaphid.CmdCBOR {
		return nil, ctaphid.ErrInvalidCmd
	}
	f.sent = append(f.sent, slices.Clone(payload))
	if len(f.steps) == 0 {
		return nil, errors.New("fakeTransport: script exhausted")
	}
	s := f.steps[0]
	f.steps = f.steps[1:]
	for _, k := range s.keepalives {
		if onKeepalive != nil {
			onKeepalive(k)
		}
	}
	return s.resp, s.err
}

// commands returns the command byte of every payload sent.
func (f *fakeTransport) commands() []ctap.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ctap.Command
	for _, p := range f.sent {
		out = append(out, ctap.Command(p[0]))
	}
	return out
}

var testAAGUID = [16]byte{0x76, 0x69, 0x72, 0x74, 0x6b, 0x65, 0x79, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00, 0x01}

// minimalInfoBody is a canonical getInfo body with only the required members.
func minimalInfoBody(t testing.TB) []byte {
	t.Helper()
	return mustMarshal(t, ctap.InfoResponse{
		Versions: []string{ctap.VersionFIDO20, ctap.VersionFIDO21},
		AAGUID:   testAAGUID[:],
	})
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := ctap.Marshal(v)
	if err != nil {
		t.Fatalf("ctap.Marshal(%T): %v", v, err)
	}
	return b
}

// ok prefixes body with CTAP2_OK.
func ok(body []byte) []byte { return append([]byte{byte(ctap.StatusOK)}, body...) }

// newTestCtap2 returns a Ctap2 whose New consumed a minimal getInfo, and
// the transport scripted with steps for what follows.
func newTestCtap2(t *testing.T, steps []step, opts ...Option) (*Ctap2, *fakeTransport) {
	t.Helper()
	ft := &fakeTransport{steps: append([]step{{resp: ok(minimalInfoBody(t))}}, steps...)}
	c, err := New(context.Background(), ft, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, ft
}

func cdh(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func u64(v uint64) *uint64 { return &v }
func i64(v int64) *int64   { return &v }
func boolp(v bool) *bool   { return &v }
