package control

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/profile"
)

// Clock is a key's clock: a base clock plus an offset that only Advance
// changes. With a nil base it is a manual clock that stands at a fixed
// instant until advanced.
type Clock struct {
	base   func() time.Time
	mu     sync.Mutex
	offset time.Duration
}

// Epoch is where a manual clock starts.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// NewClock returns a clock running on base (nil: a manual clock standing
// at Epoch).
func NewClock(base func() time.Time) *Clock { return &Clock{base: base} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	if c.base == nil {
		return Epoch.Add(off)
	}
	return c.base().Add(off)
}

// Advance moves the clock forward by d; a negative d is an error, because
// the keys' timers (CTAP 2.1 §6.5.2.1, §6.2.2 step 2) only look forward.
func (c *Clock) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("control: advance %v: the clock only moves forward", d)
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
	return nil
}

// Offset is how far Advance moved the clock in total.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Key is an in-memory key under control: an authenticator.Authenticator
// whose user is a [User], whose clock is a [Clock] and whose state is in
// a Store that outlives it. Key is a ctaphid.Handler that forwards to the
// current authenticator, so connections made with Open reach the key
// across power cycles, as a key reached over UDP does.
//
// PowerCycle is a real restart: the running authenticator is stopped (a
// command in progress is cancelled) and a new one is built from the same
// Config and Store, so it knows only what the old one saved.
type Key struct {
	// ServerConfig is what Open passes to ctaphid.Serve; nil means its
	// defaults. A U2F-only profile sets U2FOnly (NewProfileKey). Set it
	// before the first Open.
	ServerConfig *ctaphid.ServerConfig

	cfg   authenticator.Config
	user  *User
	clock *Clock
	store authenticator.Store

	mu   sync.Mutex
	auth *authenticator.Authenticator
	// powerCycles counts PowerCycle calls that built a new authenticator.
	powerCycles int
}

var (
	_ Controller         = (*Key)(nil)
	_ ctaphid.Handler    = (*Key)(nil)
	_ ctaphid.Winker     = (*Key)(nil)
	_ Clocked            = (*Key)(nil)
	_ UVControl          = (*Key)(nil)
	_ FingerprintControl = (*Key)(nil)
)

// NewKey builds a key from cfg. cfg.Presence and cfg.Now are replaced by
// the key's User and Clock (a manual clock unless cfg.Now is set, which
// then is the clock's base); a nil cfg.Store is a new
// authenticator.MemoryStore.
func NewKey(cfg authenticator.Config) (*Key, error) {
	k := &Key{cfg: cfg, user: &User{}, clock: NewClock(cfg.Now), store: cfg.Store}
	if k.store == nil {
		k.store = authenticator.NewMemoryStore()
	}
	k.cfg.Store = k.store
	k.cfg.Presence = k.user
	k.cfg.Now = k.clock.Now
	a, err := authenticator.New(k.cfg)
	if err != nil {
		return nil, err
	}
	k.auth = a
	if !cfg.Implements(ctap.VersionU2FV2) {
		// No CTAP1/U2F: INIT sets CAPABILITY_NMSG (CTAP 2.1 §11.2.9.1.3).
		k.ServerConfig = &ctaphid.ServerConfig{NoMsg: true}
	}
	return k, nil
}

// NewProfileKey builds a key of profile p: NewKey with p.Config and
// cfg's Rand, Now and Store, and for a profile without CTAP2 a transport
// that refuses CTAPHID_CBOR (ctaphid.ServerConfig.U2FOnly).
func NewProfileKey(p profile.Profile, cfg authenticator.Config) (*Key, error) {
	pc := p.Config
	pc.Rand, pc.Now, pc.Store = cfg.Rand, cfg.Now, cfg.Store
	k, err := NewKey(pc)
	if err != nil {
		return nil, fmt.Errorf("control: profile %s: %w", p.Name, err)
	}
	if !p.CTAP2 {
		k.ServerConfig = &ctaphid.ServerConfig{U2FOnly: true}
	}
	return k, nil
}

// Authenticator returns the running authenticator; after a power cycle it
// is a new one.
func (k *Key) Authenticator() *authenticator.Authenticator {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.auth
}

// Store returns the key's Store.
func (k *Key) Store() authenticator.Store { return k.store }

// User returns the key's scripted user.
func (k *Key) User() *User { return k.user }

// Clock returns the key's clock.
func (k *Key) Clock() *Clock { return k.clock }

// Config returns the configuration the key's authenticators are built
// from.
func (k *Key) Config() authenticator.Config { return k.cfg }

// PowerCycles returns how many times the key was power-cycled.
func (k *Key) PowerCycles() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.powerCycles
}

// Open connects a client to the key on a new in-memory CTAPHID link.
func (k *Key) Open(ctx context.Context) (*client.Device, error) {
	return client.OpenInProcess(ctx, k, k.ServerConfig)
}

// HandleCBOR implements ctaphid.Handler.
func (k *Key) HandleCBOR(ctx context.Context, req []byte) []byte {
	return k.Authenticator().HandleCBOR(ctx, req)
}

// HandleMsg implements ctaphid.Handler.
func (k *Key) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	return k.Authenticator().HandleMsg(ctx, req)
}

// Wink implements ctaphid.Winker.
func (k *Key) Wink() { k.Authenticator().Wink() }

// Capabilities implements Controller: control, power cycles and the clock
// always; UV with cfg.BuiltInUV, fingerprint with cfg.BioEnrollment.
func (k *Key) Capabilities() []Capability {
	caps := []Capability{CapControl, CapPowerCycle, CapClock}
	if k.cfg.BuiltInUV {
		caps = append(caps, CapUV)
	}
	if k.cfg.BioEnrollment {
		caps = append(caps, CapFingerprint)
	}
	return caps
}

// SetPresence implements Controller.
func (k *Key) SetPresence(p Presence) error {
	if p < PresenceAuto || p > PresenceWait {
		return fmt.Errorf("control: %v: no such presence", p)
	}
	k.user.SetPresence(p)
	return nil
}

// SetUV implements Controller.
func (k *Key) SetUV(o UVOutcome) error {
	if o < UVMatch || o > UVTimeout {
		return fmt.Errorf("control: %v: no such UV outcome", o)
	}
	if !k.cfg.BuiltInUV {
		return unsupported("the key has no built-in user verification")
	}
	k.user.SetUV(o)
	return nil
}

// PushSamples implements Controller.
func (k *Key) PushSamples(samples ...FingerSample) error {
	if !k.cfg.BioEnrollment {
		return unsupported("the key has no fingerprint sensor")
	}
	k.user.PushSamples(samples...)
	return nil
}

// Advance implements Controller.
func (k *Key) Advance(d time.Duration) error { return k.clock.Advance(d) }

// PowerCycle implements Controller: the running authenticator is stopped
// and a new one built from the same Config and Store. Answers and samples
// queued on the User are forgotten; its presence and UV settings stay.
func (k *Key) PowerCycle(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.auth.PowerCycle() // cancels a command in progress and waits for it
	k.user.Forget()
	a, err := authenticator.New(k.cfg)
	if err != nil {
		return fmt.Errorf("control: power cycle: the key does not start again: %w", err)
	}
	k.auth = a
	k.powerCycles++
	return nil
}
