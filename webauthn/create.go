package webauthn

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// Create runs navigator.credentials.create() (WebAuthn L3 §5.1.3) with
// optionsJSON, a PublicKeyCredentialCreationOptionsJSON bare or wrapped as
// {"publicKey": …}, and returns the RegistrationResponseJSON that
// PublicKeyCredential.toJSON() gives. Errors are *Error values named as
// the DOMExceptions a browser rejects with.
func (c *Client) Create(ctx context.Context, optionsJSON []byte) ([]byte, error) {
	opts, err := ParseCreationOptions(optionsJSON)
	if err != nil {
		return nil, err
	}
	resp, err := c.CreateCredential(ctx, opts)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// createState is one create() ceremony: CreateCredential runs its steps in
// the order of §5.1.3.
type createState struct {
	c       *Client
	parent  context.Context
	ctx     context.Context
	opts    *CreationOptionsJSON
	rpID    string
	uv      string
	rk      bool
	params  []ctap.CredentialParameter
	cdj     []byte
	req     *ctap.MakeCredentialRequest
	plan    *uvPlan
	exts    createExtensions
	att     *client.AttestationResponse
	u2f     bool
	outputs ExtensionOutputs
}

// CreateCredential is Create with typed options and response.
func (c *Client) CreateCredential(ctx context.Context, opts *CreationOptionsJSON) (*RegistrationResponseJSON, error) {
	if err := c.lock(ctx); err != nil {
		return nil, err
	}
	defer c.unlock()
	if err := c.refreshInfo(ctx); err != nil {
		return nil, err
	}
	s := &createState{c: c, parent: ctx, opts: opts, u2f: c.ctap2 == nil}
	uv := ""
	if opts.AuthenticatorSelection != nil {
		uv = opts.AuthenticatorSelection.UserVerification
	}
	var cancel context.CancelFunc
	s.ctx, cancel = c.lifetime(ctx, opts.Timeout, uv)
	defer cancel()
	for _, step := range []func() error{
		s.checkUser,         // step 5: user.id 1 to 64 bytes
		s.checkRPID,         // steps 7, 8: RP ID
		s.credParams,        // step 10: pubKeyCredParams
		s.selection,         // step 20: authenticatorSelection
		s.collectClientData, // steps 13 to 16
		s.prepareExtensions, // step 12 and §10
		s.verifyUser,        // step 20: PIN/UV
		s.makeCredential,    // step 20: authenticatorMakeCredential
		s.processExtensions, // §10 client extension outputs
		s.conveyAttestation, // step 22: attestation conveyance
	} {
		if err := step(); err != nil {
			return nil, ctapError(s.parent, s.ctx, err)
		}
	}
	return s.response()
}

func (s *createState) checkUser() error {
	if n := len(s.opts.User.ID); n < 1 || n > ctap.MaxUserIDLength {
		return errorf(ErrType, nil, "user.id is %d bytes, want 1 to 64", n)
	}
	return nil
}

func (s *createState) checkRPID() error {
	s.rpID = s.opts.RP.ID
	if s.rpID == "" {
		s.rpID = s.c.origin.host
	}
	return s.c.checkRPID(s.rpID)
}

// credParams keeps the public-key entries of pubKeyCredParams; an empty
// list means ES256 and RS256 (§5.1.3 step 10).
func (s *createState) credParams() error {
	if len(s.opts.PubKeyCredParams) == 0 {
		s.params = []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}, {Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgRS256}}
		return nil
	}
	for _, p := range s.opts.PubKeyCredParams {
		if p.Type == ctap.CredentialTypePublicKey {
			s.params = append(s.params, ctap.CredentialParameter{Type: p.Type, Alg: p.Alg})
		}
	}
	if len(s.params) == 0 {
		return newError(ErrNotSupported, "pubKeyCredParams names no public-key credential type", nil)
	}
	if s.u2f {
		for _, p := range s.params {
			if p.Alg == ctap.AlgES256 {
				return nil
			}
		}
		return newError(ErrNotSupported, "a U2F authenticator makes only ES256 credentials", nil)
	}
	return nil
}

// selection applies authenticatorSelection (§5.4.4): residentKey, or
// requireResidentKey when residentKey is absent, decides rk; "platform"
// attachment excludes this roaming authenticator.
func (s *createState) selection() error {
	sel := s.opts.AuthenticatorSelection
	if sel == nil {
		sel = &AuthenticatorSelection{}
	}
	s.uv = sel.UserVerification
	if sel.AuthenticatorAttachment == "platform" {
		return newError(ErrNotAllowed, "authenticatorAttachment \"platform\": this is a cross-platform authenticator", nil)
	}
	rk := sel.ResidentKey
	if rk == "" || (rk != "required" && rk != "preferred" && rk != "discouraged") {
		rk = "discouraged"
		if sel.RequireResidentKey {
			rk = "required"
		}
	}
	canRK := false
	if !s.u2f {
		canRK, _ = s.c.ctap2.Info().Option(ctap.OptionRK)
	}
	switch rk {
	case "required":
		if !canRK {
			return newError(ErrConstraint, "a discoverable credential is required but the authenticator cannot store one", nil)
		}
		s.rk = true
	case "preferred":
		s.rk = canRK
	}
	if s.u2f && s.uv == "required" {
		return newError(ErrConstraint, "user verification is required but a U2F authenticator cannot verify users", nil)
	}
	return nil
}

func (s *createState) collectClientData() error {
	s.cdj = s.c.clientData("webauthn.create", s.opts.Challenge)
	return nil
}

func (s *createState) verifyUser() error {
	if s.u2f {
		return nil
	}
	ks := s.c.keyState()
	needed := (ks.pinSet || ks.uvConfigured) && (s.rk || !ks.mcUVNotRqd) || ks.alwaysUV
	perms := ctap.PermissionMakeCredential
	plan, err := s.c.verifyUser(s.ctx, s.uv, needed, perms, s.rpID)
	s.plan = plan
	return err
}

func (s *createState) makeCredential() error {
	cdh := sha256Sum(s.cdj)
	if s.u2f {
		return s.registerU2F(cdh)
	}
	info := s.c.ctap2.Info()
	req := &ctap.MakeCredentialRequest{
		ClientDataHash:   cdh,
		RP:               &ctap.RPEntity{ID: s.rpID, Name: s.opts.RP.Name},
		User:             &ctap.UserEntity{ID: s.opts.User.ID, Name: s.opts.User.Name, DisplayName: s.opts.User.DisplayName},
		PubKeyCredParams: s.params,
		ExcludeList:      descriptors(s.opts.ExcludeCredentials, info),
	}
	if s.rk {
		req.Options = map[string]bool{ctap.OptionRK: true}
	}
	if s.plan != nil && s.plan.uvOption {
		if req.Options == nil {
			req.Options = map[string]bool{}
		}
		req.Options[ctap.OptionUV] = true
	}
	req.PinUvAuthParam, req.PinUvAuthProtocol = s.plan.authParam(cdh)
	if s.opts.Attestation == "enterprise" {
		if ep, _ := info.Option(ctap.OptionEP); ep {
			v := uint64(1)
			if s.c.cfg.enterprise[s.rpID] {
				v = 2
			}
			req.EnterpriseAttestation = &v
		}
	}
	if err := s.exts.apply(s, req); err != nil {
		return err
	}
	if n := uint64(len(req.ExcludeList)); info.MaxCredsInList > 0 && n > info.MaxCredsInList {
		// Too many to send at once: find the one the key knows with
		// silent probes, as a browser does (CTAP 2.1 §6.1.2 note on
		// maxCredentialCountInList).
		found, err := s.c.probe(s.ctx, s.rpID, req.ExcludeList)
		if err != nil {
			return err
		}
		req.ExcludeList = found
	}
	s.req = req
	att, err := s.c.ctap2.MakeCredential(s.ctx, req, client.WithKeepalive(s.c.cfg.keepalive))
	if err != nil {
		return err
	}
	s.att = att
	return nil
}

// descriptors converts a JSON credential list to CTAP descriptors, leaving
// out entries of other types and IDs longer than the authenticator's
// maxCredentialIdLength (CTAP 2.1 §6.4), which it cannot have issued.
func descriptors(list []CredentialDescriptorJSON, info *client.Info) []ctap.CredentialDescriptor {
	var out []ctap.CredentialDescriptor
	for _, d := range list {
		if d.Type != ctap.CredentialTypePublicKey {
			continue
		}
		if info != nil && info.MaxCredIDLength > 0 && uint64(len(d.ID)) > info.MaxCredIDLength {
			continue
		}
		out = append(out, ctap.CredentialDescriptor{Type: d.Type, ID: d.ID})
	}
	return out
}

// probe finds, among creds, one the authenticator holds for rpID with
// getAssertion requests without user presence (up false), in batches of
// maxCredentialCountInList. It returns that one as a one-entry list, or
// nil when none is known.
func (c *Client) probe(ctx context.Context, rpID string, creds []ctap.CredentialDescriptor) ([]ctap.CredentialDescriptor, error) {
	n := int(c.ctap2.Info().MaxCredsInList)
	if n <= 0 {
		n = len(creds)
	}
	for i := 0; i < len(creds); i += n {
		batch := creds[i:min(i+n, len(creds))]
		r, err := c.ctap2.GetAssertion(ctx, &ctap.GetAssertionRequest{
			RPID:           rpID,
			ClientDataHash: make([]byte, 32),
			AllowList:      batch,
			Options:        map[string]bool{ctap.OptionUP: false},
		})
		if err == nil {
			if r.Credential != nil {
				return []ctap.CredentialDescriptor{*r.Credential}, nil
			}
			return batch[:1], nil
		}
		if !isNoCredentials(err) {
			return nil, err
		}
	}
	return nil, nil
}

func isNoCredentials(err error) bool {
	st, ok := statusOf(err)
	return ok && (st == ctap.StatusNoCredentials || st == ctap.StatusInvalidCredential)
}

func (s *createState) processExtensions() error {
	return s.exts.outputs(s)
}

// conveyAttestation applies the attestation conveyance preference
// (§5.4.7, §5.1.3 step 22): "none" (and unknown values, and an
// "enterprise" request the authenticator did not answer with an
// enterprise attestation) replaces the statement with the none format
// and zeroes the AAGUID, unless it already is self attestation with a
// zero AAGUID; "indirect" is given as "direct": this client has no
// anonymization CA to offer instead.
func (s *createState) conveyAttestation() error {
	switch s.opts.Attestation {
	case "direct", "indirect":
		return nil
	case "enterprise":
		if s.att.EPAtt != nil && *s.att.EPAtt {
			return nil
		}
	}
	a := s.att
	ac := a.AuthData.AttestedCredential
	if ac.AAGUID == ([16]byte{}) && a.Fmt == ctap.FormatPacked && len(a.AttStmt.X5C) == 0 {
		return nil // self attestation
	}
	raw := append([]byte(nil), a.AuthDataRaw...)
	// rpIdHash (32) || flags (1) || signCount (4) || aaguid (16).
	clear(raw[37:53])
	ad, err := ctap.ParseAuthData(raw)
	if err != nil {
		return err
	}
	s.att = &client.AttestationResponse{
		Fmt:          ctap.FormatNone,
		AuthData:     ad,
		AuthDataRaw:  raw,
		AttStmtRaw:   ctap.RawMessage{0xa0},
		EPAtt:        a.EPAtt,
		LargeBlobKey: a.LargeBlobKey,
	}
	return nil
}

// response builds the RegistrationResponseJSON (§5.1.1, §5.2.1): the
// attestation object with string keys (§6.5.4), and the credential public
// key as SubjectPublicKeyInfo when it converts.
func (s *createState) response() (*RegistrationResponseJSON, error) {
	a := s.att
	ao, err := ctap.Marshal(map[string]ctap.RawMessage{
		"fmt":      ctap.MustMarshal(a.Fmt),
		"attStmt":  a.AttStmtRaw,
		"authData": ctap.MustMarshal(a.AuthDataRaw),
	})
	if err != nil {
		return nil, newError(ErrUnknown, "encoding the attestation object", err)
	}
	ac := a.AuthData.AttestedCredential
	var spki []byte
	if pub, err := ac.PublicKey.PublicKey(); err == nil {
		spki, _ = x509.MarshalPKIXPublicKey(pub)
	}
	alg := ac.PublicKey.Alg
	if alg == 0 {
		alg = ctap.AlgES256
	}
	return &RegistrationResponseJSON{
		ID:    base64.RawURLEncoding.EncodeToString(ac.CredentialID),
		RawID: ac.CredentialID,
		Response: AttestationResponseJSON{
			ClientDataJSON:     s.cdj,
			AuthenticatorData:  a.AuthDataRaw,
			Transports:         s.c.transports(),
			PublicKey:          spki,
			PublicKeyAlgorithm: alg,
			AttestationObject:  ao,
		},
		AuthenticatorAttachment: "cross-platform",
		ClientExtensionResults:  s.outputs,
		Type:                    ctap.CredentialTypePublicKey,
	}, nil
}

// transports are the authenticator's getInfo transports (CTAP 2.1 §6.4),
// or "usb" for a key that does not say, the transport of CTAPHID.
func (c *Client) transports() []string {
	if c.ctap2 != nil && len(c.ctap2.Info().Transports) > 0 {
		return append([]string(nil), c.ctap2.Info().Transports...)
	}
	return []string{"usb"}
}

func statusOf(err error) (ctap.Status, bool) {
	var st ctap.Status
	if err == nil {
		return 0, false
	}
	ok := errors.As(err, &st)
	return st, ok
}
