package ctap

// Credential types and the public-key entity structures of WebAuthn Level 3
// §5.4, as CTAP 2.1 §6.1 carries them.

// CredentialTypePublicKey is the only credential type (WebAuthn §5.8.2).
const CredentialTypePublicKey = "public-key"

// RPEntity is a PublicKeyCredentialRpEntity (WebAuthn §5.4.2). Unknown
// members are ignored (CTAP 2.1 §6.1.2).
type RPEntity struct {
	ID   string `cbor:"id"`
	Name string `cbor:"name,omitempty"`
	Icon string `cbor:"icon,omitempty"`
}

// UserEntity is a PublicKeyCredentialUserEntity (WebAuthn §5.4.3). The ID
// is at most 64 bytes.
type UserEntity struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty"`
	Icon        string `cbor:"icon,omitempty"`
}

// MaxUserIDLength is the longest user handle (WebAuthn §5.4.3).
const MaxUserIDLength = 64

// CredentialParameter is a PublicKeyCredentialParameters entry (WebAuthn §5.3).
type CredentialParameter struct {
	Type string `cbor:"type"`
	Alg  int64  `cbor:"alg"`
}

// CredentialDescriptor is a PublicKeyCredentialDescriptor (WebAuthn §5.8.3).
type CredentialDescriptor struct {
	Type       string   `cbor:"type"`
	ID         []byte   `cbor:"id"`
	Transports []string `cbor:"transports,omitempty"`
}

// COSE algorithm identifiers (IANA COSE Algorithms registry).
const (
	AlgES256 int64 = -7
	AlgEdDSA int64 = -8
	AlgES384 int64 = -35
	AlgRS256 int64 = -257
	// AlgECDHESHKDF256 is the algorithm of PIN/UV key agreement keys (CTAP 2.1 §6.5.6).
	AlgECDHESHKDF256 int64 = -25
)

// Option names (CTAP 2.1 §6.1.2, §6.2.2, §6.4).
const (
	OptionRK                             = "rk"
	OptionUP                             = "up"
	OptionUV                             = "uv"
	OptionPlat                           = "plat"
	OptionClientPIN                      = "clientPin"
	OptionPinUvAuthToken                 = "pinUvAuthToken"
	OptionNoMcGaPermissionsWithClientPin = "noMcGaPermissionsWithClientPin"
	OptionLargeBlobs                     = "largeBlobs"
	OptionEP                             = "ep"
	OptionBioEnroll                      = "bioEnroll"
	OptionUserVerificationMgmtPreview    = "userVerificationMgmtPreview"
	OptionUVBioEnroll                    = "uvBioEnroll"
	OptionAuthnrCfg                      = "authnrCfg"
	OptionUVAcfg                         = "uvAcfg"
	OptionCredMgmt                       = "credMgmt"
	OptionCredentialMgmtPreview          = "credentialMgmtPreview"
	OptionSetMinPINLength                = "setMinPINLength"
	OptionMakeCredUvNotRqd               = "makeCredUvNotRqd"
	OptionAlwaysUv                       = "alwaysUv"
	// OptionPerCredMgmtRO says the key accepts the pcmr permission
	// (CTAP 2.2 §6.4).
	OptionPerCredMgmtRO = "perCredMgmtRO"
)

// Version strings in getInfo (CTAP 2.1 §6.4).
const (
	VersionU2FV2     = "U2F_V2"
	VersionFIDO20    = "FIDO_2_0"
	VersionFIDO21Pre = "FIDO_2_1_PRE"
	VersionFIDO21    = "FIDO_2_1"
	VersionFIDO22    = "FIDO_2_2"
)

// Extension identifiers (CTAP 2.1 §12, CTAP 2.2 §12).
const (
	ExtCredProtect       = "credProtect"
	ExtHMACSecret        = "hmac-secret"
	ExtHMACSecretMC      = "hmac-secret-mc"
	ExtCredBlob          = "credBlob"
	ExtLargeBlobKey      = "largeBlobKey"
	ExtMinPinLength      = "minPinLength"
	ExtThirdPartyPayment = "thirdPartyPayment"
	// ExtPinComplexityPolicy is the pinComplexityPolicy extension (CTAP
	// 2.2 §12).
	ExtPinComplexityPolicy = "pinComplexityPolicy"
)
