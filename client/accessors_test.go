package client

import (
	"bytes"
	"context"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// TestManagementAccessors checks that ClientPin, CredentialManagement,
// FPBioEnrollment, LargeBlobs and Config give back the Ctap2, protocol and
// token they were built with (python-fido2's ctap and pin_uv members), and
// that Token returns a copy.
func TestManagementAccessors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, err := authenticator.New(authenticator.Config{BioEnrollment: true, BuiltInUV: true, Rand: seeded(11)})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := OpenInProcess(ctx, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	c, err := New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	p := PinProtocolV1()
	cp, err := NewClientPin(c, p)
	if err != nil {
		t.Fatal(err)
	}
	cp.Rand = seeded(12)
	if cp.Ctap() != c || cp.Protocol() != p {
		t.Error("ClientPin.Ctap or Protocol")
	}
	if err := cp.SetPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	tok, err := cp.GetPinToken(ctx, "1234", ctap.PermissionCredentialManagement|ctap.PermissionBioEnrollment|
		ctap.PermissionLargeBlobWrite|ctap.PermissionAuthenticatorConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	type managed interface {
		Ctap() *Ctap2
		Protocol() *PinProtocol
		Token() []byte
	}
	cm, err := NewCredentialManagement(c, p, tok)
	if err != nil {
		t.Fatal(err)
	}
	bio, err := NewFPBioEnrollment(ctx, c, p, tok)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewLargeBlobs(c, p, tok)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := NewConfig(c, p, tok)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]managed{"CredentialManagement": cm, "FPBioEnrollment": bio, "LargeBlobs": lb, "Config": cf} {
		if m.Ctap() != c || m.Protocol() != p || !bytes.Equal(m.Token(), tok) {
			t.Errorf("%s: Ctap, Protocol or Token differ from what it was built with", name)
		}
		m.Token()[0] ^= 0xff
		if !bytes.Equal(m.Token(), tok) {
			t.Errorf("%s: Token returned its own slice", name)
		}
	}
	// The accessors hand back working parts: a metadata call through
	// cm's Ctap2 with its protocol and token succeeds.
	req, err := (&CredentialManagement{c: cm.Ctap(), protocol: cm.Protocol(), token: cm.Token(), cmd: cm.Command()}).
		Request(ctap.CredMgmtGetCredsMetadata, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cm.Send(ctx, req); err != nil {
		t.Errorf("getCredsMetadata with the accessors' parts: %v", err)
	}
}
