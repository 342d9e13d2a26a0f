package webauthn

import (
	"context"
	"errors"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// uvPlan is how a request proves user verification: a pinUvAuthToken, or
// the uv option of an authenticator with built-in UV but no tokens.
type uvPlan struct {
	cp       *client.ClientPin // for key agreement (hmac-secret) and the token's protocol
	token    []byte
	uvOption bool
}

// authParam sets pinUvAuthParam and pinUvAuthProtocol for clientDataHash.
func (p *uvPlan) authParam(clientDataHash []byte) ([]byte, *uint64) {
	if p == nil || p.token == nil {
		return nil, nil
	}
	v := p.cp.Protocol().Version()
	return p.cp.Protocol().AuthParam(p.token, clientDataHash), &v
}

// keyState is what getInfo says about user verification (CTAP 2.1 §6.4).
type keyState struct {
	uvConfigured bool // option uv true: built-in UV ready
	pinSet       bool // option clientPin true
	tokens       bool // option pinUvAuthToken true
	mcUVNotRqd   bool // option makeCredUvNotRqd true
	alwaysUV     bool // option alwaysUv true
}

func (c *Client) keyState() keyState {
	info := c.ctap2.Info()
	opt := func(n string) bool { v, _ := info.Option(n); return v }
	return keyState{
		uvConfigured: opt(ctap.OptionUV),
		pinSet:       opt(ctap.OptionClientPIN),
		tokens:       opt(ctap.OptionPinUvAuthToken),
		mcUVNotRqd:   opt(ctap.OptionMakeCredUvNotRqd),
		alwaysUV:     opt(ctap.OptionAlwaysUv),
	}
}

// clientPin returns a ClientPin on the newest protocol both sides know.
func (c *Client) clientPin() (*client.ClientPin, error) {
	cp, err := client.NewClientPin(c.ctap2, nil)
	if err != nil {
		return nil, err
	}
	cp.Rand = c.cfg.rand
	return cp, nil
}

// verifyUser decides and performs user verification the way a browser
// does (WebAuthn §5.1.3 step 20 and §5.1.4 step 18 with CTAP 2.1 §6.1.1
// and §6.2.1's platform steps): userVerification "required" demands it
// (ConstraintError when the key has neither built-in UV nor a PIN),
// "preferred" uses it when the key has built-in UV or a PIN set and a PIN
// can be asked for, "discouraged" avoids it unless the authenticator
// demands it (needed: a PIN-protected key making a discoverable
// credential, or alwaysUv). Built-in UV is used through
// getPinUvAuthTokenUsingUvWithPermissions when the key has tokens; after a
// failed or blocked built-in UV, or on a key without it, the PIN is asked
// for through WithPIN and exchanged for a token with permissions for rpID.
// A nil plan means no UV.
func (c *Client) verifyUser(ctx context.Context, uv string, needed bool, permissions uint64, rpID string) (*uvPlan, error) {
	ks := c.keyState()
	canPIN := ks.pinSet && c.cfg.pin != nil
	want := false
	switch uv {
	case "required":
		if !ks.uvConfigured && !ks.pinSet {
			return nil, newError(ErrConstraint, "userVerification is required but the authenticator has neither built-in user verification nor a PIN set", nil)
		}
		want = true
	case "discouraged":
	default: // "preferred" and unknown values (§5.4.6: unknown means the default)
		want = ks.uvConfigured || canPIN
	}
	if !want && !needed {
		return nil, nil
	}
	if !ks.uvConfigured && !ks.pinSet {
		return nil, nil
	}
	cp, err := c.clientPin()
	if err != nil {
		return nil, newError(ErrNotAllowed, "no PIN/UV auth protocol in common with the authenticator", err)
	}
	if ks.uvConfigured && !ks.tokens {
		return &uvPlan{cp: cp, uvOption: true}, nil
	}
	if ks.uvConfigured {
		tok, err := cp.GetUVToken(ctx, permissions, rpID, client.WithKeepalive(c.cfg.keepalive))
		if err == nil {
			return &uvPlan{cp: cp, token: tok}, nil
		}
		if ctx.Err() != nil || !canPIN || !(errors.Is(err, ctap.StatusUVBlocked) || errors.Is(err, ctap.StatusUVInvalid)) {
			return nil, err
		}
		// Built-in UV failed for good: fall back to the PIN, as
		// CTAP 2.1 §6.5.5.7.3 tells a platform to.
	}
	if !ks.pinSet {
		return nil, newError(ErrNotAllowed, "user verification failed", nil)
	}
	if c.cfg.pin == nil {
		return nil, newError(ErrNotAllowed, "the authenticator needs its PIN and the client has no way to ask for it (WithPIN)", ctap.StatusPUATRequired)
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		retries, _, err := cp.GetPinRetries(ctx)
		if err != nil {
			return nil, err
		}
		if retries == 0 {
			return nil, newError(ErrNotAllowed, "the PIN is blocked", ctap.StatusPINBlocked)
		}
		pin, err := c.cfg.pin(ctx, retries)
		if err != nil {
			return nil, newError(ErrNotAllowed, "no PIN given", err)
		}
		tok, err := cp.GetPinToken(ctx, pin, permissions, rpID)
		if err == nil {
			return &uvPlan{cp: cp, token: tok}, nil
		}
		if !errors.Is(err, ctap.StatusPINInvalid) {
			return nil, err
		}
		last = err
	}
	return nil, last
}
