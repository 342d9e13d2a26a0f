package virtkeytest

import (
	"context"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/profile"
)

// An Option chooses what key NewKey makes: a profile (WithProfile), the
// feature switches of Chromium's virtual authenticator on top of it
// (HasResidentKey, HasUserVerification, HasLargeBlob, HasCredBlob,
// HasMinPinLength, HasPrf; profile.Switches), and any other Config change
// (WithConfig).
type Option func(*options)

type options struct {
	name     string
	switches profile.Switches
	config   []func(*authenticator.Config)
}

// WithProfile makes a key of the named profile (profile.Lookup): "fido21"
// (the default), "fido21-bio", "fido20-pin", "fido22", ... An unknown
// name fails the test.
func WithProfile(name string) Option { return func(o *options) { o.name = name } }

// WithConfig changes the key's authenticator.Config after the profile
// and the switches.
func WithConfig(f func(*authenticator.Config)) Option {
	return func(o *options) { o.config = append(o.config, f) }
}

// HasResidentKey switches discoverable credentials on or off (Chromium's
// hasResidentKey; off also takes credential management, large blobs,
// credBlob and largeBlobKey).
func HasResidentKey(v bool) Option { return func(o *options) { o.switches.ResidentKey = &v } }

// HasUserVerification switches built-in user verification on or off
// (Chromium's hasUserVerification).
func HasUserVerification(v bool) Option {
	return func(o *options) { o.switches.UserVerification = &v }
}

// HasLargeBlob switches authenticatorLargeBlobs and largeBlobKey on or off
// (Chromium's hasLargeBlob).
func HasLargeBlob(v bool) Option { return func(o *options) { o.switches.LargeBlob = &v } }

// HasCredBlob switches the credBlob extension on or off (Chromium's
// hasCredBlob).
func HasCredBlob(v bool) Option { return func(o *options) { o.switches.CredBlob = &v } }

// HasMinPinLength switches the minPinLength extension on or off
// (Chromium's hasMinPinLength).
func HasMinPinLength(v bool) Option { return func(o *options) { o.switches.MinPinLength = &v } }

// HasPrf switches hmac-secret, which WebAuthn's prf extension uses, on or
// off (Chromium's hasPrf).
func HasPrf(v bool) Option { return func(o *options) { o.switches.Prf = &v } }

// HasU2F switches CTAP1/U2F on or off (no Chromium option: its ctap2
// authenticators have no U2F). Off, getInfo leaves out U2F_V2 and the
// transport sets CAPABILITY_NMSG.
func HasU2F(v bool) Option { return func(o *options) { o.switches.U2F = &v } }

// NewKey starts an in-process key chosen by opts for a test and, for a
// CTAP2 profile, connects a CTAP2 client to it (Key.Ctap2 is nil for the
// U2F-only profile, which has no getInfo); both stop when the test ends.
// Without options it is New(tb, authenticator.Config{}) with the default
// profile's AAGUID and versions.
func NewKey(tb TB, opts ...Option) *Key {
	tb.Helper()
	o := options{name: profile.Default}
	for _, opt := range opts {
		opt(&o)
	}
	p, ok := profile.Lookup(o.name)
	if !ok {
		tb.Fatalf("virtkeytest: no profile %q (have %v)", o.name, profile.Names())
		return nil
	}
	o.switches.Apply(&p)
	for _, f := range o.config {
		f(&p.Config)
	}
	if p.CTAP2 {
		return New(tb, p.Config)
	}
	cfg := p.Config
	ev := newEvents(&cfg)
	t := NewTarget(cfg, false)
	t.Seed = seedFor(tb)
	t.U2FOnly = true
	if _, err := t.Controlled(); err != nil {
		tb.Fatalf("virtkeytest: profile %s: %v", p.Name, err)
	}
	dev, err := t.Open(context.Background())
	if err != nil {
		tb.Fatalf("virtkeytest: open: %v", err)
	}
	tb.Cleanup(func() { dev.Close() })
	return &Key{Target: t, Device: dev, tb: tb, events: ev}
}
