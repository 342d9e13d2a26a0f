package control_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/profile"
)

// forgetfulStore acknowledges every save but keeps only the first: a key
// that forgets to save what it acknowledged.
type forgetfulStore struct {
	authenticator.MemoryStore
	saved bool
}

func (f *forgetfulStore) Commit(ch *authenticator.Change) error {
	if f.saved {
		return nil
	}
	f.saved = true
	return f.MemoryStore.Commit(ch)
}

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// residentThenPowerCycle makes a resident credential on a key built on
// store, power-cycles the key and asks for an assertion of the RP.
func residentThenPowerCycle(t *testing.T, store authenticator.Store) error {
	t.Helper()
	ctx := context.Background()
	k, err := control.NewKey(authenticator.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := k.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	c, err := client.New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
		ClientDataHash:   hash("mc"),
		RP:               &ctap.RPEntity{ID: "example.com"},
		User:             &ctap.UserEntity{ID: []byte{1}, Name: "u"},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
		Options:          map[string]bool{ctap.OptionRK: true},
	})
	if err != nil {
		t.Fatalf("makeCredential: %v", err)
	}
	before := k.Authenticator()
	if err := k.PowerCycle(ctx); err != nil {
		t.Fatalf("power cycle: %v", err)
	}
	if k.Authenticator() == before {
		t.Fatal("power cycle kept the same authenticator")
	}
	if k.PowerCycles() != 1 {
		t.Fatalf("PowerCycles = %d", k.PowerCycles())
	}
	// The old connection reaches the new key, as over UDP.
	_, err = c.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: hash("ga")})
	return err
}

// TestPowerCycleIsARestart: the key after a power cycle knows what the
// store holds, and only that (CTAP 2.1 §6.1.2 step 17: a resident
// credential is stored before the response).
func TestPowerCycleIsARestart(t *testing.T) {
	if err := residentThenPowerCycle(t, authenticator.NewMemoryStore()); err != nil {
		t.Errorf("the credential the key saved is gone after a power cycle: %v", err)
	}
	if err := residentThenPowerCycle(t, &forgetfulStore{}); !errors.Is(err, ctap.StatusNoCredentials) {
		t.Errorf("a key that forgot to save still has the credential after a power cycle: %v, want %v", err, ctap.StatusNoCredentials)
	}
}

func TestKeyCapabilities(t *testing.T) {
	plain, err := control.NewKey(authenticator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !control.Has(plain, control.CapControl) || !control.Has(plain, control.CapClock) || control.Has(plain, control.CapUV) {
		t.Errorf("plain key capabilities %v", plain.Capabilities())
	}
	if err := plain.SetUV(control.UVNoMatch); !errors.Is(err, control.ErrUnsupported) {
		t.Errorf("SetUV on a key without UV: %v", err)
	}
	if err := plain.PushSamples(control.FingerSample{Finger: 1}); !errors.Is(err, control.ErrUnsupported) {
		t.Errorf("PushSamples on a key without a sensor: %v", err)
	}
	bio, err := control.NewKey(authenticator.Config{BuiltInUV: true, BioEnrollment: true})
	if err != nil {
		t.Fatal(err)
	}
	if !control.Has(bio, control.CapUV) || !control.Has(bio, control.CapFingerprint) {
		t.Errorf("bio key capabilities %v", bio.Capabilities())
	}
	start := plain.Clock().Now()
	if err := plain.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := plain.Clock().Now().Sub(start); got != time.Minute {
		t.Errorf("advanced %v, want 1m", got)
	}
	if err := plain.Advance(-time.Second); err == nil {
		t.Error("the clock moved backwards")
	}
}

func touch(u *control.User, ctx context.Context) error {
	return u.Touch(ctx, authenticator.TouchRequest{Command: ctap.CmdGetAssertion, Reason: authenticator.ReasonGetAssertion})
}

func TestUserPresence(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		p    control.Presence
		want error
	}{
		{control.PresenceAuto, nil},
		{control.PresenceDeny, ctap.StatusOperationDenied},
		{control.PresenceTimeout, ctap.StatusUserActionTimeout},
	} {
		u := &control.User{}
		u.SetPresence(tc.p)
		if err := touch(u, ctx); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%v: touch = %v, want %v", tc.p, err, tc.want)
		}
	}

	// A queued answer comes first, whatever the mode.
	u := control.NewUser(ctap.StatusOperationDenied)
	if err := touch(u, ctx); !errors.Is(err, ctap.StatusOperationDenied) {
		t.Errorf("queued deny: %v", err)
	}
	if err := touch(u, ctx); err != nil {
		t.Errorf("auto after the queue: %v", err)
	}

	// Wait holds until the request is cancelled ...
	u.SetPresence(control.PresenceWait)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- touch(u, cctx) }()
	if err := u.WaitRequests(ctx, 3); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("withheld touch after cancel: %v", err)
	}
	// ... or an answer is pushed.
	go func() { done <- touch(u, ctx) }()
	if err := u.WaitRequests(ctx, 4); err != nil {
		t.Fatal(err)
	}
	u.Push(nil)
	if err := <-done; err != nil {
		t.Errorf("withheld touch, then touched: %v", err)
	}
	if n := len(u.Requests()); n != 4 {
		t.Errorf("%d requests recorded, want 4", n)
	}
}

func TestUserVerification(t *testing.T) {
	ctx := context.Background()
	u := &control.User{}
	req := authenticator.UVRequest{Command: ctap.CmdGetAssertion}
	for _, tc := range []struct {
		o    control.UVOutcome
		want error
	}{
		{control.UVNoMatch, ctap.StatusUVInvalid},
		{control.UVDecline, ctap.StatusOperationDenied},
		{control.UVTimeout, ctap.StatusUserActionTimeout},
	} {
		u.SetUV(tc.o)
		if err := u.VerifyUser(ctx, req); !errors.Is(err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.o, err, tc.want)
		}
	}
	u.SetUV(control.UVMatch)
	if err := u.VerifyUser(ctx, req); err != nil {
		t.Errorf("match: %v", err)
	}
	u.PushSamples(control.FingerSample{Finger: 2, Status: uint64(authenticator.SampleTooFast)})
	s, err := u.Capture(ctx, authenticator.CaptureRequest{Enroll: true})
	if err != nil || s.Finger != 2 || s.Status != authenticator.SampleTooFast {
		t.Errorf("queued sample: %+v, %v", s, err)
	}
	s, err = u.Capture(ctx, authenticator.CaptureRequest{UV: req})
	if err != nil || s.Finger != 1 || s.Status != authenticator.SampleGood {
		t.Errorf("capture on UVMatch: %+v, %v", s, err)
	}
	u.PushSamples(control.FingerSample{NoFinger: true})
	tctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := u.Capture(tctx, authenticator.CaptureRequest{Enroll: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no finger: %v", err)
	}
}

func TestParse(t *testing.T) {
	for p := control.PresenceAuto; p <= control.PresenceWait; p++ {
		if got, err := control.ParsePresence(p.String()); err != nil || got != p {
			t.Errorf("ParsePresence(%q) = %v, %v", p, got, err)
		}
	}
	for o := control.UVMatch; o <= control.UVTimeout; o++ {
		if got, err := control.ParseUVOutcome(o.String()); err != nil || got != o {
			t.Errorf("ParseUVOutcome(%q) = %v, %v", o, got, err)
		}
	}
	if _, err := control.ParsePresence("maybe"); err == nil {
		t.Error("ParsePresence(maybe) succeeded")
	}
}

// TestNewProfileKey: a key of a profile is that profile's key, and a
// U2F-only profile's transport refuses CTAPHID_CBOR.
func TestNewProfileKey(t *testing.T) {
	ctx := context.Background()
	k, err := control.NewProfileKey(profile.MustLookup("fido20-pin"), authenticator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Authenticator().AAGUID(); got != profile.FIDO20AAGUID {
		t.Errorf("AAGUID %x", got)
	}
	dev, err := k.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	c, err := client.New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Info().Versions; len(v) != 2 || v[1] != ctap.VersionFIDO20 {
		t.Errorf("versions %v", v)
	}

	u, err := control.NewProfileKey(profile.MustLookup("u2f"), authenticator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	udev, err := u.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer udev.Close()
	if _, err := client.New(ctx, udev); err == nil {
		t.Error("a CTAP2 client on a U2F-only key")
	}
}
