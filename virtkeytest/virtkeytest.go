// Package virtkeytest builds an in-process virtual key for tests: a real
// authenticator behind real CTAPHID framing over an in-memory pipe, with a
// clock, user presence and power under the test's control (a
// control.Key). It also serves as the conformance suite's in-process
// target. It does not import the conformance package, and it does not
// import testing, so a binary may use it.
//
// New takes an authenticator.Config; NewKey takes options instead: a
// profile of package profile (WithProfile("fido20-pin"), a CTAP 2.0 key
// that refuses the CTAP 2.1 commands) and the feature switches of
// Chromium's virtual authenticator on top of it (HasResidentKey,
// HasUserVerification, HasLargeBlob, HasCredBlob, HasMinPinLength,
// HasPrf), as `virtkey serve --profile NAME --has-...` takes them.
package virtkeytest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/profile"
)

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

// countingReader counts the bytes read from r; the key it is given to
// may read from several goroutines.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

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

// Target is an in-process conformance target: a control.Key, replaced by
// a factory-new one by Fresh. It is its own control.Controller, acting on
// the current key. Its zero value is not usable; call NewTarget.
type Target struct {
	// Config is the template each key is made from; Now, Presence and
	// Store are filled in by the target, and Rand when it is nil.
	Config authenticator.Config
	// Seed makes the key's randomness reproducible.
	Seed string

	// U2FOnly makes each key's transport refuse CTAPHID_CBOR, as a
	// U2F-only key's does (a profile without CTAP2).
	U2FOnly bool

	mu    sync.Mutex
	key   *control.Key
	fresh bool

	// first is the state of the first key made from the target's own
	// seeded Rand, as New stored it, with how many bytes of the Rand New
	// read and the AAGUID it was made for. A later key from the same
	// seed starts from it instead of making the same master secret and
	// attestation certificates again (most of a new key's cost, and the
	// conformance suite makes one per case), its Rand advanced past
	// those bytes.
	first     *authenticator.State
	firstRead int64
	firstFor  [16]byte
}

var _ control.Controller = (*Target)(nil)

// NewTarget returns a target. With fresh, every case starts on a
// factory-new key; otherwise all cases share one.
func NewTarget(cfg authenticator.Config, fresh bool) *Target {
	return &Target{Config: cfg, Seed: "virtkeytest", fresh: fresh}
}

// NewProfileTarget returns a target whose keys are of profile p
// (profile.Lookup).
func NewProfileTarget(p profile.Profile, fresh bool) *Target {
	t := NewTarget(p.Config, fresh)
	t.U2FOnly = !p.CTAP2
	return t
}

func (t *Target) newKeyLocked() error {
	cfg := t.Config
	cfg.Now = nil // a manual clock
	store := authenticator.NewMemoryStore()
	cfg.Store = store
	var counted *countingReader
	if cfg.Rand == nil {
		r := NewRand(t.Seed)
		if t.first != nil && t.firstFor == cfg.AAGUID {
			if err := store.Commit(&authenticator.Change{State: t.first}); err != nil {
				return err
			}
			io.CopyN(io.Discard, r, t.firstRead)
			cfg.Rand = r
		} else {
			counted = &countingReader{r: r}
			cfg.Rand = counted
		}
	}
	key, err := control.NewKey(cfg)
	if err != nil {
		return err
	}
	if counted != nil {
		t.first, t.firstRead, t.firstFor = store.State(), counted.n.Load(), cfg.AAGUID
	}
	if t.U2FOnly {
		key.ServerConfig = &ctaphid.ServerConfig{U2FOnly: true}
	}
	t.key = key
	return nil
}

// Controlled returns the current key, making one on first use.
func (t *Target) Controlled() (*control.Key, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.key == nil {
		if err := t.newKeyLocked(); err != nil {
			return nil, err
		}
	}
	return t.key, nil
}

func (t *Target) mustKey() *control.Key {
	k, err := t.Controlled()
	if err != nil {
		panic("virtkeytest: " + err.Error())
	}
	return k
}

// Key returns the current key's running authenticator; after a power
// cycle it is a new one.
func (t *Target) Key() (*authenticator.Authenticator, error) {
	k, err := t.Controlled()
	if err != nil {
		return nil, err
	}
	return k.Authenticator(), nil
}

// Store returns the current key's store.
func (t *Target) Store() *authenticator.MemoryStore {
	return t.mustKey().Store().(*authenticator.MemoryStore)
}

// Presence returns the current key's scripted user.
func (t *Target) Presence() *control.User { return t.mustKey().User() }

// Clock returns the current key's clock.
func (t *Target) Clock() *control.Clock { return t.mustKey().Clock() }

// Fresh replaces the key with a factory-new one (conformance.Freshener).
func (t *Target) Fresh(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.newKeyLocked()
}

// Open implements conformance.Target: a new CTAPHID link to the key.
func (t *Target) Open(ctx context.Context) (*client.Device, error) {
	k, err := t.Controlled()
	if err != nil {
		return nil, err
	}
	return k.Open(ctx)
}

// Capabilities implements conformance.Target and control.Controller: the
// key's capabilities, and control.CapFresh for a fresh target.
func (t *Target) Capabilities() []control.Capability {
	caps := t.mustKey().Capabilities()
	if t.fresh {
		caps = append(caps, control.CapFresh)
	}
	return caps
}

// Controller implements conformance.Target.
func (t *Target) Controller() control.Controller { return t }

// PowerCycle implements control.Controller: the key restarts from what
// its store holds.
func (t *Target) PowerCycle(ctx context.Context) error {
	k, err := t.Controlled()
	if err != nil {
		return err
	}
	return k.PowerCycle(ctx)
}

// SetPresence implements control.Controller.
func (t *Target) SetPresence(p control.Presence) error { return t.mustKey().SetPresence(p) }

// SetUV implements control.Controller.
func (t *Target) SetUV(o control.UVOutcome) error { return t.mustKey().SetUV(o) }

// PushSamples implements control.Controller.
func (t *Target) PushSamples(samples ...control.FingerSample) error {
	return t.mustKey().PushSamples(samples...)
}

// Advance implements control.Controller.
func (t *Target) Advance(d time.Duration) error { return t.mustKey().Advance(d) }

// TB is the part of testing.TB that New uses; *testing.T and *testing.B
// are TBs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Key is an in-process key and a CTAP2 client connected to it.
type Key struct {
	*Target
	Device *client.Device
	Ctap2  *client.Ctap2

	tb     TB
	events *events // credentials.go
}

// New starts an in-process key for a test and connects a client to it;
// both stop when the test ends. Every key is a different key: unless
// cfg.Rand is set, its randomness is seeded from the test's name and a
// count of the keys made for it (credentials.go).
func New(tb TB, cfg authenticator.Config) *Key {
	tb.Helper()
	ev := newEvents(&cfg)
	t := NewTarget(cfg, false)
	t.Seed = seedFor(tb)
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
	return &Key{Target: t, Device: dev, Ctap2: c, tb: tb, events: ev}
}
