package authenticator

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

func TestGetAssertionStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rk      bool // register a discoverable credential instead
		req     func(id []byte) any
		answer  []error
		want    ctap.Status
		touches int
	}{
		{"allowList", false, func(id []byte) any { return gaReq("example.com", id) }, []error{nil}, ctap.StatusOK, 1},
		{"discoverable", true, func(id []byte) any { return gaReq("example.com") }, []error{nil}, ctap.StatusOK, 1},
		{"no discoverable credential", false, func(id []byte) any { return gaReq("example.com") }, nil, ctap.StatusNoCredentials, 0},
		{"empty allowList is absent", true, func(id []byte) any {
			r := gaReq("example.com")
			r.AllowList = []ctap.CredentialDescriptor{}
			return withMember(r, 3, []any{})
		}, []error{nil}, ctap.StatusOK, 1},
		{"other RP", false, func(id []byte) any { return gaReq("other.example", id) }, nil, ctap.StatusNoCredentials, 0},
		{"missing rpId", false, func(id []byte) any { r := gaReq("", id); return r }, nil, ctap.StatusMissingParameter, 0},
		{"missing clientDataHash", false, func(id []byte) any {
			return withoutMember(gaReq("example.com", id), 2)
		}, nil, ctap.StatusMissingParameter, 0},
		{"descriptor of another type", false, func(id []byte) any {
			r := gaReq("example.com", id)
			r.AllowList[0].Type = "other"
			return r
		}, nil, ctap.StatusNoCredentials, 0},
		{"uv=true", false, func(id []byte) any {
			r := gaReq("example.com", id)
			r.Options = map[string]bool{"uv": true}
			return r
		}, nil, ctap.StatusInvalidOption, 0},
		{"rk option", false, func(id []byte) any {
			r := gaReq("example.com", id)
			r.Options = map[string]bool{"rk": false}
			return r
		}, nil, ctap.StatusUnsupportedOption, 0},
		{"up=false", false, func(id []byte) any {
			r := gaReq("example.com", id)
			r.Options = map[string]bool{"up": false}
			return r
		}, nil, ctap.StatusOK, 0},
		{"zero-length pinUvAuthParam", false, func(id []byte) any { return withMember(gaReq("example.com", id), 6, []byte{}) }, []error{nil}, ctap.StatusPINNotSet, 1},
		{"pinUvAuthParam without protocol", false, func(id []byte) any {
			r := gaReq("example.com", id)
			r.PinUvAuthParam = make([]byte, 32)
			return r
		}, nil, ctap.StatusMissingParameter, 0},
		{"declined", false, func(id []byte) any { return gaReq("example.com", id) }, []error{ctap.StatusOperationDenied}, ctap.StatusOperationDenied, 1},
		{"timeout", false, func(id []byte) any { return gaReq("example.com", id) }, []error{ctap.StatusUserActionTimeout}, ctap.StatusOperationDenied, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t)
			id, _ := k.mustRegister(mcReq("example.com", []byte{1}, tt.rk))
			p := NewScriptedPresence(tt.answer...)
			k.a.presence = p
			if _, got := k.getAssertion(tt.req(id)); got != tt.want {
				t.Errorf("status %v, want %v", got, tt.want)
			}
			if n := len(p.Requests()); n != tt.touches {
				t.Errorf("%d touches, want %d", n, tt.touches)
			}
		})
	}
}

func TestGetAssertionResponse(t *testing.T) {
	t.Parallel()
	for _, alg := range []int64{ctap.AlgES256, ctap.AlgEdDSA} {
		for _, rk := range []bool{false, true} {
			k := newTestKey(t)
			id, mad := k.mustRegister(mcReq("example.com", []byte{9, 9}, rk, alg))
			pub, err := mad.AttestedCredential.PublicKey.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			for i, up := range []bool{true, false} {
				r := gaReq("example.com", id)
				r.Options = map[string]bool{"up": up}
				resp, s := k.getAssertion(r)
				if s != ctap.StatusOK {
					t.Fatalf("alg %d rk %v: %v", alg, rk, s)
				}
				ad, err := ctap.ParseAuthData(resp.AuthData)
				if err != nil {
					t.Fatal(err)
				}
				want := ctap.AuthData{RPIDHash: rpHash("example.com"), SignCount: uint32(2 + i)}
				if up {
					want.Flags = ctap.FlagUP
				}
				if diff := cmp.Diff(&want, ad); diff != "" {
					t.Errorf("alg %d rk %v up %v: authData (-want +got):\n%s", alg, rk, up, diff)
				}
				wantResp := ctap.GetAssertionResponse{
					Credential: &ctap.CredentialDescriptor{Type: "public-key", ID: id},
					AuthData:   resp.AuthData,
					Signature:  resp.Signature,
				}
				if rk {
					wantResp.User = &ctap.UserEntity{ID: []byte{9, 9}}
				}
				if diff := cmp.Diff(wantResp, *resp); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
				signed := append(bytes.Clone(resp.AuthData), testCDH...)
				if err := ctap.VerifySignature(alg, pub, signed, resp.Signature); err != nil {
					t.Errorf("alg %d rk %v: signature: %v", alg, rk, err)
				}
			}
			if got := k.store.State().SignCount; got != 3 {
				t.Errorf("stored signCount %d, want 3", got)
			}
		}
	}
}

// TestForgedCredentialIDs: IDs changed in any bit, sealed for another
// relying party or by another key do not open.
func TestForgedCredentialIDs(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	id, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
	rid, _ := k.mustRegister(mcReq("example.com", []byte{1}, true))
	other := newTestKey(t)
	other.a.rand = seededRand(2)
	other.a.state.MasterSecret = bytes.Repeat([]byte{7}, 32)
	other.a.sealer, _ = newSealer(other.a.state.MasterSecret)
	otherID, _ := other.mustRegister(mcReq("example.com", []byte{1}, false))

	var forged [][]byte
	for i := range len(id) * 8 {
		f := bytes.Clone(id)
		f[i/8] ^= 1 << (i % 8)
		forged = append(forged, f)
	}
	forged = append(forged, id[:len(id)-1], append(bytes.Clone(id), 0), otherID, rid[:31], []byte{})
	for _, f := range forged {
		if _, s := k.getAssertion(gaReq("example.com", f)); s != ctap.StatusNoCredentials {
			t.Fatalf("forged ID %x: %v, want NO_CREDENTIALS", f, s)
		}
	}
	for _, good := range [][]byte{id, rid} {
		if _, s := k.getAssertion(gaReq("other.example", good)); s != ctap.StatusNoCredentials {
			t.Errorf("ID for another RP: %v, want NO_CREDENTIALS", s)
		}
		if _, s := k.getAssertion(gaReq("example.com", good)); s != ctap.StatusOK {
			t.Errorf("genuine ID: %v", s)
		}
	}
	// Direct test of the sealed format: another RP's hash does not open it.
	if _, ok := openCredentialID(k.a.sealer, rpHash("example.org"), id); ok {
		t.Error("ID opened for another rpIdHash")
	}
}

func TestGetAssertionAllowListOrder(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	a, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
	b, _ := k.mustRegister(mcReq("example.com", []byte{2}, true))
	foreign := bytes.Repeat([]byte{1}, 32)
	resp, s := k.getAssertion(gaReq("example.com", foreign, b, a))
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	if !bytes.Equal(resp.Credential.ID, b) || resp.NumberOfCredentials != nil {
		t.Errorf("selected %x (number %v), want the first applicable %x without numberOfCredentials", resp.Credential.ID, resp.NumberOfCredentials, b)
	}
	if _, s := k.getNextAssertion(); s != ctap.StatusNotAllowed {
		t.Errorf("getNextAssertion after allowList: %v, want NOT_ALLOWED", s)
	}
}

func TestGetNextAssertion(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	var ids [][]byte
	for u := range byte(3) {
		id, _ := k.mustRegister(mcReq("example.com", []byte{u}, true))
		ids = append(ids, id)
	}
	k.mustRegister(mcReq("other.example", []byte{9}, true))
	p := NewScriptedPresence(nil)
	k.a.presence = p

	resp, s := k.getAssertion(gaReq("example.com"))
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	type got struct {
		ID, User []byte
		N        *uint64
		Flags    ctap.AuthDataFlags
		Count    uint32
	}
	summary := func(r *ctap.GetAssertionResponse) got {
		ad, err := ctap.ParseAuthData(r.AuthData)
		if err != nil {
			t.Fatal(err)
		}
		return got{r.Credential.ID, r.User.ID, r.NumberOfCredentials, ad.Flags, ad.SignCount}
	}
	want := []got{
		{ids[2], []byte{2}, ptr[uint64](3), ctap.FlagUP, 5},
		{ids[1], []byte{1}, nil, ctap.FlagUP, 6},
		{ids[0], []byte{0}, nil, ctap.FlagUP, 7},
	}
	gots := []got{summary(resp)}
	for range 2 {
		k.clock.Advance(29 * time.Second) // each call restarts the timer
		r, s := k.getNextAssertion()
		if s != ctap.StatusOK {
			t.Fatalf("getNextAssertion: %v", s)
		}
		gots = append(gots, summary(r))
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("assertions (-want +got):\n%s", diff)
	}
	if n := len(p.Requests()); n != 1 {
		t.Errorf("%d touches, want 1 (getNextAssertion asks for none)", n)
	}
	if _, s := k.getNextAssertion(); s != ctap.StatusNotAllowed {
		t.Errorf("after the last credential: %v, want NOT_ALLOWED", s)
	}
}

func TestGetNextAssertionState(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) *testKey {
		k := newTestKey(t)
		for u := range byte(3) {
			k.mustRegister(mcReq("example.com", []byte{u}, true))
		}
		r := gaReq("example.com")
		r.Options = map[string]bool{"up": false}
		resp, s := k.getAssertion(r)
		if s != ctap.StatusOK || resp.NumberOfCredentials == nil || *resp.NumberOfCredentials != 3 {
			t.Fatalf("getAssertion: %v %v", s, resp.NumberOfCredentials)
		}
		return k
	}
	tests := []struct {
		name    string
		between func(k *testKey)
		want    ctap.Status
	}{
		{"immediately", func(k *testKey) {}, ctap.StatusOK},
		{"at 30s", func(k *testKey) { k.clock.Advance(30 * time.Second) }, ctap.StatusOK},
		{"after 30s", func(k *testKey) { k.clock.Advance(30*time.Second + time.Millisecond) }, ctap.StatusNotAllowed},
		{"getInfo between", func(k *testKey) { k.do(ctap.CmdGetInfo, nil, nil) }, ctap.StatusNotAllowed},
		{"failed command between", func(k *testKey) { k.do(ctap.Command(0x55), nil, nil) }, ctap.StatusNotAllowed},
		{"power cycle", func(k *testKey) { k.a.PowerCycle() }, ctap.StatusNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := setup(t)
			tt.between(k)
			resp, s := k.getNextAssertion()
			if s != tt.want {
				t.Fatalf("getNextAssertion: %v, want %v", s, tt.want)
			}
			if s == ctap.StatusOK {
				ad, _ := ctap.ParseAuthData(resp.AuthData)
				if ad.Flags.Has(ctap.FlagUP) {
					t.Error("UP set although the getAssertion had up=false")
				}
			}
		})
	}
	t.Run("without getAssertion", func(t *testing.T) {
		k := newTestKey(t)
		if _, s := k.getNextAssertion(); s != ctap.StatusNotAllowed {
			t.Errorf("%v, want NOT_ALLOWED", s)
		}
	})
	t.Run("with parameters", func(t *testing.T) {
		k := setup(t)
		if s, _ := k.a.Handle(t.Context(), ctap.CmdGetNextAssertion, []byte{0xa0}); s != ctap.StatusInvalidLength {
			t.Errorf("%v, want INVALID_LENGTH", s)
		}
	})
}

// TestAllowListIgnoredFaultWalksDiscoverable: under FaultAllowListIgnored
// an allowList that names no credential of the key still gets the RP's
// newest discoverable one (step 11 takes it from the walk of step 7),
// where a list-only selection once indexed an empty list and panicked.
func TestAllowListIgnoredFaultWalksDiscoverable(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, func(c *Config) { c.Faults = []Fault{FaultAllowListIgnored} })
	k.mustRegister(mcReq("example.com", []byte{1}, true))
	newest, _ := k.mustRegister(mcReq("example.com", []byte{2}, true))
	resp, s := k.getAssertion(gaReq("example.com", []byte("not a credential of this key")))
	if s != ctap.StatusOK {
		t.Fatalf("getAssertion: %v", s)
	}
	if !bytes.Equal(resp.Credential.ID, newest) || resp.NumberOfCredentials != nil {
		t.Errorf("credential %x numberOfCredentials %v, want %x and none", resp.Credential.ID, resp.NumberOfCredentials, newest)
	}
}
