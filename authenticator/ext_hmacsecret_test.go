package authenticator

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/testvectors"
)

// TestHMACSecretVectors checks the hmac-secret computation (CTAP 2.1
// §12.5) and this key's CredRandom derivation against
// testvectors/hmacsecret, computed with python3-cryptography.
func TestHMACSecretVectors(t *testing.T) {
	vs, err := testvectors.Load("hmacsecret")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 5 {
		t.Fatalf("%d vectors, want 5", len(vs))
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			if v.Source() == "" {
				t.Fatal("no source")
			}
			h := func(k string) []byte {
				t.Helper()
				b, err := hex.DecodeString(v.Header[k])
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				return b
			}
			switch {
			case v.Header["withUV"] != "":
				for uv, want := range map[bool][]byte{true: h("withUV"), false: h("withoutUV")} {
					got, err := credRandom(h("masterSecret"), h("credentialID"), uv)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("credRandom(uv=%v) = %x, want %x", uv, got, want)
					}
				}
			case v.Header["output"] != "":
				proto, ok := ctap.PINProtocolByVersion(uint64(map[string]int{"1": 1, "2": 2}[v.Header["protocol"]]))
				if !ok {
					t.Fatalf("protocol %q", v.Header["protocol"])
				}
				r := &hmacSecretRequest{proto: proto, shared: h("shared"), salts: h("salts")}
				a := &Authenticator{rand: bytes.NewReader(h("iv"))}
				cr := h("credRandom")
				got, err := r.proto.Encrypt(a.rand, r.shared, hmacSecretOutputs(cr, r.salts))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, h("output")) {
					t.Errorf("encrypted output = %x, want %x", got, h("output"))
				}
			default:
				if got := hmacSecretOutputs(h("credRandom"), h("salts")); !bytes.Equal(got, h("outputs")) {
					t.Errorf("hmacSecretOutputs = %x, want %x", got, h("outputs"))
				}
			}
		})
	}
}

// hsPlatform builds hmac-secret inputs against a test key.
type hsPlatform struct {
	*platform
}

// input returns the hmac-secret input for salts and the shared secret to
// decrypt the output with; protoMember false leaves pinUvAuthProtocol out.
func (p hsPlatform) input(salts []byte, protoMember bool) (ctap.HMACSecretInput, []byte) {
	pk, ss := p.encapsulate()
	enc := p.encrypt(ss, salts)
	in := ctap.HMACSecretInput{KeyAgreement: &pk, SaltEnc: enc, SaltAuth: p.proto.Authenticate(ss, enc)}
	if protoMember {
		in.PinUvAuthProtocol = ptr(p.proto.Version())
	}
	return in, ss
}

func hsExt(name string, v any) map[string]ctap.RawMessage {
	return map[string]ctap.RawMessage{name: ctap.MustMarshal(v)}
}

// extOutputs decodes the extension outputs of authData.
func extOutputs(t *testing.T, authData []byte) map[string]ctap.RawMessage {
	t.Helper()
	ad, err := ctap.ParseAuthData(authData)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ad.ExtensionOutputs()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// hsOutput decrypts the hmac-secret output named name in authData.
func (p hsPlatform) output(t *testing.T, authData []byte, name string, ss []byte) []byte {
	t.Helper()
	var enc []byte
	if err := ctap.Unmarshal(extOutputs(t, authData)[name], &enc); err != nil {
		t.Fatalf("%s output: %v", name, err)
	}
	out, err := p.proto.Decrypt(ss, enc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	hsSalt1 = bytes.Repeat([]byte{0x51}, 32)
	hsSalt2 = bytes.Repeat([]byte{0x52}, 32)
)

func TestHMACSecretMakeCredentialAndAssertion(t *testing.T) {
	for _, v := range []uint64{1, 2} {
		for _, rk := range []bool{false, true} {
			t.Run(map[bool]string{false: "nonresident", true: "resident"}[rk]+"/v"+string('0'+byte(v)), func(t *testing.T) {
				k := newTestKey(t)
				p := hsPlatform{newPlatform(k, v)}
				req := mcReq("example.com", []byte("u1"), rk)
				req.Extensions = hsExt(ctap.ExtHMACSecret, true)
				id, ad := k.mustRegister(req)
				if diff := cmp.Diff(map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(true)}, extOutputs(t, mustMarshalAD(t, ad))); diff != "" {
					t.Errorf("makeCredential extensions (-want +got):\n%s", diff)
				}
				cr, err := credRandom(k.a.state.MasterSecret, id, false)
				if err != nil {
					t.Fatal(err)
				}
				want := hmacSecretOutputs(cr, append(bytes.Clone(hsSalt1), hsSalt2...))
				for _, salts := range [][]byte{hsSalt1, append(bytes.Clone(hsSalt1), hsSalt2...)} {
					in, ss := p.input(salts, v != 1)
					ga := gaReq("example.com", id)
					ga.Extensions = hsExt(ctap.ExtHMACSecret, in)
					resp, s := k.getAssertion(ga)
					if s != ctap.StatusOK {
						t.Fatalf("getAssertion: %v", s)
					}
					if got := p.output(t, resp.AuthData, ctap.ExtHMACSecret, ss); !bytes.Equal(got, want[:len(salts)]) {
						t.Errorf("%d salt bytes: output %x, want %x", len(salts), got, want[:len(salts)])
					}
				}
			})
		}
	}
}

func mustMarshalAD(t *testing.T, ad *ctap.AuthData) []byte {
	t.Helper()
	b, err := ad.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHMACSecretUV: with a pinUvAuthParam the "uv" bit is set and
// CredRandomWithUV is used, a different output for the same salt.
func TestHMACSecretUV(t *testing.T) {
	k := newTestKey(t)
	p := hsPlatform{newPlatform(k, 2)}
	req := mcReq("example.com", []byte("u1"), false)
	req.Extensions = hsExt(ctap.ExtHMACSecret, true)
	id, _ := k.mustRegister(req)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatal(s)
	}
	out := func(uv bool) []byte {
		in, ss := p.input(hsSalt1, true)
		ga := gaReq("example.com", id)
		ga.Extensions = hsExt(ctap.ExtHMACSecret, in)
		if uv {
			tok := p.mustToken("1234", ctap.PermissionGetAssertion, "example.com")
			ga.PinUvAuthParam = p.proto.Authenticate(tok, testCDH)
			ga.PinUvAuthProtocol = ptr(uint64(2))
		}
		resp, s := k.getAssertion(ga)
		if s != ctap.StatusOK {
			t.Fatalf("getAssertion(uv=%v): %v", uv, s)
		}
		return p.output(t, resp.AuthData, ctap.ExtHMACSecret, ss)
	}
	withUV, withoutUV := out(true), out(false)
	for uv, got := range map[bool][]byte{true: withUV, false: withoutUV} {
		cr, _ := credRandom(k.a.state.MasterSecret, id, uv)
		if want := hmacSecretOutputs(cr, hsSalt1); !bytes.Equal(got, want) {
			t.Errorf("uv=%v: %x, want %x", uv, got, want)
		}
	}
	if bytes.Equal(withUV, withoutUV) {
		t.Error("the same output with and without UV")
	}
	if again := out(true); !bytes.Equal(again, withUV) {
		t.Error("with UV: a different output the second time")
	}
}

// TestHMACSecretMC: hmac-secret-mc (CTAP 2.2 §12.8) gives at
// makeCredential what getAssertion's hmac-secret gives later.
func TestHMACSecretMC(t *testing.T) {
	k := newTestKey(t)
	p := hsPlatform{newPlatform(k, 2)}
	salts := append(bytes.Clone(hsSalt1), hsSalt2...)
	in, ss := p.input(salts, true)
	req := mcReq("example.com", []byte("u1"), true)
	req.Extensions = map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(true), ctap.ExtHMACSecretMC: ctap.MustMarshal(in)}
	resp, s := k.makeCredential(req)
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	mc := p.output(t, resp.AuthData, ctap.ExtHMACSecretMC, ss)
	ad, _ := ctap.ParseAuthData(resp.AuthData)
	in2, ss2 := p.input(salts, true)
	ga := gaReq("example.com", ad.AttestedCredential.CredentialID)
	ga.Extensions = hsExt(ctap.ExtHMACSecret, in2)
	gr, s := k.getAssertion(ga)
	if s != ctap.StatusOK {
		t.Fatal(s)
	}
	if got := p.output(t, gr.AuthData, ctap.ExtHMACSecret, ss2); !bytes.Equal(got, mc) || len(mc) != 64 {
		t.Errorf("getAssertion %x, makeCredential %x", got, mc)
	}
}

func TestHMACSecretErrors(t *testing.T) {
	type tc struct {
		name string
		// ext builds the getAssertion extensions (or, with mc, the
		// makeCredential ones) from a valid input.
		ext  func(p hsPlatform) map[string]ctap.RawMessage
		up   *bool
		mc   bool
		want ctap.Status
	}
	valid := func(p hsPlatform) ctap.HMACSecretInput { in, _ := p.input(hsSalt1, true); return in }
	cases := []tc{
		{name: "bad saltAuth", want: ctap.StatusPINAuthInvalid, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			in := valid(p)
			in.SaltAuth[0] ^= 1
			return hsExt(ctap.ExtHMACSecret, in)
		}},
		{name: "48-byte salts", want: ctap.StatusInvalidParameter, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			in, _ := p.input(bytes.Repeat([]byte{1}, 48), true)
			return hsExt(ctap.ExtHMACSecret, in)
		}},
		{name: "saltEnc not whole blocks", want: ctap.StatusInvalidParameter, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			pk, ss := p.encapsulate()
			enc := p.encrypt(ss, hsSalt1)[:40]
			return hsExt(ctap.ExtHMACSecret, ctap.HMACSecretInput{KeyAgreement: &pk, SaltEnc: enc, SaltAuth: p.proto.Authenticate(ss, enc), PinUvAuthProtocol: ptr(uint64(2))})
		}},
		{name: "missing keyAgreement", want: ctap.StatusMissingParameter, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			in := valid(p)
			in.KeyAgreement = nil
			return hsExt(ctap.ExtHMACSecret, in)
		}},
		{name: "missing saltAuth", want: ctap.StatusMissingParameter, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			in := valid(p)
			in.SaltAuth = nil
			return hsExt(ctap.ExtHMACSecret, in)
		}},
		{name: "protocol 3", want: ctap.StatusInvalidParameter, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			in := valid(p)
			in.PinUvAuthProtocol = ptr(uint64(3))
			return hsExt(ctap.ExtHMACSecret, in)
		}},
		{name: "protocol 1 absent means 1", want: ctap.StatusPINAuthInvalid, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			in := valid(p) // made with protocol two: checked as one
			in.PinUvAuthProtocol = nil
			return hsExt(ctap.ExtHMACSecret, in)
		}},
		{name: "not a map", want: ctap.StatusCBORUnexpectedType, ext: func(hsPlatform) map[string]ctap.RawMessage {
			return hsExt(ctap.ExtHMACSecret, "salts")
		}},
		{name: "up false", want: ctap.StatusUnsupportedOption, up: ptr(false), ext: func(p hsPlatform) map[string]ctap.RawMessage {
			return hsExt(ctap.ExtHMACSecret, valid(p))
		}},
		{name: "mc without hmac-secret", mc: true, want: ctap.StatusMissingParameter, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			return hsExt(ctap.ExtHMACSecretMC, valid(p))
		}},
		{name: "mc with hmac-secret false", mc: true, want: ctap.StatusMissingParameter, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			return map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(false), ctap.ExtHMACSecretMC: ctap.MustMarshal(valid(p))}
		}},
		{name: "mc bad saltAuth", mc: true, want: ctap.StatusPINAuthInvalid, ext: func(p hsPlatform) map[string]ctap.RawMessage {
			in := valid(p)
			in.SaltAuth[3] ^= 1
			return map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(true), ctap.ExtHMACSecretMC: ctap.MustMarshal(in)}
		}},
		{name: "hmac-secret not a bool", mc: true, want: ctap.StatusCBORUnexpectedType, ext: func(hsPlatform) map[string]ctap.RawMessage {
			return hsExt(ctap.ExtHMACSecret, 1)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newTestKey(t)
			p := hsPlatform{newPlatform(k, 2)}
			req := mcReq("example.com", []byte("u1"), false)
			if c.mc {
				req.Extensions = c.ext(p)
				if _, s := k.makeCredential(req); s != c.want {
					t.Fatalf("makeCredential: %v, want %v", s, c.want)
				}
				return
			}
			req.Extensions = hsExt(ctap.ExtHMACSecret, true)
			id, _ := k.mustRegister(req)
			ga := gaReq("example.com", id)
			ga.Extensions = c.ext(p)
			if c.up != nil {
				ga.Options = map[string]bool{ctap.OptionUP: *c.up}
			}
			if _, s := k.getAssertion(ga); s != c.want {
				t.Fatalf("getAssertion: %v, want %v", s, c.want)
			}
		})
	}
}

// TestHMACSecretNotEnabled: a credential made without hmac-secret gets no
// output, and one made with "hmac-secret": false neither.
func TestHMACSecretNotEnabled(t *testing.T) {
	for _, ext := range []map[string]ctap.RawMessage{nil, hsExt(ctap.ExtHMACSecret, false)} {
		k := newTestKey(t)
		p := hsPlatform{newPlatform(k, 1)}
		req := mcReq("example.com", []byte("u1"), false)
		req.Extensions = ext
		id, ad := k.mustRegister(req)
		if ad.Extensions != nil {
			t.Errorf("makeCredential extensions %x", ad.Extensions)
		}
		in, _ := p.input(hsSalt1, false)
		ga := gaReq("example.com", id)
		ga.Extensions = hsExt(ctap.ExtHMACSecret, in)
		resp, s := k.getAssertion(ga)
		if s != ctap.StatusOK {
			t.Fatal(s)
		}
		if m := extOutputs(t, resp.AuthData); m != nil {
			t.Errorf("getAssertion extensions %v", m)
		}
	}
}

// TestHMACSecretGetInfo: both identifiers are listed.
func TestHMACSecretGetInfo(t *testing.T) {
	k := newTestKey(t)
	exts := k.info().Extensions
	for _, want := range []string{ctap.ExtHMACSecret, ctap.ExtHMACSecretMC} {
		found := false
		for _, e := range exts {
			found = found || e == want
		}
		if !found {
			t.Errorf("getInfo extensions %v lack %q", exts, want)
		}
	}
}
