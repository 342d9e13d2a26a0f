package webauthn

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"maps"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// Client extension processing (WebAuthn L3 §9, §10; CTAP 2.1 §12).

// prfSalt hashes a PRF input into an hmac-secret salt (WebAuthn §10.1.4):
// SHA-256("WebAuthn PRF" || 0x00 || input).
func prfSalt(input []byte) []byte {
	h := sha256.New()
	h.Write([]byte("WebAuthn PRF"))
	h.Write([]byte{0})
	h.Write(input)
	return h.Sum(nil)
}

func prfSalts(v *PRFValues) (salt1, salt2 []byte) {
	salt1 = prfSalt(v.First)
	if v.Second != nil {
		salt2 = prfSalt(v.Second)
	}
	return salt1, salt2
}

func credProtectLevel(policy string) (client.CredProtectPolicy, bool) {
	switch policy {
	case "userVerificationOptional":
		return client.UserVerificationOptional, true
	case "userVerificationOptionalWithCredentialIDList":
		return client.UserVerificationOptionalWithCredentialIDList, true
	case "userVerificationRequired":
		return client.UserVerificationRequired, true
	}
	return 0, false
}

// createExtensions is the state of create()'s extensions.
type createExtensions struct {
	hmac           *client.HmacSecret // prf, when asked for
	prfEval        bool               // prf.eval sent through hmac-secret-mc
	largeBlobAsked bool
	credBlobSent   bool
}

func (s *createState) prepareExtensions() error {
	in := s.opts.Extensions
	if in == nil {
		return nil
	}
	if in.PRF != nil && in.PRF.EvalByCredential != nil {
		return newError(ErrNotSupported, "prf.evalByCredential is not allowed in create() (§10.1.4)", nil)
	}
	if lb := in.LargeBlob; lb != nil {
		if lb.Read || lb.Write != nil {
			return newError(ErrNotSupported, "largeBlob read or write in create() (§10.1.5)", nil)
		}
		s.exts.largeBlobAsked = true
		if lb.Support == "required" && (s.u2f || !client.LargeBlobsSupported(s.c.ctap2.Info())) {
			return newError(ErrNotSupported, "largeBlob support is required but the authenticator has no large blob storage", nil)
		}
	}
	if in.CredentialProtectionPolicy != "" && in.EnforceCredentialProtectionPolicy {
		lvl, ok := credProtectLevel(in.CredentialProtectionPolicy)
		if ok && lvl > client.UserVerificationOptional && (s.u2f || !s.c.ctap2.Info().HasExtension(ctap.ExtCredProtect)) {
			// CTAP 2.1 §12.1: the platform must not create the
			// credential without the policy the RP enforces.
			return newError(ErrNotAllowed, "credentialProtectionPolicy is enforced but the authenticator lacks credProtect", nil)
		}
	}
	return nil
}

// apply adds the authenticator extension inputs to req.
func (e *createExtensions) apply(s *createState, req *ctap.MakeCredentialRequest) error {
	in := s.opts.Extensions
	if in == nil {
		return nil
	}
	info := s.c.ctap2.Info()
	var mc client.MakeCredentialExtensions
	if lvl, ok := credProtectLevel(in.CredentialProtectionPolicy); ok && info.HasExtension(ctap.ExtCredProtect) {
		mc.CredProtect = lvl
	}
	if in.CredBlob != nil && info.HasExtension(ctap.ExtCredBlob) && uint64(len(in.CredBlob)) <= info.MaxCredBlobLength {
		mc.CredBlob = in.CredBlob
		e.credBlobSent = true
	}
	if e.largeBlobAsked && client.LargeBlobsSupported(info) {
		mc.LargeBlobKey = true
	}
	if in.MinPinLength && info.HasExtension(ctap.ExtMinPinLength) {
		mc.MinPinLength = true
	}
	mc.Apply(req)
	if in.PRF != nil && info.HasExtension(ctap.ExtHMACSecret) {
		var err error
		if e.hmac, err = s.c.prfHmacSecret(s.plan); err != nil {
			return err
		}
		var salt1, salt2 []byte
		if in.PRF.Eval != nil && info.HasExtension(ctap.ExtHMACSecretMC) {
			salt1, salt2 = prfSalts(in.PRF.Eval)
			e.prfEval = true
		}
		m, err := e.hmac.MakeCredentialExtensions(s.ctx, salt1, salt2)
		if err != nil {
			return err
		}
		req.Extensions = addInputs(req.Extensions, m)
	}
	return nil
}

// prfHmacSecret returns the hmac-secret client that carries prf: on the
// protocol of plan's ClientPin when there is a plan, else on the newest
// protocol both sides know.
func (c *Client) prfHmacSecret(plan *uvPlan) (*client.HmacSecret, error) {
	if plan != nil {
		return client.NewHmacSecret(plan.cp), nil
	}
	cp, err := c.clientPin()
	if err != nil {
		return nil, newError(ErrNotSupported, "prf needs a PIN/UV auth protocol", err)
	}
	return client.NewHmacSecret(cp), nil
}

// addInputs copies the extension inputs m into exts, keeping the other
// extensions there, and returns exts.
func addInputs(exts, m map[string]ctap.RawMessage) map[string]ctap.RawMessage {
	if exts == nil {
		exts = make(map[string]ctap.RawMessage, len(m))
	}
	maps.Copy(exts, m)
	return exts
}

// outputs fills the client extension results of create().
func (e *createExtensions) outputs(s *createState) error {
	in := s.opts.Extensions
	if in == nil {
		return nil
	}
	out := &s.outputs
	if in.CredProps {
		rk := s.rk
		out.CredProps = &CredProps{RK: &rk} // §10.1.3
	}
	if s.u2f {
		if in.PRF != nil {
			f := false
			out.PRF = &PRFOutputs{Enabled: &f}
		}
		if e.largeBlobAsked {
			f := false
			out.LargeBlob = &LargeBlobOutputs{Supported: &f}
		}
		if in.CredBlob != nil {
			f := false
			out.CredBlob = &f
		}
		return nil
	}
	ad := s.att.AuthData
	if in.PRF != nil {
		enabled := false
		if e.hmac != nil {
			var err error
			if enabled, err = client.HmacSecretCreated(ad); err != nil {
				return err
			}
		}
		out.PRF = &PRFOutputs{Enabled: &enabled}
		if enabled && e.prfEval {
			o1, o2, ok, err := e.hmac.MCOutput(ad)
			if err != nil {
				return err
			}
			if ok {
				out.PRF.Results = &PRFValues{First: o1, Second: o2}
			}
		}
	}
	if e.largeBlobAsked {
		sup := s.att.LargeBlobKey != nil
		out.LargeBlob = &LargeBlobOutputs{Supported: &sup}
	}
	if in.CredBlob != nil {
		stored := false
		if e.credBlobSent {
			co, err := s.att.CredentialExtensions()
			if err != nil {
				return err
			}
			stored = co.CredBlob != nil && *co.CredBlob
		}
		out.CredBlob = &stored
	}
	return nil
}

// getExtensions is the state of get()'s extensions.
type getExtensions struct {
	appidUsed      bool
	hmac           *client.HmacSecret
	largeBlobRead  bool
	largeBlobWrite bool
	getCredBlob    bool
}

func (s *getState) prepareExtensions() error {
	in := s.opts.Extensions
	if in == nil {
		return nil
	}
	if lb := in.LargeBlob; lb != nil {
		if lb.Support != "" {
			return newError(ErrNotSupported, "largeBlob support in get() (§10.1.5)", nil)
		}
		if lb.Read && lb.Write != nil {
			return newError(ErrNotSupported, "largeBlob read and write together (§10.1.5)", nil)
		}
		if lb.Write != nil && len(s.allow) != 1 {
			return newError(ErrNotSupported, "largeBlob write needs exactly one allowCredentials entry (§10.1.5)", nil)
		}
		s.exts.largeBlobRead = lb.Read
		s.exts.largeBlobWrite = lb.Write != nil
	}
	if in.PRF != nil && in.PRF.EvalByCredential != nil {
		if len(s.opts.AllowCredentials) == 0 {
			return newError(ErrNotSupported, "prf.evalByCredential needs allowCredentials (§10.1.4)", nil)
		}
		for k := range in.PRF.EvalByCredential {
			id, err := DecodeBase64URL(k)
			if k == "" || err != nil || !containsID(s.opts.AllowCredentials, id) {
				return newError(ErrSyntax, "prf.evalByCredential key "+quote(k)+" names no allowCredentials entry (§10.1.4)", err)
			}
		}
	}
	s.exts.getCredBlob = in.GetCredBlob
	if in.AppID != "" {
		return s.prepareAppID(in.AppID)
	}
	return nil
}

func containsID(list []CredentialDescriptorJSON, id []byte) bool {
	for _, d := range list {
		if bytes.Equal(d.ID, id) {
			return true
		}
	}
	return false
}

// prepareAppID implements the FIDO AppID extension (WebAuthn §10.1.1): a
// credential registered with U2F under the AppID is found with silent
// probes under the AppID (whose SHA-256 is the U2F application parameter)
// after none was found under the RP ID; the assertion is then asked for
// under the AppID. The AppID must be an https URL whose host the caller
// origin may claim (FIDO AppID and Facet Specification §3.1.2, checked
// here as the RP ID rule).
func (s *getState) prepareAppID(appid string) error {
	o, err := parseOrigin(appid)
	if err != nil || !bytes.HasPrefix([]byte(appid), []byte("https://")) {
		return newError(ErrSecurity, "appid "+quote(appid)+" is not an https URL", err)
	}
	if o.host != s.c.origin.host {
		if err := s.c.checkRPID(o.host); err != nil {
			return newError(ErrSecurity, "appid "+quote(appid)+" is not valid for origin "+s.c.origin.serialized, err)
		}
	}
	f := false
	s.outputs.AppID = &f
	if len(s.allow) == 0 {
		return nil
	}
	if s.u2f {
		return s.prepareAppIDU2F(appid)
	}
	found, err := s.c.probe(s.ctx, s.rpID, s.allow)
	if err != nil || found != nil {
		return err
	}
	found, err = s.c.probe(s.ctx, appid, s.allow)
	if err != nil || found == nil {
		return err
	}
	s.rpID, s.allow = appid, found
	s.exts.appidUsed = true
	return nil
}

// apply adds the authenticator extension inputs to req.
func (e *getExtensions) apply(s *getState, req *ctap.GetAssertionRequest) error {
	in := s.opts.Extensions
	if in == nil {
		return nil
	}
	info := s.c.ctap2.Info()
	ga := client.GetAssertionExtensions{
		CredBlob:     in.GetCredBlob && info.HasExtension(ctap.ExtCredBlob),
		LargeBlobKey: (e.largeBlobRead || e.largeBlobWrite) && client.LargeBlobsSupported(info),
	}
	ga.Apply(req)
	if in.PRF != nil && info.HasExtension(ctap.ExtHMACSecret) {
		eval := in.PRF.Eval
		if in.PRF.EvalByCredential != nil {
			if len(req.AllowList) > 1 {
				found, err := s.c.probe(s.ctx, req.RPID, req.AllowList)
				if err != nil {
					return err
				}
				if found != nil {
					req.AllowList = found
				}
			}
			if len(req.AllowList) == 1 {
				if v, ok := in.PRF.EvalByCredential[base64.RawURLEncoding.EncodeToString(req.AllowList[0].ID)]; ok {
					eval = &v
				}
			}
		}
		if eval != nil {
			var err error
			if e.hmac, err = s.c.prfHmacSecret(s.plan); err != nil {
				return err
			}
			salt1, salt2 := prfSalts(eval)
			m, err := e.hmac.GetAssertionExtensions(s.ctx, salt1, salt2)
			if err != nil {
				return err
			}
			req.Extensions = addInputs(req.Extensions, m)
		}
	}
	return nil
}

// outputs fills the client extension results of get().
func (e *getExtensions) outputs(s *getState) error {
	in := s.opts.Extensions
	if in == nil {
		return nil
	}
	out := &s.outputs
	if in.AppID != "" {
		used := e.appidUsed
		out.AppID = &used
	}
	if s.u2f {
		return nil
	}
	ad := s.resp.AuthData
	if in.PRF != nil {
		out.PRF = &PRFOutputs{}
		if e.hmac != nil {
			o1, o2, ok, err := e.hmac.Output(ad)
			if err != nil {
				return err
			}
			if ok {
				out.PRF.Results = &PRFValues{First: o1, Second: o2}
			}
		}
	}
	if in.GetCredBlob {
		ao, err := s.resp.AssertionExtensions()
		if err != nil {
			return err
		}
		b := Base64URL(ao.CredBlob)
		if b == nil {
			b = Base64URL{}
		}
		out.GetCredBlob = &b
	}
	if e.largeBlobRead || e.largeBlobWrite {
		return e.largeBlob(s)
	}
	return nil
}

// largeBlob reads or writes the credential's large blob with its
// largeBlobKey (WebAuthn §10.1.5, CTAP 2.1 §6.10.3).
func (e *getExtensions) largeBlob(s *getState) error {
	out := &s.outputs
	key := s.resp.LargeBlobKey
	if e.largeBlobWrite {
		written := false
		out.LargeBlob = &LargeBlobOutputs{Written: &written}
		if key == nil {
			return nil
		}
		var proto *client.PinProtocol
		var token []byte
		if s.plan != nil && s.plan.token != nil {
			proto, token = s.plan.cp.Protocol(), s.plan.token
		}
		lb, err := client.NewLargeBlobs(s.c.ctap2, proto, token)
		if err != nil {
			return err
		}
		lb.Rand = s.c.cfg.rand
		if err := lb.PutBlob(s.ctx, key, s.opts.Extensions.LargeBlob.Write); err != nil {
			return err
		}
		written = true
		return nil
	}
	out.LargeBlob = &LargeBlobOutputs{}
	if key == nil {
		return nil
	}
	lb, err := client.NewLargeBlobs(s.c.ctap2, nil, nil)
	if err != nil {
		return err
	}
	blob, err := lb.GetBlob(s.ctx, key)
	if err != nil {
		return err
	}
	if blob != nil {
		out.LargeBlob.Blob = blob
	}
	return nil
}
