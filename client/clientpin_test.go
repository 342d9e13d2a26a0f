package client

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// seeded is a deterministic random source.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// pinKey is a small authenticator for the PIN subcommands, built from the
// ctap package's primitives: it answers getInfo and authenticatorClientPIN
// (getPINRetries, getUVRetries, getKeyAgreement, setPIN, changePIN and the
// three token subcommands) for both protocols, and records the requests.
type pinKey struct {
	mu      sync.Mutex
	info    ctap.InfoResponse
	rand    io.Reader
	kak     *ctap.KeyAgreementKey
	pin     string // "" while no PIN is set
	retries uint64
	token   []byte // returned, encrypted, by the token subcommands
	// tamper, if set, changes a response before it is sent.
	tamper func(*ctap.ClientPINResponse)

	reqs []ctap.ClientPINRequest
	raw  [][]byte // CBOR of each ClientPIN request
}

func newPinKey(t *testing.T, protocols []uint64, options map[string]bool) *pinKey {
	t.Helper()
	r := seeded(0xA0)
	kak, err := ctap.GenerateKeyAgreementKey(r)
	if err != nil {
		t.Fatal(err)
	}
	token := make([]byte, 32)
	io.ReadFull(r, token)
	return &pinKey{
		info: ctap.InfoResponse{
			Versions:           []string{ctap.VersionFIDO20, ctap.VersionFIDO21},
			AAGUID:             testAAGUID[:],
			Options:            options,
			PinUvAuthProtocols: protocols,
		},
		rand: r, kak: kak, retries: 8, token: token,
	}
}

func (k *pinKey) Call(_ context.Context, cmd ctaphid.Cmd, payload []byte, _ func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cmd != ctaphid.CmdCBOR || len(payload) == 0 {
		return nil, ctaphid.ErrInvalidCmd
	}
	switch ctap.Command(payload[0]) {
	case ctap.CmdGetInfo:
		b, err := ctap.Marshal(k.info)
		return ok(b), err
	case ctap.CmdClientPIN:
	default:
		return []byte{byte(ctap.StatusInvalidCommand)}, nil
	}
	var req ctap.ClientPINRequest
	if err := ctap.Unmarshal(payload[1:], &req); err != nil {
		return []byte{byte(ctap.StatusInvalidCBOR)}, nil
	}
	k.reqs = append(k.reqs, req)
	k.raw = append(k.raw, bytes.Clone(payload[1:]))
	resp, st := k.clientPIN(&req)
	if st != ctap.StatusOK {
		return []byte{byte(st)}, nil
	}
	if resp == nil {
		return ok(nil), nil
	}
	if k.tamper != nil {
		k.tamper(resp)
	}
	b, err := ctap.Marshal(resp)
	return ok(b), err
}

func (k *pinKey) clientPIN(req *ctap.ClientPINRequest) (*ctap.ClientPINResponse, ctap.Status) {
	if req.PinUvAuthProtocol == nil || req.SubCommand == nil {
		return nil, ctap.StatusMissingParameter
	}
	p, known := ctap.PINProtocolByVersion(*req.PinUvAuthProtocol)
	if !known {
		return nil, ctap.StatusInvalidParameter
	}
	switch *req.SubCommand {
	case ctap.PINGetPINRetries:
		return &ctap.ClientPINResponse{PINRetries: &k.retries, PowerCycleState: boolp(false)}, ctap.StatusOK
	case ctap.PINGetUVRetries:
		return &ctap.ClientPINResponse{UVRetries: u64(3)}, ctap.StatusOK
	case ctap.PINGetKeyAgreement:
		key := k.kak.COSEKey()
		return &ctap.ClientPINResponse{KeyAgreement: &key}, ctap.StatusOK
	}
	if req.KeyAgreement == nil {
		return nil, ctap.StatusMissingParameter
	}
	shared, err := k.kak.SharedSecret(p, *req.KeyAgreement)
	if err != nil {
		return nil, ctap.StatusInvalidParameter
	}
	switch *req.SubCommand {
	case ctap.PINSetPIN: // §6.5.5.5
		if k.pin != "" {
			return nil, ctap.StatusNotAllowed
		}
		if !p.Verify(shared, req.NewPinEnc, req.PinUvAuthParam) {
			return nil, ctap.StatusPINAuthInvalid
		}
		return nil, k.setPIN(p, shared, req.NewPinEnc)
	case ctap.PINChangePIN: // §6.5.5.6
		msg := append(bytes.Clone(req.NewPinEnc), req.PinHashEnc...)
		if !p.Verify(shared, msg, req.PinUvAuthParam) {
			return nil, ctap.StatusPINAuthInvalid
		}
		if st := k.checkPIN(p, shared, req.PinHashEnc); st != ctap.StatusOK {
			return nil, st
		}
		return nil, k.setPIN(p, shared, req.NewPinEnc)
	case ctap.PINGetPinToken, ctap.PINGetPinUvAuthTokenUsingPinWithPermissions: // §6.5.5.7.1, .2
		if st := k.checkPIN(p, shared, req.PinHashEnc); st != ctap.StatusOK {
			return nil, st
		}
	case ctap.PINGetPinUvAuthTokenUsingUvWithPermissions: // §6.5.5.7.3: the user always verifies
	default:
		return nil, ctap.StatusInvalidSubcommand
	}
	if *req.SubCommand != ctap.PINGetPinToken && (req.Permissions == nil || *req.Permissions == 0) {
		return nil, ctap.StatusInvalidParameter
	}
	enc, err := p.Encrypt(k.rand, shared, k.token)
	if err != nil {
		return nil, ctap.StatusOther
	}
	return &ctap.ClientPINResponse{PinUvAuthToken: enc}, ctap.StatusOK
}

func (k *pinKey) setPIN(p ctap.PINProtocol, shared, newPinEnc []byte) ctap.Status {
	padded, err := p.Decrypt(shared, newPinEnc)
	if err != nil {
		return ctap.StatusInvalidParameter
	}
	pin, err := ctap.UnpadPIN(padded)
	if err != nil {
		return ctap.StatusPINPolicyViolation
	}
	k.pin, k.retries = pin, 8
	return ctap.StatusOK
}

func (k *pinKey) checkPIN(p ctap.PINProtocol, shared, pinHashEnc []byte) ctap.Status {
	if k.pin == "" {
		return ctap.StatusPINNotSet
	}
	hash, err := p.Decrypt(shared, pinHashEnc)
	if err != nil {
		return ctap.StatusInvalidParameter
	}
	if !bytes.Equal(hash, ctap.PINHash(k.pin)) {
		k.retries--
		return ctap.StatusPINInvalid
	}
	k.retries = 8
	return ctap.StatusOK
}

// last returns the last ClientPIN request.
func (k *pinKey) last(t *testing.T) ctap.ClientPINRequest {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.reqs) == 0 {
		t.Fatal("no ClientPIN request sent")
	}
	return k.reqs[len(k.reqs)-1]
}

func (k *pinKey) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.reqs)
}

var tokenOptions = map[string]bool{ctap.OptionClientPIN: false, ctap.OptionPinUvAuthToken: true}

// newPinClient returns a ClientPin on a fresh pinKey, with a fixed Rand.
func newPinClient(t *testing.T, key *pinKey, protocol *PinProtocol) *ClientPin {
	t.Helper()
	c, err := New(context.Background(), key)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cp, err := NewClientPin(c, protocol)
	if err != nil {
		t.Fatalf("NewClientPin: %v", err)
	}
	cp.Rand = seeded(0xB0)
	return cp
}

func TestNewClientPinProtocol(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		listed   []uint64
		explicit *PinProtocol
		want     uint64 // 0: ErrNotSupported
	}{
		{"one", []uint64{1}, nil, 1},
		{"two", []uint64{2}, nil, 2},
		{"one and two", []uint64{1, 2}, nil, 2},
		{"two and one", []uint64{2, 1}, nil, 2},
		{"unknown and one", []uint64{7, 1}, nil, 1},
		{"none", nil, nil, 0},
		{"unknown only", []uint64{3}, nil, 0},
		{"explicit one", []uint64{2}, PinProtocolV1(), 1},
		{"explicit two unlisted", nil, PinProtocolV2(), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(context.Background(), newPinKey(t, tc.listed, nil))
			if err != nil {
				t.Fatal(err)
			}
			cp, err := NewClientPin(c, tc.explicit)
			if tc.want == 0 {
				if !errors.Is(err, ErrNotSupported) {
					t.Fatalf("NewClientPin = %v, want ErrNotSupported", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cp.Protocol().Version(); got != tc.want {
				t.Errorf("protocol %d, want %d", got, tc.want)
			}
		})
	}
	if _, err := NewClientPin(nil, nil); err == nil {
		t.Error("NewClientPin(nil) succeeded")
	}
	if _, err := NewClientPin(&Ctap2{}, &PinProtocol{}); err == nil {
		t.Error("NewClientPin with an empty PinProtocol succeeded")
	}
}

// TestClientPinFlow sets and changes the PIN and gets tokens with both
// protocols, checking each request's members against the spec's platform
// steps (CTAP 2.1 §6.5.5.5-§6.5.5.7).
func TestClientPinFlow(t *testing.T) {
	t.Parallel()
	for _, v := range []uint64{1, 2} {
		t.Run(map[uint64]string{1: "v1", 2: "v2"}[v], func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			key := newPinKey(t, []uint64{v}, tokenOptions)
			cp := newPinClient(t, key, nil)
			p := cp.Protocol()
			if p.Version() != v {
				t.Fatalf("protocol %d, want %d", p.Version(), v)
			}
			// shared recomputes the shared secret from the authenticator's side.
			shared := func(req ctap.ClientPINRequest) []byte {
				t.Helper()
				ss, err := key.kak.SharedSecret(p.PINProtocol, *req.KeyAgreement)
				if err != nil {
					t.Fatal(err)
				}
				return ss
			}
			decrypt := func(ss, ct []byte) []byte {
				t.Helper()
				pt, err := p.Decrypt(ss, ct)
				if err != nil {
					t.Fatal(err)
				}
				return pt
			}

			// setPIN (§6.5.5.5).
			if err := cp.SetPIN(ctx, "1234"); err != nil {
				t.Fatalf("SetPIN: %v", err)
			}
			req := key.last(t)
			ss := shared(req)
			padded, _ := ctap.PadPIN("1234")
			if diff := cmp.Diff(padded, decrypt(ss, req.NewPinEnc)); diff != "" {
				t.Errorf("setPIN paddedNewPin (-want +got):\n%s", diff)
			}
			if !bytes.Equal(req.PinUvAuthParam, p.Authenticate(ss, req.NewPinEnc)) {
				t.Error("setPIN pinUvAuthParam is not authenticate(shared, newPinEnc)")
			}
			if v == 1 {
				want, _ := p.Encrypt(nil, ss, padded)
				if !bytes.Equal(req.NewPinEnc, want) {
					t.Error("setPIN newPinEnc differs from AES-256-CBC with a zero IV")
				}
			}
			if key.pin != "1234" {
				t.Fatalf("authenticator PIN %q", key.pin)
			}

			// changePIN (§6.5.5.6).
			if err := cp.ChangePIN(ctx, "1234", "5678"); err != nil {
				t.Fatalf("ChangePIN: %v", err)
			}
			req = key.last(t)
			ss = shared(req)
			if diff := cmp.Diff(ctap.PINHash("1234"), decrypt(ss, req.PinHashEnc)); diff != "" {
				t.Errorf("changePIN pinHash (-want +got):\n%s", diff)
			}
			msg := append(bytes.Clone(req.NewPinEnc), req.PinHashEnc...)
			if !bytes.Equal(req.PinUvAuthParam, p.Authenticate(ss, msg)) {
				t.Error("changePIN pinUvAuthParam is not authenticate(shared, newPinEnc || pinHashEnc)")
			}
			if key.pin != "5678" {
				t.Fatalf("authenticator PIN %q", key.pin)
			}

			// Tokens (§6.5.5.7).
			for _, tc := range []struct {
				name        string
				permissions uint64
				rpID        string
				uv          bool
				wantSub     uint64
				wantPerm    *uint64
				wantRPID    *string
			}{
				{"legacy", 0, "", false, ctap.PINGetPinToken, nil, nil},
				{"legacy drops rpId", 0, "example.com", false, ctap.PINGetPinToken, nil, nil},
				{"pin with permissions", ctap.PermissionMakeCredential | ctap.PermissionGetAssertion, "example.com", false,
					ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, u64(3), strp("example.com")},
				{"pin without rpId", ctap.PermissionCredentialManagement, "", false,
					ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, u64(4), nil},
				{"uv", ctap.PermissionGetAssertion, "example.com", true,
					ctap.PINGetPinUvAuthTokenUsingUvWithPermissions, u64(2), strp("example.com")},
			} {
				var token []byte
				var err error
				if tc.uv {
					token, err = cp.GetUVToken(ctx, tc.permissions, tc.rpID)
				} else {
					token, err = cp.GetPinToken(ctx, "5678", tc.permissions, tc.rpID)
				}
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !bytes.Equal(token, key.token) {
					t.Errorf("%s: token %x, want %x", tc.name, token, key.token)
				}
				req := key.last(t)
				want := ctap.ClientPINRequest{
					PinUvAuthProtocol: u64(v), SubCommand: u64(tc.wantSub), KeyAgreement: req.KeyAgreement,
					Permissions: tc.wantPerm, RPID: tc.wantRPID,
				}
				if !tc.uv {
					want.PinHashEnc = req.PinHashEnc
					if diff := cmp.Diff(ctap.PINHash("5678"), decrypt(shared(req), req.PinHashEnc)); diff != "" {
						t.Errorf("%s: pinHash (-want +got):\n%s", tc.name, diff)
					}
				}
				if diff := cmp.Diff(want, req); diff != "" {
					t.Errorf("%s: request (-want +got):\n%s", tc.name, diff)
				}
			}

			// Retries (§6.5.5.2, §6.5.5.3).
			retries, pcs, err := cp.GetPinRetries(ctx)
			if err != nil || retries != 8 || pcs == nil || *pcs {
				t.Errorf("GetPinRetries = %d, %v, %v; want 8, false, nil", retries, pcs, err)
			}
			if uv, err := cp.GetUVRetries(ctx); err != nil || uv != 3 {
				t.Errorf("GetUVRetries = %d, %v; want 3, nil", uv, err)
			}

			// Every request named the protocol.
			for i, r := range key.reqs {
				if r.PinUvAuthProtocol == nil || *r.PinUvAuthProtocol != v {
					t.Errorf("request %d (subcommand %d) without pinUvAuthProtocol %d", i, *r.SubCommand, v)
				}
			}
		})
	}
}

func strp(s string) *string { return &s }

// TestClientPinDeterministic checks that a fixed Rand gives the same bytes.
func TestClientPinDeterministic(t *testing.T) {
	t.Parallel()
	run := func() [][]byte {
		key := newPinKey(t, []uint64{2}, tokenOptions)
		cp := newPinClient(t, key, nil)
		if err := cp.SetPIN(context.Background(), "123456"); err != nil {
			t.Fatal(err)
		}
		if _, err := cp.GetPinToken(context.Background(), "123456", ctap.PermissionGetAssertion, "example.com"); err != nil {
			t.Fatal(err)
		}
		return key.raw
	}
	if diff := cmp.Diff(run(), run()); diff != "" {
		t.Errorf("requests differ between runs (-first +second):\n%s", diff)
	}
}

func TestClientPinLegacyWithoutTokenOption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := newPinKey(t, []uint64{1}, map[string]bool{ctap.OptionClientPIN: true})
	key.pin = "1234"
	cp := newPinClient(t, key, nil)
	if _, err := cp.GetPinToken(ctx, "1234", ctap.PermissionMakeCredential, "example.com"); err != nil {
		t.Fatal(err)
	}
	req := key.last(t)
	if *req.SubCommand != ctap.PINGetPinToken || req.Permissions != nil || req.RPID != nil {
		t.Errorf("without pinUvAuthToken: subcommand %d, permissions %v, rpId %v; want getPinToken alone",
			*req.SubCommand, req.Permissions, req.RPID)
	}
	n := key.count()
	if _, err := cp.GetUVToken(ctx, ctap.PermissionMakeCredential, ""); !errors.Is(err, ErrNotSupported) {
		t.Errorf("GetUVToken = %v, want ErrNotSupported", err)
	}
	if key.count() != n {
		t.Error("GetUVToken sent a request without pinUvAuthToken support")
	}
}

func TestClientPinNewPINPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		minLen uint64 // 0: minPINLength absent
		maxLen uint64 // 0: maxPINLength absent (CTAP 2.2 §6.4)
		pin    string
		ok     bool
		also   error
	}{
		{"four digits", 0, 0, "1234", true, nil},
		{"three digits", 0, 0, "123", false, nil},
		{"empty", 0, 0, "", false, ctap.ErrPINLength},
		{"three code points in six bytes", 0, 0, "ééé", false, nil},
		{"four code points", 0, 0, "éééé", true, nil},
		{"below minPINLength", 6, 0, "12345", false, nil},
		{"at minPINLength", 6, 0, "123456", true, nil},
		{"minPINLength under four", 2, 0, "123", false, nil},
		{"63 bytes", 0, 0, strings.Repeat("1", 63), true, nil},
		{"64 bytes", 0, 0, strings.Repeat("1", 64), false, ctap.ErrPINLength},
		{"not UTF-8", 0, 0, "1234\xff", false, ctap.ErrPINEncoding},
		{"zero byte", 0, 0, "1234\x00", false, ctap.ErrPINEncoding},
		{"at maxPINLength", 0, 8, "12345678", true, nil},
		{"over maxPINLength", 0, 8, "123456789", false, nil},
		{"maxPINLength counts code points, not bytes", 0, 5, "ééééé", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := newPinKey(t, []uint64{2}, tokenOptions)
			key.info.MinPINLength = tc.minLen
			key.info.MaxPINLength = tc.maxLen
			cp := newPinClient(t, key, nil)
			err := cp.SetPIN(context.Background(), tc.pin)
			if tc.ok {
				if err != nil {
					t.Fatalf("SetPIN(%q) = %v", tc.pin, err)
				}
				return
			}
			if !errors.Is(err, ErrPINPolicy) || (tc.also != nil && !errors.Is(err, tc.also)) {
				t.Fatalf("SetPIN(%q) = %v, want ErrPINPolicy %v", tc.pin, err, tc.also)
			}
			if key.count() != 0 {
				t.Errorf("SetPIN(%q) sent %d ClientPIN requests before refusing", tc.pin, key.count())
			}
			key.pin = "0000"
			if err := cp.ChangePIN(context.Background(), "0000", tc.pin); !errors.Is(err, ErrPINPolicy) {
				t.Errorf("ChangePIN(_, %q) = %v, want ErrPINPolicy", tc.pin, err)
			}
			if key.count() != 0 {
				t.Errorf("ChangePIN sent %d ClientPIN requests before refusing", key.count())
			}
		})
	}
}

func TestClientPinStatusPassedThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, v := range []uint64{1, 2} {
		key := newPinKey(t, []uint64{1, 2}, tokenOptions)
		key.pin = "1234"
		p, _ := PinProtocolByVersion(v)
		cp := newPinClient(t, key, p)
		if _, err := cp.GetPinToken(ctx, "4321", 0, ""); !errors.Is(err, ctap.StatusPINInvalid) {
			t.Errorf("v%d GetPinToken with a wrong PIN = %v, want CTAP2_ERR_PIN_INVALID", v, err)
		}
		if _, err := cp.GetPinToken(ctx, "4321", ctap.PermissionGetAssertion, "x"); !errors.Is(err, ctap.StatusPINInvalid) {
			t.Errorf("v%d GetPinToken 0x09 with a wrong PIN = %v, want CTAP2_ERR_PIN_INVALID", v, err)
		}
		if err := cp.ChangePIN(ctx, "4321", "5678"); !errors.Is(err, ctap.StatusPINInvalid) {
			t.Errorf("v%d ChangePIN with a wrong PIN = %v, want CTAP2_ERR_PIN_INVALID", v, err)
		}
		if err := cp.SetPIN(ctx, "5678"); !errors.Is(err, ctap.StatusNotAllowed) {
			t.Errorf("v%d SetPIN with a PIN set = %v, want CTAP2_ERR_NOT_ALLOWED", v, err)
		}
		if n, _, err := cp.GetPinRetries(ctx); err != nil || n != 5 {
			t.Errorf("v%d GetPinRetries = %d, %v; want 5", v, n, err)
		}
	}
}

func TestClientPinBadResponses(t *testing.T) {
	t.Parallel()
	keyAgreement := func(ctx context.Context, cp *ClientPin) error {
		_, _, err := cp.KeyAgreement(ctx)
		return err
	}
	pinToken := func(ctx context.Context, cp *ClientPin) error {
		_, err := cp.GetPinToken(ctx, "1234", 0, "")
		return err
	}
	uvToken := func(ctx context.Context, cp *ClientPin) error {
		_, err := cp.GetUVToken(ctx, 1, "")
		return err
	}
	for _, tc := range []struct {
		name     string
		protocol uint64
		tamper   func(*ctap.ClientPINResponse)
		call     func(context.Context, *ClientPin) error
	}{
		{"no keyAgreement", 2, func(r *ctap.ClientPINResponse) { r.KeyAgreement = nil }, keyAgreement},
		{"keyAgreement with alg ES256", 2, func(r *ctap.ClientPINResponse) {
			if r.KeyAgreement != nil {
				r.KeyAgreement.Alg = ctap.AlgES256
			}
		}, keyAgreement},
		{"keyAgreement off the curve", 1, func(r *ctap.ClientPINResponse) {
			if r.KeyAgreement != nil {
				r.KeyAgreement.Y = make([]byte, 32)
			}
		}, keyAgreement},
		{"no pinRetries", 1, func(r *ctap.ClientPINResponse) { r.PINRetries = nil },
			func(ctx context.Context, cp *ClientPin) error { _, _, err := cp.GetPinRetries(ctx); return err }},
		{"no uvRetries", 1, func(r *ctap.ClientPINResponse) { r.UVRetries = nil },
			func(ctx context.Context, cp *ClientPin) error { _, err := cp.GetUVRetries(ctx); return err }},
		{"no token", 2, func(r *ctap.ClientPINResponse) { r.PinUvAuthToken = nil }, pinToken},
		{"token not whole blocks", 1, func(r *ctap.ClientPINResponse) {
			if r.PinUvAuthToken != nil {
				r.PinUvAuthToken = r.PinUvAuthToken[:20]
			}
		}, pinToken},
		{"v2 token of 16 bytes", 2, func(r *ctap.ClientPINResponse) {
			if r.PinUvAuthToken != nil {
				r.PinUvAuthToken = r.PinUvAuthToken[:32] // IV and one block
			}
		}, uvToken},
		{"v1 token of 48 bytes", 1, func(r *ctap.ClientPINResponse) {
			if r.PinUvAuthToken != nil {
				r.PinUvAuthToken = append(r.PinUvAuthToken, make([]byte, 16)...)
			}
		}, pinToken},
		{"setPIN with a body", 1, nil, func(ctx context.Context, cp *ClientPin) error { return cp.SetPIN(ctx, "1234") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := newPinKey(t, []uint64{tc.protocol}, tokenOptions)
			key.pin, key.tamper = "1234", tc.tamper
			cp := newPinClient(t, key, nil)
			if tc.tamper == nil {
				key.pin = ""
				cp.c.t = bodyOnEmpty{key}
			}
			if err := tc.call(context.Background(), cp); !errors.Is(err, ErrBadResponse) {
				t.Errorf("err = %v, want ErrBadResponse", err)
			}
		})
	}
}

// bodyOnEmpty turns an empty CTAP2_OK answer into one with an empty map.
type bodyOnEmpty struct{ *pinKey }

func (b bodyOnEmpty) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, f func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	resp, err := b.pinKey.Call(ctx, cmd, payload, f)
	if len(resp) == 1 && resp[0] == byte(ctap.StatusOK) {
		resp = append(resp, 0xa0)
	}
	return resp, err
}

func TestValidateToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    *PinProtocol
		n    int
		want bool
	}{
		{PinProtocolV1(), 16, true},
		{PinProtocolV1(), 32, true},
		{PinProtocolV1(), 0, false},
		{PinProtocolV1(), 15, false},
		{PinProtocolV1(), 24, false},
		{PinProtocolV1(), 48, false},
		{PinProtocolV2(), 32, true},
		{PinProtocolV2(), 16, false},
		{PinProtocolV2(), 0, false},
		{PinProtocolV2(), 48, false},
		{PinProtocolV2(), 64, false},
	} {
		token := bytes.Repeat([]byte{7}, tc.n)
		got, err := tc.p.ValidateToken(token)
		if tc.want {
			if err != nil || !bytes.Equal(got, token) {
				t.Errorf("v%d ValidateToken(%d bytes) = %x, %v; want the token", tc.p.Version(), tc.n, got, err)
			}
		} else if !errors.Is(err, ErrBadResponse) || got != nil {
			t.Errorf("v%d ValidateToken(%d bytes) = %x, %v; want ErrBadResponse", tc.p.Version(), tc.n, got, err)
		}
	}
}

func TestAuthParam(t *testing.T) {
	t.Parallel()
	token := bytes.Repeat([]byte{1}, 32)
	hash := cdh("client data")
	for _, tc := range []struct {
		p    *PinProtocol
		size int
	}{{PinProtocolV1(), 16}, {PinProtocolV2(), 32}} {
		got := tc.p.AuthParam(token, hash)
		if len(got) != tc.size || !tc.p.Verify(token, hash, got) {
			t.Errorf("v%d AuthParam = %x, want the %d-byte authenticate(token, clientDataHash)", tc.p.Version(), got, tc.size)
		}
	}
}

func TestIsSupported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		options        map[string]bool
		support, token bool
	}{
		{nil, false, false},
		{map[string]bool{ctap.OptionClientPIN: false}, true, false},
		{map[string]bool{ctap.OptionClientPIN: true}, true, false},
		{map[string]bool{ctap.OptionPinUvAuthToken: true}, false, true},
		{map[string]bool{ctap.OptionClientPIN: true, ctap.OptionPinUvAuthToken: false}, true, false},
	} {
		info := &Info{Options: tc.options}
		if got := IsSupported(info); got != tc.support {
			t.Errorf("IsSupported(%v) = %v", tc.options, got)
		}
		if got := IsTokenSupported(info); got != tc.token {
			t.Errorf("IsTokenSupported(%v) = %v", tc.options, got)
		}
	}
}

// TestPinProtocolConstants checks the named fixed inputs against the
// protocols that use them (CTAP 2.1 §6.5.6 and §6.5.7): protocol one's
// Encrypt is AES-256-CBC with PinProtocolV1IV, protocol two's KDF is
// HKDF-SHA-256 with PinProtocolV2HKDFSalt and the two info strings.
func TestPinProtocolConstants(t *testing.T) {
	t.Parallel()
	if PinProtocolV1IV != [16]byte{} || PinProtocolV2HKDFSalt != [32]byte{} {
		t.Fatal("the IV or the salt is not all zero")
	}
	key := bytes.Repeat([]byte{0x42}, 32)
	pt := bytes.Repeat([]byte{0x17}, 32)
	got, err := PinProtocolV1().Encrypt(nil, key, pt)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, PinProtocolV1IV[:]).CryptBlocks(want, pt)
	if !bytes.Equal(got, want) {
		t.Errorf("protocol one Encrypt = %x, CBC with PinProtocolV1IV = %x", got, want)
	}

	z := bytes.Repeat([]byte{0x99}, 32)
	hmacKey, err := hkdf.Key(sha256.New, z, PinProtocolV2HKDFSalt[:], PinProtocolV2HKDFInfoHMAC, 32)
	if err != nil {
		t.Fatal(err)
	}
	aesKey, err := hkdf.Key(sha256.New, z, PinProtocolV2HKDFSalt[:], PinProtocolV2HKDFInfoAES, 32)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := PinProtocolV2().KDF(z), append(hmacKey, aesKey...); !bytes.Equal(got, want) {
		t.Errorf("protocol two KDF = %x, HKDF with the named inputs = %x", got, want)
	}

	var versions []uint64
	for _, p := range PinProtocols() {
		versions = append(versions, p.Version())
	}
	if !slices.Equal(versions, []uint64{2, 1}) {
		t.Errorf("PinProtocols = %v, want [2 1]", versions)
	}
}
