package fuzz

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/testvectors"
)

// direct is a client.Transport that hands CBOR messages straight to a key's
// command core, without framing: the authenticated-command fuzz targets
// spend their time in the command core, not in CTAPHID.
type direct struct{ key *authenticator.Authenticator }

func (d direct) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, _ func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	if cmd != ctaphid.CmdCBOR {
		return nil, ctaphid.ErrInvalidCmd
	}
	return d.key.HandleCBOR(ctx, payload), nil
}

// authedKey is a key with a PIN, two discoverable credentials on two RPs,
// and a pinUvAuthToken of protocol 2 holding every permission that needs
// no RP ID: what it takes for a fuzzer to get past the pinUvAuthParam
// check of credentialManagement, bioEnrollment, largeBlobs and
// authenticatorConfig (CTAP 2.1 §6.8, §6.7, §6.10, §6.11).
type authedKey struct {
	key   *authenticator.Authenticator
	c     *client.Ctap2
	proto *client.PinProtocol
	token []byte
}

func newAuthedKey(t *testing.T) *authedKey {
	t.Helper()
	key, err := authenticator.New(authenticator.Config{
		Rand: &seedRand{}, Now: func() time.Time { return time.Unix(1700000000, 0) },
		BuiltInUV: true, BioEnrollment: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := client.New(ctx, direct{key})
	if err != nil {
		t.Fatal(err)
	}
	proto := client.PinProtocolV2()
	cp, err := client.NewClientPin(c, proto)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.SetPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	for _, rp := range []string{"a.example", "b.example"} {
		req := &ctap.MakeCredentialRequest{
			ClientDataHash:   make([]byte, 32),
			RP:               &ctap.RPEntity{ID: rp},
			User:             &ctap.UserEntity{ID: []byte("u-" + rp), Name: "user@" + rp},
			PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
			Options:          map[string]bool{ctap.OptionRK: true},
		}
		mcTok, err := cp.GetPinToken(ctx, "1234", ctap.PermissionMakeCredential, rp)
		if err != nil {
			t.Fatal(err)
		}
		v := proto.Version()
		req.PinUvAuthProtocol, req.PinUvAuthParam = &v, proto.AuthParam(mcTok, req.ClientDataHash)
		if _, err := c.MakeCredential(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	perms := ctap.PermissionCredentialManagement | ctap.PermissionBioEnrollment |
		ctap.PermissionLargeBlobWrite | ctap.PermissionAuthenticatorConfig
	token, err := cp.GetPinToken(ctx, "1234", perms, "")
	if err != nil {
		t.Fatal(err)
	}
	return &authedKey{key: key, c: c, proto: proto, token: token}
}

// cborUint appends the CBOR head of an unsigned integer (RFC 8949 §3.1).
func cborUint(b []byte, major byte, v uint64) []byte {
	switch {
	case v < 24:
		return append(b, major<<5|byte(v))
	case v < 1<<8:
		return append(b, major<<5|24, byte(v))
	case v < 1<<16:
		return append(b, major<<5|25, byte(v>>8), byte(v))
	default:
		return append(b, major<<5|26, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// optional appends map member key with the raw value v, or nothing when v
// is empty.
func optional(b []byte, key uint64, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return append(cborUint(b, 0, key), v...)
}

// authedRequest builds the request map of a subcommand-style command by
// hand, so that params (the fuzzer's bytes) are spliced in verbatim and the
// pinUvAuthParam covers exactly those bytes.
func (k *authedKey) authedRequest(cmd ctap.Command, sub byte, params []byte) []byte {
	var msg []byte
	var out []byte
	proto := k.proto.Version()
	n := uint64(1) // map size less the subCommandParams member when there are none
	if len(params) > 0 {
		n = 0
	}
	switch cmd {
	case ctap.CmdCredentialManagement: // {1: sub, 2: params, 3: proto, 4: param}, §6.8
		msg = append([]byte{sub}, params...)
		out = cborUint(nil, 5, 4-n)
		out = cborUint(cborUint(out, 0, 1), 0, uint64(sub))
		out = optional(out, 2, params)
		out = cborUint(cborUint(out, 0, 3), 0, proto)
		out = cborUint(out, 0, 4)
	case ctap.CmdBioEnrollment: // {1: modality, 2: sub, 3: params, 4: proto, 5: param}, §6.7
		msg = append([]byte{1, sub}, params...)
		out = cborUint(nil, 5, 5-n)
		out = cborUint(cborUint(out, 0, 1), 0, 1)
		out = cborUint(cborUint(out, 0, 2), 0, uint64(sub))
		out = optional(out, 3, params)
		out = cborUint(cborUint(out, 0, 4), 0, proto)
		out = cborUint(out, 0, 5)
	case ctap.CmdConfig: // {1: sub, 2: params, 3: proto, 4: param}, §6.11
		msg = ctap.ConfigAuthMessage(uint64(sub), params)
		out = cborUint(nil, 5, 4-n)
		out = cborUint(cborUint(out, 0, 1), 0, uint64(sub))
		out = optional(out, 2, params)
		out = cborUint(cborUint(out, 0, 3), 0, proto)
		out = cborUint(out, 0, 4)
	}
	mac := k.proto.AuthParam(k.token, msg)
	out = cborUint(out, 2, uint64(len(mac)))
	return append(out, mac...)
}

// largeBlobsWrite builds a largeBlobs set request (CTAP 2.1 §6.10.2) for a
// fragment at offset, with length on the first fragment, authorized by the
// token.
func (k *authedKey) largeBlobsWrite(fragment []byte, offset, length uint64) []byte {
	proto := k.proto.Version()
	req := &ctap.LargeBlobsRequest{Set: fragment, Offset: &offset, PinUvAuthProtocol: &proto}
	if offset == 0 {
		req.Length = &length
	}
	req.PinUvAuthParam = k.proto.AuthParam(k.token, ctap.LargeBlobsAuthMessage(offset, fragment))
	b, err := ctap.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

// checkAnswer fails unless resp is a status byte of the spec, followed on
// success by a body that is well-formed CBOR (or nothing).
func checkAnswer(t *testing.T, what string, resp []byte) ctap.Status {
	t.Helper()
	if len(resp) == 0 {
		t.Fatalf("%s: empty response", what)
	}
	st := ctap.Status(resp[0])
	if strings.HasPrefix(st.String(), "Status(") {
		t.Fatalf("%s: unknown status 0x%02x", what, resp[0])
	}
	if st == ctap.StatusOK && len(resp) > 1 && !ctap.Valid(resp[1:]) {
		t.Fatalf("%s: OK with a body that is not one CBOR item: %x", what, resp[1:])
	}
	return st
}

// checkAlive fails unless the key still answers getInfo and a PIN-retries
// query, and still holds a consistent credential count: whatever the input
// did, the key's state must stay usable.
func (k *authedKey) checkAlive(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := k.c.GetInfo(ctx); err != nil {
		t.Fatalf("getInfo after the input: %v", err)
	}
	cp, err := client.NewClientPin(k.c, k.proto)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cp.GetPinRetries(ctx); err != nil {
		t.Fatalf("getPINRetries after the input: %v", err)
	}
}

// FuzzAuthenticatedSubcommands sends credentialManagement, bioEnrollment
// and authenticatorConfig subcommands whose subCommandParams are the
// fuzzer's bytes, each with a valid pinUvAuthParam, so the fuzzer reaches
// the subcommands' own parsing and state changes. The key must answer a
// status of the spec, never panic, and stay usable.
func FuzzAuthenticatedSubcommands(f *testing.F) {
	seeds := []struct {
		which, sub byte
		params     []byte
	}{
		{0, 0x01, nil}, // getCredsMetadata
		{0, 0x02, nil}, // enumerateRPsBegin
		{0, 0x04, []byte{0xa1, 0x01, 0x58, 0x20, 0x5b, 0x7e, 0xb1, 0x60, 0xc1, 0x35, 0xfb, 0x75, 0xad, 0x61, 0xa0, 0x6e, 0xb4, 0x06, 0x37, 0x25, 0x46, 0xd5, 0x1d, 0x24, 0x68, 0x5f, 0x67, 0x18, 0x75, 0x56, 0x38, 0x50, 0xf5, 0xd7, 0x89, 0xe2}},
		{0, 0x06, []byte{0xa1, 0x02, 0xa2, 0x62, 0x69, 0x64, 0x41, 0x00, 0x64, 0x74, 0x79, 0x70, 0x65, 0x6a, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0x2d, 0x6b, 0x65, 0x79}},
		{1, 0x01, []byte{0xa1, 0x03, 0x19, 0x27, 0x10}}, // enrollBegin, timeout 10000
		{1, 0x04, nil}, // enumerateEnrollments
		{1, 0x05, []byte{0xa2, 0x01, 0x41, 0x01, 0x02, 0x61, 0x61}}, // setFriendlyName
		{1, 0x06, []byte{0xa1, 0x01, 0x41, 0x01}},                   // removeEnrollment
		{2, 0x01, nil}, // enableEnterpriseAttestation
		{2, 0x02, nil}, // toggleAlwaysUv
		{2, 0x03, []byte{0xa2, 0x01, 0x06, 0x03, 0xf5}}, // setMinPINLength 6, forceChangePin
	}
	for _, s := range seeds {
		f.Add(s.which, s.sub, s.params)
	}
	cmds := []ctap.Command{ctap.CmdCredentialManagement, ctap.CmdBioEnrollment, ctap.CmdConfig}
	// The subCommandParams of the recorded requests in testvectors/ctap.
	vs, err := testvectors.Load("ctap")
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		body, err := v.Hex()
		if err != nil {
			f.Fatal(err)
		}
		switch v.Header["command"] {
		case "0x0a", "0x41":
			var r ctap.CredentialManagementRequest
			if ctap.Unmarshal(body, &r) == nil && r.SubCommand != nil {
				f.Add(byte(0), byte(*r.SubCommand), []byte(r.SubCommandParams))
			}
		case "0x09", "0x40":
			var r ctap.BioEnrollmentRequest
			if ctap.Unmarshal(body, &r) == nil && r.SubCommand != nil {
				f.Add(byte(1), byte(*r.SubCommand), []byte(r.SubCommandParams))
			}
		case "0x0d":
			var r ctap.ConfigRequest
			if ctap.Unmarshal(body, &r) == nil && r.SubCommand != nil {
				f.Add(byte(2), byte(*r.SubCommand), []byte(r.SubCommandParams))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which, sub byte, params []byte) {
		if len(params) > 2048 {
			return
		}
		k := newAuthedKey(t)
		cmd := cmds[int(which)%len(cmds)]
		req := append([]byte{byte(cmd)}, k.authedRequest(cmd, sub, params)...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		checkAnswer(t, cmd.String(), k.key.HandleCBOR(ctx, req))
		if ctx.Err() != nil {
			t.Fatalf("%v did not answer in time", cmd)
		}
		k.checkAlive(t)
	})
}

// FuzzAuthenticatedLargeBlobs writes the fuzzer's bytes to the large-blob
// array with a valid pinUvAuthParam, in one or two fragments (CTAP 2.1
// §6.10.2): the key must refuse anything but a whole array whose trailing
// hash matches, keep the stored array well-formed, and stay usable.
func FuzzAuthenticatedLargeBlobs(f *testing.F) {
	f.Add([]byte{0x80, 0x76, 0xbe, 0x8b, 0x52, 0x8d, 0x00, 0x75, 0xf7, 0xaa, 0xe9, 0x8d, 0x6f, 0xa5, 0x7a, 0x6d, 0x3c}, uint16(0), false)
	f.Add([]byte("not an array at all, and no hash"), uint16(10), true)
	f.Fuzz(func(t *testing.T, blob []byte, split uint16, lie bool) {
		if len(blob) > 4096 {
			return
		}
		k := newAuthedKey(t)
		ctx := context.Background()
		total := uint64(len(blob))
		if lie {
			total += uint64(split)
		}
		cut := min(int(split), len(blob))
		for _, frag := range []struct {
			b   []byte
			off uint64
		}{{blob[:cut], 0}, {blob[cut:], uint64(cut)}} {
			if len(frag.b) == 0 && frag.off != 0 {
				break
			}
			req := append([]byte{byte(ctap.CmdLargeBlobs)}, k.largeBlobsWrite(frag.b, frag.off, total)...)
			if st := checkAnswer(t, "largeBlobs set", k.key.HandleCBOR(ctx, req)); st != ctap.StatusOK {
				break
			}
		}
		lb, err := client.NewLargeBlobs(k.c, k.proto, k.token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lb.ReadSerialized(ctx); err != nil && !errors.Is(err, client.ErrBadResponse) {
			t.Fatalf("reading the large-blob array back: %v", err)
		}
		k.checkAlive(t)
	})
}

// TestAuthedHarness checks that the fuzz harness's requests get past the
// pinUvAuthParam check: with the fuzzer's bytes replaced by valid
// subCommandParams, each command succeeds, so a fuzz input reaches the
// subcommand behind the check rather than stopping at it.
func TestAuthedHarness(t *testing.T) {
	k := newAuthedKey(t)
	ctx := context.Background()
	for _, tc := range []struct {
		cmd    ctap.Command
		sub    byte
		params []byte
	}{
		{ctap.CmdCredentialManagement, 0x01, nil}, // getCredsMetadata
		{ctap.CmdCredentialManagement, 0x02, nil}, // enumerateRPsBegin
		{ctap.CmdBioEnrollment, 0x04, nil},        // enumerateEnrollments: none yet
		{ctap.CmdConfig, 0x02, nil},               // toggleAlwaysUv
	} {
		req := append([]byte{byte(tc.cmd)}, k.authedRequest(tc.cmd, tc.sub, tc.params)...)
		st := checkAnswer(t, tc.cmd.String(), k.key.HandleCBOR(ctx, req))
		want := ctap.StatusOK
		if tc.cmd == ctap.CmdBioEnrollment {
			want = ctap.StatusInvalidOption // no enrollment to list (CTAP 2.1 §6.7.6)
		}
		if st != want {
			t.Errorf("%v 0x%02x: %v, want %v", tc.cmd, tc.sub, st, want)
		}
	}
	// An empty large-blob array: the CBOR empty array and the first 16
	// bytes of its SHA-256 (CTAP 2.1 §6.10.2).
	empty := []byte{0x80, 0x76, 0xbe, 0x8b, 0x52, 0x8d, 0x00, 0x75, 0xf7, 0xaa, 0xe9, 0x8d, 0x6f, 0xa5, 0x7a, 0x6d, 0x3c}
	req := append([]byte{byte(ctap.CmdLargeBlobs)}, k.largeBlobsWrite(empty, 0, uint64(len(empty)))...)
	if st := checkAnswer(t, "largeBlobs set", k.key.HandleCBOR(ctx, req)); st != ctap.StatusOK {
		t.Errorf("largeBlobs set: %v, want OK", st)
	}
}
