package conformance

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// CTAP 2.2 cases: the persistentPinUvAuthToken with the pcmr permission
// and read-only credential management (CTAP 2.2 §6.5.5.7, §6.8), and the
// getInfo members encrypted with it, encIdentifier and encCredStoreState
// (CTAP 2.2 §6.4). They run on a key that lists FIDO_2_2 and the
// perCredMgmtRO option, from a factory-new key with testPIN set.
//
// The CTAP 2.2 text could not be read where these were written: the
// rules are CTAP 2.2's as python-fido2 (Info.get_identifier), libfido2
// (fido_dev_get_puat, FIDO_PUAT_CREDMAN_RO) and pico-fido implement
// them, and where those leave a choice the cases accept each reading.

// pcmrCase starts a pcmr case: a factory-new key that lists the
// perCredMgmtRO option, with testPIN set, the PIN made known to the run
// (so that discoverable credentials can be made and removed).
func (t *T) pcmrCase() *pinCase {
	if v, _ := t.Ctap2().Info().Option(ctap.OptionPerCredMgmtRO); !v {
		t.skipFeature("the key does not list perCredMgmtRO true")
	}
	pc := t.preferredPIN()
	pc.freshKey()
	pc.setPIN()
	t.UsePIN(testPIN)
	t.info() // getInfo afresh: clientPin is true now
	return pc
}

// complexityCase starts a PIN complexity case: a factory-new key with
// authenticatorConfig, testPIN set, and the pinComplexityPolicy member
// (CTAP 2.2 §6.4, 0x1B) false.
func (t *T) complexityCase() *cfgCase {
	c := t.configCase(true)
	t.UsePIN(testPIN)
	p := t.info().Raw.PinComplexityPolicy
	if p == nil {
		t.skipFeature("the key does not list pinComplexityPolicy (0x1B)")
	}
	if *p {
		// A key may come with its policy on; these cases watch it being
		// switched on.
		t.skipFeature("the key's PIN complexity policy is on from the factory")
	}
	return c
}

// pcmrToken gets the persistentPinUvAuthToken: permissions pcmr alone.
func (pc *pinCase) pcmrToken() []byte {
	tok, err := pc.cp.GetPinToken(pc.t.ctx, testPIN, ctap.PermissionPersistentCredMgmtRO, "")
	if err != nil {
		pc.t.Fatalf("getPinUvAuthTokenUsingPinWithPermissions with pcmr (0x40) on a key listing perCredMgmtRO: %v", err)
	}
	return tok
}

// credMan returns a CredentialManagement client authorized by tok.
func (pc *pinCase) credMan(tok []byte) *client.CredentialManagement {
	cm, err := client.NewCredentialManagement(pc.t.Ctap2(), pc.p, tok)
	if err != nil {
		pc.t.Fatalf("CredentialManagement: %v", err)
	}
	return cm
}

// openInfoMember decrypts encIdentifier or encCredStoreState (CTAP 2.2
// §6.4) with the persistent token: the IV is the first 16 bytes, the key
// the first 16 bytes of HKDF-SHA-256(token, 32 zero bytes of salt, info
// label), the cipher AES-128-CBC.
func openInfoMember(t *T, tok, enc []byte, label string) []byte {
	if len(enc) < 2*aes.BlockSize || len(enc)%aes.BlockSize != 0 {
		t.Fatalf("%s of %d bytes: want an IV and at least one AES block", label, len(enc))
	}
	key, err := hkdf.Key(sha256.New, tok, make([]byte, 32), label, 16)
	if err != nil {
		t.Fatalf("HKDF: %v", err)
	}
	b, _ := aes.NewCipher(key)
	out := make([]byte, len(enc)-aes.BlockSize)
	cipher.NewCBCDecrypter(b, enc[:aes.BlockSize]).CryptBlocks(out, enc[aes.BlockSize:])
	return out
}

// encMembers reads getInfo afresh and returns encIdentifier and
// encCredStoreState, failing the case when the key lists neither once a
// persistent token exists.
func (t *T) encMembers(what string) (id, state []byte) {
	info := t.info()
	if info.Raw.EncIdentifier == nil {
		t.Fatalf("%s: getInfo has no encIdentifier (0x19) although a pcmr token was granted", what)
	}
	return info.Raw.EncIdentifier, info.Raw.EncCredStoreState
}

func init() {
	Register(
		Case{ID: "ctap22-getinfo", Section: "CTAP 2.2 §6.4 (members 0x16 to 0x1F, perCredMgmtRO)", Versions: CTAP22,
			Title: "the CTAP 2.2 getInfo members a key lists agree with each other and with the 2.1 members; the values are recorded",
			Run: func(t *T) {
				info := t.info()
				r := &info.Raw
				has := info.HasMember
				if has(client.InfoAttestationFormats) && len(r.AttestationFormats) == 0 {
					t.Errorf("attestationFormats (0x16) is an empty list")
				}
				if has(client.InfoMaxPINLength) {
					if r.MaxPINLength < info.MinPINLength || r.MaxPINLength > 63 {
						t.Errorf("maxPINLength (0x1D) %d: want minPINLength %d to 63 (a PIN has at most 63 bytes, CTAP 2.1 §6.5.5.5)", r.MaxPINLength, info.MinPINLength)
					}
				}
				for _, m := range []struct {
					key  uint64
					name string
					enc  []byte
				}{{client.InfoEncIdentifier, "encIdentifier (0x19)", r.EncIdentifier}, {client.InfoEncCredStoreState, "encCredStoreState (0x1E)", r.EncCredStoreState}} {
					if has(m.key) && (len(m.enc) < 32 || len(m.enc)%16 != 0) {
						t.Errorf("%s of %d bytes: want a 16-byte IV and whole AES blocks", m.name, len(m.enc))
					}
				}
				for _, tr := range r.TransportsForReset {
					if has(client.InfoTransports) && !slices.Contains(info.Transports, tr) {
						t.Warnf("transportsForReset (0x1A) lists %q, which transports (0x09) %v does not", tr, info.Transports)
					}
				}
				if cfg, _ := info.Option(ctap.OptionAuthnrCfg); has(client.InfoAuthenticatorConfigCommands) && !cfg {
					t.Warnf("authenticatorConfigCommands (0x1F) %v on a key without authnrCfg", r.AuthenticatorConfigCommands)
				}
				if _, uv := info.Option(ctap.OptionUV); has(client.InfoUVCountSinceLastPinEntry) && !uv {
					t.Warnf("uvCountSinceLastPinEntry (0x17) on a key without the uv option")
				}
				if has(client.InfoPinComplexityPolicyURL) && !has(client.InfoPinComplexityPolicy) {
					t.Warnf("pinComplexityPolicyURL (0x1C) without pinComplexityPolicy (0x1B)")
				}
				if ro, _ := info.Option(ctap.OptionPerCredMgmtRO); ro {
					cm, _ := info.Option(ctap.OptionCredMgmt)
					tok, _ := info.Option(ctap.OptionPinUvAuthToken)
					if !cm || !tok {
						t.Errorf("perCredMgmtRO true without credMgmt (%t) and pinUvAuthToken (%t): pcmr is a credentialManagement token permission", cm, tok)
					}
				}
				t.Observef("attestationFormats %q, longTouchForReset %v, transportsForReset %q, pinComplexityPolicy %v, maxPINLength %d, authenticatorConfigCommands %v",
					r.AttestationFormats, r.LongTouchForReset, r.TransportsForReset, r.PinComplexityPolicy, r.MaxPINLength, r.AuthenticatorConfigCommands)
			}},
		Case{ID: "ctap22-uv-count", Section: "CTAP 2.2 §6.4 (uvCountSinceLastPinEntry, 0x17)", Versions: CTAP22, Destructive: true,
			Title: "uvCountSinceLastPinEntry goes up by one with a built-in user verification and back to 0 when the PIN is entered",
			Run: func(t *T) {
				pc := t.preferredPIN()
				pc.freshKey()
				pc.setPIN()
				info := t.info()
				if uv, _ := info.Option(ctap.OptionUV); !uv || !info.HasMember(client.InfoUVCountSinceLastPinEntry) {
					t.skipFeature("the key lists no configured built-in UV (uv) or no uvCountSinceLastPinEntry")
				}
				count := func() uint64 {
					c := t.info().Raw.UVCountSinceLastPinEntry
					if c == nil {
						t.Fatalf("uvCountSinceLastPinEntry (0x17) went missing")
					}
					return *c
				}
				before := count()
				if _, err := pc.cp.GetUVToken(t.ctx, ctap.PermissionGetAssertion, t.RPID()); err != nil {
					t.Fatalf("getPinUvAuthTokenUsingUvWithPermissions: %v", err)
				}
				if n := count(); n != before+1 {
					t.Fatalf("uvCountSinceLastPinEntry %d after one built-in UV, was %d", n, before)
				}
				pc.token(ctap.PermissionGetAssertion, t.RPID())
				if n := count(); n != 0 {
					t.Fatalf("uvCountSinceLastPinEntry %d after the PIN was entered, want 0", n)
				}
			}},
		Case{ID: "ctap22-attestation-formats", Section: "CTAP 2.2 §6.1.2 step 19, §6.4 (attestationFormats)", Versions: CTAP22,
			Title: "with attestationFormatsPreference the key gives the listed format it supports that comes first, passing over unknown ones",
			Run: func(t *T) {
				own := t.Ctap2().Info().Raw.AttestationFormats
				if len(own) < 2 {
					t.skipFeature("the key lists fewer than two attestationFormats (%v): it has no choice to make", own)
				}
				for i, pref := range [][]string{
					{"x-unknown-format", own[1], own[0]},
					{own[0], own[1]},
					{"x-unknown-format", own[1]},
				} {
					req := t.MakeCredentialRequest(Sprintf("attfmt-%d", i), false)
					req.AttestationFormatsPreference = pref
					resp, err := t.Ctap2().MakeCredential(t.ctx, req)
					t.ExpectStatus(err, ctap.StatusOK, Sprintf("makeCredential with attestationFormatsPreference %q", pref))
					want := own[0]
					if pref[0] != own[0] {
						want = own[1]
					}
					if resp.Fmt != want {
						t.Fatalf("attestationFormatsPreference %q on a key listing %q: fmt %q, want %q", pref, own, resp.Fmt, want)
					}
					if err := resp.Verify(req.ClientDataHash, nil); err != nil {
						t.Fatalf("fmt %q: the attestation statement does not verify: %v", resp.Fmt, err)
					}
				}
			}},
		Case{ID: "ctap22-attestation-formats-none", Section: "CTAP 2.2 §6.1.2 step 19, §6.4 (attestationFormats)", Versions: CTAP22,
			Title: `attestationFormatsPreference ["none"] on a key listing "none" gives fmt "none" with an empty attStmt`,
			Run: func(t *T) {
				own := t.Ctap2().Info().Raw.AttestationFormats
				if !slices.Contains(own, ctap.FormatNone) {
					t.skipFeature(`the key does not list "none" in attestationFormats (%q)`, own)
				}
				req := t.MakeCredentialRequest("attfmt-none", false)
				req.AttestationFormatsPreference = []string{ctap.FormatNone}
				resp, err := t.Ctap2().MakeCredential(t.ctx, req)
				t.ExpectStatus(err, ctap.StatusOK, `makeCredential with attestationFormatsPreference ["none"]`)
				if resp.Fmt != ctap.FormatNone {
					t.Fatalf(`attestationFormatsPreference ["none"]: fmt %q, want "none"`, resp.Fmt)
				}
				if !bytes.Equal(resp.AttStmtRaw, []byte{0xa0}) {
					t.Fatalf(`fmt "none" with attStmt %x, want the empty map a0 (WebAuthn L3 §8.7)`, []byte(resp.AttStmtRaw))
				}
			}},
		Case{ID: "ctap22-attestation-formats-type", Section: "CTAP 2.2 §6.1 (attestationFormatsPreference: array of text strings); CTAP 2.1 §8",
			Versions: CTAP22,
			Title:    "an attestationFormatsPreference that is not an array of text strings gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
			Run: func(t *T) {
				req := t.MakeCredentialRequest("attfmt-type", false)
				m := map[int]any{1: req.ClientDataHash, 2: req.RP, 3: req.User, 4: req.PubKeyCredParams}
				for _, bad := range []any{[]any{uint64(1)}, "none", []any{[]byte("none")}} {
					m[0x0B] = bad
					st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(m))
					t.ExpectStatus(statusErr(st), ctap.StatusCBORUnexpectedType, Sprintf("attestationFormatsPreference %#v", bad))
				}
			}},
		Case{ID: "ctap22-pin-complexity-on", Section: "CTAP 2.2 §6.11.4 (pinComplexityPolicy), §6.4 (0x1B)", Versions: CTAP22, Destructive: true,
			Title: "setMinPINLength with pinComplexityPolicy true on a key listing pinComplexityPolicy false makes it true",
			Run: func(t *T) {
				c := t.complexityCase()
				t.ExpectStatus(c.acfg().SetMinPINLengthParams(t.ctx, client.MinPINLengthParams{PINComplexityPolicy: true}), ctap.StatusOK,
					"setMinPINLength with pinComplexityPolicy true")
				if p := t.info().Raw.PinComplexityPolicy; p == nil || !*p {
					t.Fatalf("getInfo pinComplexityPolicy %v after setMinPINLength switched it on, want true", p)
				}
			}},
		Case{ID: "ctap22-pin-complexity-trivial-pin", Section: "CTAP 2.2 §6.11.4 (pinComplexityPolicy), §6.5.5.6 steps 8, 9", Versions: CTAP22, Destructive: true,
			Level: Should,
			Title: "with the PIN complexity policy on, changePIN to one digit repeated gives CTAP2_ERR_PIN_POLICY_VIOLATION; a PIN of letters, digits and symbols is accepted",
			Run: func(t *T) {
				// The spec leaves the rule to the key (pinComplexityPolicyURL
				// states it), hence SHOULD: a policy that lets a PIN of one
				// repeated digit through enforces no complexity at all.
				c := t.complexityCase()
				t.ExpectStatus(c.acfg().SetMinPINLengthParams(t.ctx, client.MinPINLengthParams{PINComplexityPolicy: true}), ctap.StatusOK,
					"setMinPINLength with pinComplexityPolicy true")
				n := max(8, int(t.info().MinPINLength))
				_, err := c.send(c.changePINRequest(testPIN, strings.Repeat("1", n)))
				t.ExpectStatusAt(Should, err, ctap.StatusPINPolicyViolation, Sprintf("changePIN to %d ones under the PIN complexity policy", n))
				strong := "Vk7#q2Lm9!xR"
				_, err = c.send(c.changePINRequest(testPIN, strong))
				t.ExpectStatusAt(Should, err, ctap.StatusOK, "changePIN to "+strong+" under the PIN complexity policy")
				t.UsePIN(strong)
			}},
		Case{ID: "ctap22-pin-complexity-extension", Section: "CTAP 2.2 §12 (pinComplexityPolicy extension), §6.11.4", Versions: CTAP22, Destructive: true,
			Title: "the pinComplexityPolicy extension gives an RP of minPinLengthRPIDs the policy's value: false, then true once switched on",
			Run: func(t *T) {
				c := t.complexityCase()
				if !t.Ctap2().Info().HasExtension(ctap.ExtPinComplexityPolicy) {
					t.skipFeature("the key does not list the pinComplexityPolicy extension")
				}
				cf := c.acfg()
				t.ExpectStatus(cf.SetMinPINLengthParams(t.ctx, client.MinPINLengthParams{RPIDs: []string{t.RPID()}}), ctap.StatusOK,
					"setMinPINLength with minPinLengthRPIDs")
				e := &extCase{t: t, pc: c.pinCase}
				for i, want := range []bool{false, true} {
					if want {
						t.ExpectStatus(c.acfg().SetMinPINLengthParams(t.ctx, client.MinPINLengthParams{PINComplexityPolicy: true}), ctap.StatusOK,
							"setMinPINLength with pinComplexityPolicy true")
					}
					cred := e.mustMC(Sprintf("complexity-%d", i), false, inputs(t, ctap.ExtPinComplexityPolicy, true))
					var out map[string]ctap.RawMessage
					if err := ctap.Unmarshal(cred.Response.AuthData.Extensions, &out); err != nil {
						t.Fatalf("extension outputs: %v", err)
					}
					var got bool
					if raw, ok := out[ctap.ExtPinComplexityPolicy]; !ok || ctap.Unmarshal(raw, &got) != nil || got != want {
						t.Fatalf("pinComplexityPolicy output %x (present %t), want %t", []byte(raw), ok, want)
					}
				}
			}},
		Case{ID: "ctap22-pcmr-read", Section: "CTAP 2.2 §6.5.5.7.2, §6.8.2, §6.8.3, §6.8.4", Versions: CTAP22, Destructive: true,
			Title: "a key listing perCredMgmtRO grants pcmr alone, and the persistent token runs getCredsMetadata, enumerateRPsBegin and enumerateCredentialsBegin",
			Run: func(t *T) {
				pc := t.pcmrCase()
				cred := t.MakeCredential("pcmr-read", true)
				cm := pc.credMan(pc.pcmrToken())
				md, err := cm.GetMetadata(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getCredsMetadata with the pcmr token")
				if md.ExistingResidentCredentialsCount == nil || *md.ExistingResidentCredentialsCount != 1 {
					t.Errorf("existingResidentCredentialsCount %v, want 1", md.ExistingResidentCredentialsCount)
				}
				_, err = cm.EnumerateRPsBegin(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "enumerateRPsBegin with the pcmr token")
				h := t.RPIDHash()
				r, err := cm.EnumerateCredsBegin(t.ctx, h[:])
				t.ExpectStatus(err, ctap.StatusOK, "enumerateCredentialsBegin with the pcmr token")
				if r.CredentialID == nil || !bytes.Equal(r.CredentialID.ID, cred.ID) {
					t.Fatalf("enumerateCredentialsBegin returned another credential")
				}
			}},
		Case{ID: "ctap22-pcmr-uv", Section: "CTAP 2.2 §6.5.5.7.3, §6.8.2", Versions: CTAP22, Destructive: true,
			Title: "on a key with built-in UV, getPinUvAuthTokenUsingUvWithPermissions with pcmr gives a token that runs getCredsMetadata",
			Run: func(t *T) {
				pc := t.pcmrCase()
				if uv, _ := t.Ctap2().Info().Option(ctap.OptionUV); !uv {
					t.skipFeature("the key has no built-in user verification configured (uv option)")
				}
				t.MakeCredential("pcmr-uv", true)
				tok, err := pc.cp.GetUVToken(t.ctx, ctap.PermissionPersistentCredMgmtRO, "")
				t.ExpectStatus(err, ctap.StatusOK, "getPinUvAuthTokenUsingUvWithPermissions with pcmr")
				md, err := pc.credMan(tok).GetMetadata(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getCredsMetadata with the pcmr token from built-in UV")
				if md.ExistingResidentCredentialsCount == nil || *md.ExistingResidentCredentialsCount != 1 {
					t.Errorf("existingResidentCredentialsCount %v, want 1", md.ExistingResidentCredentialsCount)
				}
			}},
		Case{ID: "ctap22-pcmr-alone", Section: "CTAP 2.2 §6.5.5.7.2", Versions: CTAP22, Destructive: true,
			Title: "pcmr requested together with cm is refused (CTAP2_ERR_UNAUTHORIZED_PERMISSION, or CTAP1_ERR_INVALID_PARAMETER) and gives no token",
			Run: func(t *T) {
				pc := t.pcmrCase()
				_, err := pc.send(pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN,
					u64(ctap.PermissionPersistentCredMgmtRO|ctap.PermissionCredentialManagement), nil))
				t.ExpectOneOf(err, "getPinUvAuthTokenUsingPinWithPermissions with pcmr|cm",
					ctap.StatusUnauthorizedPermission, ctap.StatusInvalidParameter)
			}},
		Case{ID: "ctap22-pcmr-read-only", Section: "CTAP 2.2 §6.5.5.7, §6.8.5, §6.8.6", Versions: CTAP22, Destructive: true,
			Title: "the pcmr token cannot delete a credential or update its user (CTAP2_ERR_PIN_AUTH_INVALID) and the credential stays",
			Run: func(t *T) {
				pc := t.pcmrCase()
				cred := t.MakeCredential("pcmr-ro", true)
				cm := pc.credMan(pc.pcmrToken())
				t.ExpectStatus(cm.DeleteCred(t.ctx, cred.Descriptor()), ctap.StatusPINAuthInvalid, "deleteCredential with the pcmr token")
				t.ExpectStatus(cm.UpdateUserInfo(t.ctx, cred.Descriptor(), ctap.UserEntity{ID: cred.User.ID, Name: "renamed"}),
					ctap.StatusPINAuthInvalid, "updateUserInformation with the pcmr token")
				h := t.RPIDHash()
				creds, err := pc.credMan(pc.token(ctap.PermissionCredentialManagement, "")).EnumerateCreds(t.ctx, h[:])
				t.ExpectStatus(err, ctap.StatusOK, "enumerateCredentials with a cm token")
				if len(creds) != 1 || creds[0].User == nil || creds[0].User.Name == "renamed" {
					t.Fatalf("the credential was changed by a request with the pcmr token")
				}
			}},
		Case{ID: "ctap22-pcmr-persists", Section: "CTAP 2.2 §6.5.5.7 (persistentPinUvAuthToken)", Versions: CTAP22, Destructive: true,
			Needs: []Capability{CapPowerCycle},
			Title: "the pcmr token still reads the credentials after a power cycle and after a pinUvAuthToken with other permissions was issued",
			Run: func(t *T) {
				pc := t.pcmrCase()
				t.MakeCredential("pcmr-persist", true)
				tok := pc.pcmrToken()
				pc.token(ctap.PermissionGetAssertion, t.RPID())
				_, err := pc.credMan(tok).GetMetadata(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getCredsMetadata with the pcmr token after a ga token")
				t.PowerCycle()
				pc.refresh()
				_, err = pc.credMan(tok).GetMetadata(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getCredsMetadata with the pcmr token after a power cycle")
			}},
		Case{ID: "ctap22-pcmr-changepin", Section: "CTAP 2.2 §6.5.5.6 (resetPersistentPinUvAuthToken)", Versions: CTAP22, Destructive: true,
			Title: "after changePIN the old pcmr token is refused (CTAP2_ERR_PIN_AUTH_INVALID)",
			Run: func(t *T) {
				pc := t.pcmrCase()
				t.MakeCredential("pcmr-changepin", true)
				tok := pc.pcmrToken()
				if err := pc.cp.ChangePIN(t.ctx, testPIN, "56785678"); err != nil {
					t.Fatalf("changePIN: %v", err)
				}
				t.UsePIN("56785678")
				_, err := pc.credMan(tok).GetMetadata(t.ctx)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "getCredsMetadata with the pcmr token from before changePIN")
			}},
		Case{ID: "ctap22-pcmr-reset", Section: "CTAP 2.2 §6.6, §6.4 (encIdentifier)", Versions: CTAP22, Destructive: true,
			Needs: []Capability{CapPowerCycle},
			Title: "authenticatorReset ends the pcmr token (CTAP2_ERR_PIN_AUTH_INVALID) and gives the key a new device identifier",
			Run: func(t *T) {
				pc := t.pcmrCase()
				old := pc.pcmrToken()
				oldEnc, _ := t.encMembers("getInfo before the reset")
				oldID := openInfoMember(t, old, oldEnc, "encIdentifier")
				t.PowerCycle()
				if err := t.Ctap2().Reset(t.ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
				pc.refresh()
				pc.setPIN()
				t.info()
				_, err := pc.credMan(old).GetMetadata(t.ctx)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "getCredsMetadata with the pcmr token from before the reset")
				tok := pc.pcmrToken()
				enc, _ := t.encMembers("getInfo after the reset")
				if id := openInfoMember(t, tok, enc, "encIdentifier"); bytes.Equal(id, oldID) {
					t.Fatalf("the device identifier %x survived authenticatorReset", id)
				}
			}},
		Case{ID: "ctap22-encidentifier", Section: "CTAP 2.2 §6.4 (encIdentifier, 0x19)", Versions: CTAP22, Destructive: true,
			Title: "encIdentifier decrypts with the pcmr token to the same identifier at every getInfo, under a fresh IV each time",
			Run: func(t *T) {
				pc := t.pcmrCase()
				if t.info().Raw.EncIdentifier != nil {
					t.Observef("encIdentifier is listed before any pcmr token was granted")
				}
				tok := pc.pcmrToken()
				enc1, _ := t.encMembers("first getInfo")
				enc2, _ := t.encMembers("second getInfo")
				if bytes.Equal(enc1, enc2) {
					t.Errorf("encIdentifier is the same bytes at two getInfos: no fresh IV")
				}
				if id1, id2 := openInfoMember(t, tok, enc1, "encIdentifier"), openInfoMember(t, tok, enc2, "encIdentifier"); !bytes.Equal(id1, id2) {
					t.Fatalf("encIdentifier decrypts to %x, then to %x", id1, id2)
				}
			}},
		Case{ID: "ctap22-enccredstorestate", Section: "CTAP 2.2 §6.4 (encCredStoreState, 0x1E)", Versions: CTAP22, Destructive: true,
			Title: "encCredStoreState decrypts with the pcmr token to a value that stays while nothing changes and changes with a new discoverable credential",
			Run: func(t *T) {
				pc := t.pcmrCase()
				tok := pc.pcmrToken()
				_, enc1 := t.encMembers("first getInfo")
				_, enc2 := t.encMembers("second getInfo")
				if enc1 == nil {
					t.skipFeature("the key does not list encCredStoreState")
				}
				s1, s2 := openInfoMember(t, tok, enc1, "encCredStoreState"), openInfoMember(t, tok, enc2, "encCredStoreState")
				if !bytes.Equal(s1, s2) {
					t.Fatalf("encCredStoreState changed with no change to the credentials: %x, then %x", s1, s2)
				}
				t.MakeCredential("credstore", true)
				_, enc3 := t.encMembers("getInfo after makeCredential")
				if s3 := openInfoMember(t, tok, enc3, "encCredStoreState"); bytes.Equal(s1, s3) {
					t.Fatalf("encCredStoreState is %x before and after a new discoverable credential", s1)
				}
			}},
	)
}

// alwaysUv and CTAP1/U2F (CTAP 2.1 §7.2). U2F has no user verification,
// so a key whose alwaysUv option is on does not offer it: getInfo drops
// U2F_V2 and U2F_REGISTER and U2F_AUTHENTICATE are refused. The 2.1 text
// could not be read where this was written; OpenSK (allows_ctap1:
// SW_COMMAND_NOT_ALLOWED for every U2F command), pico-fido
// (SW_CONDITIONS_NOT_SATISFIED for authenticate, U2F_V2 out of getInfo)
// and trussed's fido-authenticator take it from §7.2. The case accepts
// any refusal: the spec names no status word.
func init() {
	Register(Case{ID: "u2f-alwaysuv-refused", Section: "CTAP 2.1 §7.2, §6.11.2; U2F v1.2 §4, §5", Versions: CTAP21, Destructive: true,
		Title: "with alwaysUv on, getInfo no longer lists U2F_V2 and U2F_REGISTER and U2F_AUTHENTICATE are refused; switched off, U2F works again",
		Run: func(t *T) {
			c := t.configCase(true, ctap.OptionAlwaysUv)
			t.UsePIN(testPIN)
			t.requireCTAP2()
			u2f := t.U2F(true) // skips a key without U2F
			reg := t.U2FRegister(u2f, "before")
			t.ExpectStatus(c.acfg().ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv on")
			info := t.info()
			expectOption(t, info, ctap.OptionAlwaysUv, true)
			if slices.Contains(info.Versions, ctap.VersionU2FV2) {
				t.Errorf("getInfo versions %v list U2F_V2 with alwaysUv on", info.Versions)
			}
			u2f = client.NewCtap1(t.Tap(t.Device()), client.WithExtendedAPDU(true))
			refused := func(err error, what string) {
				var ae *client.APDUError
				switch {
				case err == nil:
					t.Errorf("%s with alwaysUv on: SW_NO_ERROR, want a refusal", what)
				case errors.As(err, &ae) && ae.SW == ctap.SWConditionsNotSatisfied:
					t.Observef("%s with alwaysUv on: %v, read as a refusal (the key was not asked for a touch it could give)", what, ae.SW)
				case errors.As(err, &ae):
					t.Observef("%s with alwaysUv on: %v", what, ae.SW)
				default:
					t.Errorf("%s with alwaysUv on: %v, want a status word", what, err)
				}
			}
			_, err := u2f.Register(t.ctx, t.Hash("u2f-register/after"), t.AppParam())
			refused(err, "U2F_REGISTER")
			_, err = u2f.AuthenticateControl(t.ctx, 0x03, t.Hash("u2f-authenticate/after"), t.AppParam(), reg.KeyHandle)
			refused(err, "U2F_AUTHENTICATE")
			if t.Failed() {
				return
			}
			t.ExpectStatus(c.acfg().ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv off")
			if !slices.Contains(t.info().Versions, ctap.VersionU2FV2) {
				t.Fatalf("getInfo versions lack U2F_V2 after alwaysUv was switched off again")
			}
			t.U2FRegister(u2f, "after-off")
		}})
}
