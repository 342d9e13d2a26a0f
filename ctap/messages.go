package ctap

// Request and response messages of every authenticator command. Members
// carry the integer keys of CTAP 2.1 §6; optional members are pointers or
// omitempty so that an explicit false or zero survives a round trip where
// the spec gives it meaning.

// MakeCredentialRequest is the authenticatorMakeCredential input (CTAP 2.1 §6.1.1).
type MakeCredentialRequest struct {
	ClientDataHash        []byte                 `cbor:"1,keyasint"`
	RP                    *RPEntity              `cbor:"2,keyasint"`
	User                  *UserEntity            `cbor:"3,keyasint"`
	PubKeyCredParams      []CredentialParameter  `cbor:"4,keyasint"`
	ExcludeList           []CredentialDescriptor `cbor:"5,keyasint,omitempty"`
	Extensions            map[string]RawMessage  `cbor:"6,keyasint,omitempty"`
	Options               map[string]bool        `cbor:"7,keyasint,omitempty"`
	PinUvAuthParam        []byte                 `cbor:"8,keyasint,omitempty"`
	PinUvAuthProtocol     *uint64                `cbor:"9,keyasint,omitempty"`
	EnterpriseAttestation *uint64                `cbor:"10,keyasint,omitempty"`
	// AttestationFormatsPreference is the platform's attestation
	// statement formats in order of preference (CTAP 2.2 §6.1).
	AttestationFormatsPreference []string `cbor:"11,keyasint,omitempty"`
}

// AttestationStatement is the attStmt of the packed (WebAuthn §8.2),
// fido-u2f (§8.6) and none (§8.7) formats; none encodes as an empty map.
type AttestationStatement struct {
	Alg *int64   `cbor:"alg,omitempty"`
	Sig []byte   `cbor:"sig,omitempty"`
	X5C [][]byte `cbor:"x5c,omitempty"`
}

// Attestation statement formats.
const (
	FormatPacked  = "packed"
	FormatFIDOU2F = "fido-u2f"
	FormatNone    = "none"
)

// MakeCredentialResponse is the authenticatorMakeCredential output (CTAP 2.1 §6.1.2).
type MakeCredentialResponse struct {
	Fmt                      string                `cbor:"1,keyasint"`
	AuthData                 []byte                `cbor:"2,keyasint"`
	AttStmt                  AttestationStatement  `cbor:"3,keyasint"`
	EPAtt                    *bool                 `cbor:"4,keyasint,omitempty"`
	LargeBlobKey             []byte                `cbor:"5,keyasint,omitempty"`
	UnsignedExtensionOutputs map[string]RawMessage `cbor:"6,keyasint,omitempty"`
}

// GetAssertionRequest is the authenticatorGetAssertion input (CTAP 2.1 §6.2.1).
type GetAssertionRequest struct {
	RPID              string                 `cbor:"1,keyasint"`
	ClientDataHash    []byte                 `cbor:"2,keyasint"`
	AllowList         []CredentialDescriptor `cbor:"3,keyasint,omitempty"`
	Extensions        map[string]RawMessage  `cbor:"4,keyasint,omitempty"`
	Options           map[string]bool        `cbor:"5,keyasint,omitempty"`
	PinUvAuthParam    []byte                 `cbor:"6,keyasint,omitempty"`
	PinUvAuthProtocol *uint64                `cbor:"7,keyasint,omitempty"`
}

// GetAssertionResponse is the authenticatorGetAssertion and
// authenticatorGetNextAssertion output (CTAP 2.1 §6.2.2, §6.3).
type GetAssertionResponse struct {
	Credential               *CredentialDescriptor `cbor:"1,keyasint,omitempty"`
	AuthData                 []byte                `cbor:"2,keyasint"`
	Signature                []byte                `cbor:"3,keyasint"`
	User                     *UserEntity           `cbor:"4,keyasint,omitempty"`
	NumberOfCredentials      *uint64               `cbor:"5,keyasint,omitempty"`
	UserSelected             *bool                 `cbor:"6,keyasint,omitempty"`
	LargeBlobKey             []byte                `cbor:"7,keyasint,omitempty"`
	UnsignedExtensionOutputs map[string]RawMessage `cbor:"8,keyasint,omitempty"`
}

// InfoResponse is the authenticatorGetInfo output (CTAP 2.1 §6.4; members
// 0x16 and later from CTAP 2.2 §6.4).
type InfoResponse struct {
	Versions                         []string              `cbor:"1,keyasint"`
	Extensions                       []string              `cbor:"2,keyasint,omitempty"`
	AAGUID                           []byte                `cbor:"3,keyasint"`
	Options                          map[string]bool       `cbor:"4,keyasint,omitempty"`
	MaxMsgSize                       uint64                `cbor:"5,keyasint,omitempty"`
	PinUvAuthProtocols               []uint64              `cbor:"6,keyasint,omitempty"`
	MaxCredentialCountInList         uint64                `cbor:"7,keyasint,omitempty"`
	MaxCredentialIDLength            uint64                `cbor:"8,keyasint,omitempty"`
	Transports                       []string              `cbor:"9,keyasint,omitempty"`
	Algorithms                       []CredentialParameter `cbor:"10,keyasint,omitempty"`
	MaxSerializedLargeBlobArray      uint64                `cbor:"11,keyasint,omitempty"`
	ForcePINChange                   *bool                 `cbor:"12,keyasint,omitempty"`
	MinPINLength                     uint64                `cbor:"13,keyasint,omitempty"`
	FirmwareVersion                  uint64                `cbor:"14,keyasint,omitempty"`
	MaxCredBlobLength                uint64                `cbor:"15,keyasint,omitempty"`
	MaxRPIDsForSetMinPINLength       uint64                `cbor:"16,keyasint,omitempty"`
	PreferredPlatformUvAttempts      uint64                `cbor:"17,keyasint,omitempty"`
	UVModality                       uint64                `cbor:"18,keyasint,omitempty"`
	Certifications                   map[string]uint64     `cbor:"19,keyasint,omitempty"`
	RemainingDiscoverableCredentials *uint64               `cbor:"20,keyasint,omitempty"`
	VendorPrototypeConfigCommands    []uint64              `cbor:"21,keyasint,omitempty"`
	AttestationFormats               []string              `cbor:"22,keyasint,omitempty"`
	UVCountSinceLastPinEntry         *uint64               `cbor:"23,keyasint,omitempty"`
	LongTouchForReset                *bool                 `cbor:"24,keyasint,omitempty"`
	// The members CTAP 2.2 adds after longTouchForReset (CTAP 2.2 §6.4).
	EncIdentifier               []byte   `cbor:"25,keyasint,omitempty"`
	TransportsForReset          []string `cbor:"26,keyasint,omitempty"`
	PinComplexityPolicy         *bool    `cbor:"27,keyasint,omitempty"`
	PinComplexityPolicyURL      []byte   `cbor:"28,keyasint,omitempty"`
	MaxPINLength                uint64   `cbor:"29,keyasint,omitempty"`
	EncCredStoreState           []byte   `cbor:"30,keyasint,omitempty"`
	AuthenticatorConfigCommands []uint64 `cbor:"31,keyasint,omitempty"`
}

// ClientPIN subcommands (CTAP 2.1 §6.5.5).
const (
	PINGetPINRetries                            uint64 = 0x01
	PINGetKeyAgreement                          uint64 = 0x02
	PINSetPIN                                   uint64 = 0x03
	PINChangePIN                                uint64 = 0x04
	PINGetPinToken                              uint64 = 0x05
	PINGetPinUvAuthTokenUsingUvWithPermissions  uint64 = 0x06
	PINGetUVRetries                             uint64 = 0x07
	PINGetPinUvAuthTokenUsingPinWithPermissions uint64 = 0x09
)

// pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7).
const (
	PermissionMakeCredential       uint64 = 0x01
	PermissionGetAssertion         uint64 = 0x02
	PermissionCredentialManagement uint64 = 0x04
	PermissionBioEnrollment        uint64 = 0x08
	PermissionLargeBlobWrite       uint64 = 0x10
	PermissionAuthenticatorConfig  uint64 = 0x20
	// PermissionPersistentCredMgmtRO is pcmr, the read-only credential
	// management permission of a persistent pinUvAuthToken (CTAP 2.2
	// §6.5.5.7).
	PermissionPersistentCredMgmtRO uint64 = 0x40
)

// ClientPINRequest is the authenticatorClientPIN input (CTAP 2.1 §6.5.5).
type ClientPINRequest struct {
	PinUvAuthProtocol *uint64  `cbor:"1,keyasint,omitempty"`
	SubCommand        *uint64  `cbor:"2,keyasint,omitempty"`
	KeyAgreement      *COSEKey `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte   `cbor:"4,keyasint,omitempty"`
	NewPinEnc         []byte   `cbor:"5,keyasint,omitempty"`
	PinHashEnc        []byte   `cbor:"6,keyasint,omitempty"`
	Permissions       *uint64  `cbor:"9,keyasint,omitempty"`
	RPID              *string  `cbor:"10,keyasint,omitempty"`
}

// ClientPINResponse is the authenticatorClientPIN output (CTAP 2.1 §6.5.5).
type ClientPINResponse struct {
	KeyAgreement    *COSEKey `cbor:"1,keyasint,omitempty"`
	PinUvAuthToken  []byte   `cbor:"2,keyasint,omitempty"`
	PINRetries      *uint64  `cbor:"3,keyasint,omitempty"`
	PowerCycleState *bool    `cbor:"4,keyasint,omitempty"`
	UVRetries       *uint64  `cbor:"5,keyasint,omitempty"`
}

// Credential management subcommands (CTAP 2.1 §6.8).
const (
	CredMgmtGetCredsMetadata                      uint64 = 0x01
	CredMgmtEnumerateRPsBegin                     uint64 = 0x02
	CredMgmtEnumerateRPsGetNextRP                 uint64 = 0x03
	CredMgmtEnumerateCredentialsBegin             uint64 = 0x04
	CredMgmtEnumerateCredentialsGetNextCredential uint64 = 0x05
	CredMgmtDeleteCredential                      uint64 = 0x06
	CredMgmtUpdateUserInformation                 uint64 = 0x07
)

// CredentialManagementRequest is the authenticatorCredentialManagement input
// (CTAP 2.1 §6.8). SubCommandParams stays raw: pinUvAuthParam is computed
// over its exact bytes.
type CredentialManagementRequest struct {
	SubCommand        *uint64    `cbor:"1,keyasint,omitempty"`
	SubCommandParams  RawMessage `cbor:"2,keyasint,omitempty"`
	PinUvAuthProtocol *uint64    `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte     `cbor:"4,keyasint,omitempty"`
}

// CredentialManagementParams are the credentialManagement subCommandParams.
type CredentialManagementParams struct {
	RPIDHash     []byte                `cbor:"1,keyasint,omitempty"`
	CredentialID *CredentialDescriptor `cbor:"2,keyasint,omitempty"`
	User         *UserEntity           `cbor:"3,keyasint,omitempty"`
}

// CredentialManagementResponse is the authenticatorCredentialManagement output.
type CredentialManagementResponse struct {
	ExistingResidentCredentialsCount             *uint64               `cbor:"1,keyasint,omitempty"`
	MaxPossibleRemainingResidentCredentialsCount *uint64               `cbor:"2,keyasint,omitempty"`
	RP                                           *RPEntity             `cbor:"3,keyasint,omitempty"`
	RPIDHash                                     []byte                `cbor:"4,keyasint,omitempty"`
	TotalRPs                                     *uint64               `cbor:"5,keyasint,omitempty"`
	User                                         *UserEntity           `cbor:"6,keyasint,omitempty"`
	CredentialID                                 *CredentialDescriptor `cbor:"7,keyasint,omitempty"`
	PublicKey                                    *COSEKey              `cbor:"8,keyasint,omitempty"`
	TotalCredentials                             *uint64               `cbor:"9,keyasint,omitempty"`
	CredProtect                                  *uint64               `cbor:"10,keyasint,omitempty"`
	LargeBlobKey                                 []byte                `cbor:"11,keyasint,omitempty"`
	ThirdPartyPayment                            *bool                 `cbor:"12,keyasint,omitempty"`
}

// Bio enrollment subcommands (CTAP 2.1 §6.7).
const (
	BioEnrollBegin              uint64 = 0x01
	BioEnrollCaptureNextSample  uint64 = 0x02
	BioCancelCurrentEnrollment  uint64 = 0x03
	BioEnumerateEnrollments     uint64 = 0x04
	BioSetFriendlyName          uint64 = 0x05
	BioRemoveEnrollment         uint64 = 0x06
	BioGetFingerprintSensorInfo uint64 = 0x07
)

// BioModalityFingerprint is the only bio modality (CTAP 2.1 §6.7.1).
const BioModalityFingerprint uint64 = 0x01

// BioEnrollmentRequest is the authenticatorBioEnrollment input (CTAP 2.1 §6.7).
type BioEnrollmentRequest struct {
	Modality          *uint64    `cbor:"1,keyasint,omitempty"`
	SubCommand        *uint64    `cbor:"2,keyasint,omitempty"`
	SubCommandParams  RawMessage `cbor:"3,keyasint,omitempty"`
	PinUvAuthProtocol *uint64    `cbor:"4,keyasint,omitempty"`
	PinUvAuthParam    []byte     `cbor:"5,keyasint,omitempty"`
	GetModality       *bool      `cbor:"6,keyasint,omitempty"`
}

// BioEnrollmentParams are the bioEnrollment subCommandParams.
type BioEnrollmentParams struct {
	TemplateID           []byte  `cbor:"1,keyasint,omitempty"`
	TemplateFriendlyName *string `cbor:"2,keyasint,omitempty"`
	TimeoutMilliseconds  *uint64 `cbor:"3,keyasint,omitempty"`
}

// TemplateInfo names one enrolled fingerprint.
type TemplateInfo struct {
	TemplateID           []byte  `cbor:"1,keyasint"`
	TemplateFriendlyName *string `cbor:"2,keyasint,omitempty"`
}

// BioEnrollmentResponse is the authenticatorBioEnrollment output.
type BioEnrollmentResponse struct {
	Modality                           *uint64        `cbor:"1,keyasint,omitempty"`
	FingerprintKind                    *uint64        `cbor:"2,keyasint,omitempty"`
	MaxCaptureSamplesRequiredForEnroll *uint64        `cbor:"3,keyasint,omitempty"`
	TemplateID                         []byte         `cbor:"4,keyasint,omitempty"`
	LastEnrollSampleStatus             *uint64        `cbor:"5,keyasint,omitempty"`
	RemainingSamples                   *uint64        `cbor:"6,keyasint,omitempty"`
	TemplateInfos                      []TemplateInfo `cbor:"7,keyasint,omitempty"`
	MaxTemplateFriendlyName            *uint64        `cbor:"8,keyasint,omitempty"`
}

// LargeBlobsRequest is the authenticatorLargeBlobs input (CTAP 2.1 §6.10.2).
type LargeBlobsRequest struct {
	Get               *uint64 `cbor:"1,keyasint,omitempty"`
	Set               []byte  `cbor:"2,keyasint,omitempty"`
	Offset            *uint64 `cbor:"3,keyasint,omitempty"`
	Length            *uint64 `cbor:"4,keyasint,omitempty"`
	PinUvAuthParam    []byte  `cbor:"5,keyasint,omitempty"`
	PinUvAuthProtocol *uint64 `cbor:"6,keyasint,omitempty"`
}

// LargeBlobsResponse is the authenticatorLargeBlobs output.
type LargeBlobsResponse struct {
	Config []byte `cbor:"1,keyasint,omitempty"`
}

// makeCredential enterpriseAttestation values (CTAP 2.1 §6.1.1, §7.1).
const (
	// EnterpriseAttestationVendorFacilitated asks for an enterprise
	// attestation for an RP ID in the key's pre-configured list (§7.1.1).
	EnterpriseAttestationVendorFacilitated uint64 = 1
	// EnterpriseAttestationPlatformManaged asks for an enterprise
	// attestation for any RP ID: the enterprise-managed platform vetted it
	// (§7.1.2).
	EnterpriseAttestationPlatformManaged uint64 = 2
)

// authenticatorConfig subcommands (CTAP 2.1 §6.11).
const (
	ConfigEnableEnterpriseAttestation uint64 = 0x01
	ConfigToggleAlwaysUv              uint64 = 0x02
	ConfigSetMinPINLength             uint64 = 0x03
	ConfigVendorPrototype             uint64 = 0xFF
)

// ConfigRequest is the authenticatorConfig input (CTAP 2.1 §6.11).
type ConfigRequest struct {
	SubCommand        *uint64    `cbor:"1,keyasint,omitempty"`
	SubCommandParams  RawMessage `cbor:"2,keyasint,omitempty"`
	PinUvAuthProtocol *uint64    `cbor:"3,keyasint,omitempty"`
	PinUvAuthParam    []byte     `cbor:"4,keyasint,omitempty"`
}

// SetMinPINLengthParams are the setMinPINLength subCommandParams (CTAP 2.1 §6.11.4).
type SetMinPINLengthParams struct {
	NewMinPINLength   *uint64  `cbor:"1,keyasint,omitempty"`
	MinPinLengthRPIDs []string `cbor:"2,keyasint,omitempty"`
	ForceChangePin    *bool    `cbor:"3,keyasint,omitempty"`
	// PinComplexityPolicy asks the key to enforce its PIN complexity
	// policy (CTAP 2.2 §6.11.4).
	PinComplexityPolicy *bool `cbor:"4,keyasint,omitempty"`
}
