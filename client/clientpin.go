package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/virtkey/virtkey/ctap"
)

var (
	// ErrNotSupported is a feature the authenticator does not offer
	// according to its getInfo response: no PIN/UV auth protocol this
	// package implements, or no pinUvAuthToken option for GetUVToken.
	ErrNotSupported = errors.New("client: not supported by the authenticator")
	// ErrPINPolicy is a new PIN the platform refuses to send: shorter than
	// four Unicode code points or than the authenticator's minPINLength
	// (CTAP 2.1 §6.5.1), longer than its maxPINLength (CTAP 2.2 §6.4), or
	// one ctap.PadPIN rejects (empty, over 63 bytes,
	// not UTF-8, holding a zero byte; the ctap error is wrapped too).
	ErrPINPolicy = errors.New("client: PIN does not meet the PIN policy")
)

// The fixed inputs of the PIN/UV auth protocols, named as python-fido2's
// PinProtocolV1.IV and PinProtocolV2.HKDF_SALT, HKDF_INFO_HMAC and
// HKDF_INFO_AES name them. ctap's protocols use the same values; these are
// for a caller that builds or checks a message by hand.
var (
	// PinProtocolV1IV is protocol one's all-zero IV of AES-256-CBC (CTAP
	// 2.1 §6.5.6, encrypt and decrypt).
	PinProtocolV1IV = [16]byte{}
	// PinProtocolV2HKDFSalt is protocol two's HKDF-SHA-256 salt, 32 zero
	// bytes (CTAP 2.1 §6.5.7, kdf). CTAP 2.2 derives the keys of
	// encIdentifier and encCredStoreState with the same salt.
	PinProtocolV2HKDFSalt = [32]byte{}
)

// Protocol two's HKDF info strings (CTAP 2.1 §6.5.7, kdf): the HMAC key is
// HKDF-SHA-256(salt, Z, 32, PinProtocolV2HKDFInfoHMAC), the AES key the
// same with PinProtocolV2HKDFInfoAES.
const (
	PinProtocolV2HKDFInfoHMAC = "CTAP2 HMAC key"
	PinProtocolV2HKDFInfoAES  = "CTAP2 AES key"
)

// PinProtocols returns the PIN/UV auth protocols this package implements,
// newest first: the order NewClientPin tries them in (python-fido2's
// ClientPin.PROTOCOLS).
func PinProtocols() []*PinProtocol { return []*PinProtocol{PinProtocolV2(), PinProtocolV1()} }

// PinProtocol is a PIN/UV auth protocol from the platform's side (CTAP 2.1
// §6.5.4), the counterpart of python-fido2's PinProtocolV1 and
// PinProtocolV2. It embeds the ctap.PINProtocol that does the cryptography,
// so Version, KDF, Encrypt, Decrypt, Authenticate and Verify are that
// protocol's; it adds the platform's Encapsulate, ValidateToken and
// AuthParam. A PinProtocol holds no state.
type PinProtocol struct {
	ctap.PINProtocol
}

// PinProtocolV1 returns PIN/UV auth protocol one (CTAP 2.1 §6.5.6).
func PinProtocolV1() *PinProtocol { return &PinProtocol{ctap.PINProtocolV1()} }

// PinProtocolV2 returns PIN/UV auth protocol two (CTAP 2.1 §6.5.7).
func PinProtocolV2() *PinProtocol { return &PinProtocol{ctap.PINProtocolV2()} }

// PinProtocolByVersion returns the protocol with wire number v
// (pinUvAuthProtocol), if this package implements it.
func PinProtocolByVersion(v uint64) (*PinProtocol, bool) {
	p, ok := ctap.PINProtocolByVersion(v)
	if !ok {
		return nil, false
	}
	return &PinProtocol{p}, true
}

// Encapsulate is the platform's encapsulate (CTAP 2.1 §6.5.6): it generates
// a key pair from rand (crypto/rand if nil), agrees a shared secret with the
// authenticator's key agreement key peer and returns the platform's public
// key, for the keyAgreement parameter, and the shared secret. A peer that is
// not a P-256 point gives an error wrapping ctap.ErrInvalidKey.
func (p *PinProtocol) Encapsulate(rand io.Reader, peer ctap.COSEKey) (ctap.COSEKey, []byte, error) {
	return ctap.Encapsulate(rand, p.PINProtocol, peer)
}

// ValidateToken checks the length of a decrypted pinUvAuthToken and returns
// it: 16 or 32 bytes for protocol one (§6.5.6; CTAP 2.0 authenticators
// may use 16), 32 bytes for protocol two (CTAP 2.1 §6.5.7). Another length
// is an error wrapping ErrBadResponse, as in python-fido2's validate_token.
func (p *PinProtocol) ValidateToken(token []byte) ([]byte, error) {
	ok := len(token) == 32
	if p.Version() == 1 {
		ok = ok || len(token) == 16
	}
	if !ok {
		return nil, fmt.Errorf("%w: pinUvAuthToken of %d bytes for PIN/UV auth protocol %d",
			ErrBadResponse, len(token), p.Version())
	}
	return token, nil
}

// AuthParam returns the pinUvAuthParam of authenticatorMakeCredential and
// authenticatorGetAssertion, authenticate(pinUvAuthToken, clientDataHash)
// (CTAP 2.1 §6.1 and §6.2, parameter pinUvAuthParam; the authenticator
// verifies it in §6.1.2 and §6.2.2).
func (p *PinProtocol) AuthParam(token, clientDataHash []byte) []byte {
	return p.Authenticate(token, clientDataHash)
}

// IsSupported reports whether the authenticator implements the PIN half
// of authenticatorClientPIN: its getInfo options list clientPin, true (a
// PIN is set) or false (none yet) (CTAP 2.1 §6.4). ClientPin is still
// useful without it for GetUVToken. This is python-fido2's
// ClientPin.is_supported.
func IsSupported(info *Info) bool {
	_, present := info.Option(ctap.OptionClientPIN)
	return present
}

// IsTokenSupported reports whether the authenticator supports
// pinUvAuthTokens with permissions (getInfo option pinUvAuthToken true,
// CTAP 2.1 §6.4), and so subcommands 0x06 and 0x09. This is python-fido2's
// ClientPin.is_token_supported.
func IsTokenSupported(info *Info) bool {
	v, _ := info.Option(ctap.OptionPinUvAuthToken)
	return v
}

// ClientPin runs the platform's side of authenticatorClientPIN (CTAP 2.1
// §6.5.5) with one PIN/UV auth protocol, like python-fido2's ClientPin.
// Every request carries the protocol's number as pinUvAuthProtocol; each
// operation that needs a shared secret fetches a fresh key agreement key
// first. Set Rand before use; after that a ClientPin is safe for concurrent
// use as far as its Ctap2 is.
type ClientPin struct {
	// Rand is where the platform's key agreement keys and protocol two
	// IVs come from; nil means crypto/rand. Tests set a fixed reader.
	Rand io.Reader

	c        *Ctap2
	protocol *PinProtocol
}

// NewClientPin returns a ClientPin for c using protocol. A nil protocol
// means the newest one both sides support: protocol two if c's Info lists
// it in pinUvAuthProtocols, else one; if the list holds neither the error
// wraps ErrNotSupported. A protocol given explicitly is used even when the
// authenticator does not list it, so tests can send what they choose.
func NewClientPin(c *Ctap2, protocol *PinProtocol) (*ClientPin, error) {
	if c == nil {
		return nil, errors.New("client: NewClientPin: nil Ctap2")
	}
	if protocol != nil {
		if protocol.PINProtocol == nil {
			return nil, errors.New("client: NewClientPin: PinProtocol without a ctap.PINProtocol")
		}
		return &ClientPin{c: c, protocol: protocol}, nil
	}
	info := c.Info()
	if info == nil {
		return nil, errors.New("client: NewClientPin: no getInfo response")
	}
	for _, p := range PinProtocols() {
		if slices.Contains(info.PinUvProtocols, p.Version()) {
			return &ClientPin{c: c, protocol: p}, nil
		}
	}
	return nil, fmt.Errorf("%w: no PIN/UV auth protocol in common (authenticator lists %v)",
		ErrNotSupported, info.PinUvProtocols)
}

// Ctap returns the Ctap2 cp sends through (python-fido2's ClientPin.ctap).
func (cp *ClientPin) Ctap() *Ctap2 { return cp.c }

// Protocol returns the PIN/UV auth protocol cp uses.
func (cp *ClientPin) Protocol() *PinProtocol { return cp.protocol }

// Request returns an authenticatorClientPIN request for subCommand with
// pinUvAuthProtocol set to cp's protocol and nothing else, for a caller
// that fills in the rest and sends it with Send.
func (cp *ClientPin) Request(subCommand uint64) *ctap.ClientPINRequest {
	v := cp.protocol.Version()
	return &ctap.ClientPINRequest{PinUvAuthProtocol: &v, SubCommand: &subCommand}
}

// Send sends req as authenticatorClientPIN (CTAP 2.1 §6.5.5) and decodes the
// response, which may be empty (a zero ClientPINResponse). It checks nothing
// of req. A non-OK status is an error wrapping the ctap.Status.
func (cp *ClientPin) Send(ctx context.Context, req *ctap.ClientPINRequest, opts ...CallOption) (*ctap.ClientPINResponse, error) {
	if req == nil {
		return nil, errors.New("client: nil ClientPINRequest")
	}
	var resp ctap.ClientPINResponse
	if err := cp.c.SendCBOR(ctx, ctap.CmdClientPIN, req, &resp, opts...); err != nil {
		return nil, err
	}
	return &resp, nil
}

// GetPinRetries sends getPINRetries (CTAP 2.1 §6.5.5.2) and returns
// pinRetries and, when the authenticator sent it, powerCycleState.
func (cp *ClientPin) GetPinRetries(ctx context.Context) (retries int, powerCycleState *bool, err error) {
	resp, err := cp.Send(ctx, cp.Request(ctap.PINGetPINRetries))
	if err != nil {
		return 0, nil, err
	}
	n, err := counter("getPINRetries", "pinRetries (0x03)", resp.PINRetries)
	if err != nil {
		return 0, nil, err
	}
	return n, resp.PowerCycleState, nil
}

// GetUVRetries sends getUVRetries (CTAP 2.1 §6.5.5.3) and returns
// uvRetries.
func (cp *ClientPin) GetUVRetries(ctx context.Context) (int, error) {
	resp, err := cp.Send(ctx, cp.Request(ctap.PINGetUVRetries))
	if err != nil {
		return 0, err
	}
	return counter("getUVRetries", "uvRetries (0x05)", resp.UVRetries)
}

// counter checks a required retry counter of a response.
func counter(sub, member string, v *uint64) (int, error) {
	if v == nil {
		return 0, fmt.Errorf("%w: %s: %s missing", ErrBadResponse, sub, member)
	}
	if *v > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %s: %s of %d", ErrBadResponse, sub, member, *v)
	}
	return int(*v), nil
}

// KeyAgreement obtains a shared secret (CTAP 2.1 §6.5.5.4): it sends
// getKeyAgreement, takes the authenticator's key from response member
// keyAgreement (0x01), which must be a P-256 COSE_Key with alg -25
// (§6.5.6, getPublicKey), and runs Encapsulate with cp.Rand. It returns the
// platform's public key, for a request's keyAgreement parameter, and the
// shared secret, for the protocol's Encrypt and Authenticate.
func (cp *ClientPin) KeyAgreement(ctx context.Context) (platformKey ctap.COSEKey, sharedSecret []byte, err error) {
	resp, err := cp.Send(ctx, cp.Request(ctap.PINGetKeyAgreement))
	if err != nil {
		return ctap.COSEKey{}, nil, err
	}
	if resp.KeyAgreement == nil {
		return ctap.COSEKey{}, nil, fmt.Errorf("%w: getKeyAgreement: keyAgreement (0x01) missing", ErrBadResponse)
	}
	peer := *resp.KeyAgreement
	if peer.Alg != ctap.AlgECDHESHKDF256 {
		return ctap.COSEKey{}, nil, fmt.Errorf("%w: getKeyAgreement: key with alg %d, want %d",
			ErrBadResponse, peer.Alg, ctap.AlgECDHESHKDF256)
	}
	platformKey, sharedSecret, err = cp.protocol.Encapsulate(cp.Rand, peer)
	if err != nil {
		if errors.Is(err, ctap.ErrInvalidKey) {
			return ctap.COSEKey{}, nil, fmt.Errorf("%w: getKeyAgreement: %v", ErrBadResponse, err)
		}
		return ctap.COSEKey{}, nil, fmt.Errorf("client: key agreement: %w", err)
	}
	return platformKey, sharedSecret, nil
}

// padNewPIN is the platform's check of a new PIN (CTAP 2.1 §6.5.1: at
// least four Unicode code points and at least minPINLength, at most 63
// bytes; at most maxPINLength code points when getInfo has that CTAP 2.2
// member, §6.4) and its padding to paddedNewPin (§6.5.5.5). The caller is to pass
// the PIN in Unicode Normalization Form C; it is not normalized here.
func (cp *ClientPin) padNewPIN(pin string) ([]byte, error) {
	padded, err := ctap.PadPIN(pin)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPINPolicy, err)
	}
	minLen := uint64(DefaultMinPINLength)
	if info := cp.c.Info(); info != nil && info.MinPINLength > minLen {
		minLen = info.MinPINLength
	}
	n := uint64(utf8.RuneCountInString(pin))
	if n < minLen {
		return nil, fmt.Errorf("%w: %d code points, the minimum is %d", ErrPINPolicy, n, minLen)
	}
	if info := cp.c.Info(); info != nil && info.HasMember(InfoMaxPINLength) && n > info.MaxPINLength {
		return nil, fmt.Errorf("%w: %d code points, the key's maxPINLength is %d", ErrPINPolicy, n, info.MaxPINLength)
	}
	return padded, nil
}

// SetPIN sets the first PIN (CTAP 2.1 §6.5.5.5), following the platform's
// steps:
//  1. check pin and pad it to paddedNewPin (64 bytes), failing with
//     ErrPINPolicy before anything is sent;
//  2. obtain the shared secret (KeyAgreement);
//  3. newPinEnc = encrypt(shared secret, paddedNewPin);
//  4. pinUvAuthParam = authenticate(shared secret, newPinEnc);
//  5. send setPIN with pinUvAuthProtocol, keyAgreement, newPinEnc and
//     pinUvAuthParam, and expect an empty response.
func (cp *ClientPin) SetPIN(ctx context.Context, pin string) error {
	padded, err := cp.padNewPIN(pin)
	if err != nil {
		return err
	}
	key, shared, err := cp.KeyAgreement(ctx)
	if err != nil {
		return err
	}
	newPinEnc, err := cp.protocol.Encrypt(cp.Rand, shared, padded)
	if err != nil {
		return fmt.Errorf("client: setPIN: %w", err)
	}
	req := cp.Request(ctap.PINSetPIN)
	req.KeyAgreement = &key
	req.NewPinEnc = newPinEnc
	req.PinUvAuthParam = cp.protocol.Authenticate(shared, newPinEnc)
	return cp.c.SendCBOR(ctx, ctap.CmdClientPIN, req, nil)
}

// ChangePIN replaces the current PIN oldPIN with newPIN (CTAP 2.1
// §6.5.5.6), following the platform's steps:
//  1. check newPIN and pad it, failing with ErrPINPolicy before anything is
//     sent;
//  2. obtain the shared secret (KeyAgreement);
//  3. pinHashEnc = encrypt(shared secret, LEFT(SHA-256(oldPIN), 16));
//  4. newPinEnc = encrypt(shared secret, paddedNewPin);
//  5. pinUvAuthParam = authenticate(shared secret, newPinEnc || pinHashEnc);
//  6. send changePIN with pinUvAuthProtocol, keyAgreement, pinHashEnc,
//     newPinEnc and pinUvAuthParam, and expect an empty response.
//
// A wrong oldPIN comes back as an error wrapping ctap.StatusPINInvalid.
func (cp *ClientPin) ChangePIN(ctx context.Context, oldPIN, newPIN string) error {
	padded, err := cp.padNewPIN(newPIN)
	if err != nil {
		return err
	}
	key, shared, err := cp.KeyAgreement(ctx)
	if err != nil {
		return err
	}
	pinHashEnc, err := cp.protocol.Encrypt(cp.Rand, shared, ctap.PINHash(oldPIN))
	if err != nil {
		return fmt.Errorf("client: changePIN: %w", err)
	}
	newPinEnc, err := cp.protocol.Encrypt(cp.Rand, shared, padded)
	if err != nil {
		return fmt.Errorf("client: changePIN: %w", err)
	}
	req := cp.Request(ctap.PINChangePIN)
	req.KeyAgreement = &key
	req.PinHashEnc = pinHashEnc
	req.NewPinEnc = newPinEnc
	req.PinUvAuthParam = cp.protocol.Authenticate(shared, append(append([]byte(nil), newPinEnc...), pinHashEnc...))
	return cp.c.SendCBOR(ctx, ctap.CmdClientPIN, req, nil)
}

// GetPinToken obtains a pinUvAuthToken with the PIN (CTAP 2.1 §6.5.5.7):
//  1. obtain the shared secret (KeyAgreement);
//  2. pinHashEnc = encrypt(shared secret, LEFT(SHA-256(pin), 16));
//  3. when permissions is nonzero and the authenticator supports
//     pinUvAuthToken (IsTokenSupported), send
//     getPinUvAuthTokenUsingPinWithPermissions (0x09, §6.5.5.7.2) with
//     permissions and rpId (rpID "" leaves it out); otherwise send
//     getPinToken (0x05, §6.5.5.7.1), which takes neither, so they are
//     dropped as python-fido2 does;
//  4. decrypt response member pinUvAuthToken (0x02) with the shared secret
//     and check its length with ValidateToken.
//
// A wrong PIN comes back as an error wrapping ctap.StatusPINInvalid.
func (cp *ClientPin) GetPinToken(ctx context.Context, pin string, permissions uint64, rpID string) ([]byte, error) {
	key, shared, err := cp.KeyAgreement(ctx)
	if err != nil {
		return nil, err
	}
	pinHashEnc, err := cp.protocol.Encrypt(cp.Rand, shared, ctap.PINHash(pin))
	if err != nil {
		return nil, fmt.Errorf("client: getPinToken: %w", err)
	}
	var req *ctap.ClientPINRequest
	if info := cp.c.Info(); permissions != 0 && info != nil && IsTokenSupported(info) {
		req = cp.Request(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions)
		setPermissions(req, permissions, rpID)
	} else {
		req = cp.Request(ctap.PINGetPinToken)
	}
	req.KeyAgreement = &key
	req.PinHashEnc = pinHashEnc
	return cp.token(ctx, req, shared)
}

// GetUVToken obtains a pinUvAuthToken with the authenticator's built-in
// user verification, getPinUvAuthTokenUsingUvWithPermissions (0x06, CTAP
// 2.1 §6.5.5.7.3): it obtains the shared secret, sends keyAgreement,
// permissions (sent even when 0, which the authenticator rejects) and rpId
// (rpID "" leaves it out), then decrypts and validates the token like
// GetPinToken. The authenticator waits for the user; WithKeepalive reports
// it. Without the pinUvAuthToken option the error wraps ErrNotSupported
// and nothing is sent.
func (cp *ClientPin) GetUVToken(ctx context.Context, permissions uint64, rpID string, opts ...CallOption) ([]byte, error) {
	if info := cp.c.Info(); info == nil || !IsTokenSupported(info) {
		return nil, fmt.Errorf("%w: getPinUvAuthTokenUsingUvWithPermissions needs the pinUvAuthToken option", ErrNotSupported)
	}
	key, shared, err := cp.KeyAgreement(ctx)
	if err != nil {
		return nil, err
	}
	req := cp.Request(ctap.PINGetPinUvAuthTokenUsingUvWithPermissions)
	req.KeyAgreement = &key
	setPermissions(req, permissions, rpID)
	return cp.token(ctx, req, shared, opts...)
}

func setPermissions(req *ctap.ClientPINRequest, permissions uint64, rpID string) {
	req.Permissions = &permissions
	if rpID != "" {
		req.RPID = &rpID
	}
}

// token sends a token request and returns the decrypted, validated
// pinUvAuthToken of its response (CTAP 2.1 §6.5.5.7, the platform's last
// step).
func (cp *ClientPin) token(ctx context.Context, req *ctap.ClientPINRequest, shared []byte, opts ...CallOption) ([]byte, error) {
	resp, err := cp.Send(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	if resp.PinUvAuthToken == nil {
		return nil, fmt.Errorf("%w: subcommand %#x: pinUvAuthToken (0x02) missing", ErrBadResponse, *req.SubCommand)
	}
	token, err := cp.protocol.Decrypt(shared, resp.PinUvAuthToken)
	if err != nil {
		return nil, fmt.Errorf("%w: subcommand %#x: pinUvAuthToken: %v", ErrBadResponse, *req.SubCommand, err)
	}
	return cp.protocol.ValidateToken(token)
}
