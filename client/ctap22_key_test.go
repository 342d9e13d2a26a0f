package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// newKey22 serves an in-process key that lists FIDO_2_2 and returns the
// client on it.
func newKey22(t *testing.T, seed byte) *Ctap2 {
	t.Helper()
	ctx := context.Background()
	key, err := authenticator.New(authenticator.Config{
		Versions: []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21, ctap.VersionFIDO22},
		Rand:     seeded(seed),
	})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := OpenInProcess(ctx, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	c, err := New(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKey22Info reads a CTAP 2.2 key's getInfo (CTAP 2.2 §6.4) through the
// typed members: what the in-process key lists, as the client sees it.
func TestKey22Info(t *testing.T) {
	t.Parallel()
	info := newKey22(t, 21).Info()
	if !info.Supports(ctap.VersionFIDO22) || !IsCredentialManagementReadOnlySupported(info) {
		t.Fatalf("versions %v, perCredMgmtRO %v", info.Versions, info.Options[ctap.OptionPerCredMgmtRO])
	}
	if !info.HasMember(InfoMaxPINLength) || info.MaxPINLength != 63 {
		t.Errorf("maxPINLength %d (present %v), want 63", info.MaxPINLength, info.HasMember(InfoMaxPINLength))
	}
	if info.PinComplexityPolicy == nil || *info.PinComplexityPolicy || len(info.PinComplexityPolicyURL) == 0 {
		t.Errorf("pinComplexityPolicy %v, URL %q: want false and a URL", info.PinComplexityPolicy, info.PinComplexityPolicyURL)
	}
	if s, ok := info.SupportsConfigCommand(ctap.ConfigSetMinPINLength); !s || !ok {
		t.Errorf("SupportsConfigCommand(setMinPINLength) = %v, %v; authenticatorConfigCommands %v", s, ok, info.AuthenticatorConfigCommands)
	}
	if len(info.TransportsForReset) == 0 || len(info.AttestationFormats) == 0 {
		t.Errorf("transportsForReset %v, attestationFormats %v", info.TransportsForReset, info.AttestationFormats)
	}
	// No persistent token has been handed out yet: nothing to decrypt.
	if info.HasMember(InfoEncIdentifier) || info.HasMember(InfoEncCredStoreState) {
		t.Error("encIdentifier or encCredStoreState before any persistent pinUvAuthToken")
	}
	if _, err := info.DecryptIdentifier(bytes.Repeat([]byte{1}, 32)); !errors.Is(err, ErrNotSupported) {
		t.Errorf("DecryptIdentifier without the member: %v", err)
	}
}

// TestKey22PersistentToken gets a persistent pinUvAuthToken with the pcmr
// permission (CTAP 2.2 §6.5.5.7) from the in-process key under both PIN/UV
// auth protocols and uses it as a platform does: encIdentifier opens to
// the same identifier from every getInfo, encCredStoreState changes when a
// discoverable credential is made, and CredentialManagement reads with it
// but cannot delete.
func TestKey22PersistentToken(t *testing.T) {
	t.Parallel()
	for _, p := range PinProtocols() {
		t.Run(fmt.Sprintf("protocol %d", p.Version()), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := newKey22(t, byte(22+p.Version()))
			cp, err := NewClientPin(c, p)
			if err != nil {
				t.Fatal(err)
			}
			cp.Rand = seeded(byte(30 + p.Version()))
			if err := cp.SetPIN(ctx, "24681357"); err != nil {
				t.Fatal(err)
			}
			ppuat, err := cp.GetPinToken(ctx, "24681357", ctap.PermissionPersistentCredMgmtRO, "")
			if err != nil {
				t.Fatalf("pcmr token: %v", err)
			}
			info := func() *Info {
				t.Helper()
				i, err := c.GetInfo(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return i
			}
			open := func(i *Info) (id, state []byte) {
				t.Helper()
				id, err := i.DecryptIdentifier(ppuat)
				if err != nil {
					t.Fatalf("DecryptIdentifier: %v", err)
				}
				state, err = i.DecryptCredStoreState(ppuat)
				if err != nil {
					t.Fatalf("DecryptCredStoreState: %v", err)
				}
				return id, state
			}
			first, second := info(), info()
			id1, st1 := open(first)
			id2, st2 := open(second)
			if !bytes.Equal(id1, id2) || !bytes.Equal(st1, st2) {
				t.Errorf("two getInfo answers open to %x/%x and %x/%x", id1, st1, id2, st2)
			}
			if bytes.Equal(first.EncIdentifier, second.EncIdentifier) {
				t.Error("encIdentifier is the same ciphertext twice: the IV is not fresh")
			}
			// Another token (the pcmr one is not for getAssertion) opens to other bytes.
			if wrong, _ := second.DecryptIdentifier(bytes.Repeat([]byte{7}, len(ppuat))); bytes.Equal(wrong, id1) {
				t.Error("a wrong token opened encIdentifier")
			}

			cm, err := NewCredentialManagement(c, p, ppuat)
			if err != nil {
				t.Fatal(err)
			}
			md, err := cm.GetMetadata(ctx)
			if err != nil || md.ExistingResidentCredentialsCount == nil || *md.ExistingResidentCredentialsCount != 0 {
				t.Fatalf("getCredsMetadata with the pcmr token = %+v, %v", md, err)
			}

			mcTok, err := cp.GetPinToken(ctx, "24681357", ctap.PermissionMakeCredential, "example.com")
			if err != nil {
				t.Fatal(err)
			}
			req := &ctap.MakeCredentialRequest{
				ClientDataHash: cdh("mc"), RP: &ctap.RPEntity{ID: "example.com"},
				User:             &ctap.UserEntity{ID: []byte("user"), Name: "user"},
				PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
				Options:          map[string]bool{ctap.OptionRK: true},
				PinUvAuthParam:   p.AuthParam(mcTok, cdh("mc")), PinUvAuthProtocol: u64(p.Version()),
			}
			att, err := c.MakeCredential(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			id3, st3 := open(info())
			if !bytes.Equal(id3, id1) {
				t.Errorf("identifier changed with a new credential: %x, was %x", id3, id1)
			}
			if bytes.Equal(st3, st1) {
				t.Error("encCredStoreState opens to the same state after a discoverable credential was made")
			}

			// The persistent token still reads (the mc token did not replace it) ...
			rps, err := cm.EnumerateRPs(ctx)
			if err != nil || len(rps) != 1 || rps[0].RP == nil || rps[0].RP.ID != "example.com" {
				t.Fatalf("enumerateRPs with the pcmr token = %v, %v", rps, err)
			}
			creds, err := cm.EnumerateCreds(ctx, cdh("example.com"))
			if err != nil || len(creds) != 1 || !bytes.Equal(creds[0].CredentialID.ID, att.AuthData.AttestedCredential.CredentialID) {
				t.Fatalf("enumerateCredentials with the pcmr token = %v, %v", creds, err)
			}
			// ... but does not delete.
			err = cm.DeleteCred(ctx, *creds[0].CredentialID)
			if !errors.Is(err, ctap.StatusPINAuthInvalid) {
				t.Errorf("deleteCredential with the pcmr token: %v, want CTAP2_ERR_PIN_AUTH_INVALID", err)
			}
			if _, st4 := open(info()); !bytes.Equal(st4, st3) {
				t.Error("a refused delete changed the credential store state")
			}
		})
	}
}

// TestKey22PinComplexityPolicy switches the in-process key's PIN complexity
// policy on with setMinPINLength's pinComplexityPolicy (CTAP 2.2 §6.11.4)
// and sees it through the client: getInfo's pinComplexityPolicy turns true,
// the key refuses a PIN of consecutive digits (its rule,
// docs/pin-complexity.md) with CTAP2_ERR_PIN_POLICY_VIOLATION, and the
// pinComplexityPolicy extension (CTAP 2.2 §12) tells an RP of
// minPinLengthRPIDs, and no other, that the policy is on.
func TestKey22PinComplexityPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newKey22(t, 40)
	cf, err := NewConfig(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.SetMinPINLengthParams(ctx, MinPINLengthParams{RPIDs: []string{"example.com"}, PINComplexityPolicy: true}); err != nil {
		t.Fatalf("setMinPINLength pinComplexityPolicy: %v", err)
	}
	info, err := c.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.PinComplexityPolicy == nil || !*info.PinComplexityPolicy {
		t.Fatalf("pinComplexityPolicy after setting it: %v", info.PinComplexityPolicy)
	}
	cp, err := NewClientPin(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp.Rand = seeded(41)
	if err := cp.SetPIN(ctx, "123456"); !errors.Is(err, ctap.StatusPINPolicyViolation) {
		t.Errorf("SetPIN(123456) under the policy: %v, want CTAP2_ERR_PIN_POLICY_VIOLATION", err)
	}
	if err := cp.SetPIN(ctx, "240713"); err != nil {
		t.Fatalf("SetPIN(240713) under the policy: %v", err)
	}
	for _, tt := range []struct {
		rp   string
		want *bool
	}{{"example.com", boolp(true)}, {"other.example", nil}} {
		tok, err := cp.GetPinToken(ctx, "240713", ctap.PermissionMakeCredential, tt.rp)
		if err != nil {
			t.Fatal(err)
		}
		req := &ctap.MakeCredentialRequest{
			ClientDataHash: cdh(tt.rp), RP: &ctap.RPEntity{ID: tt.rp},
			User:             &ctap.UserEntity{ID: []byte("user"), Name: "user"},
			PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
			PinUvAuthParam:   cp.Protocol().AuthParam(tok, cdh(tt.rp)), PinUvAuthProtocol: u64(cp.Protocol().Version()),
		}
		MakeCredentialExtensions{PinComplexityPolicy: true}.Apply(req)
		att, err := c.MakeCredential(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		out, err := att.CredentialExtensions()
		if err != nil {
			t.Fatal(err)
		}
		if (out.PinComplexityPolicy == nil) != (tt.want == nil) || (out.PinComplexityPolicy != nil && *out.PinComplexityPolicy != *tt.want) {
			t.Errorf("%s: pinComplexityPolicy output %v, want %v", tt.rp, out.PinComplexityPolicy, tt.want)
		}
	}
}
