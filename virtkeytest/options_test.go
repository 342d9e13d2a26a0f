package virtkeytest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/virtkeytest"
)

func TestNewKeyProfiles(t *testing.T) {
	k := virtkeytest.NewKey(t, virtkeytest.WithProfile("fido20-pin"))
	info := k.Ctap2.Info()
	if !slices.Equal(info.Versions, []string{ctap.VersionU2FV2, ctap.VersionFIDO20}) || !slices.Equal(info.PinUvProtocols, []uint64{1}) {
		t.Errorf("fido20-pin: versions %v protocols %v", info.Versions, info.PinUvProtocols)
	}
	// A CTAP 2.0 key has no selection command (CTAP 2.1 §6.9).
	if err := k.Ctap2.Selection(context.Background()); !errorsIs(err, ctap.StatusInvalidCommand) {
		t.Errorf("selection on fido20-pin: %v, want CTAP1_ERR_INVALID_COMMAND", err)
	}

	u := virtkeytest.NewKey(t, virtkeytest.WithProfile("u2f"))
	if u.Ctap2 != nil {
		t.Error("u2f: a CTAP2 client")
	}
	if caps := u.Device.Conn().Info().Capabilities; caps&ctaphid.CapCBOR != 0 {
		t.Errorf("u2f: INIT capabilities %#x include CBOR", caps)
	}
	if v, err := client.NewCtap1(u.Device).GetVersion(context.Background()); err != nil || v != "U2F_V2" {
		t.Errorf("u2f: version %q %v", v, err)
	}
}

func TestNewKeySwitches(t *testing.T) {
	k := virtkeytest.NewKey(t, virtkeytest.HasResidentKey(false), virtkeytest.HasUserVerification(true), virtkeytest.HasPrf(false))
	info := k.Ctap2.Info()
	if rk, _ := info.Option(ctap.OptionRK); rk {
		t.Error("rk true with HasResidentKey(false)")
	}
	if uv, _ := info.Option(ctap.OptionUV); !uv {
		t.Error("no uv with HasUserVerification(true)")
	}
	if info.HasExtension(ctap.ExtHMACSecret) {
		t.Error("hmac-secret with HasPrf(false)")
	}
	req := &ctap.MakeCredentialRequest{
		ClientDataHash: make([]byte, 32), RP: &ctap.RPEntity{ID: "example.com"}, User: &ctap.UserEntity{ID: []byte{1}},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: "public-key", Alg: ctap.AlgES256}},
		Options:          map[string]bool{ctap.OptionRK: true},
	}
	if _, err := k.Ctap2.MakeCredential(context.Background(), req); !errorsIs(err, ctap.StatusUnsupportedOption) {
		t.Errorf("rk makeCredential: %v, want CTAP2_ERR_UNSUPPORTED_OPTION", err)
	}
}

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestNewKeyUnknownProfile(t *testing.T) {
	tb := &fatalTB{TB: t}
	if k := virtkeytest.NewKey(tb, virtkeytest.WithProfile("nope")); k != nil || tb.msg == "" {
		t.Errorf("unknown profile: key %v, message %q", k, tb.msg)
	}
}

func errorsIs(err error, st ctap.Status) bool { return errors.Is(err, st) }
