package webauthn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The JSON shapes of WebAuthn Level 3: the options a relying party sends
// (§5.1.1 PublicKeyCredentialCreationOptionsJSON and
// PublicKeyCredentialRequestOptionsJSON, what parseCreationOptionsFromJSON
// and parseRequestOptionsFromJSON take) and the responses
// PublicKeyCredential.toJSON() gives (§5.1.1 RegistrationResponseJSON and
// AuthenticationResponseJSON). Binary members are Base64URL: base64url
// without padding on output, with or without padding on input.

// Base64URL is binary data that JSON carries as a Base64URLString
// (WebAuthn §5.1.1): base64url without padding.
type Base64URL []byte

// MarshalJSON encodes b as a base64url string without padding.
func (b Base64URL) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

// UnmarshalJSON decodes a base64url string, padded or not. JSON null
// leaves b nil.
func (b *Base64URL) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		*b = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("webauthn: Base64URLString: %w", err)
	}
	d, err := DecodeBase64URL(s)
	if err != nil {
		return err
	}
	*b = d
	return nil
}

// ErrBase64URL is a Base64URLString that does not decode.
var ErrBase64URL = errors.New("webauthn: not a base64url string")

// DecodeBase64URL decodes s as base64url with or without padding, as
// parseCreationOptionsFromJSON accepts it (WebAuthn §5.1.1 refers to the
// forgiving-base64 decoding of RFC 4648 §5 with "-" and "_").
func DecodeBase64URL(s string) ([]byte, error) {
	d, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBase64URL, err)
	}
	return d, nil
}

// RPEntity is PublicKeyCredentialRpEntity (WebAuthn §5.4.2).
type RPEntity struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// UserEntityJSON is PublicKeyCredentialUserEntityJSON (WebAuthn §5.4.3).
type UserEntityJSON struct {
	ID          Base64URL `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"displayName"`
}

// CredentialParameters is PublicKeyCredentialParameters (WebAuthn §5.3).
type CredentialParameters struct {
	Type string `json:"type"`
	Alg  int64  `json:"alg"`
}

// CredentialDescriptorJSON is PublicKeyCredentialDescriptorJSON (WebAuthn
// §5.8.3).
type CredentialDescriptorJSON struct {
	Type       string    `json:"type"`
	ID         Base64URL `json:"id"`
	Transports []string  `json:"transports,omitempty"`
}

// AuthenticatorSelection is AuthenticatorSelectionCriteria (WebAuthn
// §5.4.4).
type AuthenticatorSelection struct {
	AuthenticatorAttachment string `json:"authenticatorAttachment,omitempty"`
	ResidentKey             string `json:"residentKey,omitempty"`
	RequireResidentKey      bool   `json:"requireResidentKey,omitempty"`
	UserVerification        string `json:"userVerification,omitempty"`
}

// CreationOptionsJSON is PublicKeyCredentialCreationOptionsJSON (WebAuthn
// §5.1.1, §5.4).
type CreationOptionsJSON struct {
	RP                     RPEntity                   `json:"rp"`
	User                   UserEntityJSON             `json:"user"`
	Challenge              Base64URL                  `json:"challenge"`
	PubKeyCredParams       []CredentialParameters     `json:"pubKeyCredParams"`
	Timeout                *uint64                    `json:"timeout,omitempty"`
	ExcludeCredentials     []CredentialDescriptorJSON `json:"excludeCredentials,omitempty"`
	AuthenticatorSelection *AuthenticatorSelection    `json:"authenticatorSelection,omitempty"`
	Hints                  []string                   `json:"hints,omitempty"`
	Attestation            string                     `json:"attestation,omitempty"`
	AttestationFormats     []string                   `json:"attestationFormats,omitempty"`
	Extensions             *ExtensionInputs           `json:"extensions,omitempty"`
}

// RequestOptionsJSON is PublicKeyCredentialRequestOptionsJSON (WebAuthn
// §5.1.1, §5.5).
type RequestOptionsJSON struct {
	Challenge        Base64URL                  `json:"challenge"`
	Timeout          *uint64                    `json:"timeout,omitempty"`
	RPID             string                     `json:"rpId,omitempty"`
	AllowCredentials []CredentialDescriptorJSON `json:"allowCredentials,omitempty"`
	UserVerification string                     `json:"userVerification,omitempty"`
	Hints            []string                   `json:"hints,omitempty"`
	Extensions       *ExtensionInputs           `json:"extensions,omitempty"`
}

// ExtensionInputs are the client extension inputs this client processes
// (AuthenticationExtensionsClientInputsJSON, WebAuthn §5.7.1); others are
// ignored, as §9.3 requires of unknown extensions.
type ExtensionInputs struct {
	// AppID is the FIDO AppID extension (WebAuthn §10.1.1), get only.
	AppID string `json:"appid,omitempty"`
	// CredProps asks for the credential properties (§10.1.3), create only.
	CredProps bool `json:"credProps,omitempty"`
	// PRF is the pseudo-random function extension (§10.1.4).
	PRF *PRFInputs `json:"prf,omitempty"`
	// LargeBlob is the large blob storage extension (§10.1.5).
	LargeBlob *LargeBlobInputs `json:"largeBlob,omitempty"`
	// CredentialProtectionPolicy and EnforceCredentialProtectionPolicy are
	// credProtect (CTAP 2.1 §12.1), create only.
	CredentialProtectionPolicy        string `json:"credentialProtectionPolicy,omitempty"`
	EnforceCredentialProtectionPolicy bool   `json:"enforceCredentialProtectionPolicy,omitempty"`
	// MinPinLength is minPinLength (CTAP 2.1 §12.4), create only.
	MinPinLength bool `json:"minPinLength,omitempty"`
	// CredBlob is credBlob (CTAP 2.1 §12.2), create only.
	CredBlob Base64URL `json:"credBlob,omitempty"`
	// GetCredBlob is getCredBlob (CTAP 2.1 §12.2), get only.
	GetCredBlob bool `json:"getCredBlob,omitempty"`
}

// PRFValues are AuthenticationExtensionsPRFValuesJSON (WebAuthn §10.1.4).
type PRFValues struct {
	First  Base64URL `json:"first"`
	Second Base64URL `json:"second,omitempty"`
}

// PRFInputs are AuthenticationExtensionsPRFInputsJSON (WebAuthn §10.1.4).
type PRFInputs struct {
	Eval *PRFValues `json:"eval,omitempty"`
	// EvalByCredential maps base64url credential IDs to inputs.
	EvalByCredential map[string]PRFValues `json:"evalByCredential,omitempty"`
}

// LargeBlobInputs are AuthenticationExtensionsLargeBlobInputsJSON
// (WebAuthn §10.1.5).
type LargeBlobInputs struct {
	Support string    `json:"support,omitempty"`
	Read    bool      `json:"read,omitempty"`
	Write   Base64URL `json:"write,omitempty"`
}

// ExtensionOutputs are the client extension results this client gives
// (AuthenticationExtensionsClientOutputsJSON, WebAuthn §5.7.2).
type ExtensionOutputs struct {
	AppID       *bool             `json:"appid,omitempty"`
	CredProps   *CredProps        `json:"credProps,omitempty"`
	PRF         *PRFOutputs       `json:"prf,omitempty"`
	LargeBlob   *LargeBlobOutputs `json:"largeBlob,omitempty"`
	CredBlob    *bool             `json:"credBlob,omitempty"`
	GetCredBlob *Base64URL        `json:"getCredBlob,omitempty"`
}

// CredProps is CredentialPropertiesOutput (WebAuthn §10.1.3).
type CredProps struct {
	RK *bool `json:"rk,omitempty"`
}

// PRFOutputs are AuthenticationExtensionsPRFOutputsJSON (WebAuthn
// §10.1.4).
type PRFOutputs struct {
	Enabled *bool      `json:"enabled,omitempty"`
	Results *PRFValues `json:"results,omitempty"`
}

// LargeBlobOutputs are AuthenticationExtensionsLargeBlobOutputsJSON
// (WebAuthn §10.1.5).
type LargeBlobOutputs struct {
	Supported *bool     `json:"supported,omitempty"`
	Blob      Base64URL `json:"blob,omitempty"`
	Written   *bool     `json:"written,omitempty"`
}

// AttestationResponseJSON is AuthenticatorAttestationResponseJSON
// (WebAuthn §5.2.1).
type AttestationResponseJSON struct {
	ClientDataJSON     Base64URL `json:"clientDataJSON"`
	AuthenticatorData  Base64URL `json:"authenticatorData"`
	Transports         []string  `json:"transports"`
	PublicKey          Base64URL `json:"publicKey,omitempty"`
	PublicKeyAlgorithm int64     `json:"publicKeyAlgorithm"`
	AttestationObject  Base64URL `json:"attestationObject"`
}

// RegistrationResponseJSON is what PublicKeyCredential.toJSON() gives for
// a credential navigator.credentials.create() made (WebAuthn §5.1.1).
type RegistrationResponseJSON struct {
	ID                      string                  `json:"id"`
	RawID                   Base64URL               `json:"rawId"`
	Response                AttestationResponseJSON `json:"response"`
	AuthenticatorAttachment string                  `json:"authenticatorAttachment,omitempty"`
	ClientExtensionResults  ExtensionOutputs        `json:"clientExtensionResults"`
	Type                    string                  `json:"type"`
}

// AssertionResponseJSON is AuthenticatorAssertionResponseJSON (WebAuthn
// §5.2.2). UserHandle is omitted when the authenticator returned none.
type AssertionResponseJSON struct {
	ClientDataJSON    Base64URL `json:"clientDataJSON"`
	AuthenticatorData Base64URL `json:"authenticatorData"`
	Signature         Base64URL `json:"signature"`
	UserHandle        Base64URL `json:"userHandle,omitempty"`
}

// AuthenticationResponseJSON is what PublicKeyCredential.toJSON() gives
// for an assertion navigator.credentials.get() returned (WebAuthn
// §5.1.1).
type AuthenticationResponseJSON struct {
	ID                      string                `json:"id"`
	RawID                   Base64URL             `json:"rawId"`
	Response                AssertionResponseJSON `json:"response"`
	AuthenticatorAttachment string                `json:"authenticatorAttachment,omitempty"`
	ClientExtensionResults  ExtensionOutputs      `json:"clientExtensionResults"`
	Type                    string                `json:"type"`
}

// ParseCreationOptions parses PublicKeyCredentialCreationOptionsJSON, bare
// or wrapped as {"publicKey": …} (CredentialCreationOptions, §5.1.3), the
// way parseCreationOptionsFromJSON does (§5.1.9): malformed JSON, a
// missing member the IDL requires (rp, user, challenge, pubKeyCredParams)
// or a Base64URLString that does not decode is a TypeError (ErrType).
func ParseCreationOptions(data []byte) (*CreationOptionsJSON, error) {
	inner, err := unwrap(data, "rp")
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(inner, &raw); err != nil {
		return nil, newError(ErrType, "creation options: "+err.Error(), nil)
	}
	for _, m := range []string{"rp", "user", "challenge", "pubKeyCredParams"} {
		if v, ok := raw[m]; !ok || bytes.Equal(v, []byte("null")) {
			return nil, newError(ErrType, "creation options: required member "+m+" missing", nil)
		}
	}
	var o CreationOptionsJSON
	if err := json.Unmarshal(inner, &o); err != nil {
		return nil, newError(ErrType, "creation options: "+err.Error(), nil)
	}
	if o.User.ID == nil {
		return nil, newError(ErrType, "creation options: user.id missing", nil)
	}
	if o.Challenge == nil {
		return nil, newError(ErrType, "creation options: challenge is null", nil)
	}
	return &o, nil
}

// ParseRequestOptions parses PublicKeyCredentialRequestOptionsJSON, bare or
// wrapped as {"publicKey": …}, as parseRequestOptionsFromJSON does
// (§5.1.10): challenge is required.
func ParseRequestOptions(data []byte) (*RequestOptionsJSON, error) {
	inner, err := unwrap(data, "challenge")
	if err != nil {
		return nil, err
	}
	var o RequestOptionsJSON
	if err := json.Unmarshal(inner, &o); err != nil {
		return nil, newError(ErrType, "request options: "+err.Error(), nil)
	}
	if o.Challenge == nil {
		return nil, newError(ErrType, "request options: required member challenge missing", nil)
	}
	return &o, nil
}

// unwrap returns the value of "publicKey" when data is an object with that
// member and without the bare shape's marker member, else data.
func unwrap(data []byte, marker string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, newError(ErrType, "options are not a JSON object: "+err.Error(), nil)
	}
	if pk, ok := top["publicKey"]; ok {
		if _, bare := top[marker]; !bare {
			return pk, nil
		}
	}
	return data, nil
}
