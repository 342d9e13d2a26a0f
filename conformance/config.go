package conformance

import (
	"bytes"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// authenticatorConfig cases (CTAP 2.1 §6.11) and the features it
// switches: alwaysUv in makeCredential (§6.1.2 step 6) and getAssertion
// (§6.2.2 step 5), the minimum PIN length in setPIN and changePIN
// (§6.5.5.5, §6.5.5.6) and forcePINChange in the token subcommands
// (§6.5.5.7). authenticatorConfig is CTAP 2.1's (a key lists authnrCfg);
// every case starts from a factory-new key and runs with the key's
// preferred PIN/UV auth protocol.

// cfgCase is a config case's handle: the key's preferred PIN/UV auth protocol.
type cfgCase struct {
	*pinCase
}

// configCase makes sure the key implements authenticatorConfig and lists
// the getInfo options the case is about (alwaysUv, setMinPINLength and ep
// are optional, §6.4), starts from a factory-new key, and sets testPIN
// when withPIN.
func (t *T) configCase(withPIN bool, options ...string) *cfgCase {
	if !client.IsConfigSupported(t.Ctap2().Info()) {
		t.skipFeature("the key has no authnrCfg option")
	}
	for _, o := range options {
		if _, ok := t.Ctap2().Info().Option(o); !ok {
			t.skipFeature("the key does not list the %s option", o)
		}
	}
	c := &cfgCase{t.preferredPIN()}
	c.freshKey()
	if withPIN {
		c.setPIN()
	}
	return c
}

// config returns a Config client authorized by a token with permissions
// (0: no token).
func (c *cfgCase) config(permissions uint64) *client.Config {
	var tok []byte
	var p *client.PinProtocol
	if permissions != 0 {
		tok, p = c.token(permissions, ""), c.p
	}
	cf, err := client.NewConfig(c.t.Ctap2(), p, tok)
	if err != nil {
		c.t.Fatalf("Config: %v", err)
	}
	return cf
}

// acfg returns a Config client with a token that has the acfg permission.
func (c *cfgCase) acfg() *client.Config { return c.config(ctap.PermissionAuthenticatorConfig) }

// info fetches getInfo afresh.
func (t *T) info() *client.Info {
	info, err := t.Ctap2().GetInfo(t.ctx)
	if err != nil {
		t.Fatalf("getInfo: %v", err)
	}
	return info
}

// expectOption fails the case unless getInfo lists option name with value want.
func expectOption(t *T, info *client.Info, name string, want bool) {
	v, ok := info.Option(name)
	if !ok || v != want {
		t.Fatalf("getInfo option %s = %t (present %t), want %t", name, v, ok, want)
	}
}

// changePINRequest builds changePIN from cur to newPIN without the
// client's own PIN policy check, so that the key's is tested.
func (c *cfgCase) changePINRequest(cur, newPIN string) *ctap.ClientPINRequest {
	key, shared, err := c.cp.KeyAgreement(c.t.ctx)
	if err != nil {
		c.t.Fatalf("key agreement: %v", err)
	}
	hashEnc, err := c.p.Encrypt(nil, shared, ctap.PINHash(cur))
	if err != nil {
		c.t.Fatalf("encrypt: %v", err)
	}
	newEnc, err := c.p.Encrypt(nil, shared, padded([]byte(newPIN)))
	if err != nil {
		c.t.Fatalf("encrypt: %v", err)
	}
	req := c.cp.Request(ctap.PINChangePIN)
	req.KeyAgreement = &key
	req.PinHashEnc = hashEnc
	req.NewPinEnc = newEnc
	req.PinUvAuthParam = c.p.Authenticate(shared, append(bytes.Clone(newEnc), hashEnc...))
	return req
}

// tokenWith gets a token for pin and returns the error only.
func (c *cfgCase) tokenWith(pin string) error {
	_, err := c.cp.GetPinToken(c.t.ctx, pin, ctap.PermissionGetAssertion, "")
	return err
}

func init() {
	Register(
		Case{ID: "cfg-getinfo", Section: "CTAP 2.1 §6.4, §6.11, §7.1", Versions: CTAP21, Destructive: true,
			Title: "a new key lists authnrCfg true, ep false where listed and a minPINLength of at least 4 where listed; the optional members are recorded",
			Run: func(t *T) {
				t.configCase(false)
				info := t.info()
				expectOption(t, info, ctap.OptionAuthnrCfg, true)
				if v, ok := info.Option(ctap.OptionEP); ok && v {
					t.Fatalf("a factory-new key with enterprise attestation enabled (ep true)")
				}
				if info.HasMember(client.InfoMinPINLength) && info.MinPINLength < 4 {
					t.Fatalf("minPINLength %d, below the 4 code points of §6.5.1", info.MinPINLength)
				}
				for _, o := range []string{ctap.OptionSetMinPINLength, ctap.OptionAlwaysUv, ctap.OptionMakeCredUvNotRqd, ctap.OptionEP} {
					v, ok := info.Option(o)
					t.Observef("option %s: %t (listed %t)", o, v, ok)
				}
				t.Observef("minPINLength %d, maxRPIDsForSetMinPINLength %d, vendorPrototypeConfigCommands %v",
					info.MinPINLength, info.MaxRPIDsForMinPIN, info.VendorPrototypeConfigCommands)
			}},
		Case{ID: "cfg-missing-subcommand", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "authenticatorConfig without subCommand gives CTAP2_ERR_MISSING_PARAMETER",
			Run: func(t *T) {
				c := t.configCase(true)
				t.ExpectRaw(ctap.CmdConfig, t.Encode(&ctap.ConfigRequest{PinUvAuthProtocol: c.protocol()}), ctap.StatusMissingParameter)
			}},
		Case{ID: "cfg-unknown-subcommand", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "subCommand 0x04 gives CTAP2_ERR_INVALID_SUBCOMMAND",
			Run: func(t *T) {
				c := t.configCase(true)
				cf := c.acfg()
				req, err := cf.Request(0x04, nil)
				if err != nil {
					t.Fatalf("%v", err)
				}
				t.ExpectStatus(cf.Send(t.ctx, req), ctap.StatusInvalidSubcommand, "subCommand 0x04")
			}},
		Case{ID: "cfg-vendor-prototype", Section: "CTAP 2.1 §6.11.5, §6.4", Versions: CTAP21, Destructive: true,
			Title: "vendorPrototype on a key listing no vendorPrototypeConfigCommands gives CTAP2_ERR_INVALID_SUBCOMMAND",
			Run: func(t *T) {
				c := t.configCase(true)
				if len(t.Ctap2().Info().VendorPrototypeConfigCommands) != 0 {
					t.Skipf("key lists vendor prototype config commands")
				}
				cf := c.acfg()
				req, err := cf.Request(ctap.ConfigVendorPrototype, map[int]uint64{1: 0x1234})
				if err != nil {
					t.Fatalf("%v", err)
				}
				t.ExpectStatus(cf.Send(t.ctx, req), ctap.StatusInvalidSubcommand, "vendorPrototype 0x1234")
			}},
		Case{ID: "cfg-no-pin-no-auth", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "a key without PIN or built-in UV runs setMinPINLength without pinUvAuthParam",
			Run: func(t *T) {
				c := t.configCase(false, ctap.OptionSetMinPINLength)
				if v, _ := t.Ctap2().Info().Option(ctap.OptionUV); v {
					t.Skipf("key has built-in user verification")
				}
				t.ExpectStatus(c.config(0).SetMinPINLength(t.ctx, 5, nil, false), ctap.StatusOK, "setMinPINLength 5 without a token")
				Equal(t, "minPINLength", t.info().MinPINLength, 5)
			}},
		Case{ID: "cfg-puat-required", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "with a PIN set, toggleAlwaysUv without pinUvAuthParam gives CTAP2_ERR_PUAT_REQUIRED",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionAlwaysUv)
				t.ExpectStatus(c.config(0).ToggleAlwaysUV(t.ctx), ctap.StatusPUATRequired, "toggleAlwaysUv without a token")
				expectOption(t, t.info(), ctap.OptionAlwaysUv, false)
			}},
		Case{ID: "cfg-missing-protocol", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "a pinUvAuthParam without pinUvAuthProtocol gives CTAP2_ERR_MISSING_PARAMETER",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionAlwaysUv)
				cf := c.acfg()
				req, err := cf.Request(ctap.ConfigToggleAlwaysUv, nil)
				if err != nil {
					t.Fatalf("%v", err)
				}
				req.PinUvAuthProtocol = nil
				t.ExpectStatus(cf.Send(t.ctx, req), ctap.StatusMissingParameter, "toggleAlwaysUv without pinUvAuthProtocol")
			}},
		Case{ID: "cfg-bad-auth", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "a wrong pinUvAuthParam gives CTAP2_ERR_PIN_AUTH_INVALID and changes nothing",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionAlwaysUv)
				cf := c.acfg()
				req, err := cf.Request(ctap.ConfigToggleAlwaysUv, nil)
				if err != nil {
					t.Fatalf("%v", err)
				}
				req.PinUvAuthParam[0] ^= 1
				t.ExpectStatus(cf.Send(t.ctx, req), ctap.StatusPINAuthInvalid, "toggleAlwaysUv with a flipped MAC bit")
				expectOption(t, t.info(), ctap.OptionAlwaysUv, false)
			}},
		Case{ID: "cfg-params-covered", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "the MAC covers subCommandParams: changing them after gives CTAP2_ERR_PIN_AUTH_INVALID",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionSetMinPINLength)
				before := t.info().MinPINLength
				cf := c.acfg()
				req, err := cf.Request(ctap.ConfigSetMinPINLength, &ctap.SetMinPINLengthParams{NewMinPINLength: u64(6)})
				if err != nil {
					t.Fatalf("%v", err)
				}
				req.SubCommandParams = t.Encode(&ctap.SetMinPINLengthParams{NewMinPINLength: u64(7)})
				t.ExpectStatus(cf.Send(t.ctx, req), ctap.StatusPINAuthInvalid, "setMinPINLength 7 under a MAC over 6")
				Equal(t, "minPINLength", t.info().MinPINLength, before)
			}},
		Case{ID: "cfg-no-acfg-permission", Section: "CTAP 2.1 §6.11", Versions: CTAP21, Destructive: true,
			Title: "a token without the acfg permission gives CTAP2_ERR_PIN_AUTH_INVALID",
			Run: func(t *T) {
				c := t.configCase(true)
				// Each subcommand where the key has it: one it lacks is
				// CTAP2_ERR_INVALID_SUBCOMMAND before any authorization.
				_, alwaysUv := t.Ctap2().Info().Option(ctap.OptionAlwaysUv)
				_, ep := t.Ctap2().Info().Option(ctap.OptionEP)
				if !alwaysUv && !ep {
					t.skipFeature("the key lists neither alwaysUv nor ep")
				}
				cf := c.config(ctap.PermissionMakeCredential | ctap.PermissionGetAssertion)
				if alwaysUv {
					t.ExpectStatus(cf.ToggleAlwaysUV(t.ctx), ctap.StatusPINAuthInvalid, "toggleAlwaysUv with an mc|ga token")
				}
				if ep {
					t.ExpectStatus(cf.EnableEnterpriseAttestation(t.ctx), ctap.StatusPINAuthInvalid, "enableEnterpriseAttestation with an mc|ga token")
				}
			}},
		Case{ID: "cfg-enable-ep", Section: "CTAP 2.1 §6.11.1, §6.4", Versions: CTAP21, Destructive: true,
			Title: "enableEnterpriseAttestation turns getInfo's ep from false to true; again is CTAP2_OK",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionEP)
				expectOption(t, t.info(), ctap.OptionEP, false)
				cf := c.acfg()
				t.ExpectStatus(cf.EnableEnterpriseAttestation(t.ctx), ctap.StatusOK, "enableEnterpriseAttestation")
				expectOption(t, t.info(), ctap.OptionEP, true)
				t.ExpectStatus(c.acfg().EnableEnterpriseAttestation(t.ctx), ctap.StatusOK, "enableEnterpriseAttestation again")
				expectOption(t, t.info(), ctap.OptionEP, true)
			}},
		Case{ID: "cfg-toggle-always-uv", Section: "CTAP 2.1 §6.11.2, §6.4", Versions: CTAP21, Destructive: true,
			Title: "toggleAlwaysUv switches alwaysUv on and off, makeCredUvNotRqd the other way",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionAlwaysUv)
				t.ExpectStatus(c.acfg().ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv")
				info := t.info()
				_, listsNotRqd := t.Ctap2().Info().Option(ctap.OptionMakeCredUvNotRqd)
				expectOption(t, info, ctap.OptionAlwaysUv, true)
				if listsNotRqd {
					expectOption(t, info, ctap.OptionMakeCredUvNotRqd, false)
				}
				t.ExpectStatus(c.acfg().ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv again")
				info = t.info()
				expectOption(t, info, ctap.OptionAlwaysUv, false)
				if listsNotRqd {
					expectOption(t, info, ctap.OptionMakeCredUvNotRqd, true)
				}
			}},
		Case{ID: "cfg-always-uv-mc", Section: "CTAP 2.1 §6.1.2 step 6", Versions: CTAP21, Destructive: true,
			Title: "with alwaysUv and a PIN, makeCredential without pinUvAuthParam gives CTAP2_ERR_PUAT_REQUIRED; with one it works",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionAlwaysUv)
				if v, _ := t.Ctap2().Info().Option(ctap.OptionUV); v {
					t.Skipf("key has built-in user verification, which alwaysUv would run")
				}
				t.ExpectStatus(c.acfg().ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv")
				_, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("plain", false))
				t.ExpectStatus(err, ctap.StatusPUATRequired, "non-discoverable makeCredential without pinUvAuthParam")
				resp, err := c.mc("token", false, c.token(ctap.PermissionMakeCredential, t.RPID()))
				t.ExpectStatus(err, ctap.StatusOK, "makeCredential with pinUvAuthParam")
				if !resp.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("makeCredential flags %v lack UV", resp.AuthData.Flags)
				}
			}},
		Case{ID: "cfg-always-uv-ga", Section: "CTAP 2.1 §6.2.2 step 5", Versions: CTAP21, Destructive: true,
			Title: "with alwaysUv and a PIN, getAssertion without pinUvAuthParam gives CTAP2_ERR_PUAT_REQUIRED; up=false and a token work",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionAlwaysUv)
				if v, _ := t.Ctap2().Info().Option(ctap.OptionUV); v {
					t.Skipf("key has built-in user verification, which alwaysUv would run")
				}
				resp, err := c.mc("cred", false, c.token(ctap.PermissionMakeCredential, t.RPID()))
				if err != nil {
					t.Fatalf("makeCredential: %v", err)
				}
				cred := &Credential{ID: resp.AuthData.AttestedCredential.CredentialID}
				t.ExpectStatus(c.acfg().ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv")
				_, err = t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("plain", cred))
				t.ExpectStatus(err, ctap.StatusPUATRequired, "getAssertion without pinUvAuthParam")
				silent := t.GetAssertionRequest("silent", cred)
				silent.Options = map[string]bool{ctap.OptionUP: false}
				_, err = t.Ctap2().GetAssertion(t.ctx, silent)
				t.ExpectStatus(err, ctap.StatusOK, "getAssertion with up=false")
				ga, err := c.ga("token", c.token(ctap.PermissionGetAssertion, t.RPID()), cred)
				t.ExpectStatus(err, ctap.StatusOK, "getAssertion with pinUvAuthParam")
				if !ga.AuthData.Flags.Has(ctap.FlagUV) {
					t.Fatalf("getAssertion flags %v lack UV", ga.AuthData.Flags)
				}
			}},
		Case{ID: "cfg-always-uv-no-pin", Section: "CTAP 2.1 §6.11, §6.1.2 step 6", Versions: CTAP21, Destructive: true,
			Title: "without a PIN, toggleAlwaysUv needs no token; then makeCredential and config give CTAP2_ERR_PUAT_REQUIRED",
			Run: func(t *T) {
				c := t.configCase(false, ctap.OptionAlwaysUv)
				if v, _ := t.Ctap2().Info().Option(ctap.OptionUV); v {
					t.Skipf("key has built-in user verification")
				}
				t.ExpectStatus(c.config(0).ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv without a PIN")
				_, err := t.Ctap2().MakeCredential(t.ctx, t.MakeCredentialRequest("plain", false))
				t.ExpectStatus(err, ctap.StatusPUATRequired, "makeCredential with alwaysUv and no PIN")
				t.ExpectStatus(c.config(0).ToggleAlwaysUV(t.ctx), ctap.StatusPUATRequired, "toggleAlwaysUv with alwaysUv on and no PIN")
				c.setPIN()
				t.ExpectStatus(c.acfg().ToggleAlwaysUV(t.ctx), ctap.StatusOK, "toggleAlwaysUv with a token")
				expectOption(t, t.info(), ctap.OptionAlwaysUv, false)
			}},
		Case{ID: "cfg-min-pin-grow", Section: "CTAP 2.1 §6.11.4, §6.4", Versions: CTAP21, Destructive: true,
			Title: "setMinPINLength 6 with a PIN of 4 raises getInfo's minPINLength and forces a PIN change",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionSetMinPINLength)
				t.ExpectStatus(c.acfg().SetMinPINLength(t.ctx, 6, nil, false), ctap.StatusOK, "setMinPINLength 6")
				info := t.info()
				Equal(t, "minPINLength", info.MinPINLength, 6)
				Equal(t, "forcePINChange", info.ForcePINChange, true)
			}},
		Case{ID: "cfg-min-pin-shrink", Section: "CTAP 2.1 §6.11.4", Versions: CTAP21, Destructive: true,
			Title: "a newMinPINLength below the current one gives CTAP2_ERR_PIN_POLICY_VIOLATION",
			Run: func(t *T) {
				c := t.configCase(false, ctap.OptionSetMinPINLength)
				if err := c.cp.SetPIN(t.ctx, "12345678"); err != nil {
					t.Fatalf("setPIN: %v", err)
				}
				tok, err := c.cp.GetPinToken(t.ctx, "12345678", ctap.PermissionAuthenticatorConfig, "")
				if err != nil {
					t.Fatalf("token: %v", err)
				}
				cf, err := client.NewConfig(t.Ctap2(), c.p, tok)
				if err != nil {
					t.Fatalf("%v", err)
				}
				t.ExpectStatus(cf.SetMinPINLength(t.ctx, 6, nil, false), ctap.StatusOK, "setMinPINLength 6")
				t.ExpectStatus(cf.SetMinPINLength(t.ctx, 5, nil, false), ctap.StatusPINPolicyViolation, "setMinPINLength 5 after 6")
				info := t.info()
				Equal(t, "minPINLength", info.MinPINLength, 6)
				Equal(t, "forcePINChange", info.ForcePINChange, false)
			}},
		Case{ID: "cfg-min-pin-set-pin", Section: "CTAP 2.1 §6.11.4, §6.5.5.5", Versions: CTAP21, Destructive: true,
			Title: "after setMinPINLength 6, setPIN of 5 gives CTAP2_ERR_PIN_POLICY_VIOLATION and of 6 works",
			Run: func(t *T) {
				c := t.configCase(false, ctap.OptionSetMinPINLength)
				if v, _ := t.Ctap2().Info().Option(ctap.OptionUV); v {
					t.Skipf("key has built-in user verification")
				}
				t.ExpectStatus(c.config(0).SetMinPINLength(t.ctx, 6, nil, false), ctap.StatusOK, "setMinPINLength 6")
				_, err := c.send(c.setPINRequest(padded([]byte("12345"))))
				t.ExpectStatus(err, ctap.StatusPINPolicyViolation, "setPIN 12345")
				_, err = c.send(c.setPINRequest(padded([]byte("123456"))))
				t.ExpectStatus(err, ctap.StatusOK, "setPIN 123456")
			}},
		Case{ID: "cfg-min-pin-change-pin", Section: "CTAP 2.1 §6.11.4, §6.5.5.6", Versions: CTAP21, Destructive: true,
			Title: "with a minimum of 6, changePIN to 5 gives CTAP2_ERR_PIN_POLICY_VIOLATION and to 6 ends forcePINChange",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionSetMinPINLength)
				t.ExpectStatus(c.acfg().SetMinPINLength(t.ctx, 6, nil, false), ctap.StatusOK, "setMinPINLength 6")
				_, err := c.send(c.changePINRequest(testPIN, "12345"))
				t.ExpectStatus(err, ctap.StatusPINPolicyViolation, "changePIN to 12345")
				t.ExpectStatus(c.tokenWith(testPIN), ctap.StatusPINPolicyViolation, "token while a change is forced")
				_, err = c.send(c.changePINRequest(testPIN, "654321"))
				t.ExpectStatus(err, ctap.StatusOK, "changePIN to 654321")
				Equal(t, "forcePINChange", t.info().ForcePINChange, false)
				t.ExpectStatus(c.tokenWith("654321"), ctap.StatusOK, "token with the new PIN")
			}},
		Case{ID: "cfg-force-change-pin", Section: "CTAP 2.1 §6.11.4, §6.5.5.7", Versions: CTAP21, Destructive: true,
			Title: "forceChangePin makes the token subcommands give CTAP2_ERR_PIN_POLICY_VIOLATION until changePIN",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionSetMinPINLength)
				before := t.info().MinPINLength
				t.ExpectStatus(c.acfg().SetMinPINLength(t.ctx, 0, nil, true), ctap.StatusOK, "setMinPINLength forceChangePin")
				info := t.info()
				Equal(t, "forcePINChange", info.ForcePINChange, true)
				Equal(t, "minPINLength unchanged", info.MinPINLength, before)
				t.ExpectStatus(c.tokenWith(testPIN), ctap.StatusPINPolicyViolation, "token while a change is forced")
				_, err := c.send(c.changePINRequest(testPIN, testPIN))
				t.ExpectStatus(err, ctap.StatusPINPolicyViolation, "changePIN to the same PIN")
				if err := c.cp.ChangePIN(t.ctx, testPIN, "4321"); err != nil {
					t.Fatalf("changePIN: %v", err)
				}
				Equal(t, "forcePINChange", t.info().ForcePINChange, false)
				t.ExpectStatus(c.tokenWith("4321"), ctap.StatusOK, "token after the change")
			}},
		Case{ID: "cfg-force-change-no-pin", Section: "CTAP 2.1 §6.11.4", Versions: CTAP21, Destructive: true,
			Title: "forceChangePin on a key without a PIN gives CTAP2_ERR_PIN_NOT_SET",
			Run: func(t *T) {
				c := t.configCase(false, ctap.OptionSetMinPINLength)
				if v, _ := t.Ctap2().Info().Option(ctap.OptionUV); v {
					t.Skipf("key has built-in user verification")
				}
				t.ExpectStatus(c.config(0).SetMinPINLength(t.ctx, 0, nil, true), ctap.StatusPINNotSet, "forceChangePin without a PIN")
			}},
		Case{ID: "cfg-min-pin-rpids", Section: "CTAP 2.1 §6.11.4, §6.4", Versions: CTAP21, Destructive: true,
			Title: "minPinLengthRPIDs up to maxRPIDsForSetMinPINLength are accepted; one more gives CTAP2_ERR_PIN_POLICY_VIOLATION",
			Run: func(t *T) {
				c := t.configCase(true, ctap.OptionSetMinPINLength)
				n := int(t.Ctap2().Info().MaxRPIDsForMinPIN)
				if n == 0 || n > 64 {
					t.Skipf("maxRPIDsForSetMinPINLength %d", n)
				}
				ids := make([]string, n+1)
				for i := range ids {
					ids[i] = Sprintf("rp%d.%s", i, t.RPID())
				}
				t.ExpectStatus(c.acfg().SetMinPINLength(t.ctx, 0, ids, false), ctap.StatusPINPolicyViolation, Sprintf("%d RP IDs", n+1))
				t.ExpectStatus(c.acfg().SetMinPINLength(t.ctx, 0, ids[:n], false), ctap.StatusOK, Sprintf("%d RP IDs", n))
			}},
	)
}
