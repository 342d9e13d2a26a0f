package main

import (
	"context"
	"strconv"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// enrollFingers sets PIN 1234 on the daemon's fido21-bio key and enrolls
// fingers through authenticatorBioEnrollment, each sample queued with
// `virtkey finger N`.
func enrollFingers(t *testing.T, c *client.Ctap2, sock string, fingers ...int) {
	t.Helper()
	ctx := context.Background()
	cp, err := client.NewClientPin(c, client.PinProtocolV2())
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.SetPIN(ctx, "1234"); err != nil {
		t.Fatalf("setPIN: %v", err)
	}
	tok, err := cp.GetPinToken(ctx, "1234", ctap.PermissionBioEnrollment, "")
	if err != nil {
		t.Fatalf("token with be: %v", err)
	}
	b, err := client.NewFPBioEnrollment(ctx, c, client.PinProtocolV2(), tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fingers {
		for range authenticator.MaxCaptureSamplesRequiredForEnroll {
			mustCtl(t, sock, "finger", strconv.Itoa(f))
		}
		if _, err := b.Enroll(ctx, 0, nil); err != nil {
			t.Fatalf("enroll finger %d: %v", f, err)
		}
	}
	if _, err := c.GetInfo(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestControlBioEnroll: `virtkey finger N` gives the enrollment samples;
// an enrolled finger then passes a UV token request and another does not.
func TestControlBioEnroll(t *testing.T) {
	addr, sock, _, stop := startControlled(t, "--profile", "fido21-bio", "--presence", "control")
	defer stop()
	c := connect(t, addr)
	if c.Info().Options[ctap.OptionUV] || c.Info().Options[ctap.OptionBioEnroll] {
		t.Errorf("uv or bioEnroll true before any enrollment: %v", c.Info().Options)
	}
	enrollFingers(t, c, sock, 2)
	if !c.Info().Options[ctap.OptionUV] || !c.Info().Options[ctap.OptionBioEnroll] {
		t.Errorf("uv or bioEnroll false after enrollment: %v", c.Info().Options)
	}
	cp, err := client.NewClientPin(c, client.PinProtocolV2())
	if err != nil {
		t.Fatal(err)
	}
	mustCtl(t, sock, "finger", "2")
	if _, err := cp.GetUVToken(context.Background(), ctap.PermissionGetAssertion, ""); err != nil {
		t.Errorf("UV token with the enrolled finger: %v", err)
	}
	mustCtl(t, sock, "finger", "3")
	if _, err := cp.GetUVToken(context.Background(), ctap.PermissionGetAssertion, ""); err == nil {
		t.Errorf("UV token with finger 3 (not enrolled) succeeded")
	}
}
