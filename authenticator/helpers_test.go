package authenticator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// seededRand is a deterministic Config.Rand.
func seededRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// fakeClock is a Config.Now that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tb is what the helpers need of testing.TB; *rapid.T has it too.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// testKey is an authenticator with its store, clock and presence.
type testKey struct {
	t        tb
	a        *Authenticator
	store    *MemoryStore
	clock    *fakeClock
	presence *ScriptedPresence // nil when the key uses AutoPresence
}

type keyOption func(*Config)

func withPresence(p Presence) keyOption           { return func(c *Config) { c.Presence = p } }
func withAttestation(m AttestationMode) keyOption { return func(c *Config) { c.Attestation = m } }
func withMaxCredentials(n int) keyOption          { return func(c *Config) { c.MaxCredentials = n } }

// newTestKey returns a fresh key with a seeded Rand, a fake clock, a
// MemoryStore and AutoPresence, changed by opts.
func newTestKey(t tb, opts ...keyOption) *testKey {
	t.Helper()
	k := &testKey{t: t, store: NewMemoryStore(), clock: newFakeClock()}
	cfg := Config{Rand: seededRand(1), Now: k.clock.Now, Store: k.store}
	for _, o := range opts {
		o(&cfg)
	}
	if p, ok := cfg.Presence.(*ScriptedPresence); ok {
		k.presence = p
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	k.a = a
	return k
}

// do runs cmd with req (a request struct, nil for none) and decodes an OK
// response into resp (if not nil).
func (k *testKey) do(cmd ctap.Command, req, resp any) ctap.Status {
	k.t.Helper()
	var params []byte
	switch r := req.(type) {
	case nil:
	case rawParams:
		params = r
	default:
		params = ctap.MustMarshal(req)
	}
	status, body := k.a.Handle(context.Background(), cmd, params)
	if status == ctap.StatusOK {
		if !ctap.IsCanonical(body) && len(body) > 0 {
			k.t.Errorf("%v: response is not canonical CBOR: %x", cmd, body)
		}
		if resp != nil && len(body) > 0 {
			if err := ctap.Unmarshal(body, resp); err != nil {
				k.t.Fatalf("%v: decoding response: %v", cmd, err)
			}
		}
	} else if len(body) != 0 {
		k.t.Errorf("%v: status %v with a body", cmd, status)
	}
	return status
}

func (k *testKey) makeCredential(req any) (*ctap.MakeCredentialResponse, ctap.Status) {
	k.t.Helper()
	var resp ctap.MakeCredentialResponse
	s := k.do(ctap.CmdMakeCredential, req, &resp)
	return &resp, s
}

func (k *testKey) getAssertion(req any) (*ctap.GetAssertionResponse, ctap.Status) {
	k.t.Helper()
	var resp ctap.GetAssertionResponse
	s := k.do(ctap.CmdGetAssertion, req, &resp)
	return &resp, s
}

func (k *testKey) getNextAssertion() (*ctap.GetAssertionResponse, ctap.Status) {
	k.t.Helper()
	var resp ctap.GetAssertionResponse
	s := k.do(ctap.CmdGetNextAssertion, nil, &resp)
	return &resp, s
}

// mustRegister makes a credential and fails the test unless it worked; it
// returns the credential ID and the parsed authenticator data.
func (k *testKey) mustRegister(req *ctap.MakeCredentialRequest) ([]byte, *ctap.AuthData) {
	k.t.Helper()
	resp, s := k.makeCredential(req)
	if s != ctap.StatusOK {
		k.t.Fatalf("makeCredential: %v", s)
	}
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil {
		k.t.Fatalf("ParseAuthData: %v", err)
	}
	return ad.AttestedCredential.CredentialID, ad
}

var testCDH = bytes.Repeat([]byte{0xCD}, 32)

func rpHash(rpID string) [32]byte { return sha256.Sum256([]byte(rpID)) }

// mcReq is a valid makeCredential request for rpID and user, with algs in
// preference order (ES256 if none).
func mcReq(rpID string, user []byte, rk bool, algs ...int64) *ctap.MakeCredentialRequest {
	if len(algs) == 0 {
		algs = []int64{ctap.AlgES256}
	}
	r := &ctap.MakeCredentialRequest{
		ClientDataHash: testCDH,
		RP:             &ctap.RPEntity{ID: rpID, Name: "Example"},
		User:           &ctap.UserEntity{ID: user, Name: "alice", DisplayName: "Alice"},
	}
	for _, a := range algs {
		r.PubKeyCredParams = append(r.PubKeyCredParams, ctap.CredentialParameter{Type: ctap.CredentialTypePublicKey, Alg: a})
	}
	if rk {
		r.Options = map[string]bool{ctap.OptionRK: true}
	}
	return r
}

// gaReq is a getAssertion request for rpID with the given allowList IDs.
func gaReq(rpID string, allow ...[]byte) *ctap.GetAssertionRequest {
	r := &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: testCDH}
	for _, id := range allow {
		r.AllowList = append(r.AllowList, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: id})
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// rawParams is a request struct encoded with extra members set (or
// overwritten) by integer key, for members the struct cannot express,
// such as a zero-length pinUvAuthParam that omitempty drops.
type rawParams []byte

// withoutMember is req encoded without the member key: absent, not null.
func withoutMember(req any, key int) rawParams {
	var m map[int]ctap.RawMessage
	if err := ctap.Unmarshal(ctap.MustMarshal(req), &m); err != nil {
		panic(err)
	}
	delete(m, key)
	return ctap.MustMarshal(m)
}

func withMember(req any, key int, val any) rawParams {
	var m map[int]ctap.RawMessage
	if err := ctap.Unmarshal(ctap.MustMarshal(req), &m); err != nil {
		panic(err)
	}
	m[key] = ctap.MustMarshal(val)
	return ctap.MustMarshal(m)
}

// forRP returns the credentials of the RP with that rpIdHash, oldest
// first, or nil.
func (x *credIndex) forRP(rpIDHash [32]byte) []*ResidentCredential {
	r := x.rp(rpIDHash)
	if r == nil {
		return nil
	}
	out := make([]*ResidentCredential, r.len())
	for i := range out {
		out[i] = r.cred(i)
	}
	return out
}
