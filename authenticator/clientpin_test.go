package authenticator

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

// platform is a tiny test-side clientPIN platform built from ctap
// primitives (CTAP 2.1 §6.5.5), one per PIN/UV auth protocol.
type platform struct {
	k     *testKey
	proto ctap.PINProtocol
	seed  byte
}

func newPlatform(k *testKey, v uint64) *platform {
	p, ok := ctap.PINProtocolByVersion(v)
	if !ok {
		panic(v)
	}
	return &platform{k: k, proto: p, seed: 100}
}

func (p *platform) clientPIN(req *ctap.ClientPINRequest) (*ctap.ClientPINResponse, ctap.Status) {
	p.k.t.Helper()
	var resp ctap.ClientPINResponse
	s := p.k.do(ctap.CmdClientPIN, req, &resp)
	return &resp, s
}

// encapsulate runs getKeyAgreement and the platform's encapsulate.
func (p *platform) encapsulate() (ctap.COSEKey, []byte) {
	p.k.t.Helper()
	resp, s := p.clientPIN(&ctap.ClientPINRequest{PinUvAuthProtocol: ptr(p.proto.Version()), SubCommand: ptr(ctap.PINGetKeyAgreement)})
	if s != ctap.StatusOK || resp.KeyAgreement == nil {
		p.k.t.Fatalf("getKeyAgreement: %v", s)
	}
	p.seed++
	pk, ss, err := ctap.Encapsulate(seededRand(p.seed), p.proto, *resp.KeyAgreement)
	if err != nil {
		p.k.t.Fatalf("encapsulate: %v", err)
	}
	return pk, ss
}

func (p *platform) encrypt(ss, pt []byte) []byte {
	p.k.t.Helper()
	ct, err := p.proto.Encrypt(seededRand(p.seed), ss, pt)
	if err != nil {
		p.k.t.Fatalf("encrypt: %v", err)
	}
	return ct
}

func padded(pin string) []byte {
	b := make([]byte, ctap.PaddedPINSize)
	copy(b, pin)
	return b
}

// setPINRaw sends setPIN with paddedNewPin as given.
func (p *platform) setPINRaw(paddedNewPin []byte) ctap.Status {
	p.k.t.Helper()
	pk, ss := p.encapsulate()
	enc := p.encrypt(ss, paddedNewPin)
	_, s := p.clientPIN(&ctap.ClientPINRequest{
		PinUvAuthProtocol: ptr(p.proto.Version()), SubCommand: ptr(ctap.PINSetPIN),
		KeyAgreement: &pk, NewPinEnc: enc, PinUvAuthParam: p.proto.Authenticate(ss, enc),
	})
	return s
}

func (p *platform) setPIN(pin string) ctap.Status { return p.setPINRaw(padded(pin)) }

func (p *platform) changePIN(cur, pin string) ctap.Status {
	p.k.t.Helper()
	pk, ss := p.encapsulate()
	newEnc := p.encrypt(ss, padded(pin))
	hashEnc := p.encrypt(ss, ctap.PINHash(cur))
	_, s := p.clientPIN(&ctap.ClientPINRequest{
		PinUvAuthProtocol: ptr(p.proto.Version()), SubCommand: ptr(ctap.PINChangePIN),
		KeyAgreement: &pk, NewPinEnc: newEnc, PinHashEnc: hashEnc,
		PinUvAuthParam: p.proto.Authenticate(ss, append(bytes.Clone(newEnc), hashEnc...)),
	})
	return s
}

// token runs getPinToken (perms nil) or
// getPinUvAuthTokenUsingPinWithPermissions and decrypts the token.
func (p *platform) token(pin string, perms *uint64, rpID *string) ([]byte, ctap.Status) {
	p.k.t.Helper()
	pk, ss := p.encapsulate()
	sub := ctap.PINGetPinToken
	if perms != nil {
		sub = ctap.PINGetPinUvAuthTokenUsingPinWithPermissions
	}
	resp, s := p.clientPIN(&ctap.ClientPINRequest{
		PinUvAuthProtocol: ptr(p.proto.Version()), SubCommand: ptr(sub),
		KeyAgreement: &pk, PinHashEnc: p.encrypt(ss, ctap.PINHash(pin)),
		Permissions: perms, RPID: rpID,
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

func (p *platform) mustToken(pin string, perms uint64, rpID string) []byte {
	p.k.t.Helper()
	var rp *string
	if rpID != "" {
		rp = &rpID
	}
	tok, s := p.token(pin, &perms, rp)
	if s != ctap.StatusOK {
		p.k.t.Fatalf("getPinUvAuthTokenUsingPinWithPermissions: %v", s)
	}
	return tok
}

func (p *platform) retries() (uint64, bool) {
	p.k.t.Helper()
	resp, s := p.clientPIN(&ctap.ClientPINRequest{SubCommand: ptr(ctap.PINGetPINRetries)})
	if s != ctap.StatusOK || resp.PINRetries == nil || resp.PowerCycleState == nil {
		p.k.t.Fatalf("getPINRetries: %v %+v", s, resp)
	}
	return *resp.PINRetries, *resp.PowerCycleState
}

// authorize sets pinUvAuthParam and pinUvAuthProtocol of an mc or ga request.
func (p *platform) authorize(tok []byte, param *[]byte, protocol **uint64) {
	*param = p.proto.Authenticate(tok, testCDH)
	*protocol = ptr(p.proto.Version())
}

func forProtocols(t *testing.T, f func(t *testing.T, v uint64)) {
	for _, v := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("protocol%d", v), func(t *testing.T) {
			t.Parallel()
			f(t, v)
		})
	}
}

// TestClientPINParameters checks §6.5.5.1: subCommand and
// pinUvAuthProtocol presence and support.
func TestClientPINParameters(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	kak, err := ctap.GenerateKeyAgreementKey(seededRand(9))
	if err != nil {
		t.Fatal(err)
	}
	ka := kak.COSEKey()
	tests := []struct {
		name string
		req  ctap.ClientPINRequest
		want ctap.Status
	}{
		{"no subCommand", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2)}, ctap.StatusMissingParameter},
		{"unknown subCommand", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr[uint64](0x42)}, ctap.StatusInvalidSubcommand},
		{"getUVRetries, no built-in UV", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr(ctap.PINGetUVRetries)}, ctap.StatusInvalidSubcommand},
		{"getPinUvAuthTokenUsingUv, no built-in UV", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr(ctap.PINGetPinUvAuthTokenUsingUvWithPermissions), Permissions: ptr[uint64](1)}, ctap.StatusInvalidSubcommand},
		{"getKeyAgreement without protocol", ctap.ClientPINRequest{SubCommand: ptr(ctap.PINGetKeyAgreement)}, ctap.StatusMissingParameter},
		{"getKeyAgreement, protocol 3", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](3), SubCommand: ptr(ctap.PINGetKeyAgreement)}, ctap.StatusInvalidParameter},
		{"setPIN without parameters", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr(ctap.PINSetPIN)}, ctap.StatusMissingParameter},
		{"changePIN without parameters", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr(ctap.PINChangePIN)}, ctap.StatusMissingParameter},
		{"getPinToken without parameters", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr(ctap.PINGetPinToken)}, ctap.StatusMissingParameter},
		{"getPinUvAuthTokenUsingPin without permissions", ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](2), SubCommand: ptr(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions),
			KeyAgreement: &ka, PinHashEnc: make([]byte, 32)}, ctap.StatusMissingParameter},
	}
	for _, tt := range tests {
		if _, s := newPlatform(k, 2).clientPIN(&tt.req); s != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
		}
	}
	var resp ctap.ClientPINResponse
	if s := k.do(ctap.CmdClientPIN, &ctap.ClientPINRequest{PinUvAuthProtocol: ptr[uint64](1), SubCommand: ptr(ctap.PINGetKeyAgreement)}, &resp); s != ctap.StatusOK {
		t.Fatal(s)
	}
	if ka := resp.KeyAgreement; ka == nil || ka.Alg != ctap.AlgECDHESHKDF256 || ka.Kty != ctap.KtyEC2 || ka.Crv != ctap.CrvP256 {
		t.Errorf("getKeyAgreement: %+v", resp.KeyAgreement)
	}
}

func TestSetPIN(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t)
		p := newPlatform(k, v)
		if r, blocked := p.retries(); r != 8 || blocked {
			t.Errorf("retries before a PIN: %d %v", r, blocked)
		}
		for _, tt := range []struct {
			name   string
			padded []byte
			want   ctap.Status
		}{
			{"3 code points", padded("123"), ctap.StatusPINPolicyViolation},
			{"4 bytes, 2 code points", padded("éé"), ctap.StatusPINPolicyViolation},
			{"64 bytes, no terminator", bytes.Repeat([]byte{'1'}, 64), ctap.StatusPINPolicyViolation},
			{"not UTF-8", padded("\xff\xfe\xfd\xfc"), ctap.StatusPINPolicyViolation},
			{"32-byte block", padded("1234")[:32], ctap.StatusInvalidParameter},
			{"garbage after the terminator", append(padded("1234")[:63], 1), ctap.StatusInvalidParameter},
		} {
			if s := p.setPINRaw(tt.padded); s != tt.want {
				t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
			}
		}
		if k.store.State().PINHash != nil {
			t.Fatal("PIN stored by a failed setPIN")
		}
		// Bad pinUvAuthParam.
		pk, ss := p.encapsulate()
		enc := p.encrypt(ss, padded("1234"))
		bad := p.proto.Authenticate(ss, enc)
		bad[0] ^= 1
		if _, s := p.clientPIN(&ctap.ClientPINRequest{PinUvAuthProtocol: ptr(v), SubCommand: ptr(ctap.PINSetPIN),
			KeyAgreement: &pk, NewPinEnc: enc, PinUvAuthParam: bad}); s != ctap.StatusPINAuthInvalid {
			t.Errorf("bad pinUvAuthParam: %v", s)
		}
		// Not a curve point.
		pk.X[0] ^= 1
		if _, s := p.clientPIN(&ctap.ClientPINRequest{PinUvAuthProtocol: ptr(v), SubCommand: ptr(ctap.PINSetPIN),
			KeyAgreement: &pk, NewPinEnc: enc, PinUvAuthParam: bad}); s != ctap.StatusInvalidParameter {
			t.Errorf("bad keyAgreement: %v", s)
		}

		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatalf("setPIN: %v", s)
		}
		st := k.store.State()
		if !bytes.Equal(st.PINHash, ctap.PINHash("1234")) || st.PINRetries != 8 {
			t.Errorf("saved PIN state: %x %d", st.PINHash, st.PINRetries)
		}
		if s := p.setPIN("5678"); s != ctap.StatusPINAuthInvalid {
			t.Errorf("second setPIN: %v, want PIN_AUTH_INVALID (CTAP 2.1 §6.5.5.5 step 3)", s)
		}
		var info ctap.InfoResponse
		k.do(ctap.CmdGetInfo, nil, &info)
		if !info.Options[ctap.OptionClientPIN] {
			t.Error("getInfo clientPin false after setPIN")
		}
	})
}

func TestPINRetriesAndBlocking(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t)
		p := newPlatform(k, v)
		if _, s := p.token("1234", nil, nil); s != ctap.StatusPINNotSet {
			t.Errorf("getPinToken without PIN: %v", s)
		}
		if s := p.changePIN("1234", "5678"); s != ctap.StatusPINNotSet {
			t.Errorf("changePIN without PIN: %v", s)
		}
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatal(s)
		}
		want := []ctap.Status{ctap.StatusPINInvalid, ctap.StatusPINInvalid, ctap.StatusPINAuthBlocked, ctap.StatusPINAuthBlocked}
		for i, w := range want {
			if _, s := p.token("0000", nil, nil); s != w {
				t.Errorf("wrong PIN %d: %v, want %v", i+1, s, w)
			}
		}
		// The fourth attempt was refused before touching the retries.
		if r, blocked := p.retries(); r != 5 || !blocked {
			t.Errorf("retries: %d %v, want 5 true", r, blocked)
		}
		if _, s := p.token("1234", nil, nil); s != ctap.StatusPINAuthBlocked {
			t.Errorf("right PIN while auth-blocked: %v", s)
		}
		k.a.PowerCycle()
		if _, s := p.token("1234", nil, nil); s != ctap.StatusOK {
			t.Errorf("right PIN after power cycle: %v", s)
		}
		if r, blocked := p.retries(); r != 8 || blocked {
			t.Errorf("retries after the right PIN: %d %v", r, blocked)
		}
		// Eight wrong PINs across power cycles block the PIN for good.
		var got []ctap.Status
		for i := range 8 {
			if i%2 == 0 {
				k.a.PowerCycle()
			}
			_, s := p.token("0000", nil, nil)
			got = append(got, s)
		}
		want = []ctap.Status{ctap.StatusPINInvalid, ctap.StatusPINInvalid, ctap.StatusPINInvalid, ctap.StatusPINInvalid,
			ctap.StatusPINInvalid, ctap.StatusPINInvalid, ctap.StatusPINInvalid, ctap.StatusPINBlocked}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if k.store.State().PINRetries != 0 {
			t.Errorf("saved retries %d", k.store.State().PINRetries)
		}
		k.a.PowerCycle()
		if _, s := p.token("1234", nil, nil); s != ctap.StatusPINBlocked {
			t.Errorf("right PIN when blocked: %v", s)
		}
		if s := p.changePIN("1234", "5678"); s != ctap.StatusPINBlocked {
			t.Errorf("changePIN when blocked: %v", s)
		}
	})
}

// TestRetriesSavedBeforeCompare checks that a failed save of the
// decremented retries aborts the attempt (§6.5.5.7 "decrement, then
// compare").
func TestRetriesSavedBeforeCompare(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	k.store.FailSaves(fmt.Errorf("disk full"))
	if _, s := p.token("1234", nil, nil); s != ctap.StatusOther {
		t.Errorf("token with a failing store: %v, want OTHER", s)
	}
	k.store.FailSaves(nil)
	if r, _ := p.retries(); r != 8 {
		t.Errorf("retries %d", r)
	}
}

func TestChangePIN(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t)
		p := newPlatform(k, v)
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatal(s)
		}
		tok := p.mustToken("1234", ctap.PermissionGetAssertion, "")
		if s := p.changePIN("9999", "5678"); s != ctap.StatusPINInvalid {
			t.Errorf("wrong current PIN: %v", s)
		}
		if r, _ := p.retries(); r != 7 {
			t.Errorf("retries %d after a wrong PIN", r)
		}
		if s := p.changePIN("1234", "567"); s != ctap.StatusPINPolicyViolation {
			t.Errorf("short new PIN: %v", s)
		}
		// Bad pinUvAuthParam leaves retries alone.
		pk, ss := p.encapsulate()
		newEnc, hashEnc := p.encrypt(ss, padded("5678")), p.encrypt(ss, ctap.PINHash("1234"))
		if _, s := p.clientPIN(&ctap.ClientPINRequest{PinUvAuthProtocol: ptr(v), SubCommand: ptr(ctap.PINChangePIN),
			KeyAgreement: &pk, NewPinEnc: newEnc, PinHashEnc: hashEnc, PinUvAuthParam: p.proto.Authenticate(ss, newEnc)}); s != ctap.StatusPINAuthInvalid {
			t.Errorf("pinUvAuthParam over newPinEnc only: %v", s)
		}
		if s := p.changePIN("1234", "5678"); s != ctap.StatusOK {
			t.Fatalf("changePIN: %v", s)
		}
		if st := k.store.State(); !bytes.Equal(st.PINHash, ctap.PINHash("5678")) || st.PINRetries != 8 {
			t.Errorf("saved PIN state: %x %d", st.PINHash, st.PINRetries)
		}
		// changePIN invalidates earlier tokens.
		r := gaReq("example.com")
		p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
		if _, s := k.getAssertion(r); s != ctap.StatusPINAuthInvalid {
			t.Errorf("old token after changePIN: %v", s)
		}
		if _, s := p.token("1234", nil, nil); s != ctap.StatusPINInvalid {
			t.Errorf("old PIN: %v", s)
		}
		if _, s := p.token("5678", nil, nil); s != ctap.StatusOK {
			t.Errorf("new PIN: %v", s)
		}
	})
}

func TestForcePINChange(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	k.a.state.ForcePINChange = true
	var info ctap.InfoResponse
	k.do(ctap.CmdGetInfo, nil, &info)
	if info.ForcePINChange == nil || !*info.ForcePINChange {
		t.Error("getInfo forcePINChange not true")
	}
	if _, s := p.token("1234", nil, nil); s != ctap.StatusPINPolicyViolation {
		t.Errorf("getPinToken with forcePINChange: %v", s)
	}
	if s := p.changePIN("1234", "1234"); s != ctap.StatusPINPolicyViolation {
		t.Errorf("changePIN to the same PIN: %v", s)
	}
	if s := p.changePIN("1234", "4321"); s != ctap.StatusOK {
		t.Errorf("changePIN: %v", s)
	}
	if k.store.State().ForcePINChange {
		t.Error("forcePINChange survived changePIN")
	}
	if _, s := p.token("4321", nil, nil); s != ctap.StatusOK {
		t.Errorf("getPinToken after the change: %v", s)
	}
}

func TestTokenPermissions(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t)
		p := newPlatform(k, v)
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatal(s)
		}
		for _, tt := range []struct {
			name  string
			perms uint64
			rpID  *string
			want  ctap.Status
		}{
			{"zero", 0, nil, ctap.StatusInvalidParameter},
			{"be", ctap.PermissionBioEnrollment, nil, ctap.StatusUnauthorizedPermission},
			{"mc|lbw", ctap.PermissionMakeCredential | ctap.PermissionLargeBlobWrite, nil, ctap.StatusOK}, // largeblobs.go
			{"acfg", ctap.PermissionAuthenticatorConfig, nil, ctap.StatusOK},
			{"mc|ga", ctap.PermissionMakeCredential | ctap.PermissionGetAssertion, ptr("example.com"), ctap.StatusOK},
		} {
			if _, s := p.token("1234", &tt.perms, tt.rpID); s != tt.want {
				t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
			}
		}
		// getPinToken takes neither permissions nor rpId.
		pk, ss := p.encapsulate()
		if _, s := p.clientPIN(&ctap.ClientPINRequest{PinUvAuthProtocol: ptr(v), SubCommand: ptr(ctap.PINGetPinToken),
			KeyAgreement: &pk, PinHashEnc: p.encrypt(ss, ctap.PINHash("1234")), RPID: ptr("example.com")}); s != ctap.StatusInvalidParameter {
			t.Errorf("getPinToken with rpId: %v", s)
		}
	})
}

// TestPinUvAuthParam covers makeCredential §6.1.2 steps 1, 2, 7 and 11
// and getAssertion §6.2.2 steps 1, 2 and 6 with a PIN set.
func TestPinUvAuthParam(t *testing.T) {
	t.Parallel()
	forProtocols(t, func(t *testing.T, v uint64) {
		presence := NewScriptedPresence()
		k := newTestKey(t, withPresence(presence))
		p := newPlatform(k, v)
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatal(s)
		}

		// Step 1: the probe after a touch says a PIN is set.
		presence.Push(nil)
		if _, s := k.makeCredential(withMember(mcReq("example.com", []byte{1}, false), 8, []byte{})); s != ctap.StatusPINInvalid {
			t.Errorf("mc probe: %v", s)
		}
		presence.Push(nil)
		if _, s := k.getAssertion(withMember(gaReq("example.com"), 6, []byte{})); s != ctap.StatusPINInvalid {
			t.Errorf("ga probe: %v", s)
		}
		// Step 7 with makeCredUvNotRqd: rk needs a token, non-rk does not.
		if _, s := k.makeCredential(mcReq("example.com", []byte{1}, true)); s != ctap.StatusPUATRequired {
			t.Errorf("rk without token: %v", s)
		}
		presence.Push(nil)
		if _, s := k.makeCredential(mcReq("example.com", []byte{1}, false)); s != ctap.StatusOK {
			t.Errorf("non-rk without token: %v", s)
		}
		// Step 2.
		r := mcReq("example.com", []byte{1}, true)
		r.PinUvAuthParam, r.PinUvAuthProtocol = make([]byte, 32), ptr[uint64](7)
		if _, s := k.makeCredential(r); s != ctap.StatusInvalidParameter {
			t.Errorf("protocol 7: %v", s)
		}

		// Step 11: a good token makes a UV credential, then is spent.
		tok := p.mustToken("1234", ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, "")
		r = mcReq("example.com", []byte{1}, true)
		p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
		presence.Push(nil)
		resp, s := k.makeCredential(r)
		if s != ctap.StatusOK {
			t.Fatalf("mc with token: %v", s)
		}
		ad, _ := ctap.ParseAuthData(resp.AuthData)
		if !ad.Flags.Has(ctap.FlagUV | ctap.FlagUP) {
			t.Errorf("mc flags %v", ad.Flags)
		}
		if _, s := k.makeCredential(r); s != ctap.StatusPINAuthInvalid {
			t.Errorf("token reused: %v", s)
		}

		// A token without an RP ID is bound to example.com by its first
		// use (an assertion with up=false, which leaves the token's flags).
		tok = p.mustToken("1234", ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, "")
		ga := gaReq("example.com")
		ga.Options = map[string]bool{ctap.OptionUP: false}
		p.authorize(tok, &ga.PinUvAuthParam, &ga.PinUvAuthProtocol)
		if _, s := k.getAssertion(ga); s != ctap.StatusOK {
			t.Fatalf("ga up=false with token: %v", s)
		}
		ga2 := gaReq("other.example")
		p.authorize(tok, &ga2.PinUvAuthParam, &ga2.PinUvAuthProtocol)
		if _, s := k.getAssertion(ga2); s != ctap.StatusPINAuthInvalid {
			t.Errorf("token bound to example.com used for other.example: %v", s)
		}
		ga = gaReq("example.com")
		p.authorize(tok, &ga.PinUvAuthParam, &ga.PinUvAuthProtocol)
		presence.Push(nil)
		gresp, s := k.getAssertion(ga)
		if s != ctap.StatusOK {
			t.Fatalf("ga with token: %v", s)
		}
		gad, _ := ctap.ParseAuthData(gresp.AuthData)
		if !gad.Flags.Has(ctap.FlagUV | ctap.FlagUP) {
			t.Errorf("ga flags %v", gad.Flags)
		}
		if u := gresp.User; u == nil || u.Name != "alice" || u.DisplayName != "Alice" {
			t.Errorf("user with UV: %+v", gresp.User)
		}
		if _, s := k.getAssertion(ga); s != ctap.StatusPINAuthInvalid {
			t.Errorf("token reused after a touch: %v", s)
		}

		for _, tt := range []struct {
			name  string
			perms uint64
			rpID  string
			f     func(tok []byte) ctap.Status
		}{
			{"ga without ga permission", ctap.PermissionMakeCredential, "", func(tok []byte) ctap.Status {
				r := gaReq("example.com")
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				_, s := k.getAssertion(r)
				return s
			}},
			{"mc without mc permission", ctap.PermissionGetAssertion, "", func(tok []byte) ctap.Status {
				r := mcReq("example.com", []byte{2}, true)
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				_, s := k.makeCredential(r)
				return s
			}},
			{"mc for another RP", ctap.PermissionMakeCredential, "example.com", func(tok []byte) ctap.Status {
				r := mcReq("other.example", []byte{2}, true)
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				_, s := k.makeCredential(r)
				return s
			}},
			{"wrong pinUvAuthParam", ctap.PermissionGetAssertion, "", func(tok []byte) ctap.Status {
				r := gaReq("example.com")
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				r.PinUvAuthParam[0] ^= 1
				_, s := k.getAssertion(r)
				return s
			}},
			{"unused past 30 s", ctap.PermissionGetAssertion, "", func(tok []byte) ctap.Status {
				k.clock.Advance(TokenInitialUsageLimit + time.Second)
				r := gaReq("example.com")
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				_, s := k.getAssertion(r)
				return s
			}},
			{"after power cycle", ctap.PermissionGetAssertion, "", func(tok []byte) ctap.Status {
				k.a.PowerCycle()
				r := gaReq("example.com")
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				_, s := k.getAssertion(r)
				return s
			}},
			{"earlier token after a new one", ctap.PermissionGetAssertion, "", func(tok []byte) ctap.Status {
				p.mustToken("1234", ctap.PermissionGetAssertion, "")
				r := gaReq("example.com")
				p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
				_, s := k.getAssertion(r)
				return s
			}},
		} {
			tok := p.mustToken("1234", tt.perms, tt.rpID)
			if s := tt.f(tok); s != ctap.StatusPINAuthInvalid {
				t.Errorf("%s: %v, want PIN_AUTH_INVALID", tt.name, s)
			}
		}
		if n := presence.Pending(); n != 0 {
			t.Errorf("%d touches left unused", n)
		}
	})
}

// TestTokenMaxUsage checks the 10-minute maximum usage period (§6.5.2.1):
// a token used in time keeps working for getAssertion with up=false until
// then.
func TestTokenMaxUsage(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 2)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	k.mustRegister(mcReq("example.com", []byte{1}, false))
	tok := p.mustToken("1234", ctap.PermissionGetAssertion, "example.com")
	r := gaReq("example.com")
	r.Options = map[string]bool{ctap.OptionUP: false}
	p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
	for _, step := range []time.Duration{0, 5 * time.Minute, 4 * time.Minute} {
		k.clock.Advance(step)
		if _, s := k.getAssertion(r); s != ctap.StatusNoCredentials {
			t.Errorf("after %v: %v, want NO_CREDENTIALS (token accepted)", step, s)
		}
	}
	k.clock.Advance(time.Minute + time.Second)
	if _, s := k.getAssertion(r); s != ctap.StatusPINAuthInvalid {
		t.Errorf("past 10 minutes: %v", s)
	}
}

func TestResetClearsPIN(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := newPlatform(k, 1)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	tok := p.mustToken("1234", ctap.PermissionGetAssertion, "")
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatalf("reset: %v", s)
	}
	if st := k.store.State(); st.PINHash != nil || st.PINRetries != 0 || st.ForcePINChange {
		t.Errorf("PIN state after reset: %+v", st)
	}
	r := gaReq("example.com")
	p.authorize(tok, &r.PinUvAuthParam, &r.PinUvAuthProtocol)
	if _, s := k.getAssertion(r); s != ctap.StatusPINAuthInvalid {
		t.Errorf("token after reset: %v", s)
	}
	if _, s := k.makeCredential(mcReq("example.com", []byte{1}, true)); s != ctap.StatusOK {
		t.Errorf("rk without PIN after reset: %v", s)
	}
	if s := p.setPIN("5678"); s != ctap.StatusOK {
		t.Errorf("setPIN after reset: %v", s)
	}
}
