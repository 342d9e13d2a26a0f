package gowebauthn_test

import (
	"encoding/json"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/virtkeytest"
	"testing"
)

type user struct{ creds []webauthn.Credential }

func (u *user) WebAuthnID() []byte                         { return []byte("alice") }
func (u *user) WebAuthnName() string                       { return "alice" }
func (u *user) WebAuthnDisplayName() string                { return "Alice" }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func TestLogin(t *testing.T) {
	rp, _ := webauthn.New(&webauthn.Config{RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"}})
	browser, alice := virtkeytest.New(t, authenticator.Config{}).WebAuthn("https://example.com"), &user{}

	creation, session, _ := rp.BeginRegistration(alice)
	resp, err := browser.Create(t.Context(), must(json.Marshal(creation)))
	created, err := protocol.ParseCredentialCreationResponseBytes(must(resp, err))
	cred, err := rp.CreateCredential(alice, *session, must(created, err))
	alice.creds = append(alice.creds, *must(cred, err))
	assertion, session, _ := rp.BeginLogin(alice)
	resp, err = browser.Get(t.Context(), must(json.Marshal(assertion)))
	asserted, err := protocol.ParseCredentialRequestResponseBytes(must(resp, err))
	must(rp.ValidateLogin(alice, *session, must(asserted, err)))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
