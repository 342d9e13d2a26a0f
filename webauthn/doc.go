// Package webauthn is a WebAuthn Level 3 client: the part of a browser
// that runs navigator.credentials.create() and get() against a security
// key. It takes the options JSON a relying party sends
// (PublicKeyCredentialCreationOptionsJSON and
// PublicKeyCredentialRequestOptionsJSON, §5.1.1, bare or wrapped as
// {"publicKey": …}) and gives the JSON PublicKeyCredential.toJSON() would
// (RegistrationResponseJSON, AuthenticationResponseJSON), over any device
// the client package opens: in-process, UDP or hidraw.
//
// It does what the browser does between the two: the origin and RP ID
// rules (§5.1.3, §5.1.4), clientDataJSON (§5.8.1.1), the options' timeout,
// excludeCredentials and allowCredentials, discoverable credentials,
// user verification with built-in UV or a PIN token (CTAP 2.1 §6.5),
// attestation conveyance, account choice among discoverable credentials,
// and the extensions credProps, prf (over hmac-secret and hmac-secret-mc),
// largeBlob, credProtect, minPinLength, credBlob/getCredBlob and appid.
// Failures are *Error values named after the DOMException a browser
// rejects with, matchable with errors.Is against ErrNotAllowed,
// ErrInvalidState and the other sentinels, and wrapping the ctap.Status
// the authenticator answered.
//
// References are to W3C WebAuthn Level 3 and FIDO CTAP 2.1 (Proposed
// Standard, 2021-06-15) unless a comment says otherwise.
package webauthn
