package authenticator

import (
	"reflect"
	"testing"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// TestPowerCycleForgetsAllVolatileState fills every part of the runtime
// state a host can reach (token, key agreement key, mismatches,
// getNextAssertion state) and checks that PowerCycle and reset leave
// exactly the state of a key that has just powered up.
func TestPowerCycleForgetsAllVolatileState(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, func(c *Config) { c.ResetWindow = -1 })
	p := newPlatform(k, 2)
	fill := func() {
		t.Helper()
		for _, u := range []string{"a", "b"} {
			k.mustRegister(mcReq("example.com", []byte(u), true))
		}
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatal(s)
		}
		if _, s := p.token("0000", nil, nil); s != ctap.StatusPINInvalid {
			t.Fatal(s)
		}
		p.mustToken("1234", ctap.PermissionGetAssertion, "example.com")
		if _, s := p.token("0000", nil, nil); s != ctap.StatusPINInvalid {
			t.Fatal(s)
		}
		p.encapsulate()
		if _, s := k.getAssertion(gaReq("example.com")); s != ctap.StatusOK {
			t.Fatalf("getAssertion: %v", s)
		}
		if k.a.rt.pending == nil || k.a.rt.keyAgreement == nil || k.a.rt.token.value == nil || k.a.rt.mismatches != 1 {
			t.Fatalf("volatile state not filled: %+v", k.a.rt)
		}
	}
	fill()
	k.clock.Advance(time.Second)
	k.a.PowerCycle()
	if want := powerUp(k.clock.Now()); !reflect.DeepEqual(k.a.rt, want) {
		t.Errorf("after PowerCycle: %+v, want %+v", k.a.rt, want)
	}
	before := k.a.rt.powerOn
	k.clock.Advance(time.Second)
	if s := p.sendPinHashEnc(ctap.PINGetPinToken, make([]byte, 32)); s != ctap.StatusPINInvalid {
		t.Fatal(s)
	}
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatalf("reset: %v", s)
	}
	if want := powerUp(before); !reflect.DeepEqual(k.a.rt, want) {
		t.Errorf("after reset: %+v, want %+v", k.a.rt, want)
	}
}
