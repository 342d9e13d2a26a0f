package conformance

import (
	"errors"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// Cases for hostile or malformed requests: a host must not be able to use
// up PIN retries faster than wrong PINs would (CTAP 2.1 §6.5.5), and the
// key must refuse CBOR that §8 rules out.

// pinHashEncSub is a clientPIN subcommand that checks a PIN hash.
type pinHashEncSub struct {
	id       string
	sub      uint64
	section  string
	versions []Version
}

var pinHashEncSubs = []pinHashEncSub{
	{"token", ctap.PINGetPinToken, "CTAP 2.1 §6.5.5.7.1", CTAP2},
	{"perms", ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, "CTAP 2.1 §6.5.5.7.2 steps 7-8", CTAP21PRE},
	{"change", ctap.PINChangePIN, "CTAP 2.1 §6.5.5.6 steps 6-7", CTAP2},
}

// sendPinHashEnc sends sub with a fresh key agreement and pinHashEnc as
// given, everything else well formed (a changePIN has a valid newPinEnc
// and pinUvAuthParam over both).
func (pc *pinCase) sendPinHashEnc(sub uint64, pinHashEnc []byte) error {
	key, shared, err := pc.cp.KeyAgreement(pc.t.ctx)
	if err != nil {
		pc.t.Fatalf("key agreement: %v", err)
	}
	req := pc.cp.Request(sub)
	req.KeyAgreement, req.PinHashEnc = &key, pinHashEnc
	switch sub {
	case ctap.PINGetPinUvAuthTokenUsingPinWithPermissions:
		req.Permissions = u64(ctap.PermissionGetAssertion)
	case ctap.PINChangePIN:
		newEnc, err := pc.p.Encrypt(nil, shared, padded([]byte("87654321")))
		if err != nil {
			pc.t.Fatalf("encrypt: %v", err)
		}
		req.NewPinEnc = newEnc
		req.PinUvAuthParam = pc.p.Authenticate(shared, append(append([]byte{}, newEnc...), pinHashEnc...))
	}
	_, err = pc.send(req)
	return err
}

// burnAttempts is how many malformed PIN hashes a burn case sends: as many
// as pinRetries starts with, enough to block the PIN if each cost a retry.
const burnAttempts = 8

func init() {
	for _, v := range []uint64{1, 2} {
		for _, s := range pinHashEncSubs {
			v, s := v, s
			Register(Case{
				ID:      fmt.Sprintf("cp-v%d-burn-pinhashenc-%s", v, s.id),
				Section: s.section + ", §6.5.2.2",
				Title: fmt.Sprintf("protocol %d: %d requests whose pinHashEnc is 5 bytes cost at most 3 retries per power-up, and the PIN still works",
					v, burnAttempts),
				Versions:    s.versions,
				Destructive: true,
				Run: func(t *T) {
					t.needFreshKey()
					pc := t.pinProtocol(v)
					pc.setPIN()
					runPinHashEncBurn(t, pc, s.sub, make([]byte, 5))
				},
			})
		}
	}
}

// runPinHashEncBurn sends burnAttempts requests with pinHashEnc bad and
// checks that they did not use up the PIN. A key may refuse such a
// pinHashEnc before pinRetries moves (CTAP1_ERR_INVALID_PARAMETER, retries
// unchanged) or count it as a mismatch, since the retry is spent before
// the comparison (§6.5.5.6 step 6, §6.5.5.7.2 step 7): then the third in a
// row answers CTAP2_ERR_PIN_AUTH_BLOCKED and the rest are refused before
// the counter moves, so pinRetries ends at 5 with powerCycleState true.
// Either way the right PIN gives a token afterwards (after a power cycle).
func runPinHashEncBurn(t *T, pc *pinCase, sub uint64, bad []byte) {
	var got []ctap.Status
	for i := range burnAttempts {
		err := pc.sendPinHashEnc(sub, bad)
		var st ctap.Status
		if !errors.As(err, &st) {
			t.Fatalf("attempt %d: %v, want a CTAP error status", i+1, describe(err))
		}
		got = append(got, st)
	}
	retries, pcs, err := pc.cp.GetPinRetries(t.ctx)
	if err != nil {
		t.Fatalf("getPINRetries: %v", err)
	}
	t.Logf("statuses %v, pinRetries %d", got, retries)
	counted := false
	for i, st := range got {
		switch st {
		case ctap.StatusInvalidParameter:
		case ctap.StatusPINInvalid, ctap.StatusPINAuthBlocked:
			counted = true
		default:
			t.Fatalf("attempt %d: %v, want CTAP1_ERR_INVALID_PARAMETER (refused) or CTAP2_ERR_PIN_INVALID/PIN_AUTH_BLOCKED (a mismatch)", i+1, st)
		}
	}
	if !counted {
		Equal(t, "pinRetries after refused requests", retries, burnAttempts)
	} else {
		want := []ctap.Status{ctap.StatusPINInvalid, ctap.StatusPINInvalid}
		for len(want) < burnAttempts {
			want = append(want, ctap.StatusPINAuthBlocked)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("attempt %d: %v, want %v: three mismatches per power-up, then CTAP2_ERR_PIN_AUTH_BLOCKED (§6.5.5.7.2 step 8)", i+1, got[i], want[i])
			}
		}
		Equal(t, "pinRetries after three mismatches", retries, burnAttempts-maxPINMismatchesPerBoot)
		if pcs == nil || !*pcs {
			t.Fatalf("powerCycleState %v after three mismatches, want true", pcs)
		}
		t.PowerCycle()
		pc.refresh()
	}
	if _, err := pc.cp.GetPinToken(t.ctx, testPIN, ctap.PermissionGetAssertion, ""); err != nil {
		t.Fatalf("the right PIN afterwards: %v", err)
	}
	Equal(t, "pinRetries after the right PIN", pc.retries(), burnAttempts)
}

// maxPINMismatchesPerBoot is how many consecutive wrong PINs a key takes
// per power-up before it answers CTAP2_ERR_PIN_AUTH_BLOCKED (CTAP 2.1
// §6.5.5.7.2 step 8).
const maxPINMismatchesPerBoot = 3
