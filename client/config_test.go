package client

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// newConfigCtap2 returns a Ctap2 on a scripted transport whose getInfo
// lists authnrCfg, followed by steps.
func newConfigCtap2(t *testing.T, steps ...step) (*Ctap2, *fakeTransport) {
	t.Helper()
	info := mustMarshal(t, ctap.InfoResponse{
		Versions: []string{ctap.VersionFIDO21}, AAGUID: testAAGUID[:],
		Options: map[string]bool{ctap.OptionAuthnrCfg: true, ctap.OptionClientPIN: true},
	})
	ft := &fakeTransport{steps: append([]step{{resp: ok(info)}}, steps...)}
	c, err := New(context.Background(), ft)
	if err != nil {
		t.Fatal(err)
	}
	return c, ft
}

func TestIsConfigSupported(t *testing.T) {
	for _, tt := range []struct {
		opts map[string]bool
		want bool
	}{
		{nil, false},
		{map[string]bool{ctap.OptionAuthnrCfg: false}, false},
		{map[string]bool{ctap.OptionAuthnrCfg: true}, true},
	} {
		if got := IsConfigSupported(&Info{Options: tt.opts}); got != tt.want {
			t.Errorf("%v: %t", tt.opts, got)
		}
	}
	c, _ := newTestCtap2(t, nil)
	if _, err := NewConfig(c, nil, nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("NewConfig without authnrCfg: %v", err)
	}
	c, _ = newConfigCtap2(t)
	if _, err := NewConfig(c, nil, []byte{1}); err == nil {
		t.Error("NewConfig with a token and no protocol")
	}
}

// TestConfigRequests checks the bytes of each subcommand (CTAP 2.1 §6.11):
// members, subCommandParams and the pinUvAuthParam over
// 32×0xff || 0x0d || subCommand || subCommandParams.
func TestConfigRequests(t *testing.T) {
	token := bytes.Repeat([]byte{0x55}, 32)
	empty := ok(nil)
	for _, p := range []*PinProtocol{PinProtocolV1(), PinProtocolV2()} {
		c, ft := newConfigCtap2(t, step{resp: empty}, step{resp: empty}, step{resp: empty}, step{resp: empty})
		cf, err := NewConfig(c, p, token)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, err := range []error{
			cf.EnableEnterpriseAttestation(ctx),
			cf.ToggleAlwaysUV(ctx),
			cf.SetMinPINLength(ctx, 6, []string{"example.com"}, true),
			cf.SetMinPINLength(ctx, 0, nil, false),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		type want struct {
			sub    uint64
			params []byte
		}
		wants := []want{
			{ctap.ConfigEnableEnterpriseAttestation, nil},
			{ctap.ConfigToggleAlwaysUv, nil},
			// {1: 6, 2: ["example.com"], 3: true}
			{ctap.ConfigSetMinPINLength, append(append([]byte{0xa3, 0x01, 0x06, 0x02, 0x81, 0x6b}, "example.com"...), 0x03, 0xf5)},
			{ctap.ConfigSetMinPINLength, []byte{0xa0}},
		}
		for i, w := range wants {
			sent := ft.sent[i+1]
			if ctap.Command(sent[0]) != ctap.CmdConfig {
				t.Fatalf("command %#x", sent[0])
			}
			var req ctap.ConfigRequest
			if err := ctap.Unmarshal(sent[1:], &req); err != nil {
				t.Fatal(err)
			}
			msg := append(bytes.Repeat([]byte{0xff}, 32), 0x0d, byte(w.sub))
			msg = append(msg, w.params...)
			wantReq := ctap.ConfigRequest{SubCommand: &w.sub, SubCommandParams: w.params,
				PinUvAuthProtocol: u64(p.Version()), PinUvAuthParam: p.Authenticate(token, msg)}
			if d := cmp.Diff(wantReq, req); d != "" {
				t.Errorf("protocol %d request %d (-want +got):\n%s", p.Version(), i, d)
			}
		}
	}
}

func TestConfigWithoutToken(t *testing.T) {
	c, ft := newConfigCtap2(t, step{resp: ok(nil)}, step{resp: []byte{byte(ctap.StatusPUATRequired)}}, step{resp: ok([]byte{0xa0})})
	cf, err := NewConfig(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cf.ToggleAlwaysUV(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := ft.sent[1], []byte{0x0d, 0xa1, 0x01, 0x02}; !bytes.Equal(got, want) {
		t.Errorf("sent %x, want %x", got, want)
	}
	if err := cf.ToggleAlwaysUV(ctx); !errors.Is(err, ctap.StatusPUATRequired) {
		t.Errorf("status: %v", err)
	}
	if err := cf.EnableEnterpriseAttestation(ctx); !errors.Is(err, ErrBadResponse) {
		t.Errorf("a body: %v", err)
	}
}

// TestConfigInProcess drives a virtual key through Config with a token
// from ClientPin.
func TestConfigInProcess(t *testing.T) {
	ctx := context.Background()
	a, err := authenticator.New(authenticator.Config{Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenInProcess(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := NewClientPin(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp.Rand = seeded(2)
	if err := cp.SetPIN(ctx, "12345"); err != nil {
		t.Fatal(err)
	}
	tok, err := cp.GetPinToken(ctx, "12345", ctap.PermissionAuthenticatorConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := NewConfig(c, cp.Protocol(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.ToggleAlwaysUV(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cf.SetMinPINLength(ctx, 6, []string{"example.com"}, false); err != nil {
		t.Fatal(err)
	}
	if err := cf.SetMinPINLength(ctx, 5, nil, false); !errors.Is(err, ctap.StatusPINPolicyViolation) {
		t.Errorf("shrinking: %v", err)
	}
	info, err := c.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if uv, _ := info.Option(ctap.OptionAlwaysUv); !uv || info.MinPINLength != 6 || !info.ForcePINChange {
		t.Errorf("getInfo alwaysUv %t minPINLength %d forcePINChange %t", uv, info.MinPINLength, info.ForcePINChange)
	}
	noAuth, err := NewConfig(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := noAuth.ToggleAlwaysUV(ctx); !errors.Is(err, ctap.StatusPUATRequired) {
		t.Errorf("without a token: %v", err)
	}
}

// TestConfigPinComplexityPolicy checks setMinPINLength's pinComplexityPolicy
// (CTAP 2.2 §6.11.4): sent as {4: true} with the other members when the
// key's getInfo has pinComplexityPolicy (0x1B), refused before sending when
// it has not.
func TestConfigPinComplexityPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	token := bytes.Repeat([]byte{0x55}, 32)
	p := PinProtocolV2()

	// A 2.1 key: no pinComplexityPolicy member, nothing sent.
	c, ft := newConfigCtap2(t)
	cf, err := NewConfig(c, p, token)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.SetMinPINLengthParams(ctx, MinPINLengthParams{MinPINLength: 8, PINComplexityPolicy: true}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("pinComplexityPolicy on a key without the member: %v, want ErrNotSupported", err)
	}
	if len(ft.sent) != 1 {
		t.Errorf("%d commands sent, want only getInfo", len(ft.sent))
	}

	// A 2.2 key listing pinComplexityPolicy false.
	info := mustMarshal(t, ctap.InfoResponse{
		Versions: []string{ctap.VersionFIDO21, ctap.VersionFIDO22}, AAGUID: testAAGUID[:],
		Options:             map[string]bool{ctap.OptionAuthnrCfg: true, ctap.OptionClientPIN: true},
		PinComplexityPolicy: boolp(false),
	})
	ft = &fakeTransport{steps: []step{{resp: ok(info)}, {resp: ok(nil)}, {resp: ok(nil)}}}
	if c, err = New(ctx, ft); err != nil {
		t.Fatal(err)
	}
	if cf, err = NewConfig(c, p, token); err != nil {
		t.Fatal(err)
	}
	if err := cf.SetMinPINLengthParams(ctx, MinPINLengthParams{MinPINLength: 8, ForceChangePIN: true, PINComplexityPolicy: true}); err != nil {
		t.Fatal(err)
	}
	// false is the zero value and stays out of the request.
	if err := cf.SetMinPINLengthParams(ctx, MinPINLengthParams{RPIDs: []string{"example.com"}}); err != nil {
		t.Fatal(err)
	}
	for i, params := range [][]byte{
		{0xa3, 0x01, 0x08, 0x03, 0xf5, 0x04, 0xf5}, // {1: 8, 3: true, 4: true}
		append([]byte{0xa1, 0x02, 0x81, 0x6b}, "example.com"...),
	} {
		var req ctap.ConfigRequest
		if err := ctap.Unmarshal(ft.sent[i+1][1:], &req); err != nil {
			t.Fatal(err)
		}
		msg := append(append(bytes.Repeat([]byte{0xff}, 32), 0x0d, byte(ctap.ConfigSetMinPINLength)), params...)
		want := ctap.ConfigRequest{SubCommand: u64(ctap.ConfigSetMinPINLength), SubCommandParams: params,
			PinUvAuthProtocol: u64(2), PinUvAuthParam: p.Authenticate(token, msg)}
		if d := cmp.Diff(want, req); d != "" {
			t.Errorf("request %d (-want +got):\n%s", i, d)
		}
	}
	if c := cf.Ctap(); c == nil || cf.Protocol() != p || !bytes.Equal(cf.Token(), token) {
		t.Error("Ctap, Protocol or Token do not return what NewConfig was given")
	}
}
