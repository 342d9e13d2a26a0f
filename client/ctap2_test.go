package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

func testAuthData(t testing.TB, count uint32) []byte {
	t.Helper()
	ad := &ctap.AuthData{RPIDHash: sha256.Sum256([]byte("example.com")), Flags: ctap.FlagUP, SignCount: count}
	b, err := ad.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertionBody is a canonical getAssertion response for credential id.
func assertionBody(t testing.TB, id string, n *uint64) []byte {
	t.Helper()
	return mustMarshal(t, ctap.GetAssertionResponse{
		Credential:          &ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: []byte(id)},
		AuthData:            testAuthData(t, 7),
		Signature:           []byte("sig-" + id),
		NumberOfCredentials: n,
	})
}

func testGARequest() *ctap.GetAssertionRequest {
	return &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: cdh("client data")}
}

func TestNewCachesInfo(t *testing.T) {
	t.Parallel()
	c, ft := newTestCtap2(t, []step{{resp: ok(mustMarshal(t, ctap.InfoResponse{
		Versions: []string{ctap.VersionFIDO21}, AAGUID: make([]byte, 16), MinPINLength: 6,
	}))}})
	if got := c.Info(); !got.Supports(ctap.VersionFIDO20) || got.MinPINLength != 4 {
		t.Fatalf("cached Info = %+v", got)
	}
	info, err := c.GetInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Info() != info || info.MinPINLength != 6 {
		t.Errorf("GetInfo did not refresh the cache: Info().MinPINLength = %d", c.Info().MinPINLength)
	}
	if diff := cmp.Diff([]ctap.Command{ctap.CmdGetInfo, ctap.CmdGetInfo}, ft.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if !bytes.Equal(ft.sent[0], []byte{byte(ctap.CmdGetInfo)}) {
		t.Errorf("getInfo payload = %x, want 04", ft.sent[0])
	}
}

func TestNewFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp []byte
		want error
	}{
		{"status", []byte{byte(ctap.StatusInvalidCommand)}, ctap.StatusInvalidCommand},
		{"empty", nil, ErrBadResponse},
		{"no aaguid", ok(mustMarshal(t, map[int]any{1: []string{"FIDO_2_0"}})), ErrBadResponse},
		// {1: ["FIDO_2_0"], 3: h'00*16'} with the keys in the wrong order.
		{"not canonical", ok(append(append([]byte{0xa2, 0x03, 0x50}, make([]byte, 16)...),
			0x01, 0x81, 0x68, 'F', 'I', 'D', 'O', '_', '2', '_', '0')), ErrNotCanonical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(context.Background(), &fakeTransport{steps: []step{{resp: tt.resp}}})
			if !errors.Is(err, tt.want) {
				t.Errorf("New error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	statuses := []ctap.Status{
		ctap.StatusNoCredentials, ctap.StatusPINInvalid, ctap.StatusOperationDenied,
		ctap.StatusInvalidCBOR, ctap.StatusKeepaliveCancel, ctap.StatusOther, 0xF3,
	}
	calls := []struct {
		name string
		call func(*Ctap2) error
	}{
		{"SendCBOR", func(c *Ctap2) error {
			return c.SendCBOR(context.Background(), ctap.CmdClientPIN, &ctap.ClientPINRequest{SubCommand: u64(1)}, new(ctap.ClientPINResponse))
		}},
		{"MakeCredential", func(c *Ctap2) error {
			_, err := c.MakeCredential(context.Background(), &ctap.MakeCredentialRequest{ClientDataHash: cdh("x")})
			return err
		}},
		{"GetAssertion", func(c *Ctap2) error { _, err := c.GetAssertion(context.Background(), testGARequest()); return err }},
		{"GetNextAssertion", func(c *Ctap2) error { _, err := c.GetNextAssertion(context.Background()); return err }},
		{"GetInfo", func(c *Ctap2) error { _, err := c.GetInfo(context.Background()); return err }},
		{"Reset", func(c *Ctap2) error { return c.Reset(context.Background()) }},
		{"Selection", func(c *Ctap2) error { return c.Selection(context.Background()) }},
	}
	for _, call := range calls {
		for _, st := range statuses {
			t.Run(call.name+"/"+st.String(), func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCtap2(t, []step{{resp: []byte{byte(st)}}})
				err := call.call(c)
				if !errors.Is(err, st) {
					t.Fatalf("error %v does not match %v", err, st)
				}
				if got := ctap.StatusOf(err); got != st {
					t.Errorf("ctap.StatusOf = %v, want %v", got, st)
				}
				if errors.Is(err, ErrBadResponse) {
					t.Errorf("status error %v also matches ErrBadResponse", err)
				}
			})
		}
	}
}

func TestSendRaw(t *testing.T) {
	t.Parallel()
	c, ft := newTestCtap2(t, []step{
		{resp: []byte{byte(ctap.StatusMissingParameter)}},
		{resp: []byte{0x00, 0xa0}},
		{resp: nil},
		{resp: []byte{byte(ctap.StatusKeepaliveCancel)}, err: context.Canceled},
		{err: ctaphid.ErrChannelBusy},
	})
	ctx := context.Background()
	tests := []struct {
		params   []byte
		status   ctap.Status
		body     []byte
		wantErrs []error
	}{
		{params: []byte{0xff}, status: ctap.StatusMissingParameter, body: []byte{}},
		{params: nil, status: ctap.StatusOK, body: []byte{0xa0}},
		{wantErrs: []error{ErrBadResponse}},
		{status: ctap.StatusKeepaliveCancel, body: []byte{}, wantErrs: []error{context.Canceled}},
		{wantErrs: []error{ctaphid.ErrChannelBusy}},
	}
	for i, tt := range tests {
		st, body, err := c.SendRaw(ctx, ctap.CmdMakeCredential, tt.params)
		for _, w := range tt.wantErrs {
			if !errors.Is(err, w) {
				t.Errorf("%d: error %v, want %v", i, err, w)
			}
		}
		if len(tt.wantErrs) == 0 && err != nil {
			t.Errorf("%d: unexpected error %v", i, err)
		}
		if st != tt.status || !bytes.Equal(body, tt.body) {
			t.Errorf("%d: got (%v, %x), want (%v, %x)", i, st, body, tt.status, tt.body)
		}
	}
	if !bytes.Equal(ft.sent[1], []byte{byte(ctap.CmdMakeCredential), 0xff}) {
		t.Errorf("payload = %x, want 01ff", ft.sent[1])
	}
}

func TestSendCBOR(t *testing.T) {
	t.Parallel()
	req := &ctap.ClientPINRequest{PinUvAuthProtocol: u64(2), SubCommand: u64(ctap.PINGetPINRetries)}
	retries := mustMarshal(t, ctap.ClientPINResponse{PINRetries: u64(8)})
	tests := []struct {
		name     string
		req      any
		resp     any
		answer   []byte
		want     any
		wantErr  error
		notErr   error
		wantSent []byte
	}{
		{name: "decodes", req: req, resp: new(ctap.ClientPINResponse), answer: ok(retries),
			want:     &ctap.ClientPINResponse{PINRetries: u64(8)},
			wantSent: append([]byte{byte(ctap.CmdClientPIN)}, mustMarshal(t, req)...)},
		{name: "nil request", resp: new(ctap.ClientPINResponse), answer: ok(retries),
			want: &ctap.ClientPINResponse{PINRetries: u64(8)}, wantSent: []byte{byte(ctap.CmdClientPIN)}},
		{name: "empty body leaves resp", req: req, resp: new(ctap.ClientPINResponse), answer: ok(nil),
			want: &ctap.ClientPINResponse{}},
		{name: "nil resp, empty body", req: req, answer: ok(nil)},
		{name: "nil resp, body", req: req, answer: ok(retries), wantErr: ErrBadResponse},
		{name: "wrong type", req: req, resp: new(ctap.ClientPINResponse), answer: ok([]byte{0x81, 0x01}),
			wantErr: ErrBadResponse, notErr: ctap.StatusCBORUnexpectedType},
		{name: "malformed", req: req, resp: new(ctap.ClientPINResponse), answer: ok([]byte{0xa1, 0x03}),
			wantErr: ErrBadResponse, notErr: ctap.StatusInvalidCBOR},
		{name: "trailing bytes", req: req, resp: new(ctap.ClientPINResponse), answer: ok(append(retries, 0)),
			wantErr: ErrBadResponse},
		{name: "duplicate key", req: req, resp: new(ctap.ClientPINResponse), answer: ok([]byte{0xa2, 0x03, 0x01, 0x03, 0x02}),
			wantErr: ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ft := newTestCtap2(t, []step{{resp: tt.answer}})
			err := c.SendCBOR(context.Background(), ctap.CmdClientPIN, tt.req, tt.resp)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("SendCBOR: %v", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SendCBOR error %v, want %v", err, tt.wantErr)
			}
			if tt.notErr != nil && errors.Is(err, tt.notErr) {
				t.Errorf("client-side decode error %v matches %v", err, tt.notErr)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, tt.resp); diff != "" {
					t.Errorf("resp (-want +got):\n%s", diff)
				}
			}
			if tt.wantSent != nil {
				if diff := cmp.Diff(tt.wantSent, ft.sent[1]); diff != "" {
					t.Errorf("payload (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestStrictCBOR: non-canonical bodies are rejected in strict mode and
// decoded when it is off; what the decode mode forbids stays an error.
func TestStrictCBOR(t *testing.T) {
	t.Parallel()
	ad := mustMarshal(t, testAuthData(t, 7))
	sig := mustMarshal(t, []byte("sig"))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name      string
		body      []byte
		strictErr error // nil: accepted in strict mode
		laxErr    error // nil: accepted with strict mode off
	}{
		{"canonical", cat([]byte{0xa2, 0x02}, ad, []byte{0x03}, sig), nil, nil},
		{"unsorted keys", cat([]byte{0xa2, 0x03}, sig, []byte{0x02}, ad), ErrNotCanonical, nil},
		{"non-shortest key", cat([]byte{0xa2, 0x18, 0x02}, ad, []byte{0x03}, sig), ErrNotCanonical, nil},
		{"non-shortest map length", cat([]byte{0xb8, 0x02, 0x02}, ad, []byte{0x03}, sig), ErrNotCanonical, nil},
		{"indefinite map", cat([]byte{0xbf, 0x02}, ad, []byte{0x03}, sig, []byte{0xff}), ErrBadResponse, ErrBadResponse},
		{"tag", cat([]byte{0xa2, 0x02, 0xd8, 0x18}, ad, []byte{0x03}, sig), ErrBadResponse, ErrBadResponse},
		{"trailing", cat([]byte{0xa2, 0x02}, ad, []byte{0x03}, sig, []byte{0x00}), ErrBadResponse, ErrBadResponse},
	}
	for _, tt := range tests {
		for _, strict := range []bool{true, false} {
			want := tt.strictErr
			if !strict {
				want = tt.laxErr
			}
			name := tt.name + map[bool]string{true: "/strict", false: "/lax"}[strict]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCtap2(t, []step{{resp: ok(tt.body)}}, WithStrictCBOR(strict))
				if c.StrictCBOR() != strict {
					t.Fatalf("StrictCBOR() = %v", c.StrictCBOR())
				}
				r, err := c.GetAssertion(context.Background(), testGARequest())
				if want == nil {
					if err != nil {
						t.Fatalf("GetAssertion: %v", err)
					}
					if !bytes.Equal(r.Signature, []byte("sig")) || r.AuthData.SignCount != 7 {
						t.Errorf("decoded %+v", r)
					}
					return
				}
				if !errors.Is(err, want) || r != nil {
					t.Errorf("GetAssertion = %v, %v; want nil, %v", r, err, want)
				}
			})
		}
	}
}

func TestGetAssertions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		steps    []step
		wantIDs  []string
		wantCmds []ctap.Command
		wantErr  error
	}{
		{
			name:     "one",
			steps:    []step{{resp: ok(assertionBody(t, "a", nil))}},
			wantIDs:  []string{"a"},
			wantCmds: []ctap.Command{ctap.CmdGetInfo, ctap.CmdGetAssertion},
		},
		{
			name:     "numberOfCredentials 1",
			steps:    []step{{resp: ok(assertionBody(t, "a", u64(1)))}},
			wantIDs:  []string{"a"},
			wantCmds: []ctap.Command{ctap.CmdGetInfo, ctap.CmdGetAssertion},
		},
		{
			name: "three",
			steps: []step{
				{resp: ok(assertionBody(t, "a", u64(3)))},
				{resp: ok(assertionBody(t, "b", nil))},
				{resp: ok(assertionBody(t, "c", nil))},
			},
			wantIDs:  []string{"a", "b", "c"},
			wantCmds: []ctap.Command{ctap.CmdGetInfo, ctap.CmdGetAssertion, ctap.CmdGetNextAssertion, ctap.CmdGetNextAssertion},
		},
		{
			name: "next fails",
			steps: []step{
				{resp: ok(assertionBody(t, "a", u64(3)))},
				{resp: ok(assertionBody(t, "b", nil))},
				{resp: []byte{byte(ctap.StatusNotAllowed)}},
			},
			wantErr:  ctap.StatusNotAllowed,
			wantCmds: []ctap.Command{ctap.CmdGetInfo, ctap.CmdGetAssertion, ctap.CmdGetNextAssertion, ctap.CmdGetNextAssertion},
		},
		{
			name:     "first fails",
			steps:    []step{{resp: []byte{byte(ctap.StatusNoCredentials)}}},
			wantErr:  ctap.StatusNoCredentials,
			wantCmds: []ctap.Command{ctap.CmdGetInfo, ctap.CmdGetAssertion},
		},
		{
			name: "next malformed",
			steps: []step{
				{resp: ok(assertionBody(t, "a", u64(2)))},
				{resp: ok([]byte{0xa0})},
			},
			wantErr:  ErrBadResponse,
			wantCmds: []ctap.Command{ctap.CmdGetInfo, ctap.CmdGetAssertion, ctap.CmdGetNextAssertion},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ft := newTestCtap2(t, tt.steps)
			rs, err := c.GetAssertions(context.Background(), testGARequest())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("GetAssertions error %v, want %v", err, tt.wantErr)
			}
			var ids []string
			for _, r := range rs {
				ids = append(ids, string(r.Credential.ID))
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("credential IDs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCmds, ft.commands()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			if want := append([]byte{byte(ctap.CmdGetAssertion)}, mustMarshal(t, testGARequest())...); !bytes.Equal(ft.sent[1], want) {
				t.Errorf("getAssertion payload %x, want %x", ft.sent[1], want)
			}
		})
	}
}

func TestGetAssertionResponseMembers(t *testing.T) {
	t.Parallel()
	ad := testAuthData(t, 9)
	body := mustMarshal(t, ctap.GetAssertionResponse{
		AuthData:                 ad,
		Signature:                []byte{1, 2, 3},
		User:                     &ctap.UserEntity{ID: []byte("u1"), Name: "alice"},
		NumberOfCredentials:      u64(1),
		UserSelected:             boolp(false),
		LargeBlobKey:             bytes.Repeat([]byte{7}, 32),
		UnsignedExtensionOutputs: map[string]ctap.RawMessage{"x": {0xf5}},
	})
	c, _ := newTestCtap2(t, []step{{resp: ok(body)}})
	got, err := c.GetAssertion(context.Background(), testGARequest())
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := ctap.ParseAuthData(ad)
	want := &AssertionResponse{
		AuthData:                 parsed,
		AuthDataRaw:              ad,
		Signature:                []byte{1, 2, 3},
		User:                     &ctap.UserEntity{ID: []byte("u1"), Name: "alice"},
		NumberOfCredentials:      u64(1),
		UserSelected:             boolp(false),
		LargeBlobKey:             bytes.Repeat([]byte{7}, 32),
		UnsignedExtensionOutputs: map[string]ctap.RawMessage{"x": {0xf5}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AssertionResponse (-want +got):\n%s", diff)
	}
}

func TestKeepalivePlumbing(t *testing.T) {
	t.Parallel()
	kas := []ctaphid.KeepaliveStatus{ctaphid.StatusProcessing, ctaphid.StatusUPNeeded, ctaphid.StatusProcessing}
	calls := []struct {
		name string
		resp []byte
		call func(*Ctap2, CallOption) error
	}{
		{"Reset", ok(nil), func(c *Ctap2, o CallOption) error { return c.Reset(context.Background(), o) }},
		{"Selection", ok(nil), func(c *Ctap2, o CallOption) error { return c.Selection(context.Background(), o) }},
		{"GetAssertion", ok(assertionBody(t, "a", nil)), func(c *Ctap2, o CallOption) error {
			_, err := c.GetAssertion(context.Background(), testGARequest(), o)
			return err
		}},
		{"GetAssertions", ok(assertionBody(t, "a", nil)), func(c *Ctap2, o CallOption) error {
			_, err := c.GetAssertions(context.Background(), testGARequest(), o)
			return err
		}},
		{"GetNextAssertion", ok(assertionBody(t, "a", nil)), func(c *Ctap2, o CallOption) error {
			_, err := c.GetNextAssertion(context.Background(), o)
			return err
		}},
		{"MakeCredential", []byte{byte(ctap.StatusCredentialExcluded)}, func(c *Ctap2, o CallOption) error {
			_, err := c.MakeCredential(context.Background(), &ctap.MakeCredentialRequest{}, o)
			if errors.Is(err, ctap.StatusCredentialExcluded) {
				return nil
			}
			return err
		}},
		{"SendCBOR", ok(nil), func(c *Ctap2, o CallOption) error {
			return c.SendCBOR(context.Background(), ctap.CmdConfig, nil, nil, o)
		}},
		{"SendRaw", ok(nil), func(c *Ctap2, o CallOption) error {
			_, _, err := c.SendRaw(context.Background(), ctap.CmdConfig, nil, o)
			return err
		}},
		{"GetInfo", ok(minimalInfoBody(t)), func(c *Ctap2, o CallOption) error {
			_, err := c.GetInfo(context.Background(), o)
			return err
		}},
	}
	for _, call := range calls {
		t.Run(call.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestCtap2(t, []step{{keepalives: kas, resp: call.resp}})
			var got []ctaphid.KeepaliveStatus
			if err := call.call(c, WithKeepalive(func(s ctaphid.KeepaliveStatus) { got = append(got, s) })); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(kas, got); diff != "" {
				t.Errorf("keepalives (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no callback", func(t *testing.T) {
		t.Parallel()
		c, _ := newTestCtap2(t, []step{{keepalives: kas, resp: ok(nil)}})
		if err := c.Reset(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCancelledCall: a transport that returns the device's final answer
// with the context error gives an error matching both.
func TestCancelledCall(t *testing.T) {
	t.Parallel()
	c, _ := newTestCtap2(t, []step{
		{resp: []byte{byte(ctap.StatusKeepaliveCancel)}, err: context.Canceled},
		{err: context.DeadlineExceeded},
	})
	err := c.Selection(context.Background())
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ctap.StatusKeepaliveCancel) {
		t.Errorf("Selection error %v, want context.Canceled and KEEPALIVE_CANCEL", err)
	}
	err = c.Reset(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Reset error %v, want context.DeadlineExceeded", err)
	}
}

func TestNilArguments(t *testing.T) {
	t.Parallel()
	if _, err := New(context.Background(), nil); err == nil {
		t.Error("New(nil transport) succeeded")
	}
	c, ft := newTestCtap2(t, nil)
	if _, err := c.MakeCredential(context.Background(), nil); err == nil {
		t.Error("MakeCredential(nil) succeeded")
	}
	if _, err := c.GetAssertion(context.Background(), nil); err == nil {
		t.Error("GetAssertion(nil) succeeded")
	}
	if len(ft.sent) != 1 {
		t.Errorf("%d commands sent, want only getInfo", len(ft.sent))
	}
	if c.Transport() != ft {
		t.Error("Transport() is not the transport")
	}
}

// keepingTransport keeps every payload as given, as a Transport may.
type keepingTransport struct {
	info []byte
	sent [][]byte
}

func (k *keepingTransport) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, _ func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	if ctap.Command(payload[0]) == ctap.CmdGetInfo {
		return k.info, nil
	}
	k.sent = append(k.sent, payload)
	return []byte{byte(ctap.StatusNoCredentials)}, nil
}

// TestRequestBufferNotReusedForeignTransport: a payload handed to a
// Transport other than the package's own is not used again for the next
// request, which the transport could still be reading.
func TestRequestBufferNotReusedForeignTransport(t *testing.T) {
	t.Parallel()
	kt := &keepingTransport{info: ok(minimalInfoBody(t))}
	c, err := New(context.Background(), kt)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for _, rp := range []string{"a.example", "b.example"} {
		req := &ctap.GetAssertionRequest{RPID: rp, ClientDataHash: cdh(rp)}
		want = append(want, append([]byte{byte(ctap.CmdGetAssertion)}, mustMarshal(t, req)...))
		if _, err := c.GetAssertion(context.Background(), req); !errors.Is(err, ctap.StatusNoCredentials) {
			t.Fatalf("GetAssertion: %v", err)
		}
	}
	if diff := cmp.Diff(want, kt.sent); diff != "" {
		t.Fatalf("payloads as the transport has them (-want +got):\n%s", diff)
	}
}
