package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// HmacSecret is the platform's side of the hmac-secret extension (CTAP
// 2.1 §12.5) and of hmac-secret-mc (CTAP 2.2 §12.8), after python-fido2
// 0.9.1's HmacSecretExtension: it builds the extension inputs from one or
// two 32-byte salts, with a key agreement through a ClientPin and that
// ClientPin's PIN/UV auth protocol, and decrypts the outputs with the
// shared secret of the last input it built. One HmacSecret serves one
// request at a time.
type HmacSecret struct {
	cp     *ClientPin
	shared []byte // of the last input built
}

// NewHmacSecret returns an HmacSecret that agrees keys through cp.
func NewHmacSecret(cp *ClientPin) *HmacSecret { return &HmacSecret{cp: cp} }

// Protocol returns the PIN/UV auth protocol the inputs name.
func (h *HmacSecret) Protocol() *PinProtocol { return h.cp.protocol }

// ErrSaltLength is returned for a salt that is not 32 bytes long.
var ErrSaltLength = errors.New("client: hmac-secret salts are 32 bytes")

// Input returns the hmac-secret input of getAssertion (CTAP 2.1 §12.5) for
// salt1 and, unless nil, salt2: it runs getKeyAgreement (ClientPin.
// KeyAgreement) and returns
//
//	{1: keyAgreement, 2: saltEnc = encrypt(shared secret, salt1 [|| salt2]),
//	 3: saltAuth = authenticate(shared secret, saltEnc), 4: pinUvAuthProtocol}
//
// The shared secret is kept for Output.
func (h *HmacSecret) Input(ctx context.Context, salt1, salt2 []byte) (*ctap.HMACSecretInput, error) {
	if len(salt1) != ctap.HMACSecretSaltSize || (salt2 != nil && len(salt2) != ctap.HMACSecretSaltSize) {
		return nil, ErrSaltLength
	}
	platformKey, shared, err := h.cp.KeyAgreement(ctx)
	if err != nil {
		return nil, err
	}
	salts := append(append([]byte(nil), salt1...), salt2...)
	p := h.cp.protocol
	enc, err := p.Encrypt(h.cp.Rand, shared, salts)
	if err != nil {
		return nil, fmt.Errorf("client: hmac-secret: %w", err)
	}
	v := p.Version()
	h.shared = shared
	return &ctap.HMACSecretInput{KeyAgreement: &platformKey, SaltEnc: enc, SaltAuth: p.Authenticate(shared, enc), PinUvAuthProtocol: &v}, nil
}

// GetAssertionExtensions returns getAssertion extensions with the
// hmac-secret input for the salts (Input).
func (h *HmacSecret) GetAssertionExtensions(ctx context.Context, salt1, salt2 []byte) (map[string]ctap.RawMessage, error) {
	in, err := h.Input(ctx, salt1, salt2)
	if err != nil {
		return nil, err
	}
	return map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(in)}, nil
}

// MakeCredentialExtensions returns makeCredential extensions with
// "hmac-secret": true and, when salt1 is not nil, the hmac-secret-mc input
// for the salts (CTAP 2.2 §12.8), which needs the authenticator to list
// hmac-secret-mc in getInfo.
func (h *HmacSecret) MakeCredentialExtensions(ctx context.Context, salt1, salt2 []byte) (map[string]ctap.RawMessage, error) {
	exts := map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(true)}
	if salt1 == nil {
		return exts, nil
	}
	in, err := h.Input(ctx, salt1, salt2)
	if err != nil {
		return nil, err
	}
	exts[ctap.ExtHMACSecretMC] = ctap.MustMarshal(in)
	return exts, nil
}

// HmacSecretCreated reports whether makeCredential's authenticator data says
// "hmac-secret": true (CTAP 2.1 §12.5).
func HmacSecretCreated(ad *ctap.AuthData) (bool, error) {
	m, err := ad.ExtensionOutputs()
	if err != nil {
		return false, fmt.Errorf("%w: extensions: %v", ErrBadResponse, err)
	}
	raw, ok := m[ctap.ExtHMACSecret]
	if !ok {
		return false, nil
	}
	var v bool
	if err := ctap.Unmarshal(raw, &v); err != nil {
		return false, fmt.Errorf("%w: hmac-secret output: %v", ErrBadResponse, err)
	}
	return v, nil
}

// Output decrypts the hmac-secret output of getAssertion's authenticator
// data with the shared secret of the last Input: output1 and, for two
// salts, output2 (nil for one). ok is false when the authenticator data
// carries no hmac-secret output (a credential made without it). A value
// that is not a byte string or does not decrypt to 32 or 64 bytes wraps
// ErrBadResponse.
func (h *HmacSecret) Output(ad *ctap.AuthData) (output1, output2 []byte, ok bool, err error) {
	return h.output(ad, ctap.ExtHMACSecret)
}

// MCOutput is Output for makeCredential's hmac-secret-mc output (CTAP
// 2.2 §12.8).
func (h *HmacSecret) MCOutput(ad *ctap.AuthData) (output1, output2 []byte, ok bool, err error) {
	return h.output(ad, ctap.ExtHMACSecretMC)
}

func (h *HmacSecret) output(ad *ctap.AuthData, name string) (output1, output2 []byte, ok bool, err error) {
	if h.shared == nil {
		return nil, nil, false, errors.New("client: hmac-secret output before an input")
	}
	m, err := ad.ExtensionOutputs()
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: extensions: %v", ErrBadResponse, err)
	}
	raw, present := m[name]
	if !present {
		return nil, nil, false, nil
	}
	var enc []byte
	if err := ctap.Unmarshal(raw, &enc); err != nil {
		return nil, nil, false, fmt.Errorf("%w: %s output: %v", ErrBadResponse, name, err)
	}
	out, err := h.cp.protocol.Decrypt(h.shared, enc)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: %s output: %v", ErrBadResponse, name, err)
	}
	switch len(out) {
	case ctap.HMACSecretSaltSize:
		return out, nil, true, nil
	case 2 * ctap.HMACSecretSaltSize:
		return out[:32], out[32:], true, nil
	}
	return nil, nil, false, fmt.Errorf("%w: %s output of %d bytes", ErrBadResponse, name, len(out))
}
