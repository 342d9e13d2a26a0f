package authenticator

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

func withBuiltInUV() keyOption { return func(c *Config) { c.BuiltInUV = true } }

// verifierFunc is a Presence whose touches succeed and whose verification
// attempts are answered by a function.
type verifierFunc func(ctx context.Context, req UVRequest) error

func (verifierFunc) Touch(ctx context.Context, req TouchRequest) error { return nil }
func (f verifierFunc) VerifyUser(ctx context.Context, req UVRequest) error {
	return f(ctx, req)
}

// uvToken sends getPinUvAuthTokenUsingUvWithPermissions and decrypts the
// token it answers.
func (p *platform) uvToken(perms *uint64, rpID *string) ([]byte, ctap.Status) {
	p.k.t.Helper()
	pk, ss := p.encapsulate()
	resp, s := p.clientPIN(&ctap.ClientPINRequest{
		PinUvAuthProtocol: ptr(p.proto.Version()), SubCommand: ptr(ctap.PINGetPinUvAuthTokenUsingUvWithPermissions),
		KeyAgreement: &pk, Permissions: perms, RPID: rpID,
	})
	if s != ctap.StatusOK {
		return nil, s
	}
	tok, err := p.proto.Decrypt(ss, resp.PinUvAuthToken)
	if err != nil || len(tok) != 32 {
		p.k.t.Fatalf("decrypting token: %v (%d bytes)", err, len(tok))
	}
	return tok, s
}

func (p *platform) uvRetries() uint64 {
	p.k.t.Helper()
	resp, s := p.clientPIN(&ctap.ClientPINRequest{SubCommand: ptr(ctap.PINGetUVRetries)})
	if s != ctap.StatusOK || resp.UVRetries == nil || resp.PINRetries != nil {
		p.k.t.Fatalf("getUVRetries: %v %+v", s, resp)
	}
	return *resp.UVRetries
}

func TestUVGetInfo(t *testing.T) {
	t.Parallel()
	for _, builtIn := range []bool{false, true} {
		var opts []keyOption
		if builtIn {
			opts = append(opts, withBuiltInUV())
		}
		k := newTestKey(t, opts...)
		var info ctap.InfoResponse
		if s := k.do(ctap.CmdGetInfo, nil, &info); s != ctap.StatusOK {
			t.Fatal(s)
		}
		type uvInfo struct {
			UV, UVPresent, Token   bool
			Attempts, Modality     uint64
			Versions               []string
			MakeCredUvNotRqd, Plat bool
		}
		uv, present := info.Options[ctap.OptionUV]
		got := uvInfo{uv, present, info.Options[ctap.OptionPinUvAuthToken], info.PreferredPlatformUvAttempts,
			info.UVModality, info.Versions, info.Options[ctap.OptionMakeCredUvNotRqd], info.Options[ctap.OptionPlat]}
		want := uvInfo{Token: true, Versions: Versions, MakeCredUvNotRqd: true}
		if builtIn {
			want.UV, want.UVPresent, want.Attempts, want.Modality = true, true, 3, 2
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("BuiltInUV %v: getInfo (-want +got):\n%s", builtIn, diff)
		}
	}
}

// TestUVToken checks getPinUvAuthTokenUsingUvWithPermissions (§6.5.5.7.3)
// and uvRetries (§6.5.5.3) for each answer of the user.
func TestUVToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers []error
		want    ctap.Status
		retries uint64
	}{
		{"match", []error{nil}, ctap.StatusOK, 8},
		{"no match", []error{ctap.StatusUVInvalid}, ctap.StatusUVInvalid, 7},
		{"declined", []error{ctap.StatusOperationDenied}, ctap.StatusOperationDenied, 8},
		{"timeout", []error{ctap.StatusUserActionTimeout}, ctap.StatusUserActionTimeout, 7},
		{"deadline", []error{context.DeadlineExceeded}, ctap.StatusUserActionTimeout, 7},
		{"cancelled", []error{context.Canceled}, ctap.StatusKeepaliveCancel, 8},
		{"verifier failure", []error{errTest}, ctap.StatusOther, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forProtocols(t, func(t *testing.T, v uint64) {
				sp := NewScriptedPresence()
				sp.PushUV(tt.answers...)
				k := newTestKey(t, withBuiltInUV(), withPresence(sp))
				p := newPlatform(k, v)
				tok, s := p.uvToken(ptr(ctap.PermissionMakeCredential), ptr("example.com"))
				if s != tt.want {
					t.Fatalf("token: %v, want %v", s, tt.want)
				}
				if n := p.uvRetries(); n != tt.retries {
					t.Errorf("uvRetries %d, want %d", n, tt.retries)
				}
				if got := k.store.State().UVFailures; got != 8-int(tt.retries) {
					t.Errorf("stored UVFailures %d", got)
				}
				want := []UVRequest{{Command: ctap.CmdClientPIN, RPID: "example.com", Permissions: ctap.PermissionMakeCredential, Retries: 8}}
				if diff := cmp.Diff(want, sp.UVRequests()); diff != "" {
					t.Errorf("UV requests (-want +got):\n%s", diff)
				}
				if s != ctap.StatusOK {
					return
				}
				// The token works for makeCredential and, the sensor
				// having been touched, spares the touch.
				sp.Push(ctap.StatusOperationDenied)
				r := mcReq("example.com", []byte{1}, true)
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				_, ad := k.mustRegister(r)
				if ad.Flags != ctap.FlagUP|ctap.FlagUV|ctap.FlagAT {
					t.Errorf("flags %v, want UP|UV|AT", ad.Flags)
				}
				if len(sp.Requests()) != 0 {
					t.Errorf("touches %v, want none", sp.Requests())
				}
				if _, s := k.makeCredential(r); s != ctap.StatusPINAuthInvalid {
					t.Errorf("second use of the token: %v, want PIN_AUTH_INVALID", s)
				}
			})
		})
	}
}

var errTest = testError("sensor unplugged")

type testError string

func (e testError) Error() string { return string(e) }

// TestUVTokenParameters checks steps 1 to 4 of §6.5.5.7.3 and that none of
// them asks the user.
func TestUVTokenParameters(t *testing.T) {
	t.Parallel()
	sp := NewScriptedPresence()
	k := newTestKey(t, withBuiltInUV(), withPresence(sp))
	p := newPlatform(k, 2)
	pk, _ := p.encapsulate()
	badKey := pk
	badKey.Y = append([]byte{}, pk.Y...)
	badKey.Y[31] ^= 1
	req := func(f func(r *ctap.ClientPINRequest)) *ctap.ClientPINRequest {
		r := &ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr(ctap.PINGetPinUvAuthTokenUsingUvWithPermissions),
			KeyAgreement: &pk, Permissions: ptr(ctap.PermissionGetAssertion)}
		f(r)
		return r
	}
	tests := []struct {
		name string
		req  *ctap.ClientPINRequest
		want ctap.Status
	}{
		{"no protocol", req(func(r *ctap.ClientPINRequest) { r.PinUvAuthProtocol = nil }), ctap.StatusMissingParameter},
		{"no keyAgreement", req(func(r *ctap.ClientPINRequest) { r.KeyAgreement = nil }), ctap.StatusMissingParameter},
		{"no permissions", req(func(r *ctap.ClientPINRequest) { r.Permissions = nil }), ctap.StatusMissingParameter},
		{"protocol 3", req(func(r *ctap.ClientPINRequest) { r.PinUvAuthProtocol = ptr[uint64](3) }), ctap.StatusInvalidParameter},
		{"permissions 0", req(func(r *ctap.ClientPINRequest) { r.Permissions = ptr[uint64](0) }), ctap.StatusInvalidParameter},
		{"be", req(func(r *ctap.ClientPINRequest) { r.Permissions = ptr(ctap.PermissionBioEnrollment) }), ctap.StatusUnauthorizedPermission},
		{"acfg", req(func(r *ctap.ClientPINRequest) { r.Permissions = ptr(ctap.PermissionAuthenticatorConfig) }), ctap.StatusUnauthorizedPermission},
		{"key off the curve", req(func(r *ctap.ClientPINRequest) { r.KeyAgreement = &badKey }), ctap.StatusInvalidParameter},
	}
	for _, tt := range tests {
		if _, s := p.clientPIN(tt.req); s != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
		}
	}
	if n := len(sp.UVRequests()); n != 0 {
		t.Errorf("%d UV requests, want none", n)
	}
	// An undefined permission bit is ignored (steps 4 and 14).
	sp.PushUV(nil)
	tok, s := p.uvToken(ptr[uint64](0x80|ctap.PermissionGetAssertion), nil)
	if s != ctap.StatusOK {
		t.Fatalf("ga with an undefined bit: %v", s)
	}
	if k.a.rt.token.permissions != ctap.PermissionGetAssertion {
		t.Errorf("token permissions %#x", k.a.rt.token.permissions)
	}
	// The token has no RP ID and lacks mc.
	r := mcReq("example.com", []byte{1}, false)
	p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
	if _, s := k.makeCredential(r); s != ctap.StatusPINAuthInvalid {
		t.Errorf("makeCredential with a ga token: %v", s)
	}
}

// TestUVTokenRPBinding checks step 15 of §6.5.5.7.3.
func TestUVTokenRPBinding(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t, withBuiltInUV())
		p := newPlatform(k, v)
		tok, s := p.uvToken(ptr(ctap.PermissionMakeCredential), ptr("other.example"))
		if s != ctap.StatusOK {
			t.Fatal(s)
		}
		r := mcReq("example.com", []byte{1}, false)
		p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
		if _, s := k.makeCredential(r); s != ctap.StatusPINAuthInvalid {
			t.Errorf("token for another RP: %v", s)
		}
	})
}

// TestUVTokenUserPresentLapses checks that a UV token's userPresent flag
// counts for TokenUserPresentTimeLimit only (§6.5.2.1).
func TestUVTokenUserPresentLapses(t *testing.T) {
	t.Parallel()
	sp := NewScriptedPresence()
	sp.PushUV(nil)
	k := newTestKey(t, withBuiltInUV(), withPresence(sp))
	sp.Push(nil)
	id, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
	p := newPlatform(k, 2)
	tok, s := p.uvToken(ptr(ctap.PermissionMakeCredential|ctap.PermissionGetAssertion), ptr("example.com"))
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	silent := gaReq("example.com", id)
	silent.Options = map[string]bool{ctap.OptionUP: false}
	p.authorize(tok, &silent.PinUvAuthParam, &silent.PinUvAuthProtocol)
	if _, s := k.getAssertion(silent); s != ctap.StatusOK { // first use: no initial usage limit after
		t.Fatal(s)
	}
	k.clock.Advance(TokenUserPresentTimeLimit + time.Second)
	sp.Push(nil)
	r := mcReq("example.com", []byte{2}, false)
	p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
	if _, s := k.makeCredential(r); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if n := len(sp.Requests()); n != 2 || sp.Pending() != 0 {
		t.Errorf("%d touches (%d answers left), want a touch for the second makeCredential", n, sp.Pending())
	}
}

// TestUVBlocking runs uvRetries down to 0 (§6.5.5.7.3 steps 7 and 10), and
// checks that a correct PIN, and not a power cycle, restores it
// (§6.5.2.2).
func TestUVBlocking(t *testing.T) {
	t.Parallel()
	sp := NewScriptedPresence()
	k := newTestKey(t, withBuiltInUV(), withPresence(sp))
	p := newPlatform(k, 2)
	for i := 1; i <= MaxUVRetries; i++ {
		sp.PushUV(ctap.StatusUVInvalid)
		want := ctap.StatusUVInvalid
		if i == MaxUVRetries {
			want = ctap.StatusUVBlocked
		}
		if _, s := p.uvToken(ptr(ctap.PermissionGetAssertion), nil); s != want {
			t.Fatalf("attempt %d: %v, want %v", i, s, want)
		}
		if n := p.uvRetries(); n != uint64(MaxUVRetries-i) {
			t.Fatalf("after attempt %d: uvRetries %d", i, n)
		}
	}
	sp.PushUV(nil)
	if _, s := p.uvToken(ptr(ctap.PermissionGetAssertion), nil); s != ctap.StatusUVBlocked {
		t.Errorf("blocked: %v, want UV_BLOCKED", s)
	}
	r := mcReq("example.com", []byte{1}, false)
	r.Options = map[string]bool{ctap.OptionUV: true}
	if _, s := k.makeCredential(r); s != ctap.StatusPINBlocked {
		t.Errorf("makeCredential uv=true while blocked: %v, want PIN_BLOCKED", s)
	}
	if n := len(sp.UVRequests()); n != MaxUVRetries {
		t.Errorf("%d UV requests, want %d: a blocked key asks nobody", n, MaxUVRetries)
	}
	k.a.PowerCycle()
	if n := p.uvRetries(); n != 0 {
		t.Errorf("uvRetries after a power cycle: %d", n)
	}
	// Durable: a key from the same store is still blocked.
	k2, err := New(Config{Rand: seededRand(2), Now: k.clock.Now, Store: k.store, BuiltInUV: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := k2.uvRetries(); got != 0 {
		t.Errorf("reloaded uvRetries %d", got)
	}
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if n := p.uvRetries(); n != 0 {
		t.Errorf("uvRetries after setPIN: %d, want 0 (only a verified PIN restores it)", n)
	}
	p.mustToken("1234", ctap.PermissionGetAssertion, "")
	if n := p.uvRetries(); n != MaxUVRetries {
		t.Errorf("uvRetries after a correct PIN: %d", n)
	}
	if _, s := p.uvToken(ptr(ctap.PermissionGetAssertion), nil); s != ctap.StatusOK {
		t.Errorf("UV after a correct PIN: %v", s)
	}
}

// TestUVResetRestores checks that authenticatorReset restores uvRetries
// (§6.6).
func TestUVResetRestores(t *testing.T) {
	t.Parallel()
	sp := NewScriptedPresence()
	k := newTestKey(t, withBuiltInUV(), withPresence(sp))
	p := newPlatform(k, 1)
	sp.PushUV(ctap.StatusUVInvalid, ctap.StatusUVInvalid)
	p.uvToken(ptr(ctap.PermissionGetAssertion), nil)
	p.uvToken(ptr(ctap.PermissionGetAssertion), nil)
	if n := p.uvRetries(); n != MaxUVRetries-2 {
		t.Fatalf("uvRetries %d", n)
	}
	sp.Push(nil)
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if n := p.uvRetries(); n != MaxUVRetries {
		t.Errorf("uvRetries after reset: %d", n)
	}
	if st := k.store.State(); st.UVFailures != 0 {
		t.Errorf("stored UVFailures %d", st.UVFailures)
	}
}

// TestUVOption checks the "uv" option of makeCredential (§6.1.2 steps 5,
// 7, 11.2, 13) and getAssertion (§6.2.2 steps 4, 6.2, 8).
func TestUVOption(t *testing.T) {
	t.Parallel()
	uvOpt := map[string]bool{ctap.OptionUV: true}
	tests := []struct {
		name      string
		builtInUV bool
		pin       bool
		failures  int // UVFailures before
		uv        []error
		touches   []error
		cmd       ctap.Command
		rk        bool
		opts      map[string]bool
		want      ctap.Status
		flags     ctap.AuthDataFlags
		retries   int // after
	}{
		{"mc match", true, false, 2, []error{nil}, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusOK, ctap.FlagUP | ctap.FlagUV | ctap.FlagAT, 8},
		{"mc rk match", true, false, 0, []error{nil}, nil, ctap.CmdMakeCredential, true, uvOpt, ctap.StatusOK, ctap.FlagUP | ctap.FlagUV | ctap.FlagAT, 8},
		{"mc rk match, PIN set", true, true, 0, []error{nil}, nil, ctap.CmdMakeCredential, true, uvOpt, ctap.StatusOK, ctap.FlagUP | ctap.FlagUV | ctap.FlagAT, 8},
		{"mc no match", true, false, 0, []error{ctap.StatusUVInvalid}, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusOperationDenied, 0, 7},
		{"mc no match, PIN set", true, true, 0, []error{ctap.StatusUVInvalid}, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusPUATRequired, 0, 7},
		{"mc last retry", true, false, 7, []error{ctap.StatusUVInvalid}, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusPINBlocked, 0, 0},
		{"mc blocked", true, false, 8, nil, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusPINBlocked, 0, 0},
		{"mc blocked, PIN set", true, true, 8, nil, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusPUATRequired, 0, 0},
		{"mc declined", true, false, 0, []error{ctap.StatusOperationDenied}, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusOperationDenied, 0, 8},
		{"mc timeout", true, false, 0, []error{ctap.StatusUserActionTimeout}, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusUserActionTimeout, 0, 7},
		{"mc timeout, PIN set", true, true, 0, []error{ctap.StatusUserActionTimeout}, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusUserActionTimeout, 0, 7},
		{"mc uv without built-in UV", false, false, 0, nil, nil, ctap.CmdMakeCredential, false, uvOpt, ctap.StatusInvalidOption, 0, 8},
		{"mc uv false", true, false, 0, nil, []error{nil}, ctap.CmdMakeCredential, false, map[string]bool{ctap.OptionUV: false}, ctap.StatusOK, ctap.FlagUP | ctap.FlagAT, 8},
		{"mc rk without uv", true, false, 0, nil, nil, ctap.CmdMakeCredential, true, nil, ctap.StatusOperationDenied, 0, 8},
		{"mc rk without uv, PIN set", true, true, 0, nil, nil, ctap.CmdMakeCredential, true, nil, ctap.StatusPUATRequired, 0, 8},
		{"ga match", true, false, 3, []error{nil}, nil, ctap.CmdGetAssertion, false, uvOpt, ctap.StatusOK, ctap.FlagUP | ctap.FlagUV, 8},
		{"ga match, up false", true, false, 0, []error{nil}, nil, ctap.CmdGetAssertion, false, map[string]bool{ctap.OptionUV: true, ctap.OptionUP: false}, ctap.StatusOK, ctap.FlagUP | ctap.FlagUV, 8},
		{"ga no match", true, false, 0, []error{ctap.StatusUVInvalid}, nil, ctap.CmdGetAssertion, false, uvOpt, ctap.StatusOperationDenied, 0, 7},
		{"ga no match, PIN set", true, true, 0, []error{ctap.StatusUVInvalid}, nil, ctap.CmdGetAssertion, false, uvOpt, ctap.StatusPUATRequired, 0, 7},
		{"ga declined", true, false, 0, []error{ctap.StatusOperationDenied}, nil, ctap.CmdGetAssertion, false, uvOpt, ctap.StatusOperationDenied, 0, 8},
		{"ga timeout", true, false, 0, []error{ctap.StatusUserActionTimeout}, nil, ctap.CmdGetAssertion, false, uvOpt, ctap.StatusUserActionTimeout, 0, 7},
		{"ga blocked", true, false, 8, nil, nil, ctap.CmdGetAssertion, false, uvOpt, ctap.StatusPINBlocked, 0, 0},
		{"ga uv without built-in UV", false, false, 0, nil, nil, ctap.CmdGetAssertion, false, uvOpt, ctap.StatusInvalidOption, 0, 8},
		{"ga without uv", true, false, 0, nil, []error{nil}, ctap.CmdGetAssertion, false, nil, ctap.StatusOK, ctap.FlagUP, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := NewScriptedPresence()
			opts := []keyOption{withPresence(sp)}
			if tt.builtInUV {
				opts = append(opts, withBuiltInUV())
			}
			k := newTestKey(t, opts...)
			var id []byte
			if tt.cmd == ctap.CmdGetAssertion {
				sp.Push(nil)
				id, _ = k.mustRegister(mcReq("example.com", []byte{7}, false))
			}
			if tt.pin {
				if s := newPlatform(k, 2).setPIN("1234"); s != ctap.StatusOK {
					t.Fatal(s)
				}
			}
			k.a.state.UVFailures = tt.failures
			sp.PushUV(tt.uv...)
			sp.Push(tt.touches...)
			touchesBefore := len(sp.Requests())
			var s ctap.Status
			var authData []byte
			if tt.cmd == ctap.CmdMakeCredential {
				r := mcReq("example.com", []byte{1}, tt.rk)
				r.Options = map[string]bool{}
				for o, v := range tt.opts {
					r.Options[o] = v
				}
				if tt.rk {
					r.Options[ctap.OptionRK] = true
				}
				var resp *ctap.MakeCredentialResponse
				resp, s = k.makeCredential(r)
				authData = resp.AuthData
			} else {
				r := gaReq("example.com", id)
				r.Options = tt.opts
				var resp *ctap.GetAssertionResponse
				resp, s = k.getAssertion(r)
				authData = resp.AuthData
			}
			if s != tt.want {
				t.Fatalf("status %v, want %v", s, tt.want)
			}
			if got := k.a.uvRetries(); got != tt.retries {
				t.Errorf("uvRetries %d, want %d", got, tt.retries)
			}
			if n := len(sp.UVRequests()); n != len(tt.uv) {
				t.Errorf("%d UV requests, want %d", n, len(tt.uv))
			}
			if n := len(sp.Requests()) - touchesBefore; n != len(tt.touches) {
				t.Errorf("%d touches, want %d", n, len(tt.touches))
			}
			if s != ctap.StatusOK {
				return
			}
			ad, err := ctap.ParseAuthData(authData)
			if err != nil {
				t.Fatal(err)
			}
			if ad.Flags != tt.flags {
				t.Errorf("flags %v, want %v", ad.Flags, tt.flags)
			}
		})
	}
}

// TestUVOptionUserNames checks that getAssertion with built-in UV returns
// the user's name and displayName (§6.2.2 step 12), on getNextAssertion
// too.
func TestUVOptionUserNames(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, withBuiltInUV())
	uv := map[string]bool{ctap.OptionUV: true}
	for _, u := range []string{"a", "b"} {
		r := mcReq("example.com", []byte(u), true)
		r.User.Name, r.User.DisplayName = u+"@example.com", "User "+u
		r.Options[ctap.OptionUV] = true
		k.mustRegister(r)
	}
	r := gaReq("example.com")
	r.Options = uv
	resp, s := k.getAssertion(r)
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	next, s := k.getNextAssertion()
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	got := []ctap.UserEntity{*resp.User, *next.User}
	want := []ctap.UserEntity{
		{ID: []byte("b"), Name: "b@example.com", DisplayName: "User b"},
		{ID: []byte("a"), Name: "a@example.com", DisplayName: "User a"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// TestUVOptionExcluded checks that makeCredential with built-in UV and an
// excluded credential answers CREDENTIAL_EXCLUDED without a touch
// (§6.1.2 step 12: the user is already present).
func TestUVOptionExcluded(t *testing.T) {
	t.Parallel()
	sp := NewScriptedPresence(nil)
	k := newTestKey(t, withBuiltInUV(), withPresence(sp))
	id, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
	sp.PushUV(nil)
	r := mcReq("example.com", []byte{2}, false)
	r.Options = map[string]bool{ctap.OptionUV: true}
	r.ExcludeList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: id}}
	if _, s := k.makeCredential(r); s != ctap.StatusCredentialExcluded {
		t.Errorf("status %v, want CREDENTIAL_EXCLUDED", s)
	}
	if n := len(sp.Requests()); n != 1 {
		t.Errorf("%d touches, want only the first makeCredential's", n)
	}
}

// TestVerifierOptional checks that a key with built-in UV whose Presence
// is no Verifier treats every attempt as a match, and that a key without
// built-in UV never asks its Verifier.
func TestVerifierOptional(t *testing.T) {
	t.Parallel()
	touchOnly := struct{ Presence }{AutoPresence{}}
	k := newTestKey(t, withBuiltInUV(), withPresence(touchOnly))
	if _, s := newPlatform(k, 2).uvToken(ptr(ctap.PermissionGetAssertion), nil); s != ctap.StatusOK {
		t.Errorf("token with a plain Presence: %v", s)
	}
	asked := false
	k = newTestKey(t, withPresence(verifierFunc(func(ctx context.Context, req UVRequest) error {
		asked = true
		return nil
	})))
	r := mcReq("example.com", []byte{1}, false)
	r.Options = map[string]bool{ctap.OptionUV: true}
	if _, s := k.makeCredential(r); s != ctap.StatusInvalidOption || asked {
		t.Errorf("uv on a key without built-in UV: %v, asked %v", s, asked)
	}
}

// TestUVCancel checks that CTAPHID_CANCEL during a verification answers
// KEEPALIVE_CANCEL and costs no retry.
func TestUVCancel(t *testing.T) {
	t.Parallel()
	sp := NewScriptedPresence() // no answer: VerifyUser waits
	k := newTestKey(t, withBuiltInUV(), withPresence(sp))
	ctx, cancel := context.WithCancel(t.Context())
	r := mcReq("example.com", []byte{1}, false)
	r.Options = map[string]bool{ctap.OptionUV: true}
	done := make(chan ctap.Status)
	go func() {
		s, _ := k.a.Handle(ctx, ctap.CmdMakeCredential, ctap.MustMarshal(r))
		done <- s
	}()
	if err := sp.WaitUVRequests(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if s := <-done; s != ctap.StatusKeepaliveCancel {
		t.Errorf("status %v, want KEEPALIVE_CANCEL", s)
	}
	if n := k.a.uvRetries(); n != MaxUVRetries {
		t.Errorf("uvRetries %d after a cancel", n)
	}
}
