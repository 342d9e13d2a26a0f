package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// TestU2FProfile serves the u2f profile: INIT advertises neither CBOR nor
// NMSG, CTAPHID_CBOR is ERR_INVALID_CMD, and CTAP1/U2F works.
func TestU2FProfile(t *testing.T) {
	addr, stop := startDaemon(t, "--profile", "u2f")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev, err := client.OpenUDP(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if caps := dev.Conn().Info().Capabilities; caps&(ctaphid.CapCBOR|ctaphid.CapNMsg) != 0 {
		t.Errorf("INIT capabilities %#x: want neither CBOR nor NMSG", caps)
	}
	if _, err := dev.Call(ctx, ctaphid.CmdCBOR, []byte{byte(ctap.CmdGetInfo)}, nil); !errors.Is(err, ctaphid.ErrInvalidCmd) {
		t.Errorf("getInfo on a U2F-only key: %v, want ERR_INVALID_CMD", err)
	}
	u2f := client.NewCtap1(dev)
	if v, err := u2f.GetVersion(ctx); err != nil || v != "U2F_V2" {
		t.Fatalf("U2F_VERSION: %q, %v", v, err)
	}
	cp, app := sha256.Sum256([]byte("challenge")), sha256.Sum256([]byte("https://u2f.example"))
	reg, err := u2f.Register(ctx, cp[:], app[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Verify(app[:], cp[:]); err != nil {
		t.Fatal(err)
	}
	sig, err := u2f.Authenticate(ctx, cp[:], app[:], reg.KeyHandle, false)
	if err != nil {
		t.Error(err)
	} else if err := sig.Verify(app[:], cp[:], reg.PublicKey); err != nil {
		t.Error(err)
	}
	dev.Close()
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestProfilesAnswerU2F checks that the CTAP2 profiles answer CTAPHID_MSG
// too, as their getInfo lists U2F_V2.
func TestProfilesAnswerU2F(t *testing.T) {
	for _, p := range profiles {
		if !p.CTAP2 || !slices.Contains(p.Config.Versions, ctap.VersionU2FV2) {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			addr, stop := startDaemon(t, "--profile", p.Name)
			defer stop()
			c := connect(t, addr)
			if !slices.Contains(c.Info().Versions, ctap.VersionU2FV2) {
				t.Errorf("getInfo versions %v", c.Info().Versions)
			}
			if caps := c.Transport().(*client.Device).Conn().Info().Capabilities; caps&ctaphid.CapCBOR == 0 || caps&ctaphid.CapNMsg != 0 {
				t.Errorf("INIT capabilities %#x", caps)
			}
			if v, err := client.NewCtap1(c.Transport()).GetVersion(t.Context()); err != nil || v != "U2F_V2" {
				t.Errorf("U2F_VERSION: %q, %v", v, err)
			}
		})
	}
}
