package authenticator

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// The hmac-secret extension (CTAP 2.1 §12.5) and hmac-secret-mc (CTAP 2.2
// §12.8).
//
// A credential made with "hmac-secret": true has two CredRandom values,
// one used when the "uv" bit of the response is set and one when it is
// not. This key does not store them: both are derived from the master
// secret and the credential ID,
//
//	CredRandomWithUV    = HKDF-SHA-256(MasterSecret, salt = credential ID, info = credRandomInfoWithUV, 32)
//	CredRandomWithoutUV = HKDF-SHA-256(MasterSecret, salt = credential ID, info = credRandomInfoWithoutUV, 32)
//
// so a non-discoverable credential, which lives in its ID, has them as
// well as a discoverable one; authenticatorReset replaces the master
// secret and with it every CredRandom. Whether a credential was made with
// hmac-secret is kept in ResidentCredential.HMACSecret, or, for a
// non-discoverable credential, as sealedFlagHMACSecret in the flags byte
// sealed in its ID (credential.go, extensions.go).

const (
	credRandomInfoWithUV    = "virtkey hmac-secret CredRandomWithUV v1"
	credRandomInfoWithoutUV = "virtkey hmac-secret CredRandomWithoutUV v1"
)

// credRandom returns the credential's CredRandomWithUV (uv true) or
// CredRandomWithoutUV (CTAP 2.1 §12.5, makeCredential).
func credRandom(masterSecret, credID []byte, uv bool) ([]byte, error) {
	info := credRandomInfoWithoutUV
	if uv {
		info = credRandomInfoWithUV
	}
	k, err := hkdf.Key(sha256.New, masterSecret, credID, info, 32)
	if err != nil {
		return nil, fmt.Errorf("authenticator: deriving CredRandom: %w", err)
	}
	return k, nil
}

// hmacSecretOutputs is output1 [|| output2] of CTAP 2.1 §12.5:
// HMAC-SHA-256(CredRandom, salt1) and, for two salts, HMAC-SHA-256(CredRandom,
// salt2). salts is salt1 or salt1 || salt2.
func hmacSecretOutputs(credRandom, salts []byte) []byte {
	out := make([]byte, 0, len(salts))
	for s := range len(salts) / ctap.HMACSecretSaltSize {
		m := hmac.New(sha256.New, credRandom)
		m.Write(salts[s*ctap.HMACSecretSaltSize : (s+1)*ctap.HMACSecretSaltSize])
		out = m.Sum(out)
	}
	return out
}

// hmacSecretRequest is a verified hmac-secret (or hmac-secret-mc) input:
// the protocol, the shared secret with the platform and the decrypted
// salts.
type hmacSecretRequest struct {
	proto  ctap.PINProtocol
	shared []byte
	salts  []byte // salt1, or salt1 || salt2
}

// openHMACSecretInput runs the input steps of CTAP 2.1 §12.5's
// getAssertion processing on raw, the extension's input value:
//
//   - keyAgreement, saltEnc and saltAuth are required:
//     CTAP2_ERR_MISSING_PARAMETER without one;
//   - pinUvAuthProtocol defaults to 1; one this key does not implement is
//     CTAP1_ERR_INVALID_PARAMETER;
//   - the shared secret is decapsulate(keyAgreement) with the key agreement
//     key that clientPIN getKeyAgreement gives (§6.5.6); a key that is not
//     a P-256 point is CTAP1_ERR_INVALID_PARAMETER, as in clientPIN;
//   - "If the verification [verify(shared secret, saltEnc, saltAuth)]
//     fails, return CTAP2_ERR_PIN_AUTH_INVALID";
//   - "If the decryption fails, or if the result is not 32 or 64 bytes
//     long, return CTAP1_ERR_INVALID_PARAMETER".
//
// A value that is not a map of that shape is the decoder's status
// (CTAP2_ERR_CBOR_UNEXPECTED_TYPE or CTAP2_ERR_INVALID_CBOR).
func (a *Authenticator) openHMACSecretInput(name string, raw ctap.RawMessage) (*hmacSecretRequest, error) {
	var in ctap.HMACSecretInput
	if err := decodeExtensionInput(name, raw, &in); err != nil {
		return nil, err
	}
	switch {
	case in.KeyAgreement == nil:
		return nil, fmt.Errorf("%w: %s keyAgreement", ctap.StatusMissingParameter, name)
	case in.SaltEnc == nil:
		return nil, fmt.Errorf("%w: %s saltEnc", ctap.StatusMissingParameter, name)
	case in.SaltAuth == nil:
		return nil, fmt.Errorf("%w: %s saltAuth", ctap.StatusMissingParameter, name)
	}
	version := uint64(1)
	if in.PinUvAuthProtocol != nil {
		version = *in.PinUvAuthProtocol
	}
	proto, ok := ctap.PINProtocolByVersion(version)
	if !ok || !a.supportsProtocol(version) { // Config.PinUvAuthProtocols
		return nil, fmt.Errorf("%w: %s pinUvAuthProtocol %d", ctap.StatusInvalidParameter, name, version)
	}
	k, err := a.keyAgreementKey()
	if err != nil {
		return nil, err
	}
	shared, err := k.SharedSecret(proto, *in.KeyAgreement)
	if err != nil {
		return nil, fmt.Errorf("%w: %s keyAgreement: %w", ctap.StatusInvalidParameter, name, err)
	}
	if !proto.Verify(shared, in.SaltEnc, in.SaltAuth) && !a.faulty(FaultHMACSecretSaltAuthUnchecked) {
		return nil, fmt.Errorf("%w: %s saltAuth", ctap.StatusPINAuthInvalid, name)
	}
	salts, err := proto.Decrypt(shared, in.SaltEnc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s saltEnc: %w", ctap.StatusInvalidParameter, name, err)
	}
	if len(salts) != ctap.HMACSecretSaltSize && len(salts) != 2*ctap.HMACSecretSaltSize {
		return nil, fmt.Errorf("%w: %s salts of %d bytes", ctap.StatusInvalidParameter, name, len(salts))
	}
	return &hmacSecretRequest{proto: proto, shared: shared, salts: salts}, nil
}

// output is encrypt(shared secret, output1 [|| output2]) for the
// credential credID, with CredRandomWithUV when the response's "uv" bit is
// set and CredRandomWithoutUV when not (CTAP 2.1 §12.5). Protocol two's IV
// comes from Config.Rand.
func (a *Authenticator) hmacSecretOutput(r *hmacSecretRequest, credID []byte, uv bool) ([]byte, error) {
	cr, err := credRandom(a.state.MasterSecret, credID, uv && !a.faulty(FaultHMACSecretSameUV))
	if err != nil {
		return nil, err
	}
	out, err := r.proto.Encrypt(a.rand, r.shared, hmacSecretOutputs(cr, r.salts))
	if err != nil {
		return nil, fmt.Errorf("authenticator: hmac-secret output: %w", err)
	}
	return out, nil
}

// hmacSecretEnabled reports whether c was made with "hmac-secret": true.
func hmacSecretEnabled(c credentialRef) bool {
	if c.resident != nil {
		return c.resident.HMACSecret
	}
	return c.key.flags&sealedFlagHMACSecret != 0
}

// hmacSecretExtension is makeCredential step 15 for hmac-secret (CTAP 2.1
// §12.5) and hmac-secret-mc (CTAP 2.2 §12.8).
//
// "hmac-secret": true makes the credential one with CredRandom values and
// outputs "hmac-secret": true; false does nothing. A value that is not a
// boolean is CTAP2_ERR_CBOR_UNEXPECTED_TYPE.
//
// "hmac-secret-mc" needs "hmac-secret": true in the same request:
// CTAP2_ERR_MISSING_PARAMETER without it, as the FIDO conformance tools
// test. Its input is checked here as getAssertion's hmac-secret input is
// (openHMACSecretInput); its output, made once the credential ID exists
// (hmacSecretMCOutput), is what getAssertion's hmac-secret would give for
// this credential, the same salts and the response's "uv" bit.
func (hs *makeCredentialState) hmacSecretExtension() error {
	if !hs.a.hasExtension(extHMACSecret) { // not this key's: ignored (features.go)
		return nil
	}
	on, _, err := extensionFlag(hs.req.Extensions, ctap.ExtHMACSecret)
	if err != nil {
		return err
	}
	if on {
		hs.ext.hmacSecret = true
		hs.extensionOutput(ctap.ExtHMACSecret, true)
	}
	raw, ok := hs.req.Extensions[ctap.ExtHMACSecretMC]
	if !ok || !hs.a.hasExtension(extHMACSecretMC) {
		return nil
	}
	if !on {
		return fmt.Errorf("%w: %s without \"hmac-secret\": true", ctap.StatusMissingParameter, ctap.ExtHMACSecretMC)
	}
	r, err := hs.a.openHMACSecretInput(ctap.ExtHMACSecretMC, raw)
	if err != nil {
		return err
	}
	hs.hmacSecretMC = r
	return nil
}

// hmacSecretMCOutput adds the hmac-secret-mc output (CTAP 2.2 §12.8)
// once the credential ID is known (after steps 17 and 18).
func (hs *makeCredentialState) hmacSecretMCOutput() error {
	if hs.hmacSecretMC == nil {
		return nil
	}
	out, err := hs.a.hmacSecretOutput(hs.hmacSecretMC, hs.credID, hs.flags.Has(ctap.FlagUV))
	if err != nil {
		return err
	}
	hs.extensionOutput(ctap.ExtHMACSecretMC, out)
	return nil
}

// hmacSecretAssertion is getAssertion step 10 for hmac-secret (CTAP 2.1
// §12.5). "If "up" is set to false, authenticator returns
// CTAP2_ERR_UNSUPPORTED_OPTION"; otherwise the input is checked
// (openHMACSecretInput) and each credential returned, by this command or
// getNextAssertion, gets its output: with CredRandomWithUV when the "uv"
// bit is set (step 6 has run), CredRandomWithoutUV when not. A credential
// made without hmac-secret has no CredRandom and gets no output.
func (hs *getAssertionState) hmacSecretAssertion() error {
	if !hs.a.hasExtension(extHMACSecret) { // not this key's: ignored (features.go)
		return nil
	}
	raw, ok := hs.req.Extensions[ctap.ExtHMACSecret]
	if !ok {
		return nil
	}
	if !hs.up {
		return fmt.Errorf("%w: hmac-secret with up=false", ctap.StatusUnsupportedOption)
	}
	r, err := hs.a.openHMACSecretInput(ctap.ExtHMACSecret, raw)
	if err != nil {
		return err
	}
	a, uv := hs.a, hs.flags.Has(ctap.FlagUV)
	hs.exts = append(hs.exts, func(c credentialRef, outputs map[string]any, _ *ctap.GetAssertionResponse) error {
		if !hmacSecretEnabled(c) {
			return nil
		}
		out, err := a.hmacSecretOutput(r, c.id, uv)
		if err != nil {
			return err
		}
		outputs[ctap.ExtHMACSecret] = out
		return nil
	})
	return nil
}
