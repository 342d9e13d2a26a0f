package client

import (
	"bytes"
	"context"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// IsConfigSupported reports whether the authenticator implements
// authenticatorConfig: its getInfo options list authnrCfg true (CTAP 2.1
// §6.4). This is python-fido2's Config.is_supported.
func IsConfigSupported(info *Info) bool {
	v, _ := info.Option(ctap.OptionAuthnrCfg)
	return v
}

// Config runs the platform's side of authenticatorConfig (CTAP 2.1 §6.11)
// like python-fido2's fido2.ctap2.config.Config: each method sends one
// subcommand, authorized with a pinUvAuthToken that has the acfg
// permission when Config has one.
type Config struct {
	c        *Ctap2
	protocol *PinProtocol
	token    []byte
}

// NewConfig returns a Config for c. token is a pinUvAuthToken with the
// acfg permission obtained under protocol, or nil for a key protected by
// no user verification (no PIN, no built-in UV, alwaysUv off), whose
// config commands need no authorization. Without the authnrCfg option the
// error wraps ErrNotSupported, as python-fido2 refuses such a key; a token
// without a protocol is an error too.
func NewConfig(c *Ctap2, protocol *PinProtocol, token []byte) (*Config, error) {
	if !IsConfigSupported(c.Info()) {
		return nil, fmt.Errorf("%w: authenticatorConfig (no authnrCfg option)", ErrNotSupported)
	}
	if token != nil && protocol == nil {
		return nil, fmt.Errorf("client: config: a token needs its PIN/UV auth protocol")
	}
	return &Config{c: c, protocol: protocol, token: token}, nil
}

// Ctap returns the Ctap2 cf sends through (python-fido2's Config.ctap).
func (cf *Config) Ctap() *Ctap2 { return cf.c }

// Protocol returns the PIN/UV auth protocol cf authenticates with (nil
// without a token); with Token it is python-fido2's Config.pin_uv.
func (cf *Config) Protocol() *PinProtocol { return cf.protocol }

// Token returns a copy of cf's pinUvAuthToken, nil without one.
func (cf *Config) Token() []byte { return bytes.Clone(cf.token) }

// Request returns the authenticatorConfig request for subCommand with
// params (nil for none) encoded by ctap.Marshal as subCommandParams and,
// with a token, pinUvAuthProtocol and pinUvAuthParam =
// authenticate(token, ctap.ConfigAuthMessage(subCommand, subCommandParams)).
func (cf *Config) Request(subCommand uint64, params any) (*ctap.ConfigRequest, error) {
	req := &ctap.ConfigRequest{SubCommand: &subCommand}
	if params != nil {
		b, err := ctap.Marshal(params)
		if err != nil {
			return nil, fmt.Errorf("client: config: encoding subCommandParams: %w", err)
		}
		req.SubCommandParams = b
	}
	if cf.token != nil {
		v := cf.protocol.Version()
		req.PinUvAuthProtocol = &v
		req.PinUvAuthParam = cf.protocol.Authenticate(cf.token, ctap.ConfigAuthMessage(subCommand, req.SubCommandParams))
	}
	return req, nil
}

// Send sends req as authenticatorConfig and expects an empty response.
// It checks nothing of req. A non-OK status is an error wrapping the
// ctap.Status.
func (cf *Config) Send(ctx context.Context, req *ctap.ConfigRequest, opts ...CallOption) error {
	return cf.c.SendCBOR(ctx, ctap.CmdConfig, req, nil, opts...)
}

func (cf *Config) call(ctx context.Context, subCommand uint64, params any) error {
	req, err := cf.Request(subCommand, params)
	if err != nil {
		return err
	}
	return cf.Send(ctx, req)
}

// EnableEnterpriseAttestation sends enableEnterpriseAttestation (CTAP 2.1
// §6.11.1). Enabling it when it is enabled changes nothing.
func (cf *Config) EnableEnterpriseAttestation(ctx context.Context) error {
	return cf.call(ctx, ctap.ConfigEnableEnterpriseAttestation, nil)
}

// ToggleAlwaysUV sends toggleAlwaysUv (CTAP 2.1 §6.11.2): alwaysUv
// switches from false to true or back.
func (cf *Config) ToggleAlwaysUV(ctx context.Context) error {
	return cf.call(ctx, ctap.ConfigToggleAlwaysUv, nil)
}

// SetMinPINLength sends setMinPINLength (CTAP 2.1 §6.11.4) with
// newMinPINLength (0 leaves it out: the minimum stays), minPinLengthRPIDs
// (nil leaves it out) and forceChangePin (sent only when true). A
// minimum below the current one comes back as an error wrapping
// ctap.StatusPINPolicyViolation. The cached Info still has the old
// minPINLength: call GetInfo to see the new one. SetMinPINLengthParams
// also sends CTAP 2.2's pinComplexityPolicy.
func (cf *Config) SetMinPINLength(ctx context.Context, minPINLength uint64, rpIDs []string, forceChangePin bool) error {
	return cf.SetMinPINLengthParams(ctx, MinPINLengthParams{MinPINLength: minPINLength, RPIDs: rpIDs, ForceChangePIN: forceChangePin})
}

// MinPINLengthParams are the inputs of setMinPINLength (CTAP 2.1 §6.11.4,
// pinComplexityPolicy from CTAP 2.2 §6.11.4), as python-fido2's
// Config.set_min_pin_length takes them. Zero values are left out of the
// request.
type MinPINLengthParams struct {
	// MinPINLength is newMinPINLength (0x01); 0 leaves the minimum as it is.
	MinPINLength uint64
	// RPIDs is minPinLengthRPIDs (0x02), the RP IDs allowed to read the
	// minimum through the minPinLength extension.
	RPIDs []string
	// ForceChangePIN is forceChangePin (0x03): the PIN must be changed
	// before the next use.
	ForceChangePIN bool
	// PINComplexityPolicy is pinComplexityPolicy (0x04, CTAP 2.2): the key
	// is to enforce its PIN complexity policy from now on. The key must
	// list pinComplexityPolicy (0x1B) in getInfo.
	PINComplexityPolicy bool
}

// SetMinPINLengthParams sends setMinPINLength (CTAP 2.1 §6.11.4) with p.
// PINComplexityPolicy on a key whose getInfo has no pinComplexityPolicy
// member (0x1B, CTAP 2.2 §6.4) is refused before anything is sent, with an
// error wrapping ErrNotSupported, as python-fido2 refuses it; a key that
// has the member but no policy to apply answers for itself. The cached
// Info keeps the old pinComplexityPolicy and minPINLength: call GetInfo to
// see the new ones.
func (cf *Config) SetMinPINLengthParams(ctx context.Context, p MinPINLengthParams) error {
	var req ctap.SetMinPINLengthParams
	if p.MinPINLength != 0 {
		req.NewMinPINLength = &p.MinPINLength
	}
	req.MinPinLengthRPIDs = p.RPIDs
	if p.ForceChangePIN {
		req.ForceChangePin = &p.ForceChangePIN
	}
	if p.PINComplexityPolicy {
		if info := cf.c.Info(); info == nil || !info.HasMember(InfoPinComplexityPolicy) {
			return fmt.Errorf("%w: setMinPINLength pinComplexityPolicy (getInfo has no pinComplexityPolicy, 0x1B)", ErrNotSupported)
		}
		req.PinComplexityPolicy = &p.PINComplexityPolicy
	}
	return cf.call(ctx, ctap.ConfigSetMinPINLength, &req)
}
