package conformance

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// hmac-secret (CTAP 2.1 §12.5) and hmac-secret-mc (CTAP 2.2 §12.8).

var (
	hsSalt1 = bytes.Repeat([]byte{0x5a}, 32)
	hsSalt2 = bytes.Repeat([]byte{0xa5}, 32)
)

// hsCase is a case's handle on hmac-secret with one PIN/UV auth protocol.
type hsCase struct {
	t  *T
	pc *pinCase
	hs *client.HmacSecret
}

// hmacSecret skips the case unless the key lists hmac-secret (and
// clientPin with protocol v, whose key agreement the extension uses).
func (t *T) hmacSecret(v uint64) *hsCase {
	if !slices.Contains(t.Ctap2().Info().Extensions, ctap.ExtHMACSecret) {
		t.Skipf("key does not list the hmac-secret extension")
	}
	pc := t.pinProtocol(v)
	return &hsCase{t: t, pc: pc, hs: client.NewHmacSecret(pc.cp)}
}

// needMC skips the case unless the key lists hmac-secret-mc.
func (h *hsCase) needMC() {
	if !slices.Contains(h.t.Ctap2().Info().Extensions, ctap.ExtHMACSecretMC) {
		h.t.Skipf("key does not list the hmac-secret-mc extension")
	}
}

// credential makes a credential with "hmac-secret": true and checks the
// output "hmac-secret": true.
func (h *hsCase) credential(label string, rk bool) *Credential {
	t := h.t
	req := t.MakeCredentialRequest(label, rk)
	req.Extensions = map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(true)}
	c := t.MustMakeCredential(req)
	created, err := client.HmacSecretCreated(c.Response.AuthData)
	if err != nil || !created {
		t.Fatalf("makeCredential with hmac-secret: output %v, %v; want \"hmac-secret\": true", created, err)
	}
	return c
}

// input builds the hmac-secret input for the salts (salt2 may be nil).
func (h *hsCase) input(salt1, salt2 []byte) *ctap.HMACSecretInput {
	in, err := h.hs.Input(h.t.ctx, salt1, salt2)
	if err != nil {
		h.t.Fatalf("hmac-secret input: %v", err)
	}
	return in
}

// request is a getAssertion request for c with the hmac-secret input in.
func (h *hsCase) request(label string, in *ctap.HMACSecretInput, allow ...*Credential) *ctap.GetAssertionRequest {
	req := h.t.GetAssertionRequest(label, allow...)
	req.Extensions = map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(in)}
	return req
}

// get gets an assertion with the salts and returns the decrypted outputs;
// token, when not nil, adds a pinUvAuthParam (user verification).
func (h *hsCase) get(label string, token []byte, salt1, salt2 []byte, allow ...*Credential) (output1, output2 []byte, resp *client.AssertionResponse) {
	t := h.t
	req := h.request(label, h.input(salt1, salt2), allow...)
	if token != nil {
		req.PinUvAuthParam = h.pc.p.AuthParam(token, req.ClientDataHash)
		req.PinUvAuthProtocol = h.pc.protocol()
	}
	resp = t.MustGetAssertion(req)
	o1, o2, ok, err := h.hs.Output(resp.AuthData)
	if err != nil || !ok {
		t.Fatalf("hmac-secret output: present %v, %v", ok, err)
	}
	Equal(t, "output1 length", len(o1), 32)
	if salt2 != nil {
		Equal(t, "output2 length", len(o2), 32)
	} else if o2 != nil {
		t.Errorf("one salt: a second output of %d bytes", len(o2))
	}
	return o1, o2, resp
}

// expectFails sends getAssertion with the input and expects status want.
func (h *hsCase) expectFails(in *ctap.HMACSecretInput, c *Credential, want ctap.Status, what string) {
	_, err := h.t.Ctap2().GetAssertion(h.t.ctx, h.request(what, in, c))
	h.t.ExpectStatus21(err, want, what)
}

// hmacSecretListed is hmacSecret with the PIN/UV auth protocol the key
// prefers among those it lists (CTAP 2.1 §6.4 pinUvAuthProtocols): 2,
// else 1, the only one a CTAP 2.0 key has.
func (t *T) hmacSecretListed() *hsCase {
	return t.hmacSecret(t.listedPinProtocol())
}

// listedPinProtocol is listedProtocol of the key under test.
func (t *T) listedPinProtocol() uint64 { return listedProtocol(t.Ctap2().Info()) }

// listedProtocol is 2 when info lists PIN/UV auth protocol 2, else 1.
func listedProtocol(info *client.Info) uint64 {
	if slices.Contains(info.PinUvProtocols, 2) {
		return 2
	}
	return 1
}

// inputProtocol is the hmac-secret input's pinUvAuthProtocol member: the
// member came with CTAP 2.1, and its absence means protocol 1.
func (pc *pinCase) inputProtocol() *uint64 {
	if pc.v == 1 {
		return nil
	}
	return pc.protocol()
}

func init() {
	for _, v := range []uint64{1, 2} {
		v := v
		Register(
			Case{ID: fmt.Sprintf("hs-v%d-one-salt", v), Section: "CTAP 2.1 §12.5",
				Title:    fmt.Sprintf("protocol %d: one salt gives one 32-byte output, the same twice", v),
				Versions: CTAP2,
				Run: func(t *T) {
					h := t.hmacSecret(v)
					c := h.credential("one", false)
					o1, _, resp := h.get("one-a", nil, hsSalt1, nil, c)
					if resp.AuthData.Flags.Has(ctap.FlagUV) {
						t.Fatalf("uv bit set without user verification")
					}
					again, _, _ := h.get("one-b", nil, hsSalt1, nil, c)
					if !bytes.Equal(o1, again) {
						t.Errorf("same salt, same UV state: %x then %x", o1, again)
					}
				}},
			Case{ID: fmt.Sprintf("hs-v%d-two-salts", v), Section: "CTAP 2.1 §12.5",
				Title:    fmt.Sprintf("protocol %d: two salts give output1 || output2, output1 as for salt1 alone", v),
				Versions: CTAP2,
				Run: func(t *T) {
					h := t.hmacSecret(v)
					c := h.credential("two", false)
					one, _, _ := h.get("two-a", nil, hsSalt1, nil, c)
					o1, o2, _ := h.get("two-b", nil, hsSalt1, hsSalt2, c)
					if !bytes.Equal(o1, one) {
						t.Errorf("output1 %x, with salt1 alone %x", o1, one)
					}
					if bytes.Equal(o1, o2) {
						t.Errorf("output1 and output2 are equal for different salts")
					}
				}},
			Case{ID: fmt.Sprintf("hs-v%d-uv", v), Section: "CTAP 2.1 §12.5 (CredRandomWithUV, CredRandomWithoutUV)",
				Title:       fmt.Sprintf("protocol %d: with a pinUvAuthParam (uv bit) the output differs from without, and repeats", v),
				Destructive: true,
				Versions:    CTAP2,
				Run: func(t *T) {
					t.needFreshKey()
					h := t.hmacSecret(v)
					c := h.credential("uv", false)
					h.pc.setPIN()
					withUV, _, resp := h.get("uv-a", h.pc.token(ctap.PermissionGetAssertion, t.RPID()), hsSalt1, nil, c)
					if !resp.AuthData.Flags.Has(ctap.FlagUV) {
						t.Fatalf("uv bit not set with a pinUvAuthParam")
					}
					again, _, _ := h.get("uv-b", h.pc.token(ctap.PermissionGetAssertion, t.RPID()), hsSalt1, nil, c)
					without, _, resp := h.get("uv-c", nil, hsSalt1, nil, c)
					if resp.AuthData.Flags.Has(ctap.FlagUV) {
						t.Fatalf("uv bit set without user verification")
					}
					if !bytes.Equal(withUV, again) {
						t.Errorf("with UV: %x then %x", withUV, again)
					}
					if bytes.Equal(withUV, without) {
						t.Errorf("the same output with and without UV: %x", withUV)
					}
				}},
			Case{ID: fmt.Sprintf("hs-v%d-mc", v), Section: "CTAP 2.2 §12.8",
				Title:    fmt.Sprintf("protocol %d: hmac-secret-mc gives at makeCredential the outputs getAssertion gives later", v),
				Versions: CTAP2,
				Run: func(t *T) {
					h := t.hmacSecret(v)
					h.needMC()
					exts, err := h.hs.MakeCredentialExtensions(t.ctx, hsSalt1, hsSalt2)
					if err != nil {
						t.Fatalf("hmac-secret-mc input: %v", err)
					}
					req := t.MakeCredentialRequest("mc", false)
					req.Extensions = exts
					c := t.MustMakeCredential(req)
					m1, m2, ok, err := h.hs.MCOutput(c.Response.AuthData)
					if err != nil || !ok {
						t.Fatalf("hmac-secret-mc output: present %v, %v", ok, err)
					}
					o1, o2, _ := h.get("mc", nil, hsSalt1, hsSalt2, c)
					if !bytes.Equal(m1, o1) || !bytes.Equal(m2, o2) {
						t.Errorf("makeCredential gave %x %x, getAssertion %x %x", m1, m2, o1, o2)
					}
				}},
		)
	}

	Register(
		Case{ID: "hs-getinfo", Section: "CTAP 2.1 §6.4, §12.5; CTAP 2.2 §12.8",
			Title:    "hmac-secret-mc is listed only beside hmac-secret (both are optional)",
			Versions: CTAP2,
			Run: func(t *T) {
				exts := t.Ctap2().Info().Extensions
				hs, mc := slices.Contains(exts, ctap.ExtHMACSecret), slices.Contains(exts, ctap.ExtHMACSecretMC)
				t.Observef("hmac-secret listed %t, hmac-secret-mc listed %t", hs, mc)
				if mc && !hs {
					t.Fatalf("extensions %q list hmac-secret-mc without hmac-secret", exts)
				}
			}},
		Case{ID: "hs-resident", Section: "CTAP 2.1 §12.5",
			Title:    "a discoverable credential made with hmac-secret gives outputs without an allowList",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				h.credential("rk", true)
				o1, o2, resp := h.get("rk-a", nil, hsSalt1, hsSalt2)
				if resp.User == nil {
					t.Errorf("no user in the assertion of a discoverable credential")
				}
				again, _, _ := h.get("rk-b", nil, hsSalt1, nil)
				if !bytes.Equal(o1, again) || bytes.Equal(o1, o2) {
					t.Errorf("outputs %x %x, then %x", o1, o2, again)
				}
			}},
		Case{ID: "hs-not-created", Section: "CTAP 2.1 §12.5",
			Title:    "a credential made without hmac-secret gets no hmac-secret output",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				c := t.MakeCredential("plain", false)
				if c.Response.AuthData.Extensions != nil {
					t.Errorf("makeCredential without extensions has extension outputs %x", c.Response.AuthData.Extensions)
				}
				resp := t.MustGetAssertion(h.request("plain", h.input(hsSalt1, nil), c))
				if _, _, ok, err := h.hs.Output(resp.AuthData); ok || err != nil {
					t.Errorf("hmac-secret output present %v, %v; want none", ok, err)
				}
			}},
		Case{ID: "hs-create-false", Section: "CTAP 2.1 §12.5",
			Title:    "\"hmac-secret\": false makes no hmac-secret output at makeCredential",
			Versions: CTAP2,
			Run: func(t *T) {
				t.hmacSecretListed()
				req := t.MakeCredentialRequest("false", false)
				req.Extensions = map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(false)}
				c := t.MustMakeCredential(req)
				if created, err := client.HmacSecretCreated(c.Response.AuthData); created || err != nil {
					t.Errorf("output \"hmac-secret\": %v, %v; want none", created, err)
				}
			}},
		Case{ID: "hs-bad-salt-auth", Section: "CTAP 2.1 §12.5",
			Title:    "a saltAuth that does not verify is CTAP2_ERR_PIN_AUTH_INVALID",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				c := h.credential("auth", false)
				in := h.input(hsSalt1, nil)
				in.SaltAuth[0] ^= 0x01
				h.expectFails(in, c, ctap.StatusPINAuthInvalid, "getAssertion with a wrong saltAuth")
			}},
		Case{ID: "hs-salt-length", Section: "CTAP 2.1 §12.5",
			Title:    "salts that decrypt to 48 bytes are CTAP1_ERR_INVALID_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				c := h.credential("len", false)
				key, shared, err := h.pc.cp.KeyAgreement(t.ctx)
				if err != nil {
					t.Fatalf("key agreement: %v", err)
				}
				enc, err := h.pc.p.Encrypt(nil, shared, bytes.Repeat([]byte{1}, 48))
				if err != nil {
					t.Fatalf("encrypt: %v", err)
				}
				in := &ctap.HMACSecretInput{KeyAgreement: &key, SaltEnc: enc, SaltAuth: h.pc.p.Authenticate(shared, enc), PinUvAuthProtocol: h.pc.inputProtocol()}
				h.expectFails(in, c, ctap.StatusInvalidParameter, "getAssertion with 48 bytes of salts")
			}},
		Case{ID: "hs-missing-key-agreement", Section: "CTAP 2.1 §12.5, §6.2.2",
			Title:    "an input without keyAgreement is CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				c := h.credential("nokey", false)
				in := h.input(hsSalt1, nil)
				in.KeyAgreement = nil
				h.expectFails(in, c, ctap.StatusMissingParameter, "getAssertion without keyAgreement")
			}},
		Case{ID: "hs-missing-salt-enc", Section: "CTAP 2.1 §12.5, §6.2.2",
			Title:    "an input without saltEnc is CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				c := h.credential("noenc", false)
				in := h.input(hsSalt1, nil)
				in.SaltEnc = nil
				h.expectFails(in, c, ctap.StatusMissingParameter, "getAssertion without saltEnc")
			}},
		Case{ID: "hs-unsupported-protocol", Section: "CTAP 2.1 §12.5, §6.5.4",
			Title:    "pinUvAuthProtocol 3 in the input is CTAP1_ERR_INVALID_PARAMETER",
			Versions: CTAP21,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				c := h.credential("p3", false)
				in := h.input(hsSalt1, nil)
				in.PinUvAuthProtocol = u64(3)
				h.expectFails(in, c, ctap.StatusInvalidParameter, "getAssertion with pinUvAuthProtocol 3")
			}},
		Case{ID: "hs-protocol-absent", Section: "CTAP 2.1 §12.5",
			Title:    "without pinUvAuthProtocol the input is protocol 1's",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecret(1)
				c := h.credential("absent", false)
				want, _, _ := h.get("absent-a", nil, hsSalt1, nil, c)
				in := h.input(hsSalt1, nil)
				in.PinUvAuthProtocol = nil
				resp := t.MustGetAssertion(h.request("absent-b", in, c))
				got, _, ok, err := h.hs.Output(resp.AuthData)
				if err != nil || !ok || !bytes.Equal(got, want) {
					t.Errorf("output %x (present %v, %v), want %x", got, ok, err, want)
				}
			}},
		Case{ID: "hs-up-false", Section: "CTAP 2.1 §12.5",
			Title:    "hmac-secret with the up option false is CTAP2_ERR_UNSUPPORTED_OPTION",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				c := h.credential("up", false)
				req := h.request("up", h.input(hsSalt1, nil), c)
				req.Options = map[string]bool{ctap.OptionUP: false}
				_, err := t.Ctap2().GetAssertion(t.ctx, req)
				t.ExpectStatus21(err, ctap.StatusUnsupportedOption, "getAssertion with up=false and hmac-secret")
			}},
		Case{ID: "hs-mc-without-hmac-secret", Section: "CTAP 2.2 §12.8",
			Title:    "hmac-secret-mc without \"hmac-secret\": true is CTAP2_ERR_MISSING_PARAMETER",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				h.needMC()
				req := t.MakeCredentialRequest("mc-alone", false)
				req.Extensions = map[string]ctap.RawMessage{ctap.ExtHMACSecretMC: ctap.MustMarshal(h.input(hsSalt1, nil))}
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusMissingParameter, "makeCredential with hmac-secret-mc alone")
			}},
		Case{ID: "hs-mc-bad-salt-auth", Section: "CTAP 2.2 §12.8, CTAP 2.1 §12.5",
			Title:    "hmac-secret-mc with a saltAuth that does not verify is CTAP2_ERR_PIN_AUTH_INVALID",
			Versions: CTAP2,
			Run: func(t *T) {
				h := t.hmacSecretListed()
				h.needMC()
				in := h.input(hsSalt1, nil)
				in.SaltAuth[1] ^= 0x80
				req := t.MakeCredentialRequest("mc-auth", false)
				req.Extensions = map[string]ctap.RawMessage{ctap.ExtHMACSecret: ctap.MustMarshal(true), ctap.ExtHMACSecretMC: ctap.MustMarshal(in)}
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "makeCredential with a wrong hmac-secret-mc saltAuth")
			}},
	)
}
