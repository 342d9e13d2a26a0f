package client_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

func TestEncodeAPDU(t *testing.T) {
	for _, tc := range []struct {
		data     []byte
		extended bool
		want     []byte
	}{
		{nil, false, []byte{0, 3, 1, 2, 0}},
		{nil, true, []byte{0, 3, 1, 2, 0, 0, 0}},
		{[]byte{9, 8}, false, []byte{0, 3, 1, 2, 2, 9, 8, 0}},
		{[]byte{9, 8}, true, []byte{0, 3, 1, 2, 0, 0, 2, 9, 8, 0, 0}},
	} {
		got, err := client.EncodeAPDU(0, 3, 1, 2, tc.data, tc.extended)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("EncodeAPDU(%x, %t) = %x, %v; want %x", tc.data, tc.extended, got, err, tc.want)
		}
	}
	if _, err := client.EncodeAPDU(0, 1, 0, 0, make([]byte, 256), false); err == nil {
		t.Error("short APDU with 256 bytes of data")
	}
}

func openKey(t *testing.T, cfg authenticator.Config, scfg *ctaphid.ServerConfig) (*authenticator.Authenticator, *client.Device) {
	t.Helper()
	key, err := authenticator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := client.OpenInProcess(t.Context(), key, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return key, dev
}

func TestCtap1(t *testing.T) {
	for _, extended := range []bool{false, true} {
		key, dev := openKey(t, authenticator.Config{}, nil)
		ctx := t.Context()
		c := client.NewCtap1(dev, client.WithExtendedAPDU(extended))
		if v, err := c.GetVersion(ctx); err != nil || v != "U2F_V2" {
			t.Fatalf("GetVersion: %q, %v", v, err)
		}
		clientParam := sha256.Sum256([]byte("client data"))
		appParam := sha256.Sum256([]byte("example.com"))
		reg, err := c.Register(ctx, clientParam[:], appParam[:])
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Verify(appParam[:], clientParam[:]); err != nil {
			t.Fatal(err)
		}
		if err := reg.Verify(clientParam[:], appParam[:]); !errors.Is(err, client.ErrAttestation) {
			t.Errorf("Verify with swapped parameters: %v", err)
		}
		att, err := client.AttestationResponseFromCTAP1(appParam[:], reg)
		if err != nil {
			t.Fatal(err)
		}
		if att.Fmt != "fido-u2f" || att.AuthData.AttestedCredential.AAGUID != [16]byte{} {
			t.Errorf("attestation object %+v", att)
		}
		if err := att.Verify(clientParam[:], key.AttestationRoots()); err != nil {
			t.Errorf("fido-u2f attestation: %v", err)
		}
		if err := att.Verify(appParam[:], nil); !errors.Is(err, client.ErrAttestation) {
			t.Errorf("fido-u2f attestation with the wrong clientDataHash: %v", err)
		}

		_, err = c.Authenticate(ctx, clientParam[:], appParam[:], reg.KeyHandle, true)
		if !errors.Is(err, ctap.SWConditionsNotSatisfied) {
			t.Errorf("check-only: %v", err)
		}
		other := sha256.Sum256([]byte("other.example"))
		_, err = c.Authenticate(ctx, clientParam[:], other[:], reg.KeyHandle, true)
		var apduErr *client.APDUError
		if !errors.As(err, &apduErr) || apduErr.SW != ctap.SWWrongData {
			t.Errorf("check-only for another appId: %v", err)
		}
		sig, err := c.Authenticate(ctx, clientParam[:], appParam[:], reg.KeyHandle, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := sig.Verify(appParam[:], clientParam[:], reg.PublicKey); err != nil {
			t.Fatal(err)
		}
		if sig.UserPresence != 1 || sig.Counter == 0 {
			t.Errorf("signature data %+v", sig)
		}
		sig2, err := c.AuthenticateControl(ctx, ctap.U2FDontEnforceUserPresence, clientParam[:], appParam[:], reg.KeyHandle)
		if err != nil || sig2.UserPresence != 0 || sig2.Counter <= sig.Counter {
			t.Fatalf("dont-enforce: %+v, %v", sig2, err)
		}
		cred := ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: reg.KeyHandle}
		ar, err := client.AssertionResponseFromCTAP1(appParam[:], cred, sig)
		if err != nil {
			t.Fatal(err)
		}
		cose, err := reg.COSEKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := ar.Verify(clientParam[:], cose); err != nil {
			t.Errorf("AssertionResponseFromCTAP1: %v", err)
		}
		if !ar.AuthData.Flags.Has(ctap.FlagUP) || ar.AuthData.SignCount != sig.Counter {
			t.Errorf("authData %+v", ar.AuthData)
		}

		// The same credential through CTAP2 getAssertion (CTAP 2.1 §10.3).
		c2, err := client.New(ctx, dev)
		if err != nil {
			t.Fatal(err)
		}
		ga, err := c2.GetAssertion(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: clientParam[:],
			AllowList: []ctap.CredentialDescriptor{cred}})
		if err != nil {
			t.Fatal(err)
		}
		if err := ga.Verify(clientParam[:], cose); err != nil {
			t.Errorf("getAssertion with the U2F credential: %v", err)
		}
		if ga.AuthData.SignCount <= sig2.Counter {
			t.Errorf("counter %d after %d", ga.AuthData.SignCount, sig2.Counter)
		}
	}
}

func TestCtap1Errors(t *testing.T) {
	_, dev := openKey(t, authenticator.Config{Presence: authenticator.DenyPresence{}}, nil)
	ctx := t.Context()
	c := client.NewCtap1(dev)
	if _, err := c.Register(ctx, make([]byte, 32), make([]byte, 32)); !errors.Is(err, ctap.SWConditionsNotSatisfied) {
		t.Errorf("declined register: %v", err)
	}
	for _, tc := range []struct {
		apdu []byte
		want ctap.StatusWord
	}{
		{[]byte{0x80, 3, 0, 0}, ctap.SWClaNotSupported},
		{[]byte{0, 9, 0, 0}, ctap.SWInsNotSupported},
		{[]byte{0, 1, 0, 0, 3, 1}, ctap.SWWrongLength},
	} {
		_, sw, err := c.SendRaw(ctx, tc.apdu)
		if err != nil || sw != tc.want {
			t.Errorf("%x: %v, %v; want %v", tc.apdu, sw, err, tc.want)
		}
	}
	if _, err := client.ParseRegistrationData([]byte{5, 4}); !errors.Is(err, client.ErrBadResponse) {
		t.Errorf("short registration: %v", err)
	}
	if _, err := client.ParseSignatureData([]byte{1, 0, 0, 0, 1}); !errors.Is(err, client.ErrBadResponse) {
		t.Errorf("short signature data: %v", err)
	}
}

// TestU2FOnlyDevice checks ctaphid.ServerConfig.U2FOnly: INIT without
// CBOR and NMSG, CTAPHID_CBOR refused, CTAPHID_MSG answered.
func TestU2FOnlyDevice(t *testing.T) {
	_, dev := openKey(t, authenticator.Config{}, &ctaphid.ServerConfig{U2FOnly: true})
	ctx := t.Context()
	if caps := dev.Conn().Info().Capabilities; caps&(ctaphid.CapCBOR|ctaphid.CapNMsg) != 0 {
		t.Errorf("capabilities %#x", caps)
	}
	_, err := dev.Call(ctx, ctaphid.CmdCBOR, []byte{byte(ctap.CmdGetInfo)}, nil)
	if !errors.Is(err, ctaphid.ErrInvalidCmd) {
		t.Errorf("CTAPHID_CBOR: %v", err)
	}
	if v, err := client.NewCtap1(dev).GetVersion(ctx); err != nil || v != "U2F_V2" {
		t.Errorf("GetVersion: %q, %v", v, err)
	}
	_, plain := openKey(t, authenticator.Config{}, nil)
	if caps := plain.Conn().Info().Capabilities; caps&ctaphid.CapCBOR == 0 || caps&ctaphid.CapNMsg != 0 {
		t.Errorf("default capabilities %#x", caps)
	}
}

func FuzzParseU2FResponses(f *testing.F) {
	f.Add([]byte{5, 4})
	f.Add([]byte{1, 0, 0, 0, 1, 0x30, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := client.ParseRegistrationData(b); err == nil {
			r.Verify(make([]byte, 32), make([]byte, 32))
			r.COSEKey()
		}
		if s, err := client.ParseSignatureData(b); err == nil {
			s.Verify(make([]byte, 32), make([]byte, 32), b)
		}
	})
}

// TestNoMsgDevice checks ctaphid.ServerConfig.NoMsg, a CTAP2 key without
// CTAP1/U2F: INIT with CBOR and NMSG (CTAP 2.1 §11.2.9.1.3), CTAPHID_MSG
// refused with ERR_INVALID_CMD, CTAPHID_CBOR answered.
func TestNoMsgDevice(t *testing.T) {
	cfg := authenticator.Config{Versions: []string{ctap.VersionFIDO20, ctap.VersionFIDO21}}
	_, dev := openKey(t, cfg, &ctaphid.ServerConfig{NoMsg: true})
	ctx := t.Context()
	if caps := dev.Conn().Info().Capabilities; caps&ctaphid.CapCBOR == 0 || caps&ctaphid.CapNMsg == 0 {
		t.Errorf("capabilities %#x, want CBOR and NMSG", caps)
	}
	if _, err := client.NewCtap1(dev).GetVersion(ctx); !errors.Is(err, ctaphid.ErrInvalidCmd) {
		t.Errorf("GetVersion: %v, want ERR_INVALID_CMD", err)
	}
	c, err := client.New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Info().Versions; slices.Contains(v, ctap.VersionU2FV2) {
		t.Errorf("getInfo versions %v", v)
	}
}
