package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Ctap2 sends the authenticator API commands of CTAP 2.1 §6 over a
// Transport, each as a CTAPHID_CBOR message whose first byte is the command
// code (CTAP 2.1 §8.1, §11.2.9.1.2). It is safe for concurrent use as far as
// its Transport is; a ctaphid.Conn runs one Call at a time.
type Ctap2 struct {
	t      Transport
	strict bool
	// ownTransport is set when t is this module's (*Device,
	// *ctaphid.Conn): it returns each response in a new slice, which a
	// parsed response may then share, and keeps no payload after Call
	// returns, so a payload's buffer serves the next request.
	ownTransport bool
	info         atomic.Pointer[Info]

	// onKeepalive serves calls without WithKeepalive (WithDefaultKeepalive).
	onKeepalive func(ctaphid.KeepaliveStatus)

	// maxCredentials bounds the items a device may announce for
	// GetAssertions and the credentialManagement enumerations.
	maxCredentials uint64
}

// DefaultMaxCredentials is the most assertions GetAssertions collects, and
// the most RPs or credentials of one RP EnumerateRPs and EnumerateCreds
// collect, unless WithMaxCredentials says otherwise. The spec sets no upper
// bound on these counts; a device announcing more is answered ErrTooMany
// before the client sends a single follow-up command, so that a broken or
// hostile device cannot keep it looping (each response may be up to
// 7609 bytes: this ceiling bounds what is held at about 76 MB).
const DefaultMaxCredentials = 10000

// WithMaxCredentials sets the most items a device may announce in
// numberOfCredentials (GetAssertions), totalRPs (EnumerateRPs) or
// totalCredentials (EnumerateCreds); n = 0 means DefaultMaxCredentials.
func WithMaxCredentials(n int) Option {
	return func(c *Ctap2) { c.maxCredentials = uint64(max(n, 0)) }
}

// maxItems returns the ceiling WithMaxCredentials set.
func (c *Ctap2) maxItems() uint64 {
	if c.maxCredentials == 0 {
		return DefaultMaxCredentials
	}
	return c.maxCredentials
}

// checkTotal refuses a count the device announced in command's response
// that is more than the ceiling (WithMaxCredentials), before any follow-up
// command is sent: the spec bounds these counts only by what the key holds.
func (c *Ctap2) checkTotal(command, member string, n uint64) error {
	if n > c.maxItems() {
		return fmt.Errorf("%w: %s: %s %d, more than the %d this client collects (WithMaxCredentials)",
			ErrTooMany, command, member, n, c.maxItems())
	}
	return nil
}

// Option configures a Ctap2.
type Option func(*Ctap2)

// WithStrictCBOR sets whether a response body that is not in CTAP2
// canonical CBOR form (CTAP 2.1 §8) is an error, ErrNotCanonical. It is on
// by default. With it off, bodies are still decoded with ctap.Unmarshal, so
// indefinite lengths, tags, duplicate map keys and trailing bytes remain
// errors; what is accepted is unsorted map keys and non-shortest integer
// and length encodings.
func WithStrictCBOR(strict bool) Option {
	return func(c *Ctap2) { c.strict = strict }
}

// New returns a Ctap2 on t. It sends authenticatorGetInfo (CTAP 2.1 §6.4)
// and caches the answer, which Info returns.
func New(ctx context.Context, t Transport, opts ...Option) (*Ctap2, error) {
	if t == nil {
		return nil, errors.New("client: nil Transport")
	}
	c := &Ctap2{t: t, strict: true}
	switch t.(type) {
	case *Device, *ctaphid.Conn:
		c.ownTransport = true
	}
	for _, o := range opts {
		o(c)
	}
	if _, err := c.GetInfo(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Transport returns the transport c sends on.
func (c *Ctap2) Transport() Transport { return c.t }

// Info returns the cached getInfo response: the one New fetched, or the one
// the last successful GetInfo call fetched. Callers must not modify it.
func (c *Ctap2) Info() *Info { return c.info.Load() }

// StrictCBOR reports whether non-canonical responses are rejected.
func (c *Ctap2) StrictCBOR() bool { return c.strict }

// callOptions are the per-call settings.
type callOptions struct {
	onKeepalive func(ctaphid.KeepaliveStatus)
}

// CallOption configures one command.
type CallOption func(*callOptions)

// WithKeepalive has f called with the status of every CTAPHID_KEEPALIVE
// packet received while the command runs (CTAP 2.1 §11.2.9.1.7), for
// example to prompt for a touch on StatusUPNeeded. f runs on the
// transport's goroutine and must not block.
func WithKeepalive(f func(ctaphid.KeepaliveStatus)) CallOption {
	return func(o *callOptions) { o.onKeepalive = f }
}

func collect(opts []CallOption) callOptions {
	if len(opts) == 0 {
		return callOptions{}
	}
	return collectEach(opts)
}

// collectEach is collect's loop, apart: o escapes to the options.
func collectEach(opts []CallOption) callOptions {
	var o callOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// SendRaw sends cmd followed by params, which are not encoded or checked,
// as one CTAPHID_CBOR message, and returns the status byte and the raw body
// after it (CTAP 2.1 §8.1). A non-OK status is not an error here: err is
// for transport failures and empty responses. When ctx is done before the
// answer, the transport sends CTAPHID_CANCEL (CTAP 2.1 §11.2.9.1.5); if the
// device still answered (usually with CTAP2_ERR_KEEPALIVE_CANCEL), its
// status and body come back together with ctx's error.
func (c *Ctap2) SendRaw(ctx context.Context, cmd ctap.Command, params []byte, opts ...CallOption) (ctap.Status, []byte, error) {
	payload := make([]byte, 1+len(params))
	payload[0] = byte(cmd)
	copy(payload[1:], params)
	return c.call(ctx, cmd, payload, opts)
}

// requestRoom is the room request makes for the payload: most requests
// fit, and are encoded right after the command byte.
const requestRoom = 256

// requestBuffers hold the payload buffers of requests to c's own
// transports (Ctap2.ownTransport).
var requestBuffers = sync.Pool{New: func() any { return new([requestRoom]byte) }}

// request encodes the payload of cmd: the command byte, then params in
// canonical CBOR (none when params is nil) (CTAP 2.1 §8.1). Once the
// transport's Call returned, the caller hands the payload to release.
func (c *Ctap2) request(cmd ctap.Command, params any) ([]byte, error) {
	if params == nil {
		return []byte{byte(cmd)}, nil
	}
	var buf []byte
	if c.ownTransport {
		buf = requestBuffers.Get().(*[requestRoom]byte)[:0]
	} else {
		buf = make([]byte, 0, requestRoom)
	}
	payload, err := ctap.AppendMarshal(append(buf, byte(cmd)), params)
	if err != nil {
		c.release(buf)
		return nil, fmt.Errorf("client: %v: encoding request: %w", cmd, err)
	}
	return payload, nil
}

// release takes back a payload from request once the transport's Call
// returned: one of requestRoom bytes sent on c's own transport, which kept
// no reference to it, serves a later request.
func (c *Ctap2) release(payload []byte) {
	if c.ownTransport && cap(payload) == requestRoom {
		requestBuffers.Put((*[requestRoom]byte)(payload[:requestRoom]))
	}
}

// call is SendRaw for a whole payload, command byte included.
func (c *Ctap2) call(ctx context.Context, cmd ctap.Command, payload []byte, opts []CallOption) (ctap.Status, []byte, error) {
	o := collect(opts)
	if o.onKeepalive == nil {
		o.onKeepalive = c.onKeepalive
	}
	resp, err := c.t.Call(ctx, ctaphid.CmdCBOR, payload, o.onKeepalive)
	if len(resp) == 0 {
		if err != nil {
			return 0, nil, fmt.Errorf("client: %v: %w", cmd, err)
		}
		return 0, nil, fmt.Errorf("%w: %v: empty CTAPHID_CBOR response", ErrBadResponse, cmd)
	}
	if err != nil {
		err = fmt.Errorf("client: %v: %w", cmd, err)
	}
	return ctap.Status(resp[0]), resp[1:], err
}

// send sends the payload of cmd (from request) and returns the body of a
// CTAP2_OK response, checked to be one CBOR item that the strict decode
// mode accepts (or empty) and, in strict mode, canonical.
func (c *Ctap2) send(ctx context.Context, cmd ctap.Command, payload []byte, opts []CallOption) ([]byte, error) {
	body, _, err := c.sendItem(ctx, cmd, payload, opts)
	return body, err
}

// sendItem is send that also returns the body's top-level keys, for the
// assertion parser.
func (c *Ctap2) sendItem(ctx context.Context, cmd ctap.Command, payload []byte, opts []CallOption) ([]byte, topKeys, error) {
	st, body, err := c.call(ctx, cmd, payload, opts)
	if err != nil {
		if st != ctap.StatusOK {
			// A cancelled request the authenticator answered: both the
			// context error and the status match with errors.Is.
			return nil, topKeys{}, fmt.Errorf("%w (authenticator answered %w)", err, st)
		}
		return nil, topKeys{}, err
	}
	if st != ctap.StatusOK {
		return nil, topKeys{}, fmt.Errorf("client: %v: %w", cmd, st)
	}
	if len(body) == 0 {
		return body, topKeys{}, nil
	}
	// A body in the canonical form of the usual items is one valid item,
	// canonical, without decoding it; any other goes to the decoder.
	if t, ok := fastCanonical(body); ok {
		return body, t, nil
	}
	var item any
	if err := ctap.Unmarshal(body, &item); err != nil {
		return nil, topKeys{}, fmt.Errorf("%w: %v: body is not one valid CBOR item: %v", ErrBadResponse, cmd, err)
	}
	// Strict: canonical when the decoded item encodes back to the same
	// bytes (ctap.IsCanonical), here without decoding the body again.
	if c.strict {
		if re, err := ctap.Marshal(item); err != nil || !bytes.Equal(re, body) {
			return nil, topKeys{}, fmt.Errorf("%w: %v", ErrNotCanonical, cmd)
		}
	}
	return body, topKeysOf(item), nil
}

// SendCBOR sends cmd with req encoded by ctap.Marshal (nil means no
// parameters) and decodes the response body into resp with ctap.Unmarshal
// (nil means the body must be empty; an empty body leaves resp as it is).
// A status other than CTAP2_OK is returned as an error wrapping the
// ctap.Status, so errors.Is(err, ctap.StatusNoCredentials) works. Decoding
// failures wrap ErrBadResponse, never a ctap.Status. When ctx is done the
// transport sends CTAPHID_CANCEL; the error then matches ctx's error and,
// if the authenticator answered, its status.
func (c *Ctap2) SendCBOR(ctx context.Context, cmd ctap.Command, req, resp any, opts ...CallOption) error {
	payload, err := c.request(cmd, req)
	if err != nil {
		return err
	}
	body, err := c.send(ctx, cmd, payload, opts)
	c.release(payload)
	if err != nil {
		return err
	}
	if resp == nil {
		if len(body) != 0 {
			return fmt.Errorf("%w: %v: unexpected %d-byte body", ErrBadResponse, cmd, len(body))
		}
		return nil
	}
	if len(body) == 0 {
		return nil
	}
	if err := ctap.Unmarshal(body, resp); err != nil {
		// %v, not %w: a decode error would otherwise match
		// ctap.StatusInvalidCBOR as if the authenticator had sent it.
		return fmt.Errorf("%w: %v: %v", ErrBadResponse, cmd, err)
	}
	return nil
}

// GetInfo sends authenticatorGetInfo (CTAP 2.1 §6.4), parses the answer
// with ParseInfo and makes it the cached Info.
func (c *Ctap2) GetInfo(ctx context.Context, opts ...CallOption) (*Info, error) {
	body, err := c.send(ctx, ctap.CmdGetInfo, []byte{byte(ctap.CmdGetInfo)}, opts)
	if err != nil {
		return nil, err
	}
	info, err := ParseInfo(body)
	if err != nil {
		return nil, err
	}
	c.info.Store(info)
	return info, nil
}

// MakeCredential sends authenticatorMakeCredential (CTAP 2.1 §6.1) and
// parses the answer with ParseAttestationResponse. It does not verify the
// attestation: see AttestationResponse.Verify.
func (c *Ctap2) MakeCredential(ctx context.Context, req *ctap.MakeCredentialRequest, opts ...CallOption) (*AttestationResponse, error) {
	if req == nil {
		return nil, errors.New("client: nil MakeCredentialRequest")
	}
	payload, err := c.request(ctap.CmdMakeCredential, req)
	if err != nil {
		return nil, err
	}
	body, err := c.send(ctx, ctap.CmdMakeCredential, payload, opts)
	c.release(payload)
	if err != nil {
		return nil, err
	}
	return ParseAttestationResponse(body)
}

// GetAssertion sends authenticatorGetAssertion (CTAP 2.1 §6.2) and parses
// the answer with ParseAssertionResponse. The credential member is left nil
// when the authenticator omitted it (allowed when the allow list had one
// entry, CTAP 2.1 §6.2.2); the signature is not verified.
func (c *Ctap2) GetAssertion(ctx context.Context, req *ctap.GetAssertionRequest, opts ...CallOption) (*AssertionResponse, error) {
	if req == nil {
		return nil, errors.New("client: nil GetAssertionRequest")
	}
	payload, err := c.request(ctap.CmdGetAssertion, req)
	if err != nil {
		return nil, err
	}
	body, keys, err := c.sendItem(ctx, ctap.CmdGetAssertion, payload, opts)
	c.release(payload)
	if err != nil {
		return nil, err
	}
	return c.parseAssertion(body, keys)
}

// GetNextAssertion sends authenticatorGetNextAssertion (CTAP 2.1 §6.3).
func (c *Ctap2) GetNextAssertion(ctx context.Context, opts ...CallOption) (*AssertionResponse, error) {
	body, keys, err := c.sendItem(ctx, ctap.CmdGetNextAssertion, []byte{byte(ctap.CmdGetNextAssertion)}, opts)
	if err != nil {
		return nil, err
	}
	return c.parseAssertion(body, keys)
}

// GetAssertions sends authenticatorGetAssertion and then, when the first
// response's numberOfCredentials is n > 1, n-1 authenticatorGetNextAssertion
// commands (CTAP 2.1 §6.2.2, §6.3). It returns every response in order, or
// the first error.
//
// The device's n is not taken on trust. With an allowList, the applicable
// credentials are among the list's (§6.2.2 step 1), so n may not exceed its
// length; without one, n may not exceed the Ctap2's ceiling
// (WithMaxCredentials). A larger n is answered with an error wrapping
// ErrTooMany, before any authenticatorGetNextAssertion is sent.
func (c *Ctap2) GetAssertions(ctx context.Context, req *ctap.GetAssertionRequest, opts ...CallOption) ([]*AssertionResponse, error) {
	first, err := c.GetAssertion(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	out := []*AssertionResponse{first}
	n := uint64(1)
	if first.NumberOfCredentials != nil && *first.NumberOfCredentials > 1 {
		n = *first.NumberOfCredentials
	}
	if len(req.AllowList) > 0 && n > uint64(len(req.AllowList)) {
		return nil, fmt.Errorf("%w: getAssertion: numberOfCredentials %d, but the allowList has %d credentials (CTAP 2.1 §6.2.2)",
			ErrTooMany, n, len(req.AllowList))
	}
	if err := c.checkTotal("getAssertion", "numberOfCredentials", n); err != nil {
		return nil, err
	}
	for i := uint64(1); i < n; i++ {
		next, err := c.GetNextAssertion(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("client: assertion %d of %d: %w", i+1, n, err)
		}
		out = append(out, next)
	}
	return out, nil
}

// parseAssertion is parseAssertion for a body from c's transport: one the
// response may not share is copied first.
func (c *Ctap2) parseAssertion(body []byte, t topKeys) (*AssertionResponse, error) {
	if t.canonical && !c.ownTransport {
		body = bytes.Clone(body)
	}
	return parseAssertion(body, t)
}

// Reset sends authenticatorReset (CTAP 2.1 §6.6). The authenticator wants a
// touch within seconds of power-up; WithKeepalive reports when it waits.
func (c *Ctap2) Reset(ctx context.Context, opts ...CallOption) error {
	return c.SendCBOR(ctx, ctap.CmdReset, nil, nil, opts...)
}

// Selection sends authenticatorSelection (CTAP 2.1 §6.9), which returns
// once the user touched the authenticator.
func (c *Ctap2) Selection(ctx context.Context, opts ...CallOption) error {
	return c.SendCBOR(ctx, ctap.CmdSelection, nil, nil, opts...)
}
