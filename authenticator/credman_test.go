package authenticator

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
)

// credManCommands are both codes of authenticatorCredentialManagement:
// CTAP 2.1's and 2.1-PRE's.
var credManCommands = []ctap.Command{ctap.CmdCredentialManagement, ctap.CmdCredentialManagementPre}

// cmPlatform sends credentialManagement with a token.
type cmPlatform struct {
	*platform
	cmd ctap.Command
	tok []byte
}

// newCMKey returns a key with the discoverable credentials of users
// (rpID, user ID) made before the PIN "1234" is set, and a platform
// holding a cm token.
func newCMKey(t *testing.T, cmd ctap.Command, v uint64, creds ...[2]string) (*testKey, *cmPlatform) {
	t.Helper()
	k := newTestKey(t)
	for _, c := range creds {
		k.mustRegister(mcReq(c[0], []byte(c[1]), true))
	}
	p := newPlatform(k, v)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatalf("setPIN: %v", s)
	}
	return k, &cmPlatform{platform: p, cmd: cmd, tok: p.mustToken("1234", ctap.PermissionCredentialManagement, "")}
}

// request builds a request for sub with params (nil for none),
// authenticated with the token when auth is set.
func (p *cmPlatform) request(sub uint64, params *ctap.CredentialManagementParams, auth bool) *ctap.CredentialManagementRequest {
	req := &ctap.CredentialManagementRequest{SubCommand: &sub}
	if params != nil {
		req.SubCommandParams = ctap.MustMarshal(params)
	}
	if auth {
		msg := append([]byte{byte(sub)}, req.SubCommandParams...)
		req.PinUvAuthProtocol = ptr(p.proto.Version())
		req.PinUvAuthParam = p.proto.Authenticate(p.tok, msg)
	}
	return req
}

func (p *cmPlatform) send(req any) (*ctap.CredentialManagementResponse, ctap.Status) {
	p.k.t.Helper()
	var resp ctap.CredentialManagementResponse
	s := p.k.do(p.cmd, req, &resp)
	return &resp, s
}

func (p *cmPlatform) call(sub uint64, params *ctap.CredentialManagementParams) (*ctap.CredentialManagementResponse, ctap.Status) {
	p.k.t.Helper()
	return p.send(p.request(sub, params, sub != ctap.CredMgmtEnumerateRPsGetNextRP &&
		sub != ctap.CredMgmtEnumerateCredentialsGetNextCredential))
}

func rpParams(rpID string) *ctap.CredentialManagementParams {
	h := rpHash(rpID)
	return &ctap.CredentialManagementParams{RPIDHash: h[:]}
}

func credParams(id []byte) *ctap.CredentialManagementParams {
	return &ctap.CredentialManagementParams{CredentialID: &ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: id}}
}

func forCredManCommands(t *testing.T, f func(t *testing.T, cmd ctap.Command, v uint64)) {
	for _, cmd := range credManCommands {
		t.Run(cmd.String(), func(t *testing.T) {
			t.Parallel()
			forProtocols(t, func(t *testing.T, v uint64) { f(t, cmd, v) })
		})
	}
}

// TestCredManEmptyKey checks §6.8.2 to §6.8.4 on a key without
// discoverable credentials.
func TestCredManEmptyKey(t *testing.T) {
	t.Parallel()
	forCredManCommands(t, func(t *testing.T, cmd ctap.Command, v uint64) {
		_, p := newCMKey(t, cmd, v)
		resp, s := p.call(ctap.CredMgmtGetCredsMetadata, nil)
		want := &ctap.CredentialManagementResponse{
			ExistingResidentCredentialsCount:             ptr[uint64](0),
			MaxPossibleRemainingResidentCredentialsCount: ptr[uint64](DefaultMaxCredentials),
		}
		if s != ctap.StatusOK || !cmp.Equal(resp, want) {
			t.Errorf("getCredsMetadata: %v %+v", s, resp)
		}
		for _, tt := range []struct {
			sub    uint64
			params *ctap.CredentialManagementParams
			want   ctap.Status
		}{
			{ctap.CredMgmtEnumerateRPsBegin, nil, ctap.StatusNoCredentials},
			{ctap.CredMgmtEnumerateRPsGetNextRP, nil, ctap.StatusNotAllowed},
			{ctap.CredMgmtEnumerateCredentialsBegin, rpParams("example.com"), ctap.StatusNoCredentials},
			{ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil, ctap.StatusNotAllowed},
			{ctap.CredMgmtDeleteCredential, credParams(bytes.Repeat([]byte{1}, 32)), ctap.StatusNoCredentials},
		} {
			if _, s := p.call(tt.sub, tt.params); s != tt.want {
				t.Errorf("subCommand %d: %v, want %v", tt.sub, s, tt.want)
			}
		}
	})
}

// TestCredManEnumerate checks §6.8.3 and §6.8.4: every RP and credential
// once, totals in the Begin responses only, NOT_ALLOWED past the end.
func TestCredManEnumerate(t *testing.T) {
	t.Parallel()
	forCredManCommands(t, func(t *testing.T, cmd ctap.Command, v uint64) {
		k, p := newCMKey(t, cmd, v, [2]string{"a.example", "u1"}, [2]string{"b.example", "u2"}, [2]string{"a.example", "u3"})

		resp, s := p.call(ctap.CredMgmtEnumerateRPsBegin, nil)
		ha, hb := rpHash("a.example"), rpHash("b.example")
		want := &ctap.CredentialManagementResponse{RP: &ctap.RPEntity{ID: "a.example", Name: "Example"}, RPIDHash: ha[:], TotalRPs: ptr[uint64](2)}
		if s != ctap.StatusOK || !cmp.Equal(resp, want) {
			t.Fatalf("enumerateRPsBegin: %v %s", s, cmp.Diff(want, resp))
		}
		resp, s = p.call(ctap.CredMgmtEnumerateRPsGetNextRP, nil)
		want = &ctap.CredentialManagementResponse{RP: &ctap.RPEntity{ID: "b.example", Name: "Example"}, RPIDHash: hb[:]}
		if s != ctap.StatusOK || !cmp.Equal(resp, want) {
			t.Fatalf("enumerateRPsGetNextRP: %v %s", s, cmp.Diff(want, resp))
		}
		if _, s := p.call(ctap.CredMgmtEnumerateRPsGetNextRP, nil); s != ctap.StatusNotAllowed {
			t.Errorf("enumerateRPsGetNextRP past the end: %v", s)
		}

		var users []string
		resp, s = p.call(ctap.CredMgmtEnumerateCredentialsBegin, rpParams("a.example"))
		if s != ctap.StatusOK || resp.TotalCredentials == nil || *resp.TotalCredentials != 2 {
			t.Fatalf("enumerateCredentialsBegin: %v %+v", s, resp)
		}
		for i := 0; ; i++ {
			if resp.User == nil || resp.CredentialID == nil || resp.PublicKey == nil || resp.CredProtect == nil || *resp.CredProtect != 1 ||
				resp.CredentialID.Type != ctap.CredentialTypePublicKey || resp.LargeBlobKey != nil {
				t.Fatalf("credential %d: %+v", i, resp)
			}
			users = append(users, string(resp.User.ID))
			c := k.a.creds.byCredentialID(resp.CredentialID.ID)
			pub, err := credentialKey{alg: c.Alg, priv: c.PrivateKey}.publicKey()
			if err != nil || !cmp.Equal(*resp.PublicKey, pub) || resp.User.Name != "alice" || resp.User.DisplayName != "Alice" {
				t.Errorf("credential %d: public key or user differ: %+v", i, resp)
			}
			if i == 1 {
				break
			}
			resp, s = p.call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil)
			if s != ctap.StatusOK || resp.TotalCredentials != nil {
				t.Fatalf("enumerateCredentialsGetNextCredential: %v %+v", s, resp)
			}
		}
		if !cmp.Equal(users, []string{"u1", "u3"}) {
			t.Errorf("users %q, want creation order u1, u3", users)
		}
		if _, s := p.call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil); s != ctap.StatusNotAllowed {
			t.Errorf("GetNextCredential past the end: %v", s)
		}
		// A single credential leaves nothing to continue.
		if resp, s := p.call(ctap.CredMgmtEnumerateCredentialsBegin, rpParams("b.example")); s != ctap.StatusOK || *resp.TotalCredentials != 1 {
			t.Errorf("b.example: %v %+v", s, resp)
		}
		if _, s := p.call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil); s != ctap.StatusNotAllowed {
			t.Errorf("GetNextCredential after a single credential: %v", s)
		}
	})
}

// TestCredManStateCleared checks that the enumeration state is volatile:
// another command, another subcommand, the other enumeration's GetNext
// and a power cycle discard it.
func TestCredManStateCleared(t *testing.T) {
	t.Parallel()
	creds := [][2]string{{"a.example", "u1"}, {"b.example", "u2"}, {"a.example", "u3"}}
	for _, tt := range []struct {
		name    string
		between func(p *cmPlatform)
	}{
		{"getInfo", func(p *cmPlatform) { p.k.do(ctap.CmdGetInfo, nil, nil) }},
		{"clientPIN", func(p *cmPlatform) { p.retries() }},
		{"getCredsMetadata", func(p *cmPlatform) { p.call(ctap.CredMgmtGetCredsMetadata, nil) }},
		{"other GetNext", func(p *cmPlatform) { p.call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil) }},
		{"power cycle", func(p *cmPlatform) { p.k.a.PowerCycle() }},
		{"other code", func(p *cmPlatform) {
			other := *p
			other.cmd = ctap.CmdCredentialManagementPre
			other.call(ctap.CredMgmtGetCredsMetadata, nil)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, p := newCMKey(t, ctap.CmdCredentialManagement, 2, creds...)
			if _, s := p.call(ctap.CredMgmtEnumerateRPsBegin, nil); s != ctap.StatusOK {
				t.Fatal(s)
			}
			tt.between(p)
			if _, s := p.call(ctap.CredMgmtEnumerateRPsGetNextRP, nil); s != ctap.StatusNotAllowed {
				t.Errorf("enumerateRPsGetNextRP after %s: %v, want NOT_ALLOWED", tt.name, s)
			}
		})
	}
}

// TestCredManAuthorization checks the pinUvAuthParam steps of §6.8.2 to
// §6.8.6: PUAT_REQUIRED, the protocol, the MAC over subCommand ||
// subCommandParams, the cm permission and the permissions RP ID.
func TestCredManAuthorization(t *testing.T) {
	t.Parallel()
	forCredManCommands(t, func(t *testing.T, cmd ctap.Command, v uint64) {
		k, p := newCMKey(t, cmd, v, [2]string{"a.example", "u1"}, [2]string{"b.example", "u2"})
		idA := k.store.State().Credentials[0].ID
		idB := k.store.State().Credentials[1].ID
		meta := ctap.CredMgmtGetCredsMetadata
		for _, tt := range []struct {
			name string
			req  func() any
			want ctap.Status
		}{
			{"no subCommand", func() any { return &ctap.CredentialManagementRequest{} }, ctap.StatusMissingParameter},
			{"unknown subCommand", func() any { return p.request(8, nil, true) }, ctap.StatusInvalidSubcommand},
			{"no pinUvAuthParam", func() any { return p.request(meta, nil, false) }, ctap.StatusPUATRequired},
			{"no protocol", func() any {
				r := p.request(meta, nil, true)
				r.PinUvAuthProtocol = nil
				return r
			}, ctap.StatusMissingParameter},
			{"protocol 3", func() any {
				r := p.request(meta, nil, true)
				r.PinUvAuthProtocol = ptr[uint64](3)
				return r
			}, ctap.StatusInvalidParameter},
			{"other protocol", func() any {
				r := p.request(meta, nil, true)
				r.PinUvAuthProtocol = ptr(3 - v)
				return r
			}, ctap.StatusPINAuthInvalid},
			{"wrong MAC", func() any {
				r := p.request(meta, nil, true)
				r.PinUvAuthParam[0] ^= 1
				return r
			}, ctap.StatusPINAuthInvalid},
			{"MAC over other subCommand", func() any {
				r := p.request(ctap.CredMgmtEnumerateRPsBegin, nil, true)
				r.SubCommand = &meta
				return r
			}, ctap.StatusPINAuthInvalid},
			{"MAC over other params", func() any {
				r := p.request(ctap.CredMgmtEnumerateCredentialsBegin, rpParams("a.example"), true)
				r.SubCommandParams = ctap.MustMarshal(rpParams("b.example"))
				return r
			}, ctap.StatusPINAuthInvalid},
			{"enumerateCredentialsBegin without params", func() any {
				return p.request(ctap.CredMgmtEnumerateCredentialsBegin, nil, true)
			}, ctap.StatusMissingParameter},
			{"enumerateCredentialsBegin without rpIDHash", func() any {
				return p.request(ctap.CredMgmtEnumerateCredentialsBegin, &ctap.CredentialManagementParams{}, true)
			}, ctap.StatusMissingParameter},
			{"deleteCredential without credentialId", func() any {
				return p.request(ctap.CredMgmtDeleteCredential, &ctap.CredentialManagementParams{}, true)
			}, ctap.StatusMissingParameter},
			{"updateUserInformation without user", func() any {
				return p.request(ctap.CredMgmtUpdateUserInformation, credParams(idA), true)
			}, ctap.StatusMissingParameter},
			{"deleteCredential without pinUvAuthParam", func() any {
				return p.request(ctap.CredMgmtDeleteCredential, credParams(idA), false)
			}, ctap.StatusPUATRequired},
			{"params not a map", func() any {
				r := p.request(meta, nil, true)
				r.SubCommandParams = ctap.MustMarshal([]int{1})
				return r
			}, ctap.StatusCBORUnexpectedType},
			{"ok", func() any { return p.request(meta, nil, true) }, ctap.StatusOK},
		} {
			if _, s := p.send(tt.req()); s != tt.want {
				t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
			}
		}
		if s := k.do(cmd, rawParams{0x82, 0x01, 0x02}, nil); s != ctap.StatusCBORUnexpectedType {
			t.Errorf("array request: %v", s)
		}

		// A token without cm.
		p.tok = p.mustToken("1234", ctap.PermissionGetAssertion, "")
		if _, s := p.call(meta, nil); s != ctap.StatusPINAuthInvalid {
			t.Errorf("token without cm: %v", s)
		}

		// A token bound to a.example.
		p.tok = p.mustToken("1234", ctap.PermissionCredentialManagement, "a.example")
		for _, tt := range []struct {
			name   string
			sub    uint64
			params *ctap.CredentialManagementParams
			want   ctap.Status
		}{
			{"getCredsMetadata", meta, nil, ctap.StatusPINAuthInvalid},
			{"enumerateRPsBegin", ctap.CredMgmtEnumerateRPsBegin, nil, ctap.StatusPINAuthInvalid},
			{"enumerateCredentialsBegin own RP", ctap.CredMgmtEnumerateCredentialsBegin, rpParams("a.example"), ctap.StatusOK},
			{"enumerateCredentialsBegin other RP", ctap.CredMgmtEnumerateCredentialsBegin, rpParams("b.example"), ctap.StatusPINAuthInvalid},
			{"updateUserInformation other RP", ctap.CredMgmtUpdateUserInformation,
				&ctap.CredentialManagementParams{CredentialID: credParams(idB).CredentialID, User: &ctap.UserEntity{ID: []byte("u2")}}, ctap.StatusPINAuthInvalid},
			{"deleteCredential other RP", ctap.CredMgmtDeleteCredential, credParams(idB), ctap.StatusPINAuthInvalid},
			{"deleteCredential own RP", ctap.CredMgmtDeleteCredential, credParams(idA), ctap.StatusOK},
		} {
			if _, s := p.call(tt.sub, tt.params); s != tt.want {
				t.Errorf("RP-bound token, %s: %v, want %v", tt.name, s, tt.want)
			}
		}
		if n := len(k.store.State().Credentials); n != 1 {
			t.Errorf("%d credentials left, want 1", n)
		}
	})
}

// TestCredManTokenNotBound checks that a cm token without an RP ID stays
// unbound after enumerateCredentialsBegin, so it serves every RP.
func TestCredManTokenNotBound(t *testing.T) {
	t.Parallel()
	_, p := newCMKey(t, ctap.CmdCredentialManagement, 2, [2]string{"a.example", "u1"}, [2]string{"b.example", "u2"})
	for _, rp := range []string{"a.example", "b.example"} {
		if _, s := p.call(ctap.CredMgmtEnumerateCredentialsBegin, rpParams(rp)); s != ctap.StatusOK {
			t.Errorf("%s: %v", rp, s)
		}
	}
	if _, s := p.call(ctap.CredMgmtGetCredsMetadata, nil); s != ctap.StatusOK {
		t.Errorf("getCredsMetadata after enumerating: %v", s)
	}
}

// TestCredManDelete checks §6.8.5: the credential is gone, durably, and
// the counts follow.
func TestCredManDelete(t *testing.T) {
	t.Parallel()
	forCredManCommands(t, func(t *testing.T, cmd ctap.Command, v uint64) {
		k, p := newCMKey(t, cmd, v, [2]string{"a.example", "u1"}, [2]string{"a.example", "u2"})
		id := k.store.State().Credentials[0].ID
		saves := k.store.Saves()
		if resp, s := p.call(ctap.CredMgmtDeleteCredential, credParams(id)); s != ctap.StatusOK || !cmp.Equal(resp, &ctap.CredentialManagementResponse{}) {
			t.Fatalf("deleteCredential: %v %+v", s, resp)
		}
		if k.store.Saves() != saves+1 || len(k.store.State().Credentials) != 1 {
			t.Errorf("deletion not saved")
		}
		if _, s := k.getAssertion(gaReq("a.example", id)); s != ctap.StatusNoCredentials {
			t.Errorf("getAssertion of the deleted credential: %v", s)
		}
		if _, s := p.call(ctap.CredMgmtDeleteCredential, credParams(id)); s != ctap.StatusNoCredentials {
			t.Errorf("deleting again: %v", s)
		}
		resp, s := p.call(ctap.CredMgmtGetCredsMetadata, nil)
		if s != ctap.StatusOK || *resp.ExistingResidentCredentialsCount != 1 ||
			*resp.MaxPossibleRemainingResidentCredentialsCount != DefaultMaxCredentials-1 {
			t.Errorf("metadata after delete: %v %+v", s, resp)
		}
		var info ctap.InfoResponse
		k.do(ctap.CmdGetInfo, nil, &info)
		if *info.RemainingDiscoverableCredentials != *resp.MaxPossibleRemainingResidentCredentialsCount {
			t.Errorf("getInfo remaining %d, metadata %d", *info.RemainingDiscoverableCredentials, *resp.MaxPossibleRemainingResidentCredentialsCount)
		}
	})
}

// TestCredManDeleteSaveFails checks that a deletion the store refused is
// not acknowledged and not kept.
func TestCredManDeleteSaveFails(t *testing.T) {
	t.Parallel()
	k, p := newCMKey(t, ctap.CmdCredentialManagement, 2, [2]string{"a.example", "u1"})
	id := k.store.State().Credentials[0].ID
	k.store.FailSaves(errors.New("disk full"))
	if _, s := p.call(ctap.CredMgmtDeleteCredential, credParams(id)); s != ctap.StatusOther {
		t.Errorf("deleteCredential with a failing store: %v", s)
	}
	k.store.FailSaves(nil)
	if k.a.creds.len() != 1 {
		t.Errorf("credential gone from memory after a failed save")
	}
}

// TestCredManUpdateUser checks §6.8.6.
func TestCredManUpdateUser(t *testing.T) {
	t.Parallel()
	forCredManCommands(t, func(t *testing.T, cmd ctap.Command, v uint64) {
		k, p := newCMKey(t, cmd, v, [2]string{"a.example", "u1"})
		id := k.store.State().Credentials[0].ID
		update := func(user *ctap.UserEntity) ctap.Status {
			_, s := p.call(ctap.CredMgmtUpdateUserInformation, &ctap.CredentialManagementParams{CredentialID: credParams(id).CredentialID, User: user})
			return s
		}
		if s := update(&ctap.UserEntity{ID: []byte("u2"), Name: "bob"}); s != ctap.StatusInvalidParameter {
			t.Errorf("wrong user.id: %v", s)
		}
		// UserEntity encodes a nil id as null: the wrong type (CTAP 2.1 §8).
		if s := update(&ctap.UserEntity{Name: "bob"}); s != ctap.StatusCBORUnexpectedType {
			t.Errorf("user.id null: %v", s)
		}
		if _, s := p.call(ctap.CredMgmtUpdateUserInformation, &ctap.CredentialManagementParams{
			CredentialID: credParams([]byte("nope")).CredentialID, User: &ctap.UserEntity{ID: []byte("u1")}}); s != ctap.StatusNoCredentials {
			t.Errorf("unknown credential: %v", s)
		}
		if s := update(&ctap.UserEntity{ID: []byte("u1"), Name: "bob"}); s != ctap.StatusOK {
			t.Fatalf("update: %v", s)
		}
		c := k.store.State().Credentials[0]
		if c.UserName != "bob" || c.UserDisplayName != "" || !bytes.Equal(c.UserID, []byte("u1")) {
			t.Errorf("stored user %q %q %q, want u1 bob and no displayName", c.UserID, c.UserName, c.UserDisplayName)
		}
		resp, s := p.call(ctap.CredMgmtEnumerateCredentialsBegin, rpParams("a.example"))
		if want := (&ctap.UserEntity{ID: []byte("u1"), Name: "bob"}); s != ctap.StatusOK || !cmp.Equal(resp.User, want) {
			t.Errorf("enumerated user: %v %s", s, cmp.Diff(want, resp.User))
		}
	})
}

// TestCredManPermissionGranted checks that getPinUvAuthTokenUsingPinWithPermissions
// grants cm now that the key supports credentialManagement (§6.5.5.7.2
// step 4), and that getInfo lists credMgmt and credentialMgmtPreview.
func TestCredManPermissionGranted(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	var info ctap.InfoResponse
	if s := k.do(ctap.CmdGetInfo, nil, &info); s != ctap.StatusOK || !info.Options[ctap.OptionCredMgmt] || !info.Options[ctap.OptionCredentialMgmtPreview] {
		t.Errorf("getInfo options %v", info.Options)
	}
	p := newPlatform(k, 2)
	p.setPIN("1234")
	if _, s := p.token("1234", ptr(ctap.PermissionCredentialManagement), nil); s != ctap.StatusOK {
		t.Errorf("cm token: %v", s)
	}
}

// TestCredManNoPIN checks a key without a PIN: no token can be in use.
func TestCredManNoPIN(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	p := &cmPlatform{platform: newPlatform(k, 2), cmd: ctap.CmdCredentialManagement, tok: make([]byte, 32)}
	if _, s := p.send(p.request(ctap.CredMgmtGetCredsMetadata, nil, false)); s != ctap.StatusPUATRequired {
		t.Errorf("without pinUvAuthParam: %v", s)
	}
	if _, s := p.call(ctap.CredMgmtGetCredsMetadata, nil); s != ctap.StatusPINAuthInvalid {
		t.Errorf("with a made-up token: %v", s)
	}
}

// FuzzCredentialManagement checks that any payload gets a status and
// never a panic, with a cm token in place.
func FuzzCredentialManagement(f *testing.F) {
	f.Add([]byte{0xa1, 0x01, 0x01})
	f.Add([]byte{0xa2, 0x01, 0x04, 0x02, 0xa1, 0x01, 0x40})
	f.Add([]byte{0xa1, 0x01, 0x03})
	f.Add([]byte{0xa2, 0x01, 0x06, 0x02, 0xa1, 0x02, 0xa0})
	f.Fuzz(func(t *testing.T, params []byte) {
		k := newTestKey(t)
		k.mustRegister(mcReq("a.example", []byte("u1"), true))
		st, body := k.a.Handle(t.Context(), ctap.CmdCredentialManagement, params)
		if st != ctap.StatusOK && body != nil {
			t.Errorf("status %v with a body", st)
		}
	})
}
