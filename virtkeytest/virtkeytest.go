// Package virtkeytest builds an in-process virtual key for tests: a real
// authenticator behind real CTAPHID framing over an in-memory pipe, with a
// clock, user presence and power under the test's control. It also serves
// as the conformance suite's in-process target.
package virtkeytest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/ctap"
)

// Presence answers the key's requests for user presence as the test says.
// It is also the key's authenticator.Verifier: with Config.BuiltInUV, its
// UV outcome (UVMatch unless SetUV says otherwise) answers the built-in
// user verification attempts.
type Presence struct {
	mu     sync.Mutex
	mode   conformance.Presence
	uv     conformance.UVOutcome
	seen   []authenticator.TouchRequest
	uvSeen []authenticator.UVRequest

	samples []conformance.FingerSample // queued by PushSamples
}

var _ authenticator.Verifier = (*Presence)(nil)

// Set changes how the next requests are answered.
func (p *Presence) Set(mode conformance.Presence) {
	p.mu.Lock()
	p.mode = mode
	p.mu.Unlock()
}

// Requests returns the presence requests seen so far.
func (p *Presence) Requests() []authenticator.TouchRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]authenticator.TouchRequest(nil), p.seen...)
}

// SetUV changes how the next user verification attempts are answered.
func (p *Presence) SetUV(o conformance.UVOutcome) {
	p.mu.Lock()
	p.uv = o
	p.mu.Unlock()
}

// UVRequests returns the user verification requests seen so far.
func (p *Presence) UVRequests() []authenticator.UVRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]authenticator.UVRequest(nil), p.uvSeen...)
}

// VerifyUser implements authenticator.Verifier with the outcome SetUV
// chose: a match, ctap.StatusUVInvalid, ctap.StatusOperationDenied or
// ctap.StatusUserActionTimeout.
func (p *Presence) VerifyUser(ctx context.Context, req authenticator.UVRequest) error {
	p.mu.Lock()
	o := p.uv
	p.uvSeen = append(p.uvSeen, req)
	p.mu.Unlock()
	switch o {
	case conformance.UVNoMatch:
		return ctap.StatusUVInvalid
	case conformance.UVDecline:
		return ctap.StatusOperationDenied
	case conformance.UVTimeout:
		return ctap.StatusUserActionTimeout
	}
	return ctx.Err()
}

// Touch implements authenticator.Presence.
func (p *Presence) Touch(ctx context.Context, req authenticator.TouchRequest) error {
	p.mu.Lock()
	mode := p.mode
	p.seen = append(p.seen, req)
	p.mu.Unlock()
	switch mode {
	case conformance.PresenceDeny:
		return ctap.StatusOperationDenied
	case conformance.PresenceTimeout:
		return ctap.StatusUserActionTimeout
	case conformance.PresenceWait:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// Clock is a manual clock: it moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Rand is a deterministic byte stream: SHA-256 in counter mode over a seed.
// It is for tests only.
type Rand struct {
	mu   sync.Mutex
	seed [32]byte
	ctr  uint64
	buf  []byte
}

// NewRand returns a deterministic reader seeded with seed.
func NewRand(seed string) *Rand { return &Rand{seed: sha256.Sum256([]byte(seed))} }

// Read fills p; it never fails.
func (r *Rand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var block [40]byte
			copy(block[:], r.seed[:])
			binary.BigEndian.PutUint64(block[32:], r.ctr)
			r.ctr++
			sum := sha256.Sum256(block[:])
			r.buf = sum[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

var _ io.Reader = (*Rand)(nil)

// Target is an in-process conformance target. Its zero value is not usable;
// call NewTarget.
type Target struct {
	// Config is the template each key is made from; Rand, Now, Presence and
	// Store are filled in by the target.
	Config authenticator.Config
	// Seed makes the key's randomness reproducible.
	Seed string

	mu       sync.Mutex
	key      *authenticator.Authenticator
	store    *authenticator.MemoryStore
	clock    *Clock
	presence *Presence
	fresh    bool
}

// NewTarget returns a target. With fresh, every case starts on a
// factory-new key; otherwise all cases share one.
func NewTarget(cfg authenticator.Config, fresh bool) *Target {
	return &Target{Config: cfg, Seed: "virtkeytest", fresh: fresh}
}

func (t *Target) newKey() error {
	t.clock = NewClock()
	t.presence = &Presence{}
	t.store = authenticator.NewMemoryStore()
	cfg := t.Config
	cfg.Rand = NewRand(t.Seed)
	cfg.Now = t.clock.Now
	cfg.Presence = t.presence
	cfg.Store = t.store
	key, err := authenticator.New(cfg)
	if err != nil {
		return err
	}
	t.key = key
	return nil
}

// Key returns the current authenticator, making one on first use.
func (t *Target) Key() (*authenticator.Authenticator, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.key == nil {
		if err := t.newKey(); err != nil {
			return nil, err
		}
	}
	return t.key, nil
}

// Store returns the current key's store.
func (t *Target) Store() *authenticator.MemoryStore {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.store
}

// Presence returns the current key's presence control.
func (t *Target) Presence() *Presence {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.presence
}

// Fresh implements conformance.Freshener.
func (t *Target) Fresh(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.newKey()
}

// Open implements conformance.Target: a new CTAPHID link to the key.
func (t *Target) Open(ctx context.Context) (*client.Device, error) {
	key, err := t.Key()
	if err != nil {
		return nil, err
	}
	return client.OpenInProcess(ctx, key, nil)
}

// Capabilities implements conformance.Target. A target whose Config has
// BuiltInUV offers conformance.CapUV.
func (t *Target) Capabilities() []conformance.Capability {
	caps := []conformance.Capability{conformance.CapControl, conformance.CapPowerCycle, conformance.CapClock}
	if t.fresh {
		caps = append(caps, conformance.CapFresh)
	}
	if t.Config.BuiltInUV {
		caps = append(caps, conformance.CapUV)
	}
	if t.Config.BioEnrollment {
		caps = append(caps, conformance.CapFingerprint)
	}
	return caps
}

// Controller implements conformance.Target.
func (t *Target) Controller() conformance.Controller { return t }

// PowerCycle implements conformance.Controller.
func (t *Target) PowerCycle(ctx context.Context) error {
	key, err := t.Key()
	if err != nil {
		return err
	}
	key.PowerCycle()
	return nil
}

// SetPresence implements conformance.Controller.
func (t *Target) SetPresence(p conformance.Presence) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.presence == nil {
		return errors.New("virtkeytest: no key yet")
	}
	t.presence.Set(p)
	return nil
}

// SetUV implements conformance.UVControl.
func (t *Target) SetUV(o conformance.UVOutcome) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.presence == nil {
		return errors.New("virtkeytest: no key yet")
	}
	t.presence.SetUV(o)
	return nil
}

var _ conformance.UVControl = (*Target)(nil)

// Advance implements conformance.Clock.
func (t *Target) Advance(d time.Duration) {
	t.mu.Lock()
	c := t.clock
	t.mu.Unlock()
	if c != nil {
		c.Advance(d)
	}
}

// Key is an in-process key and a CTAP2 client connected to it.
type Key struct {
	*Target
	Device *client.Device
	Ctap2  *client.Ctap2
}

// New starts an in-process key for a test and connects a client to it;
// both stop when the test ends.
func New(tb testing.TB, cfg authenticator.Config) *Key {
	tb.Helper()
	t := NewTarget(cfg, false)
	ctx := context.Background()
	dev, err := t.Open(ctx)
	if err != nil {
		tb.Fatalf("virtkeytest: open: %v", err)
	}
	tb.Cleanup(func() { dev.Close() })
	c, err := client.New(ctx, dev)
	if err != nil {
		tb.Fatalf("virtkeytest: getInfo: %v", err)
	}
	return &Key{Target: t, Device: dev, Ctap2: c}
}

var (
	_ authenticator.FingerprintSensor = (*Presence)(nil)
	_ conformance.FingerprintControl  = (*Target)(nil)
)

// PushSamples queues fingerprint samples for the next captures.
func (p *Presence) PushSamples(samples ...conformance.FingerSample) {
	p.mu.Lock()
	p.samples = append(p.samples, samples...)
	p.mu.Unlock()
}

// Capture implements authenticator.FingerprintSensor (Config.BioEnrollment):
// the next sample PushSamples queued (NoFinger waits until ctx ends); with
// none queued, the SetUV outcome: a good sample of finger 1 for UVMatch, a
// poor-quality one for UVNoMatch, a decline or a timeout.
func (p *Presence) Capture(ctx context.Context, req authenticator.CaptureRequest) (authenticator.Sample, error) {
	p.mu.Lock()
	queued := len(p.samples) > 0
	var s conformance.FingerSample
	if queued {
		s, p.samples = p.samples[0], p.samples[1:]
	}
	o := p.uv
	if !req.Enroll {
		p.uvSeen = append(p.uvSeen, req.UV)
	}
	p.mu.Unlock()
	switch {
	case queued && s.NoFinger:
		<-ctx.Done()
		return authenticator.Sample{}, ctx.Err()
	case queued:
		return authenticator.Sample{Finger: s.Finger, Status: authenticator.SampleStatus(s.Status)}, nil
	case o == conformance.UVNoMatch:
		return authenticator.Sample{Finger: 1, Status: authenticator.SamplePoorQuality}, nil
	case o == conformance.UVDecline:
		return authenticator.Sample{}, ctap.StatusOperationDenied
	case o == conformance.UVTimeout:
		return authenticator.Sample{}, ctap.StatusUserActionTimeout
	}
	return authenticator.Sample{Finger: 1, Status: authenticator.SampleGood}, nil
}

// PushSamples implements conformance.FingerprintControl.
func (t *Target) PushSamples(samples ...conformance.FingerSample) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.presence == nil {
		return errors.New("virtkeytest: no key yet")
	}
	t.presence.PushSamples(samples...)
	return nil
}
