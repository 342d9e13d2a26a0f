package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// TestCredentialManagementCommandCode checks the choice of command code
// from getInfo's options, as python-fido2 makes it.
func TestCredentialManagementCommandCode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		options map[string]bool
		want    ctap.Command
		update  bool
	}{
		{"2.1", map[string]bool{ctap.OptionCredMgmt: true}, ctap.CmdCredentialManagement, true},
		{"both", map[string]bool{ctap.OptionCredMgmt: true, ctap.OptionCredentialMgmtPreview: true}, ctap.CmdCredentialManagement, true},
		{"preview", map[string]bool{ctap.OptionCredentialMgmtPreview: true}, ctap.CmdCredentialManagementPre, false},
		{"false", map[string]bool{ctap.OptionCredMgmt: false}, 0, false},
		{"none", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := mustMarshal(t, ctap.InfoResponse{Versions: []string{ctap.VersionFIDO21}, AAGUID: testAAGUID[:], Options: tc.options})
			ft := &fakeTransport{steps: []step{{resp: ok(body)}, {resp: ok(mustMarshal(t, ctap.CredentialManagementResponse{
				ExistingResidentCredentialsCount: u64(1), MaxPossibleRemainingResidentCredentialsCount: u64(2)}))}}}
			c, err := New(t.Context(), ft)
			if err != nil {
				t.Fatal(err)
			}
			if got := IsCredentialManagementUpdateSupported(c.Info()); got != tc.update {
				t.Errorf("IsCredentialManagementUpdateSupported = %t", got)
			}
			cm, err := NewCredentialManagement(c, PinProtocolV2(), bytes.Repeat([]byte{7}, 32))
			if tc.want == 0 {
				if !errors.Is(err, ErrNotSupported) || IsCredentialManagementSupported(c.Info()) {
					t.Fatalf("NewCredentialManagement: %v, want ErrNotSupported", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			md, err := cm.GetMetadata(t.Context())
			if err != nil || *md.ExistingResidentCredentialsCount != 1 {
				t.Fatalf("GetMetadata: %+v, %v", md, err)
			}
			if got := ft.commands(); !cmp.Equal(got, []ctap.Command{ctap.CmdGetInfo, tc.want}) {
				t.Errorf("commands %v, want getInfo and %v", got, tc.want)
			}
			// The MAC covers subCommand || subCommandParams.
			var req ctap.CredentialManagementRequest
			if err := ctap.Unmarshal(ft.sent[1][1:], &req); err != nil {
				t.Fatal(err)
			}
			mac := PinProtocolV2().Authenticate(bytes.Repeat([]byte{7}, 32), []byte{0x01})
			if *req.SubCommand != 1 || *req.PinUvAuthProtocol != 2 || !bytes.Equal(req.PinUvAuthParam, mac) || req.SubCommandParams != nil {
				t.Errorf("request %+v", req)
			}
		})
	}
}

// TestCredentialManagementBadResponses checks that a response without
// the members a subcommand returns is ErrBadResponse.
func TestCredentialManagementBadResponses(t *testing.T) {
	body := mustMarshal(t, ctap.InfoResponse{Versions: []string{ctap.VersionFIDO21}, AAGUID: testAAGUID[:],
		Options: map[string]bool{ctap.OptionCredMgmt: true}})
	empty := ok(mustMarshal(t, ctap.CredentialManagementResponse{}))
	ft := &fakeTransport{steps: []step{{resp: ok(body)}, {resp: empty}, {resp: empty}, {resp: empty}, {resp: empty}, {resp: empty}}}
	c, err := New(t.Context(), ft)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := NewCredentialManagement(c, PinProtocolV1(), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for name, f := range map[string]func() error{
		"GetMetadata":         func() error { _, err := cm.GetMetadata(ctx); return err },
		"EnumerateRPsBegin":   func() error { _, err := cm.EnumerateRPsBegin(ctx); return err },
		"EnumerateRPsNext":    func() error { _, err := cm.EnumerateRPsNext(ctx); return err },
		"EnumerateCredsBegin": func() error { _, err := cm.EnumerateCredsBegin(ctx, make([]byte, 32)); return err },
		"EnumerateCredsNext":  func() error { _, err := cm.EnumerateCredsNext(ctx); return err },
	} {
		if err := f(); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v, want ErrBadResponse", name, err)
		}
	}
}

// TestCredentialManagementInProcess runs every method against the
// virtual key, under both command codes.
func TestCredentialManagementInProcess(t *testing.T) {
	for _, preview := range []bool{false, true} {
		t.Run(map[bool]string{false: "0x0A", true: "0x41"}[preview], func(t *testing.T) {
			ctx := t.Context()
			key, err := authenticator.New(authenticator.Config{})
			if err != nil {
				t.Fatal(err)
			}
			dev, err := OpenInProcess(ctx, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			c, err := New(ctx, dev)
			if err != nil {
				t.Fatal(err)
			}
			if preview {
				// A platform that knows only the prototype's option.
				info := *c.Info()
				info.Options = maps.Clone(info.Options)
				delete(info.Options, ctap.OptionCredMgmt)
				c.info.Store(&info)
			}
			var ids [][]byte
			for _, u := range []struct{ rp, user string }{{"a.example", "u1"}, {"b.example", "u2"}, {"a.example", "u3"}} {
				resp, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
					ClientDataHash: cdh(u.user), RP: &ctap.RPEntity{ID: u.rp, Name: u.rp},
					User:             &ctap.UserEntity{ID: []byte(u.user), Name: u.user, DisplayName: "User " + u.user},
					PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
					Options:          map[string]bool{ctap.OptionRK: true},
				})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, resp.AuthData.AttestedCredential.CredentialID)
			}
			cp, err := NewClientPin(c, PinProtocolV2())
			if err != nil {
				t.Fatal(err)
			}
			if err := cp.SetPIN(ctx, "1234"); err != nil {
				t.Fatal(err)
			}
			tok, err := cp.GetPinToken(ctx, "1234", ctap.PermissionCredentialManagement, "")
			if err != nil {
				t.Fatal(err)
			}
			cm, err := NewCredentialManagement(c, cp.Protocol(), tok)
			if err != nil {
				t.Fatal(err)
			}
			want := map[bool]ctap.Command{false: ctap.CmdCredentialManagement, true: ctap.CmdCredentialManagementPre}[preview]
			if cm.Command() != want {
				t.Errorf("Command() = %v, want %v", cm.Command(), want)
			}

			md, err := cm.GetMetadata(ctx)
			if err != nil || *md.ExistingResidentCredentialsCount != 3 ||
				*md.MaxPossibleRemainingResidentCredentialsCount != authenticator.DefaultMaxCredentials-3 {
				t.Fatalf("GetMetadata: %+v, %v", md, err)
			}
			rps, err := cm.EnumerateRPs(ctx)
			if err != nil || len(rps) != 2 || rps[0].RP.ID != "a.example" || rps[1].RP.ID != "b.example" {
				t.Fatalf("EnumerateRPs: %+v, %v", rps, err)
			}
			for _, rp := range rps {
				if h := sha256.Sum256([]byte(rp.RP.ID)); !bytes.Equal(rp.RPIDHash, h[:]) {
					t.Errorf("rpIDHash of %s", rp.RP.ID)
				}
			}
			creds, err := cm.EnumerateCreds(ctx, rps[0].RPIDHash)
			if err != nil || len(creds) != 2 || string(creds[0].User.ID) != "u1" || string(creds[1].User.ID) != "u3" {
				t.Fatalf("EnumerateCreds: %+v, %v", creds, err)
			}
			if !bytes.Equal(creds[0].CredentialID.ID, ids[0]) {
				t.Errorf("credential ID %x, want %x", creds[0].CredentialID.ID, ids[0])
			}
			if none, err := cm.EnumerateCreds(ctx, make([]byte, 32)); err != nil || len(none) != 0 {
				t.Errorf("EnumerateCreds of an unknown RP: %v, %v", none, err)
			}

			if err := cm.UpdateUserInfo(ctx, *creds[0].CredentialID, ctap.UserEntity{ID: []byte("u1"), Name: "renamed"}); err != nil {
				t.Errorf("UpdateUserInfo: %v", err)
			}
			if err := cm.UpdateUserInfo(ctx, *creds[0].CredentialID, ctap.UserEntity{ID: []byte("u9")}); !errors.Is(err, ctap.StatusInvalidParameter) {
				t.Errorf("UpdateUserInfo with another user.id: %v", err)
			}
			first, err := cm.EnumerateCredsBegin(ctx, rps[0].RPIDHash)
			if err != nil || !cmp.Equal(first.User, &ctap.UserEntity{ID: []byte("u1"), Name: "renamed"}) {
				t.Errorf("after UpdateUserInfo: %+v, %v", first, err)
			}

			for _, id := range ids {
				if err := cm.DeleteCred(ctx, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: id}); err != nil {
					t.Fatalf("DeleteCred: %v", err)
				}
			}
			if err := cm.DeleteCred(ctx, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: ids[0]}); !errors.Is(err, ctap.StatusNoCredentials) {
				t.Errorf("DeleteCred again: %v", err)
			}
			if rps, err := cm.EnumerateRPs(ctx); err != nil || len(rps) != 0 {
				t.Errorf("EnumerateRPs on an empty key: %v, %v", rps, err)
			}
			if _, err := cm.EnumerateRPsNext(context.Background()); !errors.Is(err, ctap.StatusNotAllowed) {
				t.Errorf("EnumerateRPsNext without a Begin: %v", err)
			}
		})
	}
}
