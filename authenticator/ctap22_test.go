package authenticator

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// versions22 is the versions of a CTAP 2.2 key.
var versions22 = append(slices.Clone(Versions), ctap.VersionFIDO22)

// openMember decrypts encIdentifier or encCredStoreState with the
// persistent token as a platform does (python-fido2's get_identifier).
func openMember(t *testing.T, tok, enc []byte, label string) []byte {
	t.Helper()
	if len(enc) != 32 {
		t.Fatalf("%s of %d bytes, want 32", label, len(enc))
	}
	key, err := hkdf.Key(sha256.New, tok, make([]byte, 32), label, 16)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := aes.NewCipher(key)
	out := make([]byte, 16)
	cipher.NewCBCDecrypter(b, enc[:16]).CryptBlocks(out, enc[16:])
	return out
}

// pcmrToken gets the persistent token with the pcmr permission.
func (p *platform) pcmrToken(t *testing.T) []byte {
	t.Helper()
	tok, s := p.token("1234", ptr(ctap.PermissionPersistentCredMgmtRO), nil)
	if s != ctap.StatusOK {
		t.Fatalf("pcmr token: %v", s)
	}
	return tok
}

func TestInfoCTAP22Members(t *testing.T) {
	k21 := newTestKey(t)
	info := k21.info()
	if info.AttestationFormats != nil || info.MaxPINLength != 0 || info.PinComplexityPolicy != nil || info.TransportsForReset != nil {
		t.Errorf("a 2.1 key lists CTAP 2.2 members: %+v", info)
	}
	if _, ok := info.Options[ctap.OptionPerCredMgmtRO]; ok {
		t.Errorf("a 2.1 key lists perCredMgmtRO")
	}
	k := newTestKey(t, withVersions(versions22...))
	info = k.info()
	if !slices.Contains(info.Versions, ctap.VersionFIDO22) {
		t.Errorf("versions %v", info.Versions)
	}
	if !slices.Equal(info.AttestationFormats, []string{"packed", "none"}) || info.MaxPINLength != 63 ||
		info.PinComplexityPolicy == nil || *info.PinComplexityPolicy || !info.Options[ctap.OptionPerCredMgmtRO] ||
		!slices.Equal(info.TransportsForReset, []string{"usb"}) || info.LongTouchForReset == nil || *info.LongTouchForReset ||
		!slices.Equal(info.AuthenticatorConfigCommands, []uint64{1, 2, 3}) || string(info.PinComplexityPolicyURL) != PINComplexityPolicyURL {
		t.Errorf("2.2 members: %+v", info)
	}
	if info.UVCountSinceLastPinEntry != nil {
		t.Errorf("uvCountSinceLastPinEntry on a key without built-in UV")
	}
	if info.EncIdentifier != nil || info.EncCredStoreState != nil {
		t.Errorf("encIdentifier before any persistent token")
	}
	kn := newTestKey(t, withVersions(versions22...), withAttestation(AttestationNone))
	if got := kn.info().AttestationFormats; !slices.Equal(got, []string{"none"}) {
		t.Errorf("attestationFormats of a key without attestation: %v", got)
	}
}

func TestPersistentToken(t *testing.T) {
	forProtocols(t, func(t *testing.T, v uint64) {
		k := newTestKey(t, withVersions(versions22...))
		k.mustRegister(mcReq("a.example", []byte("alice"), true))
		p := newPlatform(k, v)
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatalf("setPIN: %v", s)
		}
		if _, s := p.token("1234", ptr(ctap.PermissionPersistentCredMgmtRO|ctap.PermissionCredentialManagement), nil); s != ctap.StatusUnauthorizedPermission {
			t.Errorf("pcmr|cm: %v, want CTAP2_ERR_UNAUTHORIZED_PERMISSION", s)
		}
		tok := p.pcmrToken(t)
		if again := p.pcmrToken(t); !bytes.Equal(again, tok) {
			t.Errorf("a second pcmr grant gave another token")
		}
		cm := &cmPlatform{platform: p, cmd: ctap.CmdCredentialManagement, tok: tok}
		check := func(when string) {
			t.Helper()
			if r, s := cm.call(ctap.CredMgmtGetCredsMetadata, nil); s != ctap.StatusOK || *r.ExistingResidentCredentialsCount != 1 {
				t.Errorf("%s: getCredsMetadata with pcmr: %v", when, s)
			}
			if _, s := cm.call(ctap.CredMgmtEnumerateRPsBegin, nil); s != ctap.StatusOK {
				t.Errorf("%s: enumerateRPsBegin with pcmr: %v", when, s)
			}
			r, s := cm.call(ctap.CredMgmtEnumerateCredentialsBegin, rpParams("a.example"))
			if s != ctap.StatusOK {
				t.Fatalf("%s: enumerateCredentialsBegin with pcmr: %v", when, s)
			}
			if _, s := cm.call(ctap.CredMgmtDeleteCredential, credParams(r.CredentialID.ID)); s != ctap.StatusPINAuthInvalid {
				t.Errorf("%s: deleteCredential with pcmr: %v, want CTAP2_ERR_PIN_AUTH_INVALID", when, s)
			}
		}
		check("after the grant")
		// A token with other permissions leaves it alone.
		p.mustToken("1234", ctap.PermissionGetAssertion, "a.example")
		check("after a ga token")
		k.a.PowerCycle()
		check("after a power cycle")

		info := k.info()
		id := openMember(t, tok, info.EncIdentifier, "encIdentifier")
		st := openMember(t, tok, info.EncCredStoreState, "encCredStoreState")
		info2 := k.info()
		if bytes.Equal(info.EncIdentifier, info2.EncIdentifier) {
			t.Errorf("encIdentifier the same at two getInfos")
		}
		if got := openMember(t, tok, info2.EncIdentifier, "encIdentifier"); !bytes.Equal(got, id) {
			t.Errorf("the device identifier changed between getInfos")
		}
		full := &cmPlatform{platform: p, cmd: ctap.CmdCredentialManagement, tok: p.mustToken("1234", ctap.PermissionCredentialManagement, "")}
		r, s := full.call(ctap.CredMgmtEnumerateCredentialsBegin, rpParams("a.example"))
		if s != ctap.StatusOK {
			t.Fatalf("enumerateCredentialsBegin: %v", s)
		}
		if _, s := full.call(ctap.CredMgmtDeleteCredential, credParams(r.CredentialID.ID)); s != ctap.StatusOK {
			t.Fatalf("deleteCredential: %v", s)
		}
		if got := openMember(t, tok, k.info().EncCredStoreState, "encCredStoreState"); bytes.Equal(got, st) {
			t.Errorf("encCredStoreState unchanged by a deleted discoverable credential")
		}

		if s := p.changePIN("1234", "5678"); s != ctap.StatusOK {
			t.Fatalf("changePIN: %v", s)
		}
		if _, s := cm.call(ctap.CredMgmtGetCredsMetadata, nil); s != ctap.StatusPINAuthInvalid {
			t.Errorf("the old pcmr token after changePIN: %v, want CTAP2_ERR_PIN_AUTH_INVALID", s)
		}
	})
}

func TestPCMROnCTAP21Key(t *testing.T) {
	k := newTestKey(t)
	p := newPlatform(k, 2)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatalf("setPIN: %v", s)
	}
	if _, s := p.token("1234", ptr(ctap.PermissionPersistentCredMgmtRO), nil); s != ctap.StatusUnauthorizedPermission {
		t.Errorf("pcmr on a 2.1 key: %v, want CTAP2_ERR_UNAUTHORIZED_PERMISSION", s)
	}
}

func TestAttestationFormatsPreference(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions []string
		mode     AttestationMode
		pref     []string
		want     string
	}{
		{"2.2 none", versions22, AttestationPacked, []string{"none"}, "none"},
		{"2.2 unknown then none", versions22, AttestationPacked, []string{"x-tpm", "none", "packed"}, "none"},
		{"2.2 packed first", versions22, AttestationPacked, []string{"packed", "none"}, "packed"},
		{"2.2 only unknown", versions22, AttestationPacked, []string{"x-tpm"}, "packed"},
		{"2.2 empty", versions22, AttestationPacked, []string{}, "packed"},
		{"2.2 self, none", versions22, AttestationSelf, []string{"none"}, "none"},
		{"2.2 none key, packed asked", versions22, AttestationNone, []string{"packed"}, "none"},
		{"2.1 ignores it", Versions, AttestationPacked, []string{"none"}, "packed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newTestKey(t, withVersions(tc.versions...), withAttestation(tc.mode))
			req := mcReq("a.example", []byte("alice"), false)
			req.AttestationFormatsPreference = tc.pref
			resp, s := k.makeCredential(req)
			if s != ctap.StatusOK {
				t.Fatalf("makeCredential: %v", s)
			}
			if resp.Fmt != tc.want {
				t.Errorf("fmt %q, want %q", resp.Fmt, tc.want)
			}
			if tc.want == "none" && (resp.AttStmt.Sig != nil || resp.AttStmt.X5C != nil || resp.EPAtt != nil) {
				t.Errorf("none with a statement: %+v", resp.AttStmt)
			}
		})
	}
}

func TestPINComplexityRule(t *testing.T) {
	for pin, ok := range map[string]bool{
		"1111": false, "aaaaaa": false, "1234": false, "98765": false, "0123456789": false, "ééééé": false,
		"1235": true, "1212": true, "abcd": true, "Vk7#q2Lm9!": true, "12345a": true, "1": true,
	} {
		if got := pinComplexityOK(pin); got != ok {
			t.Errorf("pinComplexityOK(%q) = %t, want %t", pin, got, ok)
		}
	}
}

func TestPINComplexityPolicy(t *testing.T) {
	for _, versions := range [][]string{versions22, Versions} {
		k := newTestKey(t, withVersions(versions...))
		p := newPlatform(k, 2)
		if s := p.setPIN("1234"); s != ctap.StatusOK {
			t.Fatalf("setPIN: %v", s)
		}
		tok := p.mustToken("1234", ctap.PermissionAuthenticatorConfig, "")
		on := true
		if s := p.config(tok, ctap.ConfigSetMinPINLength, &ctap.SetMinPINLengthParams{PinComplexityPolicy: &on}); s != ctap.StatusOK {
			t.Fatalf("setMinPINLength pinComplexityPolicy: %v", s)
		}
		is22 := slices.Contains(versions, ctap.VersionFIDO22)
		if got := k.info().PinComplexityPolicy; is22 && (got == nil || !*got) || !is22 && got != nil {
			t.Errorf("%v: pinComplexityPolicy %v", versions, got)
		}
		want := ctap.StatusOK
		if is22 {
			want = ctap.StatusPINPolicyViolation
		}
		if s := p.changePIN("1234", "777777"); s != want {
			t.Errorf("%v: changePIN to 777777: %v, want %v", versions, s, want)
		}
	}
}

// TestU2FRefusedWithAlwaysUV: alwaysUv on takes U2F_V2 out of getInfo and
// refuses U2F register and authenticate on every key (CTAP 2.1 §7.2);
// switched off, both work again. VERSION still answers.
func TestU2FRefusedWithAlwaysUV(t *testing.T) {
	k := newTestKey(t)
	var challenge, app [32]byte
	app[0] = 1
	reg := k.u2fRegister(challenge, app)
	k.a.state.AlwaysUV = true
	if vs := k.info().Versions; slices.Contains(vs, ctap.VersionU2FV2) {
		t.Errorf("versions %v with alwaysUv on", vs)
	}
	if !slices.Contains(k.a.versions, ctap.VersionU2FV2) {
		t.Errorf("listedVersions changed Config.Versions")
	}
	if _, sw := k.msg(u2fAPDU(ctap.U2FRegister, 0, append(challenge[:], app[:]...), false)); sw != ctap.SWCommandNotAllowed {
		t.Errorf("register with alwaysUv: %v", sw)
	}
	auth := append(append(append(challenge[:], app[:]...), byte(len(reg.kh))), reg.kh...)
	if _, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, 0x03, auth, false)); sw != ctap.SWCommandNotAllowed {
		t.Errorf("authenticate with alwaysUv: %v", sw)
	}
	if _, sw := k.msg(u2fAPDU(ctap.U2FVersion, 0, nil, false)); sw != ctap.SWNoError {
		t.Errorf("version with alwaysUv: %v", sw)
	}
	k.a.state.AlwaysUV = false
	if vs := k.info().Versions; !slices.Contains(vs, ctap.VersionU2FV2) {
		t.Errorf("versions %v with alwaysUv off", vs)
	}
	k.u2fRegister(challenge, app)
}

// TestPCMRWithBuiltInUV: on a 2.2 key with built-in UV the pcmr token
// comes from getPinUvAuthTokenUsingUvWithPermissions too, and
// uvCountSinceLastPinEntry counts the verifications since the last
// correct PIN.
func TestPCMRWithBuiltInUV(t *testing.T) {
	k := newTestKey(t, withVersions(versions22...), withBuiltInUV())
	p := newPlatform(k, 2)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatalf("setPIN: %v", s)
	}
	count := func() uint64 {
		t.Helper()
		c := k.info().UVCountSinceLastPinEntry
		if c == nil {
			t.Fatalf("no uvCountSinceLastPinEntry on a key with built-in UV")
		}
		return *c
	}
	if n := count(); n != 0 {
		t.Errorf("uvCountSinceLastPinEntry %d on a new key", n)
	}
	if _, s := p.uvToken(ptr(ctap.PermissionPersistentCredMgmtRO|ctap.PermissionGetAssertion), nil); s != ctap.StatusUnauthorizedPermission {
		t.Errorf("pcmr|ga with UV: %v", s)
	}
	tok, s := p.uvToken(ptr(ctap.PermissionPersistentCredMgmtRO), nil)
	if s != ctap.StatusOK {
		t.Fatalf("pcmr with UV: %v", s)
	}
	if n := count(); n != 1 {
		t.Errorf("uvCountSinceLastPinEntry %d after one UV, want 1", n)
	}
	if !bytes.Equal(tok, k.a.state.PersistentToken) {
		t.Errorf("UV pcmr token is not the persistent token")
	}
	cm := &cmPlatform{platform: p, cmd: ctap.CmdCredentialManagement, tok: tok}
	if _, s := cm.call(ctap.CredMgmtGetCredsMetadata, nil); s != ctap.StatusOK {
		t.Errorf("getCredsMetadata with the UV pcmr token: %v", s)
	}
	p.mustToken("1234", ctap.PermissionGetAssertion, "a.example")
	if n := count(); n != 0 {
		t.Errorf("uvCountSinceLastPinEntry %d after a correct PIN, want 0", n)
	}
}
