package authenticator

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

func TestGetInfo(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, withMaxCredentials(5))
	k.a.firmware = 0x010203
	k.mustRegister(mcReq("example.com", []byte{1}, true))
	k.mustRegister(mcReq("example.com", []byte{2}, false))
	var info ctap.InfoResponse
	if s := k.do(ctap.CmdGetInfo, nil, &info); s != ctap.StatusOK {
		t.Fatal(s)
	}
	want := ctap.InfoResponse{
		Versions: []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"},
		AAGUID:   DefaultAAGUID[:],
		Options: map[string]bool{"rk": true, "up": true, "plat": false,
			"clientPin": false, "pinUvAuthToken": true, "makeCredUvNotRqd": true,
			"credMgmt": true, "credentialMgmtPreview": true,
			"authnrCfg": true, "setMinPINLength": true, "alwaysUv": false, "ep": false, // config.go
			"largeBlobs": true}, // largeblobs.go
		PinUvAuthProtocols:       []uint64{2, 1},
		MinPINLength:             4,
		ForcePINChange:           ptr(false),
		MaxMsgSize:               7609,
		MaxCredentialCountInList: 32,
		MaxCredentialIDLength:    128,
		Transports:               []string{"usb"},
		Algorithms: []ctap.CredentialParameter{
			{Type: "public-key", Alg: -7},
			{Type: "public-key", Alg: -8},
			{Type: "public-key", Alg: -35}, // algorithms.go
			{Type: "public-key", Alg: -257},
		},
		FirmwareVersion:                  0x010203,
		RemainingDiscoverableCredentials: ptr[uint64](4),
		MaxRPIDsForSetMinPINLength:       MaxRPIDsForSetMinPINLength, // config.go
		// largeblobs.go
		MaxSerializedLargeBlobArray: MaxSerializedLargeBlobArray,
		// extensions.go, then ext_hmacsecret.go
		Extensions: []string{"credProtect", "credBlob", "largeBlobKey", "minPinLength", "thirdPartyPayment",
			"hmac-secret", "hmac-secret-mc"},
		MaxCredBlobLength: MaxCredBlobLength,
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("getInfo (-want +got):\n%s", diff)
	}
	if sealedIDLength > maxCredentialIDLength || residentIDLength > maxCredentialIDLength {
		t.Error("credential IDs longer than advertised")
	}
	if s, _ := k.a.Handle(t.Context(), ctap.CmdGetInfo, []byte{0xa0}); s != ctap.StatusInvalidLength {
		t.Errorf("getInfo with parameters: %v, want INVALID_LENGTH", s)
	}
}

func TestUnknownCommands(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	for _, cmd := range []ctap.Command{0x00, 0x03, 0x05, ctap.CmdBioEnrollment,
		ctap.CmdBioEnrollmentPre, 0x10, 0xff} {
		if s, body := k.a.Handle(t.Context(), cmd, []byte{0xa0}); s != ctap.StatusInvalidCommand || body != nil {
			t.Errorf("%v: %v %x, want INVALID_COMMAND", cmd, s, body)
		}
	}
}

func TestHandleCBOR(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	if got := k.a.HandleCBOR(t.Context(), nil); !cmp.Equal(got, []byte{0x03}) {
		t.Errorf("empty request: %x, want 03", got)
	}
	got := k.a.HandleCBOR(t.Context(), []byte{0x04})
	if got[0] != 0 || !ctap.IsCanonical(got[1:]) {
		t.Errorf("getInfo: %x", got)
	}
	if got := k.a.HandleCBOR(t.Context(), []byte{0x01, 0xff}); !cmp.Equal(got, []byte{byte(ctap.StatusInvalidCBOR)}) {
		t.Errorf("bad CBOR: %x", got)
	}
	if got := k.a.HandleCBOR(t.Context(), []byte{0x01}); !cmp.Equal(got, []byte{byte(ctap.StatusInvalidCBOR)}) {
		t.Errorf("makeCredential without parameters: %x", got)
	}
	big := make([]byte, MaxMsgSize+1)
	big[0] = byte(ctap.CmdGetAssertion)
	if got := k.a.HandleCBOR(t.Context(), big); !cmp.Equal(got, []byte{byte(ctap.StatusInvalidLength)}) {
		t.Errorf("oversize request: %x", got)
	}
	if resp, err := k.a.HandleMsg(t.Context(), []byte{0, 3, 0, 0}); err != nil || string(resp) != "U2F_V2\x90\x00" {
		t.Errorf("HandleMsg U2F_VERSION: %x, %v", resp, err) // ctap1_test.go
	}
	winks := 0
	k.a.onWink = func() { winks++ }
	k.a.Wink()
	if winks != 1 || k.a.Winks() != 1 {
		t.Errorf("winks %d %d", winks, k.a.Winks())
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		after   time.Duration // since power-up
		answer  []error
		want    ctap.Status
		touches int
	}{
		{"touched", 0, []error{nil}, ctap.StatusOK, 1},
		{"at 10s", 10 * time.Second, []error{nil}, ctap.StatusOK, 1},
		{"after 10s", 10*time.Second + 1, nil, ctap.StatusNotAllowed, 0},
		{"declined", time.Second, []error{ctap.StatusOperationDenied}, ctap.StatusOperationDenied, 1},
		{"timeout", time.Second, []error{ctap.StatusUserActionTimeout}, ctap.StatusUserActionTimeout, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t)
			nr, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
			k.mustRegister(mcReq("example.com", []byte{2}, true))
			before := k.store.State()
			p := NewScriptedPresence(tt.answer...)
			k.a.presence = p
			k.clock.Advance(tt.after)
			if s := k.do(ctap.CmdReset, nil, nil); s != tt.want {
				t.Fatalf("reset: %v, want %v", s, tt.want)
			}
			if n := len(p.Requests()); n != tt.touches {
				t.Errorf("%d touches, want %d", n, tt.touches)
			}
			k.a.presence = AutoPresence{}
			after := k.store.State()
			_, sNR := k.getAssertion(gaReq("example.com", nr))
			_, sRK := k.getAssertion(gaReq("example.com"))
			if tt.want != ctap.StatusOK {
				if sNR != ctap.StatusOK || sRK != ctap.StatusOK {
					t.Errorf("credentials lost by a refused reset: %v %v", sNR, sRK)
				}
				return
			}
			if sNR != ctap.StatusNoCredentials || sRK != ctap.StatusNoCredentials {
				t.Errorf("credentials after reset: %v %v, want NO_CREDENTIALS", sNR, sRK)
			}
			if len(after.Credentials) != 0 || cmp.Equal(after.MasterSecret, before.MasterSecret) {
				t.Error("reset did not wipe the stored state")
			}
			if !cmp.Equal(after.Attestation, before.Attestation) || after.SignCount < before.SignCount {
				t.Error("reset changed the attestation keys or lowered the counter")
			}
		})
	}
	t.Run("window restarts at power cycle", func(t *testing.T) {
		t.Parallel()
		k := newTestKey(t)
		k.clock.Advance(time.Minute)
		if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusNotAllowed {
			t.Fatalf("%v", s)
		}
		k.a.PowerCycle()
		k.clock.Advance(5 * time.Second)
		if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
			t.Fatalf("%v", s)
		}
	})
	t.Run("negative window", func(t *testing.T) {
		t.Parallel()
		k := newTestKey(t)
		k.a.resetWin = -1
		k.clock.Advance(time.Hour)
		if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
			t.Fatalf("%v", s)
		}
	})
}

func TestSelection(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		answer error
		want   ctap.Status
	}{
		{nil, ctap.StatusOK},
		{ctap.StatusOperationDenied, ctap.StatusOperationDenied},
		{ctap.StatusUserActionTimeout, ctap.StatusUserActionTimeout},
	} {
		p := NewScriptedPresence(tt.answer)
		k := newTestKey(t, withPresence(p))
		if s := k.do(ctap.CmdSelection, nil, nil); s != tt.want {
			t.Errorf("answer %v: %v, want %v", tt.answer, s, tt.want)
		}
		if diff := cmp.Diff([]TouchRequest{{Command: ctap.CmdSelection, Reason: ReasonSelection}}, p.Requests()); diff != "" {
			t.Errorf("touches (-want +got):\n%s", diff)
		}
	}
	k := newTestKey(t, withPresence(DenyPresence{}))
	if s := k.do(ctap.CmdSelection, nil, nil); s != ctap.StatusOperationDenied {
		t.Errorf("DenyPresence: %v", s)
	}
	// The request's deadline passes while the key waits for the touch
	// (not before the command starts, which a timer could not promise on
	// a loaded machine).
	ctx := &expiring{Context: t.Context(), done: make(chan struct{})}
	k = newTestKey(t, withPresence(touchFunc(func(tctx context.Context, _ TouchRequest) error {
		close(ctx.done)
		<-tctx.Done()
		return tctx.Err()
	})))
	if s, _ := k.a.Handle(ctx, ctap.CmdSelection, nil); s != ctap.StatusUserActionTimeout {
		t.Errorf("context deadline: %v, want USER_ACTION_TIMEOUT", s)
	}
}

// expiring is a context whose deadline passes when done is closed.
type expiring struct {
	context.Context
	done chan struct{}
}

func (e *expiring) Done() <-chan struct{} { return e.done }

func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// touchFunc is a Presence that answers with a function.
type touchFunc func(ctx context.Context, req TouchRequest) error

func (f touchFunc) Touch(ctx context.Context, req TouchRequest) error { return f(ctx, req) }

// TestConcurrentHandle runs commands from many goroutines; with -race it
// checks the locking, and a command waiting for a touch blocks the others
// but stays cancellable.
func TestConcurrentHandle(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				req := ctap.MustMarshal(mcReq("example.com", []byte{byte(g), byte(i)}, i%2 == 0))
				if s, _ := k.a.Handle(context.Background(), ctap.CmdMakeCredential, req); s != ctap.StatusOK {
					t.Errorf("makeCredential: %v", s)
				}
				if s, _ := k.a.Handle(context.Background(), ctap.CmdGetInfo, nil); s != ctap.StatusOK {
					t.Errorf("getInfo: %v", s)
				}
			}
		})
	}
	wg.Wait()
	if n := len(k.store.State().Credentials); n != 40 {
		t.Errorf("%d credentials, want 40", n)
	}

	p := NewScriptedPresence()
	k.a.presence = p
	blocked := make(chan ctap.Status)
	go func() {
		s, _ := k.a.Handle(context.Background(), ctap.CmdSelection, nil)
		blocked <- s
	}()
	if err := p.WaitRequests(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if s, _ := k.a.Handle(ctx, ctap.CmdGetInfo, nil); s != ctap.StatusKeepaliveCancel {
		t.Errorf("command behind a busy one: %v, want KEEPALIVE_CANCEL when its context ends", s)
	}
	k.a.PowerCycle() // cancels the waiting selection
	if s := <-blocked; s != ctap.StatusKeepaliveCancel {
		t.Errorf("selection cancelled by power cycle: %v", s)
	}
}
