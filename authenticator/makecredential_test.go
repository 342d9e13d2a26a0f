package authenticator

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

func TestMakeCredentialStatus(t *testing.T) {
	t.Parallel()
	valid := func() *ctap.MakeCredentialRequest { return mcReq("example.com", []byte{1, 2, 3, 4}, false) }
	tests := []struct {
		name   string
		req    func() any
		answer []error // touches pushed to a ScriptedPresence
		want   ctap.Status
		// touches is how many touches the key must have asked for.
		touches int
	}{
		{"ok", func() any { return valid() }, []error{nil}, ctap.StatusOK, 1},
		{"missing clientDataHash", func() any { return withoutMember(valid(), 1) }, nil, ctap.StatusMissingParameter, 0},
		{"missing rp", func() any { return withoutMember(valid(), 2) }, nil, ctap.StatusMissingParameter, 0},
		{"missing rp.id", func() any { r := valid(); r.RP.ID = ""; return r }, nil, ctap.StatusMissingParameter, 0},
		{"missing user", func() any { return withoutMember(valid(), 3) }, nil, ctap.StatusMissingParameter, 0},
		{"missing user.id", func() any { return withMember(valid(), 3, map[string]string{"name": "alice"}) }, nil, ctap.StatusMissingParameter, 0},
		{"missing pubKeyCredParams", func() any { return withoutMember(valid(), 4) }, nil, ctap.StatusMissingParameter, 0},
		{"user.id 64 bytes", func() any { r := valid(); r.User.ID = make([]byte, 64); return r }, []error{nil}, ctap.StatusOK, 1},
		{"user.id 65 bytes", func() any { r := valid(); r.User.ID = make([]byte, 65); return r }, nil, ctap.StatusLimitExceeded, 0},
		{"exclude descriptor without type", func() any {
			r := valid()
			r.ExcludeList = []ctap.CredentialDescriptor{{ID: []byte{1}}}
			return r
		}, nil, ctap.StatusMissingParameter, 0},
		{"empty pubKeyCredParams", func() any {
			r := valid()
			r.PubKeyCredParams = []ctap.CredentialParameter{}
			return r
		}, nil, ctap.StatusUnsupportedAlgorithm, 0},
		{"only an unsupported alg", func() any { return mcReq("example.com", []byte{1}, false, algES512) }, nil, ctap.StatusUnsupportedAlgorithm, 0},
		{"param of another type is skipped", func() any {
			r := valid()
			r.PubKeyCredParams = []ctap.CredentialParameter{{Type: "other", Alg: ctap.AlgEdDSA}, {Type: ctap.CredentialTypePublicKey, Alg: algES512}}
			return r
		}, nil, ctap.StatusUnsupportedAlgorithm, 0},
		{"param without type", func() any {
			r := valid()
			r.PubKeyCredParams = []ctap.CredentialParameter{{Alg: ctap.AlgES256}}
			return r
		}, nil, ctap.StatusMissingParameter, 0},
		{"uv=true", func() any { r := valid(); r.Options = map[string]bool{"uv": true}; return r }, nil, ctap.StatusInvalidOption, 0},
		{"uv=false", func() any { r := valid(); r.Options = map[string]bool{"uv": false}; return r }, []error{nil}, ctap.StatusOK, 1},
		{"up=false", func() any { r := valid(); r.Options = map[string]bool{"up": false}; return r }, nil, ctap.StatusInvalidOption, 0},
		{"up=true", func() any { r := valid(); r.Options = map[string]bool{"up": true}; return r }, []error{nil}, ctap.StatusOK, 1},
		{"unknown option ignored", func() any { r := valid(); r.Options = map[string]bool{"frob": true}; return r }, []error{nil}, ctap.StatusOK, 1},
		{"unknown extension ignored", func() any {
			r := valid()
			r.Extensions = map[string]ctap.RawMessage{"frob": {0xf5}}
			return r
		}, []error{nil}, ctap.StatusOK, 1},
		{"zero-length pinUvAuthParam, touched", func() any { return withMember(valid(), 8, []byte{}) }, []error{nil}, ctap.StatusPINNotSet, 1},
		{"zero-length pinUvAuthParam, declined", func() any { return withMember(valid(), 8, []byte{}) }, []error{ctap.StatusOperationDenied}, ctap.StatusOperationDenied, 1},
		{"zero-length pinUvAuthParam, timeout", func() any { return withMember(valid(), 8, []byte{}) }, []error{ctap.StatusUserActionTimeout}, ctap.StatusOperationDenied, 1},
		{"pinUvAuthParam without protocol", func() any { r := valid(); r.PinUvAuthParam = make([]byte, 16); return r }, nil, ctap.StatusMissingParameter, 0},
		{"pinUvAuthParam, protocol 3 unsupported", func() any {
			r := valid()
			r.PinUvAuthParam, r.PinUvAuthProtocol = make([]byte, 16), ptr[uint64](3)
			return r
		}, nil, ctap.StatusInvalidParameter, 0},
		{"pinUvAuthParam, no token", func() any {
			r := valid()
			r.PinUvAuthParam, r.PinUvAuthProtocol = make([]byte, 16), ptr[uint64](1)
			return r
		}, nil, ctap.StatusPINAuthInvalid, 0},
		{"enterpriseAttestation", func() any { r := valid(); r.EnterpriseAttestation = ptr[uint64](1); return r }, nil, ctap.StatusInvalidParameter, 0},
		{"declined", func() any { return valid() }, []error{ctap.StatusOperationDenied}, ctap.StatusOperationDenied, 1},
		{"timeout", func() any { return valid() }, []error{ctap.StatusUserActionTimeout}, ctap.StatusOperationDenied, 1},
		{"foreign exclude entry", func() any {
			r := valid()
			r.ExcludeList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: bytes.Repeat([]byte{0xAA}, 16)}}
			return r
		}, []error{nil}, ctap.StatusOK, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewScriptedPresence(tt.answer...)
			k := newTestKey(t, withPresence(p))
			_, got := k.makeCredential(tt.req())
			if got != tt.want {
				t.Errorf("status %v, want %v", got, tt.want)
			}
			if n := len(p.Requests()); n != tt.touches {
				t.Errorf("%d touches asked for, want %d", n, tt.touches)
			}
		})
	}
}

func TestMakeCredentialExcludeList(t *testing.T) {
	t.Parallel()
	for _, rk := range []bool{false, true} {
		for _, answer := range []error{nil, ctap.StatusOperationDenied, ctap.StatusUserActionTimeout} {
			k := newTestKey(t)
			id, _ := k.mustRegister(mcReq("example.com", []byte{1}, rk))
			p := NewScriptedPresence(answer)
			k.a.presence = p
			r := mcReq("example.com", []byte{2}, false)
			r.ExcludeList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: id}}
			if _, s := k.makeCredential(r); s != ctap.StatusCredentialExcluded {
				t.Errorf("rk=%v answer %v: status %v, want CREDENTIAL_EXCLUDED", rk, answer, s)
			}
			want := []TouchRequest{{Command: ctap.CmdMakeCredential, RPID: "example.com", Reason: ReasonExcluded}}
			if diff := cmp.Diff(want, p.Requests()); diff != "" {
				t.Errorf("touches (-want +got):\n%s", diff)
			}
			// The same ID excludes nothing for another relying party.
			k.a.presence = AutoPresence{}
			r.RP.ID = "other.example"
			if _, s := k.makeCredential(r); s != ctap.StatusOK {
				t.Errorf("rk=%v: other RP: status %v, want OK", rk, s)
			}
		}
	}
}

func TestMakeCredentialResponse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mode AttestationMode
		alg  int64
		rk   bool
	}{
		{"packed ES256", AttestationPacked, ctap.AlgES256, false},
		{"packed EdDSA resident", AttestationPacked, ctap.AlgEdDSA, true},
		{"self ES256", AttestationSelf, ctap.AlgES256, false},
		{"self EdDSA", AttestationSelf, ctap.AlgEdDSA, true},
		{"none", AttestationNone, ctap.AlgEdDSA, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t, withAttestation(tt.mode))
			resp, s := k.makeCredential(mcReq("example.com", []byte{7}, tt.rk, tt.alg))
			if s != ctap.StatusOK {
				t.Fatalf("status %v", s)
			}
			ad, err := ctap.ParseAuthData(resp.AuthData)
			if err != nil {
				t.Fatal(err)
			}
			if ad.RPIDHash != rpHash("example.com") {
				t.Error("rpIdHash")
			}
			if want := ctap.FlagUP | ctap.FlagAT; ad.Flags != want {
				t.Errorf("flags %v, want %v", ad.Flags, want)
			}
			if ad.SignCount != 1 {
				t.Errorf("signCount %d, want 1", ad.SignCount)
			}
			ac := ad.AttestedCredential
			if ac.AAGUID != DefaultAAGUID {
				t.Errorf("AAGUID %x", ac.AAGUID)
			}
			wantLen := sealedIDLength
			if tt.rk {
				wantLen = residentIDLength
			}
			if len(ac.CredentialID) != wantLen {
				t.Errorf("credential ID of %d bytes, want %d", len(ac.CredentialID), wantLen)
			}
			if ac.PublicKey.Alg != tt.alg {
				t.Errorf("COSE alg %d, want %d", ac.PublicKey.Alg, tt.alg)
			}
			credPub, err := ac.PublicKey.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			signed := append(bytes.Clone(resp.AuthData), testCDH...)
			switch tt.mode {
			case AttestationNone:
				if diff := cmp.Diff(ctap.MakeCredentialResponse{Fmt: "none", AuthData: resp.AuthData}, *resp); diff != "" {
					t.Errorf("response (-want +got):\n%s", diff)
				}
			case AttestationSelf:
				if resp.Fmt != "packed" || resp.AttStmt.X5C != nil || resp.AttStmt.Alg == nil || *resp.AttStmt.Alg != tt.alg {
					t.Errorf("self attestation statement %+v", resp.AttStmt)
				}
				if err := ctap.VerifySignature(tt.alg, credPub, signed, resp.AttStmt.Sig); err != nil {
					t.Errorf("self attestation signature: %v", err)
				}
			case AttestationPacked:
				verifyPackedAttestation(t, k.a, resp, signed)
			}
		})
	}
}

// verifyPackedAttestation checks a packed statement as WebAuthn §8.2.1
// says: the signature by the x5c leaf, the leaf's chain to the key's root,
// its subject and extensions.
func verifyPackedAttestation(t *testing.T, a *Authenticator, resp *ctap.MakeCredentialResponse, signed []byte) {
	t.Helper()
	st := resp.AttStmt
	if resp.Fmt != "packed" || st.Alg == nil || *st.Alg != ctap.AlgES256 || len(st.X5C) != 1 {
		t.Fatalf("packed statement fmt %q alg %v x5c %d", resp.Fmt, st.Alg, len(st.X5C))
	}
	leaf, err := x509.ParseCertificate(st.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := ctap.VerifySignature(ctap.AlgES256, leaf.PublicKey, signed, st.Sig); err != nil {
		t.Errorf("attestation signature: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.AttestationRoots(), CurrentTime: time.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("x5c chain: %v", err)
	}
	if leaf.Version != 3 || leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("leaf version %d IsCA %v", leaf.Version, leaf.IsCA)
	}
	s := leaf.Subject
	if len(s.Country) != 1 || len(s.Organization) != 1 || s.CommonName == "" ||
		len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != "Authenticator Attestation" {
		t.Errorf("leaf subject %v", s)
	}
	aaguid, ok := CertificateAAGUID(leaf)
	if !ok || aaguid != a.AAGUID() {
		t.Errorf("AAGUID extension %x %v, want %x", aaguid, ok, a.AAGUID())
	}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(OIDFIDOGenCEAAGUID) && e.Critical {
			t.Error("AAGUID extension is critical")
		}
	}
	if !a.AttestationCA().IsCA {
		t.Error("root is not a CA")
	}
}

func TestMakeCredentialAlgorithmChoice(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		algs []int64
		want int64
	}{
		{[]int64{ctap.AlgES256}, ctap.AlgES256},
		{[]int64{ctap.AlgEdDSA, ctap.AlgES256}, ctap.AlgEdDSA},
		{[]int64{algES512, ctap.AlgES256, ctap.AlgEdDSA}, ctap.AlgES256},
		{[]int64{ctap.AlgES384, ctap.AlgEdDSA}, ctap.AlgES384}, // algorithms.go
		{[]int64{algES512, ctap.AlgRS256, ctap.AlgES256}, ctap.AlgRS256},
	} {
		k := newTestKey(t)
		_, ad := k.mustRegister(mcReq("example.com", []byte{1}, false, tt.algs...))
		if got := ad.AttestedCredential.PublicKey.Alg; got != tt.want {
			t.Errorf("algs %v: chose %d, want %d", tt.algs, got, tt.want)
		}
	}
}

func TestMakeCredentialResident(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, withMaxCredentials(3))
	long := string(bytes.Repeat([]byte("é"), 40)) // 80 bytes
	r := mcReq("example.com", []byte{1}, true)
	r.User.DisplayName = long
	id1, ad1 := k.mustRegister(r)
	st := k.store.State()
	want := []ResidentCredential{{
		ID: id1, RPID: "example.com", RPName: "Example", UserID: []byte{1}, UserName: "alice",
		UserDisplayName: long[:64], Alg: ctap.AlgES256, Sequence: 1, Created: k.clock.Now(),
		PublicKey: ctap.MustMarshal(&ad1.AttestedCredential.PublicKey), // the key it attested
	}}
	if diff := cmp.Diff(want, st.Credentials, cmpIgnoreKeys); diff != "" {
		t.Errorf("stored credentials (-want +got):\n%s", diff)
	}
	if st.SignCount != 1 {
		t.Errorf("stored signCount %d", st.SignCount)
	}

	// Same rp.id and user.id: replaced.
	id2, _ := k.mustRegister(mcReq("example.com", []byte{1}, true))
	st = k.store.State()
	if len(st.Credentials) != 1 || !bytes.Equal(st.Credentials[0].ID, id2) || st.Credentials[0].Sequence != 2 {
		t.Errorf("after replacement: %+v", st.Credentials)
	}
	if _, s := k.getAssertion(gaReq("example.com", id1)); s != ctap.StatusNoCredentials {
		t.Errorf("replaced credential: getAssertion %v, want NO_CREDENTIALS", s)
	}

	k.mustRegister(mcReq("example.com", []byte{2}, true))
	k.mustRegister(mcReq("other.example", []byte{1}, true))
	if _, s := k.makeCredential(mcReq("example.com", []byte{3}, true)); s != ctap.StatusKeyStoreFull {
		t.Errorf("fourth credential: %v, want KEY_STORE_FULL", s)
	}
	// Replacing works when full; non-discoverable credentials need no room.
	k.mustRegister(mcReq("example.com", []byte{2}, true))
	k.mustRegister(mcReq("example.com", []byte{3}, false))
	if n := len(k.store.State().Credentials); n != 3 {
		t.Errorf("%d stored credentials, want 3", n)
	}
}

var cmpIgnoreKeys = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().String() == ".PrivateKey"
}, cmp.Ignore())

// TestMakeCredentialSaveFailure: a credential the key could not store is
// not acknowledged, and does not linger in memory either.
func TestMakeCredentialSaveFailure(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	k.store.FailSaves(errors.New("disk full"))
	if _, s := k.makeCredential(mcReq("example.com", []byte{1}, true)); s != ctap.StatusOther {
		t.Errorf("status %v, want CTAP1_ERR_OTHER", s)
	}
	k.store.FailSaves(nil)
	if _, s := k.getAssertion(gaReq("example.com")); s != ctap.StatusNoCredentials {
		t.Errorf("getAssertion after failed save: %v, want NO_CREDENTIALS", s)
	}
}

func TestMakeCredentialCancel(t *testing.T) {
	t.Parallel()
	p := NewScriptedPresence()
	k := newTestKey(t, withPresence(p))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan ctap.Status)
	go func() {
		s, _ := k.a.Handle(ctx, ctap.CmdMakeCredential, ctap.MustMarshal(mcReq("example.com", []byte{1}, true)))
		done <- s
	}()
	if err := p.WaitRequests(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if s := <-done; s != ctap.StatusKeepaliveCancel {
		t.Errorf("status %v, want KEEPALIVE_CANCEL", s)
	}
	if n := len(k.store.State().Credentials); n != 0 {
		t.Errorf("%d credentials stored after cancel", n)
	}
}
