package conformance

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// CTAP1/U2F cases (FIDO U2F Raw Message Formats v1.2 over CTAPHID_MSG,
// CTAP 2.1 §11.2.9.1.1; CTAP 2.1 §10 for U2F credentials in CTAP2). The
// whole set is skipped for a key whose INIT capabilities set NMSG, or
// whose getInfo does not list U2F_V2. Cases that need CTAP2 are skipped
// on a U2F-only key (no CAPABILITY_CBOR).

// u2fSection is the spec the cases cite: FIDO U2F Raw Message Formats v1.2.
const u2fSection = "U2F v1.2 "

// skipNoU2F is the one skip message of keys without U2F, so the summary
// groups them.
const skipNoU2F = "not this feature: the key has no CTAP1/U2F (CAPABILITY_NMSG set or no U2F_V2 in getInfo)"

// U2F returns a CTAP1 client on the case's main connection, extended
// length APDUs unless short: over HID, browsers, libfido2 and python-fido2
// send extended APDUs (short ones are NFC's), so a key may take only
// those; the short variants are separate MAY cases. The case is skipped
// on a key without CTAP1/U2F.
func (t *T) U2F(extended bool) *client.Ctap1 {
	caps := t.Device().Conn().Info().Capabilities
	if caps&ctaphid.CapNMsg != 0 {
		t.Skipf(skipNoU2F)
	}
	if caps&ctaphid.CapCBOR != 0 && !slices.Contains(t.Ctap2().Info().Versions, ctap.VersionU2FV2) {
		t.Skipf(skipNoU2F)
	}
	return client.NewCtap1(t.Tap(t.Device()), client.WithExtendedAPDU(extended))
}

// requireCTAP2 skips the case on a U2F-only key.
func (t *T) requireCTAP2() {
	if t.Device().Conn().Info().Capabilities&ctaphid.CapCBOR == 0 {
		t.Skipf("U2F-only key: no CTAPHID_CBOR")
	}
}

// AppParam is the U2F application parameter of the case: SHA-256 of its
// RP ID, so that CTAP2 getAssertion with that RP ID finds its U2F
// credentials (CTAP 2.1 §10.3).
func (t *T) AppParam() []byte {
	h := t.RPIDHash()
	return h[:]
}

// pollU2F calls f until the key stops answering
// SW_CONDITIONS_NOT_SATISFIED, as U2F hosts poll for a touch; a person is
// prompted once on a key without a controller.
func (t *T) pollU2F(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, ctap.SWConditionsNotSatisfied) {
			return err
		}
		if t.prompt != nil {
			t.promptOnce.Do(func() {
				t.logf("the key asked for user presence")
				t.prompt(t.c.ID + ": touch your key now")
			})
		}
		select {
		case <-t.ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// U2FRegister registers with U2F (polling for a touch) and fails the case
// unless the registration parses and its attestation signature verifies.
func (t *T) U2FRegister(c *client.Ctap1, label string) *client.RegistrationData {
	var reg *client.RegistrationData
	cp := t.Hash("u2f-register/" + label)
	err := t.pollU2F(func() (err error) {
		reg, err = c.Register(t.ctx, cp, t.AppParam())
		return err
	})
	if err != nil {
		t.Fatalf("U2F_REGISTER: %v", err)
	}
	if err := reg.Verify(t.AppParam(), cp); err != nil {
		t.Fatalf("registration: %v", err)
	}
	return reg
}

// u2fAuthenticate sends U2F_AUTHENTICATE with control, polling for a
// touch for control 0x03.
func (t *T) u2fAuthenticate(c *client.Ctap1, control byte, clientParam, appParam, kh []byte) (*client.SignatureData, error) {
	var sig *client.SignatureData
	err := t.pollU2F(func() (err error) {
		sig, err = c.AuthenticateControl(t.ctx, control, clientParam, appParam, kh)
		return err
	})
	return sig, err
}

// expectSW fails the case unless err is an APDU error with status want.
func (t *T) expectSW(err error, want ctap.StatusWord, what string) {
	var ae *client.APDUError
	if !errors.As(err, &ae) || ae.SW != want {
		t.Fatalf("%s: got %v, want %v", what, describe(err), want)
	}
}

// rawSW sends a raw APDU and returns its status word.
func (t *T) rawSW(c *client.Ctap1, apdu []byte) ctap.StatusWord {
	_, sw, err := c.SendRaw(t.ctx, apdu)
	if err != nil {
		t.Fatalf("CTAPHID_MSG %x: %v", apdu, err)
	}
	return sw
}

func u2fSign(t *T, extended bool, control byte, wantUP byte) {
	c := t.U2F(extended)
	reg := t.U2FRegister(c, "sign")
	cp := t.Hash("u2f-authenticate")
	sig, err := t.u2fAuthenticate(c, control, cp, t.AppParam(), reg.KeyHandle)
	if err != nil {
		t.Fatalf("U2F_AUTHENTICATE %#x: %v", control, err)
	}
	if err := sig.Verify(t.AppParam(), cp, reg.PublicKey); err != nil {
		t.Fatalf("signature: %v", err)
	}
	Equal(t, "user presence byte", sig.UserPresence, wantUP)
}

func init() {
	Register(
		Case{ID: "u2f-version", Section: u2fSection + "§6.1",
			Title:    "U2F_VERSION answers \"U2F_V2\" with SW_NO_ERROR",
			Versions: U2F,
			Run: func(t *T) {
				v, err := t.U2F(true).GetVersion(t.ctx)
				if err != nil {
					t.Fatalf("U2F_VERSION: %v", err)
				}
				Equal(t, "version", v, "U2F_V2")
			}},
		Case{ID: "u2f-version-extended", Section: u2fSection + "§3.1",
			Title:    "U2F_VERSION in the extended encodings: 00 00 00 as Le, and Lc 0000 with Le 0000",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				for _, apdu := range [][]byte{{0, 3, 0, 0, 0, 0, 0}, {0, 3, 0, 0, 0, 0, 0, 0, 0}} {
					data, sw, err := c.SendRaw(t.ctx, apdu)
					if err != nil || sw != ctap.SWNoError || string(data) != "U2F_V2" {
						t.Fatalf("%x: %q %v %v", apdu, data, sw, err)
					}
				}
			}},
		Case{ID: "u2f-version-short", Section: u2fSection + "§3.1, §6.1",
			Title:    "U2F_VERSION in a short APDU (the NFC encoding; optional over HID)",
			Versions: U2F, Level: May,
			Run: func(t *T) {
				v, err := t.U2F(false).GetVersion(t.ctx)
				if err != nil {
					t.Fatalf("U2F_VERSION: %v", err)
				}
				Equal(t, "version", v, "U2F_V2")
			}},
		Case{ID: "u2f-register", Section: u2fSection + "§4.3",
			Title:    "U2F_REGISTER: reserved byte 0x05, a P-256 key, and an attestation signature that verifies",
			Versions: U2F,
			Run: func(t *T) {
				reg := t.U2FRegister(t.U2F(true), "register")
				Equal(t, "reserved byte", reg.Raw[0], byte(0x05))
				Equal(t, "public key length", len(reg.PublicKey), 65)
				if len(reg.KeyHandle) == 0 {
					t.Fatalf("empty key handle")
				}
			}},
		Case{ID: "u2f-register-short", Section: u2fSection + "§3.1, §4.1",
			Title:    "U2F_REGISTER in a short APDU (the NFC encoding; over HID a key may take extended APDUs only)",
			Versions: U2F, Level: May,
			Run: func(t *T) {
				t.U2FRegister(t.U2F(false), "register-short")
			}},
		Case{ID: "u2f-attestation-fido-u2f", Section: "WebAuthn §8.6",
			Title:    "the registration as a fido-u2f attestation object (x5c of one P-256 certificate) verifies",
			Versions: U2F,
			Run: func(t *T) {
				reg := t.U2FRegister(t.U2F(true), "attestation")
				att, err := client.AttestationResponseFromCTAP1(t.AppParam(), reg)
				if err != nil {
					t.Fatalf("AttestationResponseFromCTAP1: %v", err)
				}
				if err := att.Verify(t.Hash("u2f-register/attestation"), nil); err != nil {
					t.Fatalf("fido-u2f: %v", err)
				}
			}},
		Case{ID: "u2f-authenticate-enforce", Section: u2fSection + "§5.1, §5.4",
			Title:    "U2F_AUTHENTICATE 0x03: user presence 1 and a signature that verifies with the registered key",
			Versions: U2F,
			Run:      func(t *T) { u2fSign(t, true, ctap.U2FEnforceUserPresence, 1) }},
		Case{ID: "u2f-authenticate-short", Section: u2fSection + "§3.1, §5.1",
			Title:    "U2F_AUTHENTICATE 0x03 in short APDUs (the NFC encoding; optional over HID)",
			Versions: U2F, Level: May,
			Run: func(t *T) { u2fSign(t, false, ctap.U2FEnforceUserPresence, 1) }},
		Case{ID: "u2f-authenticate-dont-enforce", Section: u2fSection + "§5.1",
			Title:    "U2F_AUTHENTICATE 0x08 (dont-enforce-user-presence-and-sign): user presence 0, signature verifies",
			Versions: U2F,
			Run:      func(t *T) { u2fSign(t, true, ctap.U2FDontEnforceUserPresence, 0) }},
		Case{ID: "u2f-check-only-known", Section: u2fSection + "§5.1",
			Title:    "check-only (0x07) with a key handle of this key: SW_CONDITIONS_NOT_SATISFIED",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				reg := t.U2FRegister(c, "check")
				_, err := c.Authenticate(t.ctx, t.Hash("check"), t.AppParam(), reg.KeyHandle, true)
				t.expectSW(err, ctap.SWConditionsNotSatisfied, "check-only")
			}},
		Case{ID: "u2f-check-only-foreign", Section: u2fSection + "§5.1",
			Title:    "check-only (0x07) with a key handle of no key: SW_WRONG_DATA",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				kh := make([]byte, 64)
				rand.Read(kh)
				_, err := c.Authenticate(t.ctx, t.Hash("check"), t.AppParam(), kh, true)
				t.expectSW(err, ctap.SWWrongData, "check-only with a random key handle")
			}},
		Case{ID: "u2f-wrong-appid", Section: u2fSection + "§5.1",
			Title:    "a key handle used with another application parameter: SW_WRONG_DATA, for 0x07, 0x03 and 0x08",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				reg := t.U2FRegister(c, "appid")
				other := sha256.Sum256([]byte("other." + t.RPID()))
				for _, control := range []byte{ctap.U2FCheckOnly, ctap.U2FEnforceUserPresence, ctap.U2FDontEnforceUserPresence} {
					_, err := c.AuthenticateControl(t.ctx, control, t.Hash("appid"), other[:], reg.KeyHandle)
					var ae *client.APDUError
					if control == ctap.U2FEnforceUserPresence && errors.As(err, &ae) && ae.SW == ctap.SWConditionsNotSatisfied {
						// U2F v1.2 orders no checks: a key may ask for the
						// touch before it looks at the key handle.
						t.Observef("control 0x03 with another appId: %v before the key handle check", ae.SW)
						continue
					}
					t.expectSW(err, ctap.SWWrongData, Sprintf("control %#x with another appId", control))
				}
			}},
		Case{ID: "u2f-bad-cla", Section: u2fSection + "§3.3",
			Title:    "CLA 0x80: SW_CLA_NOT_SUPPORTED",
			Versions: U2F,
			Run: func(t *T) {
				Equal(t, "status", t.rawSW(t.U2F(true), []byte{0x80, ctap.U2FVersion, 0, 0, 0, 0, 0}), ctap.SWClaNotSupported)
			}},
		Case{ID: "u2f-bad-ins", Section: u2fSection + "§3.3",
			Title:    "an unknown INS (0x44, and U2F_CHECK_REGISTER's 0x04): SW_INS_NOT_SUPPORTED",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				for _, ins := range []byte{0x44, 0x04} {
					Equal(t, Sprintf("status for INS %#x", ins), t.rawSW(c, []byte{0, ins, 0, 0, 0, 0, 0}), ctap.SWInsNotSupported)
				}
			}},
		Case{ID: "u2f-wrong-length", Section: u2fSection + "§3.3, §4.1, §5.1",
			Title:    "SW_WRONG_LENGTH for REGISTER with 63 bytes and AUTHENTICATE whose L disagrees with the data",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				short, _ := client.EncodeAPDU(0, ctap.U2FRegister, 0, 0, make([]byte, 63), true)
				Equal(t, "REGISTER with 63 bytes", t.rawSW(c, short), ctap.SWWrongLength)
				data := append(make([]byte, 64), 10, 1, 2, 3) // L = 10, 3 bytes follow
				bad, _ := client.EncodeAPDU(0, ctap.U2FAuthenticate, ctap.U2FCheckOnly, 0, data, true)
				// U2F v1.2 gives no order to its checks: a key that looks
				// up the key handle before the length answers
				// SW_WRONG_DATA, and the text allows that.
				switch sw := t.rawSW(c, bad); sw {
				case ctap.SWWrongLength:
				case ctap.SWWrongData:
					t.Observef("AUTHENTICATE with L 10 and 3 bytes: %v (the key checks the key handle first)", sw)
				default:
					t.Fatalf("AUTHENTICATE with L 10 and 3 bytes: got %v, want %v or %v", sw, ctap.SWWrongLength, ctap.SWWrongData)
				}
			}},
		Case{ID: "u2f-presence-declined", Section: u2fSection + "§4.3, §5.4",
			Title:    "declined user presence: SW_CONDITIONS_NOT_SATISFIED for REGISTER and AUTHENTICATE 0x03, 0x08 still signs",
			Needs:    []Capability{CapControl},
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				reg := t.U2FRegister(c, "declined")
				t.SetPresence(PresenceDeny)
				_, err := c.Register(t.ctx, t.Hash("declined"), t.AppParam())
				t.expectSW(err, ctap.SWConditionsNotSatisfied, "register")
				_, err = c.Authenticate(t.ctx, t.Hash("declined"), t.AppParam(), reg.KeyHandle, false)
				t.expectSW(err, ctap.SWConditionsNotSatisfied, "authenticate 0x03")
				sig, err := c.AuthenticateControl(t.ctx, ctap.U2FDontEnforceUserPresence, t.Hash("declined"), t.AppParam(), reg.KeyHandle)
				if err != nil {
					t.Fatalf("authenticate 0x08: %v", err)
				}
				Equal(t, "user presence", sig.UserPresence, byte(0))
			}},
		Case{ID: "u2f-counter-increases", Section: u2fSection + "§5.4",
			Title:    "the counter of successive authentications increases",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				reg := t.U2FRegister(c, "counter")
				var last uint32
				for i, control := range []byte{ctap.U2FEnforceUserPresence, ctap.U2FDontEnforceUserPresence, ctap.U2FEnforceUserPresence} {
					sig, err := t.u2fAuthenticate(c, control, t.Hash("counter"), t.AppParam(), reg.KeyHandle)
					if err != nil {
						t.Fatalf("authenticate %d: %v", i, err)
					}
					if i > 0 && sig.Counter <= last {
						t.Fatalf("counter %d after %d", sig.Counter, last)
					}
					last = sig.Counter
				}
			}},
		Case{ID: "u2f-assertion-from-ctap1", Section: "CTAP 2.1 §10.3",
			Title:    "a U2F authentication as a CTAP2 assertion (authData appId || flags || counter) verifies",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				reg := t.U2FRegister(c, "from-ctap1")
				cp := t.Hash("from-ctap1")
				sig, err := t.u2fAuthenticate(c, ctap.U2FEnforceUserPresence, cp, t.AppParam(), reg.KeyHandle)
				if err != nil {
					t.Fatalf("authenticate: %v", err)
				}
				cred := ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: reg.KeyHandle}
				ar, err := client.AssertionResponseFromCTAP1(t.AppParam(), cred, sig)
				if err != nil {
					t.Fatalf("AssertionResponseFromCTAP1: %v", err)
				}
				key, err := reg.COSEKey()
				if err != nil {
					t.Fatalf("public key: %v", err)
				}
				if err := ar.Verify(cp, key); err != nil {
					t.Fatalf("assertion: %v", err)
				}
			}},
		Case{ID: "u2f-ctap2-getassertion", Section: "CTAP 2.1 §10.3, §6.2.2",
			Title:    "a U2F credential signs a CTAP2 getAssertion for the rpId whose hash is the appId",
			Versions: U2F,
			Run: func(t *T) {
				c := t.U2F(true)
				t.requireCTAP2()
				reg := t.U2FRegister(c, "ctap2")
				key, err := reg.COSEKey()
				if err != nil {
					t.Fatalf("public key: %v", err)
				}
				req := t.GetAssertionRequest("u2f")
				req.AllowList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: reg.KeyHandle}}
				resp := t.MustGetAssertion(req)
				if err := resp.Verify(req.ClientDataHash, key); err != nil {
					t.Fatalf("assertion with the U2F public key: %v", err)
				}
				if resp.AuthData.RPIDHash != t.RPIDHash() || !resp.AuthData.Flags.Has(ctap.FlagUP) {
					t.Fatalf("authData rpIdHash %x flags %v", resp.AuthData.RPIDHash, resp.AuthData.Flags)
				}
				if resp.Credential != nil && !bytes.Equal(resp.Credential.ID, reg.KeyHandle) {
					t.Fatalf("credential %x, want the key handle", resp.Credential.ID)
				}
			}},
		Case{ID: "u2f-getinfo-version", Section: "CTAP 2.1 §6.4, §11.2.9.1.3",
			Title:    "a CTAP2 key that answers U2F_VERSION lists U2F_V2 in getInfo, and one that does not, does not",
			Versions: CTAP2,
			Run: func(t *T) {
				caps := t.Device().Conn().Info().Capabilities
				if caps&ctaphid.CapNMsg != 0 {
					t.Skipf(skipNoU2F)
				}
				t.requireCTAP2()
				_, sw, err := client.NewCtap1(t.Device()).SendRaw(t.ctx, []byte{0, ctap.U2FVersion, 0, 0, 0, 0, 0})
				if err != nil && !errors.Is(err, ctaphid.ErrInvalidCmd) {
					t.Fatalf("U2F_VERSION: %v", err)
				}
				has := slices.Contains(t.Ctap2().Info().Versions, ctap.VersionU2FV2)
				if (err == nil && sw == ctap.SWNoError) != has {
					t.Fatalf("U2F_VERSION %v (%v), getInfo versions %v", sw, err, t.Ctap2().Info().Versions)
				}
			}},
	)
}
