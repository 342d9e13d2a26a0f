package authenticator

import (
	"slices"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

func withVersions(v ...string) keyOption { return func(c *Config) { c.Versions = v } }

var ctap20Versions = []string{ctap.VersionU2FV2, ctap.VersionFIDO20}

// TestCTAP20Commands: a CTAP 2.0 key implements the commands of CTAP 2.0
// §5 (0x01 to 0x08) and no other: the CTAP 2.1 codes, 2.1-PRE ones
// included, answer CTAP1_ERR_INVALID_COMMAND.
func TestCTAP20Commands(t *testing.T) {
	k := newTestKey(t, withVersions(ctap20Versions...))
	for _, cmd := range []ctap.Command{ctap.CmdBioEnrollment, ctap.CmdCredentialManagement, ctap.CmdSelection,
		ctap.CmdLargeBlobs, ctap.CmdConfig, ctap.CmdBioEnrollmentPre, ctap.CmdCredentialManagementPre} {
		if s := k.do(cmd, rawParams{0xa0}, nil); s != ctap.StatusInvalidCommand {
			t.Errorf("%v: %v, want CTAP1_ERR_INVALID_COMMAND", cmd, s)
		}
	}
	if s := k.do(ctap.CmdGetInfo, nil, nil); s != ctap.StatusOK {
		t.Errorf("getInfo: %v", s)
	}
}

// TestPreCommandsFollowVersions: 0x40 and 0x41 are the 2.1-PRE codes, there
// on a key that lists FIDO_2_1_PRE and not on one that lists FIDO_2_1 alone.
func TestPreCommandsFollowVersions(t *testing.T) {
	k := newTestKey(t, withVersions(ctap.VersionFIDO20, ctap.VersionFIDO21))
	if s := k.do(ctap.CmdCredentialManagementPre, rawParams{0xa1, 0x01, 0x01}, nil); s != ctap.StatusInvalidCommand {
		t.Errorf("0x41 without FIDO_2_1_PRE: %v, want CTAP1_ERR_INVALID_COMMAND", s)
	}
	if s := k.do(ctap.CmdCredentialManagement, rawParams{0xa1, 0x01, 0x01}, nil); s == ctap.StatusInvalidCommand {
		t.Errorf("0x0A on a FIDO_2_1 key: %v", s)
	}
	k = newTestKey(t, withVersions(ctap.VersionFIDO20, ctap.VersionFIDO21Pre))
	if s := k.do(ctap.CmdCredentialManagementPre, rawParams{0xa1, 0x01, 0x01}, nil); s == ctap.StatusInvalidCommand {
		t.Errorf("0x41 on a FIDO_2_1_PRE key: %v", s)
	}
}

// TestCTAP20ClientPIN: subCommands 0x06, 0x07 and 0x09 are CTAP 2.1's
// (CTAP 2.0 §5.5.3 lists 0x01 to 0x05), and protocol 2 is not a CTAP 2.0
// one; getPinToken's token serves makeCredential and getAssertion.
func TestCTAP20ClientPIN(t *testing.T) {
	k := newTestKey(t, withVersions(ctap20Versions...), func(c *Config) { c.BuiltInUV = true })
	for _, sub := range []uint64{ctap.PINGetPinUvAuthTokenUsingUvWithPermissions, ctap.PINGetUVRetries, ctap.PINGetPinUvAuthTokenUsingPinWithPermissions} {
		req := &ctap.ClientPINRequest{PinUvAuthProtocol: ptr(uint64(1)), SubCommand: ptr(sub), Permissions: ptr(uint64(1))}
		if s := k.do(ctap.CmdClientPIN, req, nil); s != ctap.StatusInvalidSubcommand {
			t.Errorf("subCommand %#x: %v, want CTAP2_ERR_INVALID_SUBCOMMAND", sub, s)
		}
	}
	req := &ctap.ClientPINRequest{PinUvAuthProtocol: ptr(uint64(2)), SubCommand: ptr(ctap.PINGetKeyAgreement)}
	if s := k.do(ctap.CmdClientPIN, req, nil); s != ctap.StatusInvalidParameter {
		t.Errorf("getKeyAgreement with protocol 2: %v, want CTAP1_ERR_INVALID_PARAMETER", s)
	}
	p := newPlatform(k, 1)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatalf("setPIN: %v", s)
	}
	tok, s := p.token("1234", nil, nil)
	if s != ctap.StatusOK {
		t.Fatalf("getPinToken: %v", s)
	}
	mc := mcReq("example.com", []byte("u"), false)
	p.authorize(tok, &mc.PinUvAuthParam, &mc.PinUvAuthProtocol)
	if _, s := k.makeCredential(mc); s != ctap.StatusOK {
		t.Errorf("makeCredential with getPinToken's token: %v", s)
	}
	mc.PinUvAuthProtocol = ptr(uint64(2))
	if _, s := k.makeCredential(mc); s != ctap.StatusPINAuthInvalid {
		t.Errorf("makeCredential with pinProtocol 2: %v, want CTAP2_ERR_PIN_AUTH_INVALID (CTAP 2.0 §5.1 step 7)", s)
	}
}

// TestProtocolNotListed: a 2.1 key that lists protocol 2 alone refuses 1
// with CTAP1_ERR_INVALID_PARAMETER (§6.5.5.1, §6.1.2 step 2).
func TestProtocolNotListed(t *testing.T) {
	k := newTestKey(t, func(c *Config) { c.PinUvAuthProtocols = []uint64{2} })
	if got := k.info().PinUvAuthProtocols; !slices.Equal(got, []uint64{2}) {
		t.Errorf("pinUvAuthProtocols %v", got)
	}
	req := &ctap.ClientPINRequest{PinUvAuthProtocol: ptr(uint64(1)), SubCommand: ptr(ctap.PINGetKeyAgreement)}
	if s := k.do(ctap.CmdClientPIN, req, nil); s != ctap.StatusInvalidParameter {
		t.Errorf("getKeyAgreement with protocol 1: %v", s)
	}
	mc := mcReq("example.com", []byte("u"), false)
	mc.PinUvAuthParam, mc.PinUvAuthProtocol = make([]byte, 16), ptr(uint64(1))
	if _, s := k.makeCredential(mc); s != ctap.StatusInvalidParameter {
		t.Errorf("makeCredential with protocol 1: %v", s)
	}
}

// TestFeaturesOff: what a Config switches off is off in the commands.
func TestFeaturesOff(t *testing.T) {
	t.Run("rk", func(t *testing.T) {
		k := newTestKey(t, func(c *Config) { c.NoResidentKeys = true })
		if _, s := k.makeCredential(mcReq("example.com", []byte("u"), true)); s != ctap.StatusUnsupportedOption {
			t.Errorf("rk true: %v, want CTAP2_ERR_UNSUPPORTED_OPTION (§6.1.2 step 5.4)", s)
		}
		info := k.info()
		if rk, ok := info.Options[ctap.OptionRK]; !ok || rk {
			t.Errorf("getInfo rk %v %v, want false", rk, ok)
		}
		if info.RemainingDiscoverableCredentials != nil {
			t.Error("remainingDiscoverableCredentials on a key without them")
		}
	})
	for _, tt := range []struct {
		name   string
		cfg    func(*Config)
		cmds   []ctap.Command
		option string
	}{
		{"credMgmt", func(c *Config) { c.NoCredentialManagement = true }, []ctap.Command{ctap.CmdCredentialManagement, ctap.CmdCredentialManagementPre}, ctap.OptionCredMgmt},
		{"largeBlobs", func(c *Config) { c.NoLargeBlobs = true }, []ctap.Command{ctap.CmdLargeBlobs}, ctap.OptionLargeBlobs},
		{"authnrCfg", func(c *Config) { c.NoAuthenticatorConfig = true }, []ctap.Command{ctap.CmdConfig}, ctap.OptionAuthnrCfg},
		{"clientPin", func(c *Config) { c.NoClientPIN = true }, []ctap.Command{ctap.CmdClientPIN}, ctap.OptionClientPIN},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newTestKey(t, tt.cfg)
			for _, cmd := range tt.cmds {
				if s := k.do(cmd, rawParams{0xa1, 0x01, 0x01}, nil); s != ctap.StatusInvalidCommand {
					t.Errorf("%v: %v, want CTAP1_ERR_INVALID_COMMAND", cmd, s)
				}
			}
			info := k.info()
			if _, ok := info.Options[tt.option]; ok {
				t.Errorf("getInfo lists %s", tt.option)
			}
			if tt.option == ctap.OptionClientPIN {
				_, tok := info.Options[ctap.OptionPinUvAuthToken]
				if len(info.PinUvAuthProtocols) != 0 || tok || slices.Contains(info.Extensions, ctap.ExtHMACSecret) {
					t.Errorf("a key without PIN or UV lists protocols %v, pinUvAuthToken %v, extensions %v", info.PinUvAuthProtocols, tok, info.Extensions)
				}
			}
		})
	}
	t.Run("ep", func(t *testing.T) {
		k := newTestKey(t, func(c *Config) { c.NoEnterpriseAttestation = true })
		if _, ok := k.info().Options[ctap.OptionEP]; ok {
			t.Error("getInfo lists ep")
		}
		if s := k.do(ctap.CmdConfig, &ctap.ConfigRequest{SubCommand: ptr(ctap.ConfigEnableEnterpriseAttestation)}, nil); s != ctap.StatusInvalidSubcommand {
			t.Errorf("enableEnterpriseAttestation: %v, want CTAP2_ERR_INVALID_SUBCOMMAND", s)
		}
		mc := mcReq("example.com", []byte("u"), false)
		mc.EnterpriseAttestation = ptr(uint64(2))
		if _, s := k.makeCredential(mc); s != ctap.StatusInvalidParameter {
			t.Errorf("enterpriseAttestation: %v, want CTAP1_ERR_INVALID_PARAMETER (§6.1.2 step 9.1)", s)
		}
	})
	t.Run("extension", func(t *testing.T) {
		k := newTestKey(t, func(c *Config) { c.Extensions = []string{ctap.ExtHMACSecret} })
		mc := mcReq("example.com", []byte("u"), true)
		mc.Extensions = map[string]ctap.RawMessage{ctap.ExtCredProtect: ctap.MustMarshal(3), ctap.ExtCredBlob: ctap.MustMarshal([]byte("x"))}
		resp, s := k.makeCredential(mc)
		if s != ctap.StatusOK {
			t.Fatalf("makeCredential: %v", s)
		}
		ad, err := ctap.ParseAuthData(resp.AuthData)
		if err != nil {
			t.Fatal(err)
		}
		if ad.Extensions != nil {
			t.Errorf("outputs of extensions the key lacks: %x", ad.Extensions)
		}
		if info := k.info(); !slices.Equal(info.Extensions, []string{ctap.ExtHMACSecret}) || info.MaxCredBlobLength != 0 {
			t.Errorf("getInfo extensions %v maxCredBlobLength %d", info.Extensions, info.MaxCredBlobLength)
		}
	})
	t.Run("algorithms", func(t *testing.T) {
		k := newTestKey(t, func(c *Config) { c.Algorithms = []int64{ctap.AlgES256} })
		if _, s := k.makeCredential(mcReq("example.com", []byte("u"), false, ctap.AlgEdDSA)); s != ctap.StatusUnsupportedAlgorithm {
			t.Errorf("EdDSA on an ES256 key: %v", s)
		}
		if got := k.info().Algorithms; len(got) != 1 || got[0].Alg != ctap.AlgES256 {
			t.Errorf("getInfo algorithms %v", got)
		}
	})
	t.Run("limits", func(t *testing.T) {
		k := newTestKey(t, func(c *Config) { c.MaxMsgSize, c.MaxLargeBlobArray, c.MaxCredBlobLength = 1200, 2048, 64 })
		info := k.info()
		if info.MaxMsgSize != 1200 || info.MaxSerializedLargeBlobArray != 2048 || info.MaxCredBlobLength != 64 {
			t.Errorf("getInfo limits %d %d %d", info.MaxMsgSize, info.MaxSerializedLargeBlobArray, info.MaxCredBlobLength)
		}
		if s := k.do(ctap.CmdMakeCredential, rawParams(make([]byte, 1200)), nil); s != ctap.StatusInvalidLength {
			t.Errorf("a 1201-byte request: %v, want CTAP1_ERR_INVALID_LENGTH", s)
		}
		if s := k.do(ctap.CmdLargeBlobs, &ctap.LargeBlobsRequest{Offset: ptr(uint64(0)), Get: ptr(uint64(1200 - 63))}, nil); s != ctap.StatusInvalidLength {
			t.Errorf("get past maxFragmentLength: %v", s)
		}
	})
}

// TestConfigErrors: a Config asking for what the key cannot be fails New.
func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"protocol 3":              {PinUvAuthProtocols: []uint64{3}},
		"protocol 2 on 2.0":       {Versions: ctap20Versions, PinUvAuthProtocols: []uint64{2, 1}},
		"credBlob on 2.0":         {Versions: ctap20Versions, Extensions: []string{ctap.ExtCredBlob}},
		"bio on 2.0":              {Versions: ctap20Versions, BuiltInUV: true, BioEnrollment: true},
		"unknown extension":       {Extensions: []string{"nope"}},
		"no algorithm":            {Algorithms: []int64{}},
		"unknown algorithm":       {Algorithms: []int64{-999}},
		"small maxMsgSize":        {MaxMsgSize: 512},
		"small large-blob array":  {MaxLargeBlobArray: 100},
		"small maxCredBlobLength": {MaxCredBlobLength: 16},
		"PIN without protocol":    {PinUvAuthProtocols: []uint64{}},
		"protocol without PIN":    {NoClientPIN: true, PinUvAuthProtocols: []uint64{1}},
		"hmac-secret without PIN": {NoClientPIN: true, Extensions: []string{ctap.ExtHMACSecret}},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "authenticator: ") {
			t.Errorf("%s: New: %v, want an error", name, err)
		}
	}
}

// TestCTAP20PIN: on a CTAP 2.0 key with a PIN, makeCredential needs a
// pinAuth even for a non-discoverable credential (CTAP 2.0 §5.1 step 6),
// and getPinToken's token serves several requests for several RPs.
func TestCTAP20PIN(t *testing.T) {
	k := newTestKey(t, withVersions(ctap20Versions...))
	p := newPlatform(k, 1)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatalf("setPIN: %v", s)
	}
	if _, s := k.makeCredential(mcReq("example.com", []byte("u"), false)); s != ctap.StatusPUATRequired {
		t.Errorf("makeCredential without pinAuth: %v, want CTAP2_ERR_PIN_REQUIRED (0x36)", s)
	}
	tok, s := p.token("1234", nil, nil)
	if s != ctap.StatusOK {
		t.Fatalf("getPinToken: %v", s)
	}
	var id []byte
	for _, rp := range []string{"a.example", "b.example", "a.example"} {
		mc := mcReq(rp, []byte("u"), false)
		p.authorize(tok, &mc.PinUvAuthParam, &mc.PinUvAuthProtocol)
		resp, s := k.makeCredential(mc)
		if s != ctap.StatusOK {
			t.Fatalf("makeCredential for %s with the same pinToken: %v", rp, s)
		}
		ad, err := ctap.ParseAuthData(resp.AuthData)
		if err != nil || !ad.Flags.Has(ctap.FlagUV) {
			t.Fatalf("authData %+v %v: want the uv bit", ad, err)
		}
		id = ad.AttestedCredential.CredentialID
	}
	for range 2 {
		ga := gaReq("a.example", id)
		p.authorize(tok, &ga.PinUvAuthParam, &ga.PinUvAuthProtocol)
		if _, s := k.getAssertion(ga); s != ctap.StatusOK {
			t.Fatalf("getAssertion with the same pinToken: %v", s)
		}
	}
}

// TestUVWithoutPIN: a key whose only user verification is built in keeps
// authenticatorClientPIN for getKeyAgreement, getUVRetries and the UV
// token, and refuses the PIN subcommands.
func TestUVWithoutPIN(t *testing.T) {
	k := newTestKey(t, func(c *Config) { c.NoClientPIN, c.BuiltInUV = true, true })
	for _, sub := range []uint64{ctap.PINGetPINRetries, ctap.PINSetPIN, ctap.PINChangePIN, ctap.PINGetPinToken, ctap.PINGetPinUvAuthTokenUsingPinWithPermissions} {
		req := &ctap.ClientPINRequest{PinUvAuthProtocol: ptr(uint64(2)), SubCommand: ptr(sub)}
		if s := k.do(ctap.CmdClientPIN, req, nil); s != ctap.StatusInvalidSubcommand {
			t.Errorf("subCommand %#x: %v, want CTAP2_ERR_INVALID_SUBCOMMAND", sub, s)
		}
	}
	for _, sub := range []uint64{ctap.PINGetKeyAgreement, ctap.PINGetUVRetries} {
		req := &ctap.ClientPINRequest{PinUvAuthProtocol: ptr(uint64(2)), SubCommand: ptr(sub)}
		if s := k.do(ctap.CmdClientPIN, req, nil); s != ctap.StatusOK {
			t.Errorf("subCommand %#x: %v", sub, s)
		}
	}
	if _, ok := k.info().Options[ctap.OptionClientPIN]; ok {
		t.Error("getInfo lists clientPin")
	}
}
