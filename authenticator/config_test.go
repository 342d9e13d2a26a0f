package authenticator

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

// configMessage is what a config pinUvAuthParam authenticates (CTAP 2.1
// §6.11): 32×0xff || 0x0d || uint8(subCommand) || subCommandParams.
func configMessage(sub uint64, params []byte) []byte {
	msg := append(bytes.Repeat([]byte{0xff}, 32), 0x0d, byte(sub))
	return append(msg, params...)
}

// configRequest builds an authenticatorConfig request; with tok it is
// authorized under p's protocol.
func (p *platform) configRequest(tok []byte, sub uint64, params any) *ctap.ConfigRequest {
	req := &ctap.ConfigRequest{SubCommand: ptr(sub)}
	if params != nil {
		req.SubCommandParams = ctap.MustMarshal(params)
	}
	if tok != nil {
		req.PinUvAuthProtocol = ptr(p.proto.Version())
		req.PinUvAuthParam = p.proto.Authenticate(tok, configMessage(sub, req.SubCommandParams))
	}
	return req
}

func (p *platform) config(tok []byte, sub uint64, params any) ctap.Status {
	p.k.t.Helper()
	return p.k.do(ctap.CmdConfig, p.configRequest(tok, sub, params), nil)
}

func (k *testKey) info() *ctap.InfoResponse {
	k.t.Helper()
	var info ctap.InfoResponse
	if s := k.do(ctap.CmdGetInfo, nil, &info); s != ctap.StatusOK {
		k.t.Fatalf("getInfo: %v", s)
	}
	return &info
}

func minLen(n uint64) *ctap.SetMinPINLengthParams {
	return &ctap.SetMinPINLengthParams{NewMinPINLength: &n}
}

// TestConfigGetInfo checks the §6.4 members authenticatorConfig adds and
// how each subcommand changes them.
func TestConfigGetInfo(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	type view struct {
		AuthnrCfg, SetMinPINLength, AlwaysUV, EP, MakeCredUvNotRqd, HasAlwaysUV, HasEP bool
		MinPINLength, MaxRPIDs                                                         uint64
		Vendor                                                                         []uint64
	}
	get := func() view {
		info := k.info()
		_, hasUV := info.Options[ctap.OptionAlwaysUv]
		_, hasEP := info.Options[ctap.OptionEP]
		return view{
			AuthnrCfg: info.Options[ctap.OptionAuthnrCfg], SetMinPINLength: info.Options[ctap.OptionSetMinPINLength],
			AlwaysUV: info.Options[ctap.OptionAlwaysUv], EP: info.Options[ctap.OptionEP],
			MakeCredUvNotRqd: info.Options[ctap.OptionMakeCredUvNotRqd], HasAlwaysUV: hasUV, HasEP: hasEP,
			MinPINLength: info.MinPINLength, MaxRPIDs: info.MaxRPIDsForSetMinPINLength, Vendor: info.VendorPrototypeConfigCommands,
		}
	}
	want := view{AuthnrCfg: true, SetMinPINLength: true, MakeCredUvNotRqd: true, HasAlwaysUV: true, HasEP: true,
		MinPINLength: 4, MaxRPIDs: MaxRPIDsForSetMinPINLength}
	if d := cmp.Diff(want, get()); d != "" {
		t.Errorf("factory getInfo (-want +got):\n%s", d)
	}
	steps := []struct {
		name   string
		sub    uint64
		params any
		change func(v *view)
	}{
		{"toggleAlwaysUv on", ctap.ConfigToggleAlwaysUv, nil, func(v *view) { v.AlwaysUV, v.MakeCredUvNotRqd = true, false }},
		{"enableEnterpriseAttestation", ctap.ConfigEnableEnterpriseAttestation, nil, func(v *view) { v.EP = true }},
		{"enableEnterpriseAttestation again", ctap.ConfigEnableEnterpriseAttestation, nil, func(v *view) {}},
		{"setMinPINLength 6", ctap.ConfigSetMinPINLength, minLen(6), func(v *view) { v.MinPINLength = 6 }},
		{"toggleAlwaysUv off", ctap.ConfigToggleAlwaysUv, nil, func(v *view) { v.AlwaysUV, v.MakeCredUvNotRqd = false, true }},
	}
	// With a PIN, so that every step runs authorized (§6.11).
	if s := p.setPIN("123456"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	for _, st := range steps {
		tok := p.mustToken("123456", ctap.PermissionAuthenticatorConfig, "")
		if s := p.config(tok, st.sub, st.params); s != ctap.StatusOK {
			t.Fatalf("%s: %v", st.name, s)
		}
		st.change(&want)
		if d := cmp.Diff(want, get()); d != "" {
			t.Errorf("after %s (-want +got):\n%s", st.name, d)
		}
	}
}

// TestConfigParameters checks the subCommand checks of §6.11 and the
// decoding of the request.
func TestConfigParameters(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	tests := []struct {
		name string
		req  any
		want ctap.Status
	}{
		{"no subCommand", &ctap.ConfigRequest{PinUvAuthProtocol: ptr[uint64](2)}, ctap.StatusMissingParameter},
		{"empty map", rawParams{0xa0}, ctap.StatusMissingParameter},
		{"unknown subCommand", &ctap.ConfigRequest{SubCommand: ptr[uint64](0x04)}, ctap.StatusInvalidSubcommand},
		{"subCommand 0", &ctap.ConfigRequest{SubCommand: ptr[uint64](0)}, ctap.StatusInvalidSubcommand},
		{"subCommand 0x101", &ctap.ConfigRequest{SubCommand: ptr[uint64](0x101)}, ctap.StatusInvalidSubcommand},
		{"vendorPrototype", &ctap.ConfigRequest{SubCommand: ptr(ctap.ConfigVendorPrototype),
			SubCommandParams: ctap.MustMarshal(map[int]uint64{1: 0x1234})}, ctap.StatusInvalidSubcommand},
		{"subCommand a string", withMember(&ctap.ConfigRequest{}, 1, "toggle"), ctap.StatusCBORUnexpectedType},
		{"not a map", rawParams{0x01}, ctap.StatusCBORUnexpectedType},
		{"truncated", rawParams{0xa1, 0x01}, ctap.StatusInvalidCBOR},
		{"no parameters", rawParams{}, ctap.StatusInvalidCBOR},
		{"setMinPINLength params not a map", &ctap.ConfigRequest{SubCommand: ptr(ctap.ConfigSetMinPINLength),
			SubCommandParams: ctap.MustMarshal(6)}, ctap.StatusCBORUnexpectedType},
		{"newMinPINLength a string", &ctap.ConfigRequest{SubCommand: ptr(ctap.ConfigSetMinPINLength),
			SubCommandParams: ctap.MustMarshal(map[int]string{1: "6"})}, ctap.StatusCBORUnexpectedType},
	}
	for _, tt := range tests {
		if s := k.do(ctap.CmdConfig, tt.req, nil); s != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
		}
	}
	if st := k.store.State(); st.AlwaysUV || st.MinPINLength != 0 || st.EnterpriseAttestation {
		t.Errorf("a refused request changed the state: %+v", st)
	}
}

// TestConfigWithoutPIN checks that a key with no PIN and no built-in UV
// runs config subcommands without a pinUvAuthParam (§6.11), until
// alwaysUv is on.
func TestConfigWithoutPIN(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	if s := p.config(nil, ctap.ConfigEnableEnterpriseAttestation, nil); s != ctap.StatusOK {
		t.Errorf("enableEnterpriseAttestation: %v", s)
	}
	if s := p.config(nil, ctap.ConfigSetMinPINLength, minLen(5)); s != ctap.StatusOK {
		t.Errorf("setMinPINLength: %v", s)
	}
	// A pinUvAuthParam is ignored when nothing needs it.
	req := p.configRequest(bytes.Repeat([]byte{1}, 32), ctap.ConfigSetMinPINLength, minLen(5))
	if s := k.do(ctap.CmdConfig, req, nil); s != ctap.StatusOK {
		t.Errorf("setMinPINLength with a stray pinUvAuthParam: %v", s)
	}
	if s := p.config(nil, ctap.ConfigToggleAlwaysUv, nil); s != ctap.StatusOK {
		t.Errorf("toggleAlwaysUv: %v", s)
	}
	st := k.store.State()
	if !st.AlwaysUV || !st.EnterpriseAttestation || st.MinPINLength != 5 {
		t.Errorf("saved state %+v", st)
	}
	// alwaysUv on: every subcommand now needs a token, which needs a PIN.
	if s := p.config(nil, ctap.ConfigToggleAlwaysUv, nil); s != ctap.StatusPUATRequired {
		t.Errorf("toggleAlwaysUv with alwaysUv on, no PIN: %v", s)
	}
	if s := p.setPIN("12345"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	tok := p.mustToken("12345", ctap.PermissionAuthenticatorConfig, "")
	if s := p.config(tok, ctap.ConfigToggleAlwaysUv, nil); s != ctap.StatusOK {
		t.Errorf("toggleAlwaysUv with a token: %v", s)
	}
	if k.store.State().AlwaysUV {
		t.Error("alwaysUv still on")
	}
}

// TestConfigAuthorization checks the pinUvAuthParam checks of §6.11 with
// a PIN set, for both protocols.
func TestConfigAuthorization(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t)
		p := newPlatform(k, v)
		other := newPlatform(k, 3-v)
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatal(s)
		}
		sub := ctap.ConfigToggleAlwaysUv
		tests := []struct {
			name string
			req  func() *ctap.ConfigRequest
			want ctap.Status
		}{
			{"no pinUvAuthParam", func() *ctap.ConfigRequest { return p.configRequest(nil, sub, nil) }, ctap.StatusPUATRequired},
			{"no pinUvAuthProtocol", func() *ctap.ConfigRequest {
				r := p.configRequest(p.mustToken("1234", ctap.PermissionAuthenticatorConfig, ""), sub, nil)
				r.PinUvAuthProtocol = nil
				return r
			}, ctap.StatusMissingParameter},
			{"protocol 3", func() *ctap.ConfigRequest {
				r := p.configRequest(p.mustToken("1234", ctap.PermissionAuthenticatorConfig, ""), sub, nil)
				r.PinUvAuthProtocol = ptr[uint64](3)
				return r
			}, ctap.StatusInvalidParameter},
			{"flipped MAC bit", func() *ctap.ConfigRequest {
				r := p.configRequest(p.mustToken("1234", ctap.PermissionAuthenticatorConfig, ""), sub, nil)
				r.PinUvAuthParam[0] ^= 1
				return r
			}, ctap.StatusPINAuthInvalid},
			{"MAC over another subCommand", func() *ctap.ConfigRequest {
				r := p.configRequest(p.mustToken("1234", ctap.PermissionAuthenticatorConfig, ""), ctap.ConfigEnableEnterpriseAttestation, nil)
				r.SubCommand = ptr(sub)
				return r
			}, ctap.StatusPINAuthInvalid},
			{"MAC without the 0xff prefix", func() *ctap.ConfigRequest {
				r := p.configRequest(nil, sub, nil)
				r.PinUvAuthProtocol = ptr(v)
				r.PinUvAuthParam = p.proto.Authenticate(p.mustToken("1234", ctap.PermissionAuthenticatorConfig, ""), []byte{0x0d, byte(sub)})
				return r
			}, ctap.StatusPINAuthInvalid},
			{"token without acfg", func() *ctap.ConfigRequest {
				return p.configRequest(p.mustToken("1234", ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, ""), sub, nil)
			}, ctap.StatusPINAuthInvalid},
			{"getPinToken token (mc|ga)", func() *ctap.ConfigRequest {
				tok, s := p.token("1234", nil, nil)
				if s != ctap.StatusOK {
					t.Fatal(s)
				}
				return p.configRequest(tok, sub, nil)
			}, ctap.StatusPINAuthInvalid},
			{"token of the other protocol", func() *ctap.ConfigRequest {
				tok := other.mustToken("1234", ctap.PermissionAuthenticatorConfig, "")
				return p.configRequest(tok, sub, nil)
			}, ctap.StatusPINAuthInvalid},
			{"token expired", func() *ctap.ConfigRequest {
				r := p.configRequest(p.mustToken("1234", ctap.PermissionAuthenticatorConfig, ""), sub, nil)
				k.clock.Advance(TokenInitialUsageLimit + 1)
				return r
			}, ctap.StatusPINAuthInvalid},
			{"acfg token bound to an RP ID", func() *ctap.ConfigRequest {
				return p.configRequest(p.mustToken("1234", ctap.PermissionAuthenticatorConfig, "example.com"), sub, nil)
			}, ctap.StatusOK},
		}
		for _, tt := range tests {
			before := k.store.State().AlwaysUV
			s := k.do(ctap.CmdConfig, tt.req(), nil)
			if s != tt.want {
				t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
			}
			if changed := k.store.State().AlwaysUV != before; changed != (s == ctap.StatusOK) {
				t.Errorf("%s: alwaysUv changed %t with status %v", tt.name, changed, s)
			}
		}
		// setMinPINLength: the MAC covers subCommandParams as sent.
		tok := p.mustToken("1234", ctap.PermissionAuthenticatorConfig, "")
		r := p.configRequest(tok, ctap.ConfigSetMinPINLength, minLen(6))
		r.SubCommandParams = ctap.MustMarshal(minLen(7))
		if s := k.do(ctap.CmdConfig, r, nil); s != ctap.StatusPINAuthInvalid {
			t.Errorf("params changed after the MAC: %v", s)
		}
		// Non-canonical params are refused even with a good MAC over them
		// as sent (CTAP 2.1 §8: CTAP2_ERR_INVALID_CBOR).
		raw := []byte{0xa1, 0x01, 0x18, 0x06} // {1: 6} with a one-byte-argument integer
		r = &ctap.ConfigRequest{SubCommand: ptr(ctap.ConfigSetMinPINLength), SubCommandParams: raw,
			PinUvAuthProtocol: ptr(v), PinUvAuthParam: p.proto.Authenticate(tok, configMessage(ctap.ConfigSetMinPINLength, raw))}
		if s := k.do(ctap.CmdConfig, r, nil); s != ctap.StatusInvalidCBOR {
			t.Errorf("non-canonical params MACed as sent: %v, want INVALID_CBOR", s)
		}
		if got := k.store.State().MinPINLength; got == 6 {
			t.Errorf("minPINLength %d after a refused request", got)
		}
	})
}

// TestSetMinPINLength checks the steps of §6.11.4.
func TestSetMinPINLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		pin        string // "" for none
		start      uint64 // minimum set first (0: none)
		params     any
		want       ctap.Status
		wantMin    int
		wantForce  bool
		wantRPIDs  []string
		keepsRPIDs bool
	}{
		{name: "grow", pin: "12345678", params: minLen(6), want: ctap.StatusOK, wantMin: 6},
		{name: "same", start: 6, params: minLen(6), want: ctap.StatusOK, wantMin: 6},
		{name: "shrink", start: 6, params: minLen(5), want: ctap.StatusPINPolicyViolation, wantMin: 6},
		{name: "below the default", params: minLen(3), want: ctap.StatusPINPolicyViolation},
		{name: "63", params: minLen(63), want: ctap.StatusOK, wantMin: 63},
		{name: "64, no PIN could meet it", params: minLen(64), want: ctap.StatusPINPolicyViolation},
		{name: "huge", params: minLen(1 << 40), want: ctap.StatusPINPolicyViolation},
		{name: "absent: the current", start: 7, params: &ctap.SetMinPINLengthParams{}, want: ctap.StatusOK, wantMin: 7},
		{name: "no subCommandParams", start: 7, params: nil, want: ctap.StatusOK, wantMin: 7},
		{name: "RP IDs", params: &ctap.SetMinPINLengthParams{MinPinLengthRPIDs: []string{"a.example", "b.example"}},
			want: ctap.StatusOK, wantRPIDs: []string{"a.example", "b.example"}},
		{name: "8 RP IDs", params: &ctap.SetMinPINLengthParams{MinPinLengthRPIDs: make([]string, 8)},
			want: ctap.StatusOK, wantRPIDs: make([]string, 8)},
		{name: "9 RP IDs", params: &ctap.SetMinPINLengthParams{MinPinLengthRPIDs: make([]string, 9)},
			want: ctap.StatusPINPolicyViolation},
		{name: "PIN shorter than the new minimum", pin: "12345", params: minLen(6), want: ctap.StatusOK, wantMin: 6, wantForce: true},
		{name: "PIN as long as the new minimum", pin: "123456", params: minLen(6), want: ctap.StatusOK, wantMin: 6},
		{name: "PIN of 4 code points, 8 bytes", pin: "ÄÖÜß", params: minLen(5), want: ctap.StatusOK, wantMin: 5, wantForce: true},
		{name: "forceChangePin", pin: "123456", params: &ctap.SetMinPINLengthParams{ForceChangePin: ptr(true)},
			want: ctap.StatusOK, wantForce: true},
		{name: "forceChangePin false", pin: "123456", params: &ctap.SetMinPINLengthParams{ForceChangePin: ptr(false)},
			want: ctap.StatusOK},
		{name: "forceChangePin without a PIN", params: &ctap.SetMinPINLengthParams{ForceChangePin: ptr(true)},
			want: ctap.StatusPINNotSet},
		{name: "forceChangePin without a PIN, new minimum", params: &ctap.SetMinPINLengthParams{NewMinPINLength: ptr[uint64](8), ForceChangePin: ptr(true)},
			want: ctap.StatusPINNotSet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t)
			p := newPlatform(k, 2)
			if tt.start != 0 {
				if s := p.config(nil, ctap.ConfigSetMinPINLength, minLen(tt.start)); s != ctap.StatusOK {
					t.Fatal(s)
				}
			}
			var tok []byte
			if tt.pin != "" {
				if s := p.setPIN(tt.pin); s != ctap.StatusOK {
					t.Fatal(s)
				}
				tok = p.mustToken(tt.pin, ctap.PermissionAuthenticatorConfig, "")
			}
			saves := k.store.Saves()
			if s := p.config(tok, ctap.ConfigSetMinPINLength, tt.params); s != tt.want {
				t.Errorf("setMinPINLength: %v, want %v", s, tt.want)
			}
			if ok := k.store.Saves() > saves; ok != (tt.want == ctap.StatusOK) {
				t.Errorf("saved %t", ok)
			}
			st := k.store.State()
			if st.MinPINLength != tt.wantMin || st.ForcePINChange != tt.wantForce || !cmp.Equal(st.MinPINLengthRPIDs, tt.wantRPIDs) {
				t.Errorf("state minPINLength %d forcePINChange %t RP IDs %q; want %d %t %q",
					st.MinPINLength, st.ForcePINChange, st.MinPINLengthRPIDs, tt.wantMin, tt.wantForce, tt.wantRPIDs)
			}
			info := k.info()
			if want := uint64(max(tt.wantMin, MinPINLength)); info.MinPINLength != want {
				t.Errorf("getInfo minPINLength %d, want %d", info.MinPINLength, want)
			}
			if info.ForcePINChange == nil || *info.ForcePINChange != tt.wantForce {
				t.Errorf("getInfo forcePINChange %v, want %t", info.ForcePINChange, tt.wantForce)
			}
		})
	}
}

// TestSetMinPINLengthKeepsRPIDs checks that a setMinPINLength without
// minPinLengthRPIDs leaves the stored list.
func TestSetMinPINLengthKeepsRPIDs(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 1)
	if s := p.config(nil, ctap.ConfigSetMinPINLength, &ctap.SetMinPINLengthParams{MinPinLengthRPIDs: []string{"x.example"}}); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if s := p.config(nil, ctap.ConfigSetMinPINLength, minLen(6)); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if got := k.store.State().MinPINLengthRPIDs; !cmp.Equal(got, []string{"x.example"}) {
		t.Errorf("RP IDs %q", got)
	}
}

// TestMinPINLengthPolicy checks that setPIN and changePIN enforce the
// minimum setMinPINLength raised (§6.5.5.5 step 7, §6.5.5.6 step 9), and
// the PIN change it forces (§6.11.4, §6.5.5.7).
func TestMinPINLengthPolicy(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t)
		p := newPlatform(k, v)
		if s := p.config(nil, ctap.ConfigSetMinPINLength, minLen(6)); s != ctap.StatusOK {
			t.Fatal(s)
		}
		if s := p.setPIN("12345"); s != ctap.StatusPINPolicyViolation {
			t.Errorf("setPIN of 5: %v", s)
		}
		if s := p.setPIN("ÄÖÜßä"); s != ctap.StatusPINPolicyViolation {
			t.Errorf("setPIN of 5 code points, 10 bytes: %v", s)
		}
		if s := p.setPIN("123456"); s != ctap.StatusOK {
			t.Fatalf("setPIN of 6: %v", s)
		}
		tok := p.mustToken("123456", ctap.PermissionAuthenticatorConfig, "")
		if s := p.config(tok, ctap.ConfigSetMinPINLength, minLen(8)); s != ctap.StatusOK {
			t.Fatal(s)
		}
		if !k.store.State().ForcePINChange {
			t.Fatal("a PIN of 6 under a minimum of 8 did not force a change")
		}
		if _, s := p.token("123456", ptr(ctap.PermissionGetAssertion), nil); s != ctap.StatusPINPolicyViolation {
			t.Errorf("token with forcePINChange: %v", s)
		}
		if s := p.changePIN("123456", "1234567"); s != ctap.StatusPINPolicyViolation {
			t.Errorf("changePIN to 7: %v", s)
		}
		if s := p.changePIN("123456", "12345678"); s != ctap.StatusOK {
			t.Fatalf("changePIN to 8: %v", s)
		}
		st := k.store.State()
		if st.ForcePINChange || st.PINCodePoints != 8 {
			t.Errorf("after changePIN: forcePINChange %t, PIN length %d", st.ForcePINChange, st.PINCodePoints)
		}
		if _, s := p.token("12345678", ptr(ctap.PermissionGetAssertion), nil); s != ctap.StatusOK {
			t.Errorf("token after the change: %v", s)
		}
	})
}

// TestMinPINLengthUnknownPINLength checks a PIN set before its length was
// recorded: it counts as MinPINLength code points long.
func TestMinPINLengthUnknownPINLength(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	if s := p.setPIN("12345678"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	k.a.state.PINCodePoints = 0
	tok := p.mustToken("12345678", ctap.PermissionAuthenticatorConfig, "")
	if s := p.config(tok, ctap.ConfigSetMinPINLength, minLen(5)); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if !k.store.State().ForcePINChange {
		t.Error("no forced change for a PIN of unknown length")
	}
}

// TestAlwaysUV checks the alwaysUv steps of makeCredential (§6.1.2 step
// 6) and getAssertion (§6.2.2 step 5).
func TestAlwaysUV(t *testing.T) {
	t.Parallel()
	type result struct{ mc, mcRK, mcToken, ga, gaNoUP, gaToken ctap.Status }
	tests := []struct {
		name  string
		pin   bool
		uv    bool // built-in UV
		want  result
		uvBit bool // mc and ga without a token carry the uv flag
	}{
		{"no PIN, no UV", false, false, result{ctap.StatusPUATRequired, ctap.StatusPUATRequired, 0,
			ctap.StatusPUATRequired, ctap.StatusOK, 0}, false},
		{"PIN", true, false, result{ctap.StatusPUATRequired, ctap.StatusPUATRequired, ctap.StatusOK,
			ctap.StatusPUATRequired, ctap.StatusOK, ctap.StatusOK}, false},
		{"built-in UV", false, true, result{ctap.StatusOK, ctap.StatusOK, 0, ctap.StatusOK, ctap.StatusOK, 0}, true},
		{"PIN and built-in UV", true, true, result{ctap.StatusOK, ctap.StatusOK, ctap.StatusOK,
			ctap.StatusOK, ctap.StatusOK, ctap.StatusOK}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []keyOption
			if tt.uv {
				opts = append(opts, withBuiltInUV())
			}
			k := newTestKey(t, opts...)
			p := newPlatform(k, 2)
			cred, _ := k.mustRegister(mcReq("example.com", []byte("u1"), false))
			if tt.pin {
				if s := p.setPIN("1234"); s != ctap.StatusOK {
					t.Fatal(s)
				}
			}
			// Switch alwaysUv on as toggleAlwaysUv would.
			k.a.state.AlwaysUV = true
			info := k.info()
			if !info.Options[ctap.OptionAlwaysUv] || info.Options[ctap.OptionMakeCredUvNotRqd] {
				t.Errorf("getInfo options %v", info.Options)
			}

			var got result
			resp, s := k.makeCredential(mcReq("example.com", []byte("u2"), false))
			got.mc = s
			if s == ctap.StatusOK {
				ad, err := ctap.ParseAuthData(resp.AuthData)
				if err != nil || ad.Flags.Has(ctap.FlagUV) != tt.uvBit {
					t.Errorf("mc flags %v (%v)", ad, err)
				}
			}
			_, got.mcRK = k.makeCredential(mcReq("example.com", []byte("u3"), true))
			ga, s := k.getAssertion(gaReq("example.com", cred))
			got.ga = s
			if s == ctap.StatusOK {
				ad, err := ctap.ParseAuthData(ga.AuthData)
				if err != nil || ad.Flags.Has(ctap.FlagUV) != tt.uvBit {
					t.Errorf("ga flags %v (%v)", ad, err)
				}
			}
			noUP := gaReq("example.com", cred)
			noUP.Options = map[string]bool{ctap.OptionUP: false}
			_, got.gaNoUP = k.getAssertion(noUP)
			if tt.pin {
				tok := p.mustToken("1234", ctap.PermissionMakeCredential, "")
				req := mcReq("example.com", []byte("u4"), true)
				p.authorize(tok, &req.PinUvAuthParam, &req.PinUvAuthProtocol)
				_, got.mcToken = k.makeCredential(req)
				tok = p.mustToken("1234", ctap.PermissionGetAssertion, "")
				greq := gaReq("example.com", cred)
				p.authorize(tok, &greq.PinUvAuthParam, &greq.PinUvAuthProtocol)
				_, got.gaToken = k.getAssertion(greq)
			}
			if got != tt.want {
				t.Errorf("statuses %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestConfigReset checks that authenticatorReset returns the config
// settings to the factory ones (§6.6).
func TestConfigReset(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	for _, c := range []struct {
		sub    uint64
		params any
	}{
		{ctap.ConfigEnableEnterpriseAttestation, nil},
		{ctap.ConfigSetMinPINLength, &ctap.SetMinPINLengthParams{NewMinPINLength: ptr[uint64](9), MinPinLengthRPIDs: []string{"a.example"}}},
		{ctap.ConfigToggleAlwaysUv, nil},
	} {
		if s := p.config(nil, c.sub, c.params); s != ctap.StatusOK {
			t.Fatal(s)
		}
	}
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatal(s)
	}
	st := k.store.State()
	if st.AlwaysUV || st.EnterpriseAttestation || st.MinPINLength != 0 || st.MinPINLengthRPIDs != nil {
		t.Errorf("after reset: %+v", st)
	}
	if info := k.info(); info.MinPINLength != MinPINLength || info.Options[ctap.OptionAlwaysUv] || info.Options[ctap.OptionEP] {
		t.Errorf("getInfo after reset: %+v", info)
	}
}

// TestConfigSaveFails checks that a change the store did not take is not
// acknowledged and does not survive in memory.
func TestConfigSaveFails(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	k.store.FailSaves(errors.New("disk full"))
	if s := p.config(nil, ctap.ConfigToggleAlwaysUv, nil); s != ctap.StatusOther {
		t.Errorf("toggleAlwaysUv with a failing store: %v", s)
	}
	k.store.FailSaves(nil)
	if k.info().Options[ctap.OptionAlwaysUv] {
		t.Error("alwaysUv on after a failed save")
	}
}

// FuzzConfig feeds arbitrary authenticatorConfig parameters to a key with
// a PIN and one without: no panic, and a refused request changes nothing.
func FuzzConfig(f *testing.F) {
	f.Add([]byte{0xa1, 0x01, 0x02})
	f.Add(ctap.MustMarshal(&ctap.ConfigRequest{SubCommand: ptr(ctap.ConfigSetMinPINLength),
		SubCommandParams: ctap.MustMarshal(&ctap.SetMinPINLengthParams{NewMinPINLength: ptr[uint64](8), ForceChangePin: ptr(true)})}))
	f.Add(ctap.MustMarshal(&ctap.ConfigRequest{SubCommand: ptr(ctap.ConfigSetMinPINLength), SubCommandParams: []byte{0xa1, 0x02, 0x80}}))
	f.Fuzz(func(t *testing.T, params []byte) {
		k := newTestKey(t)
		before := k.store.Saves()
		if s := k.do(ctap.CmdConfig, rawParams(params), nil); s != ctap.StatusOK && k.store.Saves() != before {
			t.Errorf("status %v after a save", s)
		}
	})
}
