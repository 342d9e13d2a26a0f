package authenticator_test

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// An in-process key: register a discoverable credential, then sign in
// with it.
func Example() {
	key, err := authenticator.New(authenticator.Config{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	cdh := sha256.Sum256([]byte("client data"))
	status, body := key.Handle(ctx, ctap.CmdMakeCredential, ctap.MustMarshal(&ctap.MakeCredentialRequest{
		ClientDataHash:   cdh[:],
		RP:               &ctap.RPEntity{ID: "example.com"},
		User:             &ctap.UserEntity{ID: []byte{1, 2, 3}, Name: "alice"},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: "public-key", Alg: ctap.AlgES256}},
		Options:          map[string]bool{"rk": true},
	}))
	var mc ctap.MakeCredentialResponse
	if err := ctap.Unmarshal(body, &mc); err != nil {
		panic(err)
	}
	fmt.Println(status.String(), mc.Fmt, len(mc.AttStmt.X5C))

	status, body = key.Handle(ctx, ctap.CmdGetAssertion, ctap.MustMarshal(&ctap.GetAssertionRequest{
		RPID: "example.com", ClientDataHash: cdh[:],
	}))
	var ga ctap.GetAssertionResponse
	if err := ctap.Unmarshal(body, &ga); err != nil {
		panic(err)
	}
	fmt.Println(status.String(), ga.User.ID)
	// Output:
	// CTAP2_OK packed 1
	// CTAP2_OK [1 2 3]
}
