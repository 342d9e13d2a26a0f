package authenticator

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

// sendPinHashEnc sends sub (getPinToken, getPinUvAuthTokenUsingPinWithPermissions
// or changePIN) with a fresh key agreement and pinHashEnc as given, and
// everything else well formed: a changePIN carries a valid newPinEnc and a
// pinUvAuthParam over both.
func (p *platform) sendPinHashEnc(sub uint64, pinHashEnc []byte) ctap.Status {
	p.k.t.Helper()
	pk, ss := p.encapsulate()
	req := &ctap.ClientPINRequest{
		PinUvAuthProtocol: ptr(p.proto.Version()), SubCommand: ptr(sub),
		KeyAgreement: &pk, PinHashEnc: pinHashEnc,
	}
	switch sub {
	case ctap.PINGetPinUvAuthTokenUsingPinWithPermissions:
		req.Permissions = ptr(ctap.PermissionGetAssertion)
	case ctap.PINChangePIN:
		req.NewPinEnc = p.encrypt(ss, padded("5678"))
		req.PinUvAuthParam = p.proto.Authenticate(ss, append(bytes.Clone(req.NewPinEnc), pinHashEnc...))
	}
	_, s := p.clientPIN(req)
	return s
}

// TestMalformedPinHashEncIsAMismatch is the PIN retry burn: eight
// requests with a pinHashEnc that does not decrypt to a PIN hash (5 bytes,
// only an IV, a whole block too many) used to answer
// CTAP1_ERR_INVALID_PARAMETER after pinRetries had been decremented, without
// counting a mismatch, so a host could use up all eight retries in one
// power-up. Now each counts as a mismatch (CTAP 2.1 §6.5.5.6 steps 6 and 7,
// §6.5.5.7.2 steps 7 and 8): the third answers CTAP2_ERR_PIN_AUTH_BLOCKED and
// the rest are refused before pinRetries moves.
func TestMalformedPinHashEncIsAMismatch(t *testing.T) {
	t.Parallel()
	subs := []struct {
		name string
		sub  uint64
	}{
		{"getPinToken", ctap.PINGetPinToken},
		{"getPinUvAuthTokenUsingPinWithPermissions", ctap.PINGetPinUvAuthTokenUsingPinWithPermissions},
		{"changePIN", ctap.PINChangePIN},
	}
	forProtocols(t, func(t *testing.T, v uint64) {
		bad := map[string][]byte{
			"5 bytes":     make([]byte, 5),
			"one block":   make([]byte, 16),
			"three block": make([]byte, 48),
		}
		for _, sc := range subs {
			for bname, enc := range bad {
				t.Run(fmt.Sprintf("%s/%s", sc.name, bname), func(t *testing.T) {
					k := newTestKey(t)
					p := newPlatform(k, v)
					if s := p.setPIN("1234"); s != ctap.StatusOK {
						t.Fatal(s)
					}
					var got []ctap.Status
					for range 8 {
						got = append(got, p.sendPinHashEnc(sc.sub, enc))
					}
					want := []ctap.Status{ctap.StatusPINInvalid, ctap.StatusPINInvalid, ctap.StatusPINAuthBlocked,
						ctap.StatusPINAuthBlocked, ctap.StatusPINAuthBlocked, ctap.StatusPINAuthBlocked,
						ctap.StatusPINAuthBlocked, ctap.StatusPINAuthBlocked}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("statuses (-want +got):\n%s", diff)
					}
					if r, blocked := p.retries(); r != 5 || !blocked {
						t.Errorf("pinRetries %d powerCycleState %v, want 5 true", r, blocked)
					}
					k.a.PowerCycle()
					if _, s := p.token("1234", nil, nil); s != ctap.StatusOK {
						t.Errorf("right PIN after power cycle: %v", s)
					}
					if r, blocked := p.retries(); r != MaxPINRetries || blocked {
						t.Errorf("after the right PIN: pinRetries %d powerCycleState %v", r, blocked)
					}
				})
			}
		}
	})
}
