package webauthn

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Client is a WebAuthn Level 3 client (§4 "WebAuthn Client"): the part of
// a browser that turns navigator.credentials.create() and get() options
// into CTAP 2.1 commands for one authenticator and the authenticator's
// answers into PublicKeyCredential JSON, for one caller origin. It is
// safe for concurrent use; ceremonies run one at a time on the device.
type Client struct {
	ctap2  *client.Ctap2 // nil for a U2F-only key
	ctap1  *client.Ctap1 // U2F requests: appid and U2F-only keys
	origin *origin
	cfg    config
	sem    chan struct{}
}

type config struct {
	pin          PINFunc
	choose       AccountChooser
	rand         io.Reader
	keepalive    func(ctaphid.KeepaliveStatus)
	topOrigin    string
	publicSuffix func(string) (string, bool)
	enterprise   map[string]bool
	minTimeout   time.Duration
	maxTimeout   time.Duration
	pollInterval time.Duration
}

// PINFunc asks the user for the authenticator's PIN, as a browser's PIN
// dialog does; retries is the authenticator's pinRetries count before this
// attempt. It is called again after a wrong PIN while retries remain, at
// most three times a ceremony. Returning an error ends the ceremony with
// NotAllowedError.
type PINFunc func(ctx context.Context, retries int) (string, error)

// Account is one discoverable credential the authenticator offered for a
// login without allowCredentials (CTAP 2.1 §6.2.2, §6.3).
type Account struct {
	CredentialID []byte
	UserID       []byte
	Name         string
	DisplayName  string
}

// AccountChooser picks one of accounts (at least two), as a browser's
// account selector does, and returns its index. An error ends the
// ceremony with NotAllowedError.
type AccountChooser func(ctx context.Context, accounts []Account) (int, error)

// Option configures a Client.
type Option func(*config)

// WithPIN gives the client a way to ask for the PIN. Without it a ceremony
// that needs the PIN fails with NotAllowedError.
func WithPIN(f PINFunc) Option { return func(c *config) { c.pin = f } }

// WithAccountChooser sets how a discoverable login picks among several
// accounts. Without it the first the authenticator returned, its most
// recently created credential, is used.
func WithAccountChooser(f AccountChooser) Option { return func(c *config) { c.choose = f } }

// WithRand sets the source of the platform's key agreement keys and large
// blob nonces; nil means crypto/rand.
func WithRand(r io.Reader) Option { return func(c *config) { c.rand = r } }

// WithKeepalive has f called with every CTAPHID keepalive status, for
// example to tell the user to touch the key on StatusUPNeeded.
func WithKeepalive(f func(ctaphid.KeepaliveStatus)) Option {
	return func(c *config) { c.keepalive = f }
}

// WithTopOrigin makes the client act for a cross-origin iframe inside
// topOrigin: clientDataJSON says crossOrigin true and carries topOrigin
// (§5.8.1).
func WithTopOrigin(topOrigin string) Option { return func(c *config) { c.topOrigin = topOrigin } }

// WithPublicSuffixList replaces the built-in public suffix rule (see
// origin.go) with f, which has the signature of
// golang.org/x/net/publicsuffix.PublicSuffix.
func WithPublicSuffixList(f func(domain string) (publicSuffix string, icann bool)) Option {
	return func(c *config) { c.publicSuffix = f }
}

// WithEnterpriseAttestation lists the RP IDs for which this client, as an
// enterprise-managed browser, asks for platform-managed enterprise
// attestation (CTAP 2.1 §7.1.2, enterpriseAttestation 2) when options say
// attestation "enterprise". For other RP IDs it asks for
// vendor-facilitated enterprise attestation (1), which the authenticator
// grants only for RP IDs it was made for.
func WithEnterpriseAttestation(rpIDs ...string) Option {
	return func(c *config) {
		c.enterprise = make(map[string]bool)
		for _, id := range rpIDs {
			c.enterprise[id] = true
		}
	}
}

// WithTimeoutRange sets the range options.timeout is corrected into
// (§5.1.3 step 11, §5.1.4 step 10). The default is WebAuthn §15.1's
// recommendation: 300 s to 600 s, 300 s when absent; with
// userVerification "discouraged" 30 s to 180 s, 120 s when absent. A test
// that wants a short timeout widens it.
func WithTimeoutRange(min, max time.Duration) Option {
	return func(c *config) { c.minTimeout, c.maxTimeout = min, max }
}

// NewClient returns a client for origin on a CTAP2 authenticator. origin
// is a serialized origin ("https://example.com", "http://localhost:8384")
// or a URL whose origin is meant. An opaque origin is NotAllowedError; an
// IP address, an origin that is not potentially trustworthy, or a host
// that is not a valid domain is SecurityError (§5.1.3 steps 2 and 3).
func NewClient(c *client.Ctap2, origin string, opts ...Option) (*Client, error) {
	if c == nil {
		return nil, errors.New("webauthn: nil Ctap2")
	}
	wc, err := newClient(origin, opts)
	if err != nil {
		return nil, err
	}
	wc.ctap2 = c
	if c.Info().Supports(ctap.VersionU2FV2) {
		wc.ctap1 = client.NewCtap1(c.Transport())
	}
	return wc, nil
}

// NewU2FClient returns a client for origin on a CTAP1/U2F-only
// authenticator (CTAP 2.1 §10): create() registers with U2F_REGISTER and
// gives a "fido-u2f" attestation, get() signs with U2F_AUTHENTICATE.
// Only ES256, non-discoverable credentials and no user verification are
// possible, as on any U2F key.
func NewU2FClient(t client.Transport, origin string, opts ...Option) (*Client, error) {
	if t == nil {
		return nil, errors.New("webauthn: nil Transport")
	}
	wc, err := newClient(origin, opts)
	if err != nil {
		return nil, err
	}
	wc.ctap1 = client.NewCtap1(t)
	return wc, nil
}

// Open returns a client for origin on dev: a CTAP2 client when the device
// advertises CTAPHID_CBOR in its INIT response, else a U2F one.
func Open(ctx context.Context, dev *client.Device, origin string, opts ...Option) (*Client, error) {
	if dev.Conn().Info().Capabilities&ctaphid.CapCBOR == 0 {
		return NewU2FClient(dev, origin, opts...)
	}
	c, err := client.New(ctx, dev)
	if err != nil {
		return nil, err
	}
	return NewClient(c, origin, opts...)
}

func newClient(originStr string, opts []Option) (*Client, error) {
	o, err := parseOrigin(originStr)
	if err != nil {
		return nil, err
	}
	wc := &Client{origin: o, sem: make(chan struct{}, 1)}
	wc.cfg.publicSuffix = builtinPublicSuffix
	wc.cfg.pollInterval = 100 * time.Millisecond
	for _, opt := range opts {
		opt(&wc.cfg)
	}
	if wc.cfg.topOrigin != "" {
		t, err := parseOrigin(wc.cfg.topOrigin)
		if err != nil {
			return nil, err
		}
		wc.cfg.topOrigin = t.serialized
	}
	return wc, nil
}

// Origin returns the serialized caller origin.
func (c *Client) Origin() string { return c.origin.serialized }

// Ctap2 returns the CTAP2 client, nil for a U2F-only key.
func (c *Client) Ctap2() *client.Ctap2 { return c.ctap2 }

func (c *Client) publicSuffix(domain string) (string, bool) { return c.cfg.publicSuffix(domain) }

// lock serialises ceremonies.
func (c *Client) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, ctx)
	}
}

func (c *Client) unlock() { <-c.sem }

// errOptionsTimeout is the cause of a ceremony context whose lifetimeTimer
// expired.
var errOptionsTimeout = errors.New("webauthn: the ceremony's timeout expired")

// lifetime returns the ceremony context: parent bounded by the corrected
// options timeout (§5.1.3 step 11, §5.1.4 step 10, §15.1).
func (c *Client) lifetime(parent context.Context, timeoutMS *uint64, uv string) (context.Context, context.CancelFunc) {
	lo, hi, def := 300*time.Second, 600*time.Second, 300*time.Second
	if uv == "discouraged" {
		lo, hi, def = 30*time.Second, 180*time.Second, 120*time.Second
	}
	if c.cfg.maxTimeout > 0 {
		lo, hi = c.cfg.minTimeout, c.cfg.maxTimeout
		if def > hi {
			def = hi
		}
	}
	d := def
	if timeoutMS != nil {
		d = time.Duration(*timeoutMS) * time.Millisecond
		d = max(lo, min(hi, d))
	}
	return context.WithTimeoutCause(parent, d, errOptionsTimeout)
}

// ctxError maps the end of a ceremony context: the options' timeout is
// NotAllowedError (§5.1.3 step 22, §5.1.4 step 20), the caller's own
// deadline TimeoutError and the caller's cancellation AbortError (the
// AbortSignal's reason).
func ctxError(parent, ctx context.Context) error {
	switch {
	case parent.Err() == context.Canceled:
		return newError(ErrAbort, "the ceremony was aborted", context.Cause(parent))
	case parent.Err() == context.DeadlineExceeded:
		return newError(ErrTimeout, "the caller's deadline passed", context.Cause(parent))
	case errors.Is(context.Cause(ctx), errOptionsTimeout):
		return newError(ErrNotAllowed, "the operation timed out", errOptionsTimeout)
	}
	return newError(ErrAbort, "the ceremony ended", ctx.Err())
}

// ctapError maps a failed authenticator request to the DOMException a
// browser rejects with (§5.1.3 step 22, §5.1.4 step 20, CTAP 2.1 §6.1.2
// and §6.2.2 status codes), keeping err as the cause.
func ctapError(parent, ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		return err
	}
	if ctx.Err() != nil {
		e := ctxError(parent, ctx).(*Error)
		e.Err = errors.Join(e.Err, err)
		return e
	}
	var st ctap.Status
	if errors.As(err, &st) {
		switch st {
		case ctap.StatusCredentialExcluded:
			return newError(ErrInvalidState, "the authenticator holds a credential in excludeCredentials", err)
		case ctap.StatusUnsupportedAlgorithm:
			return newError(ErrNotSupported, "the authenticator supports none of pubKeyCredParams", err)
		case ctap.StatusUnsupportedOption, ctap.StatusKeyStoreFull:
			return newError(ErrConstraint, "the authenticator cannot meet the request", err)
		}
		return newError(ErrNotAllowed, "the authenticator refused: "+st.String(), err)
	}
	var sw ctap.StatusWord
	if errors.As(err, &sw) {
		return newError(ErrNotAllowed, "the U2F authenticator refused", err)
	}
	return newError(ErrUnknown, "the authenticator's answer is unusable", err)
}

// clientData builds and serializes the CollectedClientData of the
// ceremony (§5.8.1, §5.8.1.1).
func (c *Client) clientData(typ string, challenge []byte) []byte {
	b := []byte(`{"type":`)
	b = ccdString(b, typ)
	b = append(b, `,"challenge":`...)
	b = ccdString(b, base64.RawURLEncoding.EncodeToString(challenge))
	b = append(b, `,"origin":`...)
	b = ccdString(b, c.origin.serialized)
	if c.cfg.topOrigin != "" {
		b = append(b, `,"crossOrigin":true,"topOrigin":`...)
		b = ccdString(b, c.cfg.topOrigin)
	} else {
		b = append(b, `,"crossOrigin":false`...)
	}
	return append(b, '}')
}

// ccdString appends s as CCDToString encodes it (§5.8.1.1): '"' and '\'
// escaped with a backslash, code points below U+0020 as \u and four
// lower-case hex digits, everything else as UTF-8.
func ccdString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// refreshInfo sends authenticatorGetInfo at the start of a ceremony, as
// browsers do, so that a PIN set or an option changed since the last one
// is seen (CTAP 2.1 §6.4).
func (c *Client) refreshInfo(ctx context.Context) error {
	if c.ctap2 == nil {
		return nil
	}
	if _, err := c.ctap2.GetInfo(ctx); err != nil {
		return ctapError(ctx, ctx, err)
	}
	return nil
}
