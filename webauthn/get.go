package webauthn

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// Get runs navigator.credentials.get() (WebAuthn L3 §5.1.4) with
// optionsJSON, a PublicKeyCredentialRequestOptionsJSON bare or wrapped as
// {"publicKey": …}, and returns the AuthenticationResponseJSON that
// PublicKeyCredential.toJSON() gives. Errors are *Error values named as
// the DOMExceptions a browser rejects with.
func (c *Client) Get(ctx context.Context, optionsJSON []byte) ([]byte, error) {
	opts, err := ParseRequestOptions(optionsJSON)
	if err != nil {
		return nil, err
	}
	resp, err := c.GetAssertion(ctx, opts)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// getState is one get() ceremony: GetAssertion runs its steps in the
// order of §5.1.4.
type getState struct {
	c       *Client
	parent  context.Context
	ctx     context.Context
	opts    *RequestOptionsJSON
	rpID    string // the RP ID the authenticator is asked for: rpId, or appid
	allow   []ctap.CredentialDescriptor
	cdj     []byte
	plan    *uvPlan
	exts    getExtensions
	resp    *client.AssertionResponse
	credID  []byte
	u2f     bool
	outputs ExtensionOutputs
}

// GetAssertion is Get with typed options and response.
func (c *Client) GetAssertion(ctx context.Context, opts *RequestOptionsJSON) (*AuthenticationResponseJSON, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	if err := c.refreshInfo(ctx); err != nil {
		return nil, err
	}
	s := &getState{c: c, parent: ctx, opts: opts, u2f: c.ctap2 == nil}
	var cancel context.CancelFunc
	s.ctx, cancel = c.lifetime(ctx, opts.Timeout, opts.UserVerification)
	defer cancel()
	for _, step := range []func() error{
		s.checkRPID,         // steps 7, 8: RP ID
		s.collectClientData, // steps 11 to 14
		s.allowList,         // step 18: allowCredentials
		s.prepareExtensions, // step 9 and §10, including appid
		s.verifyUser,        // step 18: PIN/UV
		s.getAssertion,      // step 18: authenticatorGetAssertion, getNextAssertion
		s.processExtensions, // §10 client extension outputs
	} {
		if err := step(); err != nil {
			return nil, ctapError(s.parent, s.ctx, err)
		}
	}
	return s.response(), nil
}

func (s *getState) checkRPID() error {
	s.rpID = s.opts.RPID
	if s.rpID == "" {
		s.rpID = s.c.origin.host
	}
	return s.c.checkRPID(s.rpID)
}

func (s *getState) collectClientData() error {
	s.cdj = s.c.clientData("webauthn.get", s.opts.Challenge)
	return nil
}

func (s *getState) allowList() error {
	var info *client.Info
	if !s.u2f {
		info = s.c.ctap2.Info()
	}
	s.allow = descriptors(s.opts.AllowCredentials, info)
	if len(s.opts.AllowCredentials) > 0 && len(s.allow) == 0 {
		return newError(ErrNotAllowed, "no entry of allowCredentials can be on this authenticator", ctap.StatusNoCredentials)
	}
	if s.u2f && len(s.allow) == 0 {
		return newError(ErrNotAllowed, "a U2F authenticator has no discoverable credentials: allowCredentials is needed", ctap.StatusNoCredentials)
	}
	return nil
}

func (s *getState) verifyUser() error {
	if s.u2f {
		if s.opts.UserVerification == "required" {
			return newError(ErrConstraint, "user verification is required but a U2F authenticator cannot verify users", nil)
		}
		return nil
	}
	perms := ctap.PermissionGetAssertion
	if s.exts.largeBlobWrite {
		perms |= ctap.PermissionLargeBlobWrite
	}
	ks := s.c.keyState()
	needed := ks.alwaysUV || (s.exts.largeBlobWrite && (ks.pinSet || ks.uvConfigured))
	plan, err := s.c.verifyUser(s.ctx, s.opts.UserVerification, needed, perms, s.rpID)
	s.plan = plan
	return err
}

func (s *getState) getAssertion() error {
	cdh := sha256Sum(s.cdj)
	if s.u2f {
		return s.authenticateU2F(cdh)
	}
	info := s.c.ctap2.Info()
	req := &ctap.GetAssertionRequest{RPID: s.rpID, ClientDataHash: cdh, AllowList: s.allow}
	if s.plan != nil && s.plan.uvOption {
		req.Options = map[string]bool{ctap.OptionUV: true}
	}
	req.PinUvAuthParam, req.PinUvAuthProtocol = s.plan.authParam(cdh)
	if n := uint64(len(req.AllowList)); info.MaxCredsInList > 0 && n > info.MaxCredsInList {
		found, err := s.c.probe(s.ctx, s.rpID, req.AllowList)
		if err != nil {
			return err
		}
		if found == nil {
			found = req.AllowList[:info.MaxCredsInList]
		}
		req.AllowList = found
	}
	if err := s.exts.apply(s, req); err != nil {
		return err
	}
	ka := client.WithKeepalive(s.c.cfg.keepalive)
	first, err := s.c.ctap2.GetAssertion(s.ctx, req, ka)
	if err != nil {
		return err
	}
	resps := []*client.AssertionResponse{first}
	if len(req.AllowList) == 0 && first.NumberOfCredentials != nil && *first.NumberOfCredentials > 1 &&
		!(first.UserSelected != nil && *first.UserSelected) {
		for i := uint64(1); i < *first.NumberOfCredentials; i++ {
			next, err := s.c.ctap2.GetNextAssertion(s.ctx, ka)
			if err != nil {
				return err
			}
			resps = append(resps, next)
		}
	}
	pick := 0
	if len(resps) > 1 && s.c.cfg.choose != nil {
		accounts := make([]Account, len(resps))
		for i, r := range resps {
			if r.Credential != nil {
				accounts[i].CredentialID = r.Credential.ID
			}
			if r.User != nil {
				accounts[i].UserID = r.User.ID
				accounts[i].Name = r.User.Name
				accounts[i].DisplayName = r.User.DisplayName
			}
		}
		pick, err = s.c.cfg.choose(s.ctx, accounts)
		if err != nil {
			return newError(ErrNotAllowed, "no account chosen", err)
		}
		if pick < 0 || pick >= len(resps) {
			return errorf(ErrNotAllowed, nil, "account %d chosen of %d", pick, len(resps))
		}
	}
	s.resp = resps[pick]
	switch {
	case s.resp.Credential != nil:
		s.credID = s.resp.Credential.ID
	case len(req.AllowList) == 1:
		s.credID = req.AllowList[0].ID
	default:
		return newError(ErrUnknown, "the authenticator did not say which credential it used", ctap.StatusMissingParameter)
	}
	return nil
}

func (s *getState) processExtensions() error { return s.exts.outputs(s) }

// response builds the AuthenticationResponseJSON (§5.1.1, §5.2.2).
func (s *getState) response() *AuthenticationResponseJSON {
	r := &AuthenticationResponseJSON{
		ID:    base64.RawURLEncoding.EncodeToString(s.credID),
		RawID: s.credID,
		Response: AssertionResponseJSON{
			ClientDataJSON:    s.cdj,
			AuthenticatorData: s.resp.AuthDataRaw,
			Signature:         s.resp.Signature,
		},
		AuthenticatorAttachment: "cross-platform",
		ClientExtensionResults:  s.outputs,
		Type:                    ctap.CredentialTypePublicKey,
	}
	if s.resp.User != nil && len(s.resp.User.ID) > 0 {
		r.Response.UserHandle = s.resp.User.ID
	}
	return r
}
