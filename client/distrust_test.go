package client

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// hostileCalls is where hostileKey gives up: a client still asking after
// that many commands would have gone on for ever.
const hostileCalls = 20000

// hostileKey is a device that never runs out: getAssertion announces
// numberOfCredentials n, enumerateRPsBegin totalRPs n,
// enumerateCredentialsBegin totalCredentials n, and every follow-up
// command, and every largeBlobs get, gets a full, valid answer.
type hostileKey struct {
	t    testing.TB
	n    uint64
	info ctap.InfoResponse

	mu    sync.Mutex
	calls map[ctap.Command]int
	total int
}

func newHostileKey(t testing.TB, n uint64) *hostileKey {
	return &hostileKey{t: t, n: n, calls: map[ctap.Command]int{}, info: ctap.InfoResponse{
		Versions: []string{ctap.VersionFIDO21}, AAGUID: testAAGUID[:],
		Options:    map[string]bool{ctap.OptionCredMgmt: true, ctap.OptionLargeBlobs: true, ctap.OptionBioEnroll: true},
		MaxMsgSize: 1024, MaxSerializedLargeBlobArray: n,
	}}
}

func (k *hostileKey) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, _ func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := ctap.Command(payload[0])
	k.calls[c]++
	if k.total++; k.total > hostileCalls {
		return nil, errors.New("hostileKey: the client kept asking")
	}
	user := &ctap.UserEntity{ID: []byte("user")}
	cred := &ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: []byte("cred")}
	switch c {
	case ctap.CmdGetInfo:
		return ok(mustMarshal(k.t, &k.info)), nil
	case ctap.CmdGetAssertion:
		return ok(assertionBody(k.t, "cred", &k.n)), nil
	case ctap.CmdGetNextAssertion:
		return ok(assertionBody(k.t, "cred", nil)), nil
	case ctap.CmdLargeBlobs:
		var r ctap.LargeBlobsRequest
		if err := ctap.Unmarshal(payload[1:], &r); err != nil || r.Get == nil {
			return []byte{byte(ctap.StatusInvalidParameter)}, nil
		}
		return ok(mustMarshal(k.t, map[int][]byte{1: make([]byte, *r.Get)})), nil
	case ctap.CmdBioEnrollment, ctap.CmdBioEnrollmentPre:
		var r ctap.BioEnrollmentRequest
		if err := ctap.Unmarshal(payload[1:], &r); err != nil {
			return []byte{byte(ctap.StatusInvalidParameter)}, nil
		}
		good := uint64(FeedbackFPGood)
		switch {
		case r.GetModality != nil && *r.GetModality:
			return ok(mustMarshal(k.t, ctap.BioEnrollmentResponse{Modality: u64(ctap.BioModalityFingerprint)})), nil
		case r.SubCommand != nil && *r.SubCommand == ctap.BioEnrollBegin:
			return ok(mustMarshal(k.t, ctap.BioEnrollmentResponse{TemplateID: []byte{1}, LastEnrollSampleStatus: &good, RemainingSamples: &k.n})), nil
		case r.SubCommand != nil && *r.SubCommand == ctap.BioEnrollCaptureNextSample:
			return ok(mustMarshal(k.t, ctap.BioEnrollmentResponse{LastEnrollSampleStatus: &good, RemainingSamples: &k.n})), nil
		case r.SubCommand != nil && *r.SubCommand == ctap.BioCancelCurrentEnrollment:
			return ok(nil), nil
		}
	case ctap.CmdCredentialManagement:
		var r ctap.CredentialManagementRequest
		if err := ctap.Unmarshal(payload[1:], &r); err != nil || r.SubCommand == nil {
			return []byte{byte(ctap.StatusInvalidParameter)}, nil
		}
		rp := &ctap.RPEntity{ID: "example.com"}
		key := &ctap.COSEKey{Kty: 2, Alg: -7, Crv: 1, X: make([]byte, 32), Y: make([]byte, 32)}
		switch *r.SubCommand {
		case ctap.CredMgmtEnumerateRPsBegin:
			return ok(mustMarshal(k.t, ctap.CredentialManagementResponse{RP: rp, RPIDHash: cdh("example.com"), TotalRPs: &k.n})), nil
		case ctap.CredMgmtEnumerateRPsGetNextRP:
			return ok(mustMarshal(k.t, ctap.CredentialManagementResponse{RP: rp, RPIDHash: cdh("example.com")})), nil
		case ctap.CredMgmtEnumerateCredentialsBegin:
			return ok(mustMarshal(k.t, ctap.CredentialManagementResponse{User: user, CredentialID: cred, PublicKey: key, TotalCredentials: &k.n})), nil
		case ctap.CredMgmtEnumerateCredentialsGetNextCredential:
			return ok(mustMarshal(k.t, ctap.CredentialManagementResponse{User: user, CredentialID: cred, PublicKey: key})), nil
		}
	}
	return []byte{byte(ctap.StatusInvalidCommand)}, nil
}

func (k *hostileKey) count(c ctap.Command) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[c]
}

// TestClientDistrustsDevice checks that a device announcing 2^64-1
// assertions, RPs, credentials or large-blob bytes gets ErrTooMany, after
// the one command that announced it: before, GetAssertions made 153,895
// calls in 3 s and stopped only when its context ended.
func TestClientDistrustsDevice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context, c *Ctap2) error
		cmd  ctap.Command // the command that must be sent exactly once
	}{
		{"GetAssertions", func(ctx context.Context, c *Ctap2) error {
			_, err := c.GetAssertions(ctx, testGARequest())
			return err
		}, ctap.CmdGetAssertion},
		{"EnumerateRPs", func(ctx context.Context, c *Ctap2) error {
			cm, err := NewCredentialManagement(c, PinProtocolV2(), make([]byte, 32))
			if err != nil {
				return err
			}
			_, err = cm.EnumerateRPs(ctx)
			return err
		}, ctap.CmdCredentialManagement},
		{"EnumerateCreds", func(ctx context.Context, c *Ctap2) error {
			cm, err := NewCredentialManagement(c, PinProtocolV2(), make([]byte, 32))
			if err != nil {
				return err
			}
			_, err = cm.EnumerateCreds(ctx, cdh("example.com"))
			return err
		}, ctap.CmdCredentialManagement},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newHostileKey(t, math.MaxUint64)
			c, err := New(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.run(t.Context(), c)
			if !errors.Is(err, ErrTooMany) {
				t.Errorf("error %v, want ErrTooMany", err)
			}
			if n := k.count(tc.cmd); n != 1 {
				t.Errorf("%d %v commands sent, want 1", n, tc.cmd)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("Enroll", func(t *testing.T) {
		t.Parallel()
		for _, n := range []uint64{math.MaxUint64, 3} { // announced at once; or 3 samples to go, for ever
			k := newHostileKey(t, n)
			c, err := New(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewFPBioEnrollment(t.Context(), c, PinProtocolV2(), make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Enroll(t.Context(), 0, nil)
			if !errors.Is(err, ErrTooMany) {
				t.Errorf("remainingSamples %d: error %v, want ErrTooMany", n, err)
			}
			if got := k.count(ctap.CmdBioEnrollment); got > maxEnrollCaptures+3 {
				t.Errorf("remainingSamples %d: %d bioEnrollment commands", n, got)
			}
			t.Logf("%v", err)
		}
	})
	t.Run("ReadSerialized", func(t *testing.T) {
		t.Parallel()
		k := newHostileKey(t, math.MaxUint64)
		lb := newHostileLargeBlobs(t, k)
		_, err := lb.ReadSerialized(t.Context())
		if !errors.Is(err, ErrTooMany) {
			t.Errorf("error %v, want ErrTooMany", err)
		}
		// 1 MiB in 960-byte fragments: 1093 gets, the last one past it.
		if n, want := k.count(ctap.CmdLargeBlobs), MaxLargeBlobArray/960+1; n != want {
			t.Errorf("%d gets, want %d", n, want)
		}
		t.Logf("%v", err)
	})
	t.Run("ReadSerialized tiny fragments", func(t *testing.T) {
		t.Parallel()
		k := newHostileKey(t, math.MaxUint64)
		k.info.MaxMsgSize = 65 // 1-byte fragments
		lb := newHostileLargeBlobs(t, k)
		_, err := lb.ReadSerialized(t.Context())
		if !errors.Is(err, ErrTooMany) {
			t.Errorf("error %v, want ErrTooMany", err)
		}
		if n := k.count(ctap.CmdLargeBlobs); n != maxLargeBlobGets {
			t.Errorf("%d gets, want %d", n, maxLargeBlobGets)
		}
	})
}

func newHostileLargeBlobs(t *testing.T, k *hostileKey) *LargeBlobs {
	t.Helper()
	c, err := New(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewLargeBlobs(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return lb
}

// TestClientCeilings checks where the ceilings lie: the device's own
// figures within them are honoured, one more is refused.
func TestClientCeilings(t *testing.T) {
	t.Parallel()
	t.Run("allowList bounds numberOfCredentials", func(t *testing.T) {
		t.Parallel()
		req := testGARequest()
		req.AllowList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: []byte("a")}, {Type: ctap.CredentialTypePublicKey, ID: []byte("b")}}
		for n, wantErr := range map[uint64]bool{2: false, 3: true} {
			k := newHostileKey(t, n)
			c, err := New(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.GetAssertions(t.Context(), req)
			if wantErr != errors.Is(err, ErrTooMany) || (!wantErr && len(got) != int(n)) {
				t.Errorf("numberOfCredentials %d with 2 allowed: %d assertions, %v", n, len(got), err)
			}
		}
	})
	t.Run("WithMaxCredentials", func(t *testing.T) {
		t.Parallel()
		for n, wantErr := range map[uint64]bool{5: false, 6: true} {
			k := newHostileKey(t, n)
			c, err := New(t.Context(), k, WithMaxCredentials(5))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.GetAssertions(t.Context(), testGARequest())
			if wantErr != errors.Is(err, ErrTooMany) || (!wantErr && len(got) != int(n)) {
				t.Errorf("numberOfCredentials %d, ceiling 5: %d assertions, %v", n, len(got), err)
			}
			cm, err := NewCredentialManagement(c, PinProtocolV2(), make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			rps, err := cm.EnumerateRPs(t.Context())
			if wantErr != errors.Is(err, ErrTooMany) || (!wantErr && len(rps) != int(n)) {
				t.Errorf("totalRPs %d, ceiling 5: %d RPs, %v", n, len(rps), err)
			}
			creds, err := cm.EnumerateCreds(t.Context(), cdh("example.com"))
			if wantErr != errors.Is(err, ErrTooMany) || (!wantErr && len(creds) != int(n)) {
				t.Errorf("totalCredentials %d, ceiling 5: %d credentials, %v", n, len(creds), err)
			}
		}
	})
	t.Run("the device's maxSerializedLargeBlobArray", func(t *testing.T) {
		t.Parallel()
		k := newHostileKey(t, 4096)
		_, err := newHostileLargeBlobs(t, k).ReadSerialized(t.Context())
		if !errors.Is(err, ErrTooMany) {
			t.Errorf("error %v, want ErrTooMany", err)
		}
		if n := k.count(ctap.CmdLargeBlobs); n != 5 { // 4 full fragments of 960 = 3840, the 5th passes 4096
			t.Errorf("%d gets, want 5", n)
		}
	})
	t.Run("maxMsgSize past what CTAPHID carries", func(t *testing.T) {
		t.Parallel()
		k := newHostileKey(t, 4096)
		k.info.MaxMsgSize = math.MaxUint64
		if got := newHostileLargeBlobs(t, k).MaxFragmentLength(); got != ctaphid.MaxMessageSize-64 {
			t.Errorf("MaxFragmentLength %d, want %d", got, ctaphid.MaxMessageSize-64)
		}
	})
}
