package webauthn

import (
	"context"
	"errors"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// CTAP1/U2F authenticators (CTAP 2.1 §10: the platform maps WebAuthn
// requests to U2F_REGISTER and U2F_AUTHENTICATE), and the FIDO AppID
// extension on them (WebAuthn §10.1.1).

// untilTouched repeats a U2F request while the key answers
// SW_CONDITIONS_NOT_SATISFIED, the U2F way of saying "touch me" (U2F Raw
// Message Formats §4.3, §5.4), until ctx ends.
func (c *Client) untilTouched(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, ctap.SWConditionsNotSatisfied) {
			return err
		}
		t := time.NewTimer(c.cfg.pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

// registerU2F is makeCredential on a U2F key (CTAP 2.1 §10.2): excluded
// credentials are checked first with check-only authentications, a known
// one answers InvalidStateError after a touch (a register with a dummy
// application parameter, as browsers do); then U2F_REGISTER.
func (s *createState) registerU2F(cdh []byte) error {
	app := sha256Sum([]byte(s.rpID))
	known, err := s.c.knownU2F(s.ctx, cdh, app, descriptors(s.opts.ExcludeCredentials, nil))
	if err != nil {
		return err
	}
	if known != nil {
		// Collect the touch, then refuse (§5.1.3 step 20).
		if err := s.c.dummyTouch(s.ctx); err != nil {
			return err
		}
		return newError(ErrInvalidState, "the authenticator holds a credential in excludeCredentials", ctap.StatusCredentialExcluded)
	}
	var reg *client.RegistrationData
	err = s.c.untilTouched(s.ctx, func() error {
		var err error
		reg, err = s.c.ctap1.Register(s.ctx, cdh, app)
		return err
	})
	if err != nil {
		return err
	}
	s.att, err = client.AttestationResponseFromCTAP1(app, reg)
	return err
}

// prepareAppIDU2F finds the allowed credential a U2F key knows, under the
// RP ID first and then under the AppID, with check-only authentications.
func (s *getState) prepareAppIDU2F(appid string) error {
	for _, id := range []string{s.rpID, appid} {
		d, err := s.c.knownU2F(s.ctx, make([]byte, 32), sha256Sum([]byte(id)), s.allow)
		if err != nil {
			return err
		}
		if d != nil {
			s.rpID, s.allow = id, []ctap.CredentialDescriptor{*d}
			s.exts.appidUsed = id == appid
			return nil
		}
	}
	return nil
}

// authenticateU2F is getAssertion on a U2F key (CTAP 2.1 §10.3): the
// first allowed key handle the key knows under the application parameter
// is signed with after a touch; none known answers NotAllowedError after
// a touch (a register with a dummy parameter, as browsers do).
func (s *getState) authenticateU2F(cdh []byte) error {
	app := sha256Sum([]byte(s.rpID))
	d, err := s.c.knownU2F(s.ctx, cdh, app, s.allow)
	if err != nil {
		return err
	}
	if d == nil {
		if err := s.c.dummyTouch(s.ctx); err != nil {
			return err
		}
		return newError(ErrNotAllowed, "the authenticator holds none of allowCredentials", ctap.StatusNoCredentials)
	}
	var sig *client.SignatureData
	err = s.c.untilTouched(s.ctx, func() error {
		var err error
		sig, err = s.c.ctap1.Authenticate(s.ctx, cdh, app, d.ID, false)
		return err
	})
	if err != nil {
		return err
	}
	s.resp, err = client.AssertionResponseFromCTAP1(app, *d, sig)
	s.credID = d.ID
	return err
}

// knownU2F returns the first of list whose key handle the key knows under
// the application parameter app, asking with check-only authentications
// (U2F Raw Message Formats §5.1); nil when it knows none. Key handles
// longer than U2F's 255 bytes are skipped. An error is only ctx's.
func (c *Client) knownU2F(ctx context.Context, challenge, app []byte, list []ctap.CredentialDescriptor) (*ctap.CredentialDescriptor, error) {
	for i, d := range list {
		if len(d.ID) > 255 {
			continue
		}
		_, err := c.ctap1.Authenticate(ctx, challenge, app, d.ID, true)
		if errors.Is(err, ctap.SWConditionsNotSatisfied) {
			return &list[i], nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, nil
}

// dummyTouch collects a touch with a register under a dummy application
// parameter, as browsers do before refusing a request; an error is only
// ctx's.
func (c *Client) dummyTouch(ctx context.Context) error {
	dummy := make([]byte, 32)
	_ = c.untilTouched(ctx, func() error {
		_, err := c.ctap1.Register(ctx, dummy, dummy)
		return err
	})
	return ctx.Err()
}
