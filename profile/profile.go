// Package profile names the security key models virtkey can be: each
// Profile is an authenticator.Config (versions, PIN/UV auth protocols,
// options, extensions, algorithms, limits, AAGUID) and what lies outside
// the command core (CTAP2 at all, a fingerprint sensor, the HID device
// name). The key behaves as its Config says, commands included: a
// fido20-pin key is a CTAP 2.0 key that answers the CTAP 2.1 command codes
// with CTAP1_ERR_INVALID_COMMAND, not a CTAP 2.1 key with a shorter
// getInfo.
//
// Switches are the feature switches of Chromium's virtual authenticator
// (hasResidentKey, hasUserVerification, hasLargeBlob, hasCredBlob,
// hasMinPinLength, hasPrf), applied on top of a profile.
package profile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// A Profile is a model of security key.
type Profile struct {
	// Name is what --profile and WithProfile take.
	Name string
	// Description says what the model is and what real key it is like.
	Description string
	// Config is the model's authenticator configuration. Rand, Now,
	// Store, Presence and the callbacks are left for the caller.
	Config authenticator.Config
	// CTAP2 is false for a key that speaks only CTAP1/U2F over
	// CTAPHID_MSG and has no getInfo at all: the transport refuses
	// CTAPHID_CBOR (ctaphid.ServerConfig.U2FOnly).
	CTAP2 bool
	// Sensor says the model has a fingerprint sensor: `virtkey finger`
	// is accepted.
	Sensor bool
	// DeviceName is the HID device name on uhid.
	DeviceName string
}

// Default is the profile of a key whose profile is not named: the
// authenticator's own default Config.
const Default = "fido21"

// AAGUIDs of the models, random (version 4) UUIDs fixed for this project.
// fido21 and fido21-nork and the other 2.1 models without a name of their
// own use authenticator.DefaultAAGUID.
var (
	// BioAAGUID is fido21-bio's: bd61cc2f-6d03-45a6-8bda-117076f27545.
	BioAAGUID = [16]byte{0xbd, 0x61, 0xcc, 0x2f, 0x6d, 0x03, 0x45, 0xa6, 0x8b, 0xda, 0x11, 0x70, 0x76, 0xf2, 0x75, 0x45}
	// UVAAGUID is fido21-uv's: e8e6e3f7-5220-4681-be00-46b4302499fb.
	UVAAGUID = [16]byte{0xe8, 0xe6, 0xe3, 0xf7, 0x52, 0x20, 0x46, 0x81, 0xbe, 0x00, 0x46, 0xb4, 0x30, 0x24, 0x99, 0xfb}
	// FIDO20AAGUID is fido20-pin's: e4e46a83-df8b-4782-8980-3c46ecaef4bc.
	FIDO20AAGUID = [16]byte{0xe4, 0xe4, 0x6a, 0x83, 0xdf, 0x8b, 0x47, 0x82, 0x89, 0x80, 0x3c, 0x46, 0xec, 0xae, 0xf4, 0xbc}
	// NoRKAAGUID is fido21-nork's: 7a3a1f0c-5d8e-4b6f-9c21-3e4d5f60718a.
	NoRKAAGUID = [16]byte{0x7a, 0x3a, 0x1f, 0x0c, 0x5d, 0x8e, 0x4b, 0x6f, 0x9c, 0x21, 0x3e, 0x4d, 0x5f, 0x60, 0x71, 0x8a}
	// ES256AAGUID is fido21-es256's: 2c9e84b1-47d3-4a0e-8f65-d1b7a9c30e52.
	ES256AAGUID = [16]byte{0x2c, 0x9e, 0x84, 0xb1, 0x47, 0xd3, 0x4a, 0x0e, 0x8f, 0x65, 0xd1, 0xb7, 0xa9, 0xc3, 0x0e, 0x52}
	// PasskeyAAGUID is passkey's: 93b6c5e2-0a41-4d7c-b8e9-6f2d15a47c30.
	PasskeyAAGUID = [16]byte{0x93, 0xb6, 0xc5, 0xe2, 0x0a, 0x41, 0x4d, 0x7c, 0xb8, 0xe9, 0x6f, 0x2d, 0x15, 0xa4, 0x7c, 0x30}
	// FIDO22AAGUID is fido22's: 5f0b8d3a-c6e1-4f92-a7d4-08e3b1c95a6e.
	FIDO22AAGUID = [16]byte{0x5f, 0x0b, 0x8d, 0x3a, 0xc6, 0xe1, 0x4f, 0x92, 0xa7, 0xd4, 0x08, 0xe3, 0xb1, 0xc9, 0x5a, 0x6e}
	// FIDO22UVAAGUID is fido22-uv's: 617b15b7-b5f8-4e7e-97b6-95d31680744b.
	FIDO22UVAAGUID = [16]byte{0x61, 0x7b, 0x15, 0xb7, 0xb5, 0xf8, 0x4e, 0x7e, 0x97, 0xb6, 0x95, 0xd3, 0x16, 0x80, 0x74, 0x4b}
)

// Versions of the models (CTAP 2.1 §6.4 member 0x01). Every CTAP 2.1
// model lists FIDO_2_1_PRE too, for platforms that look for the 2.1
// prototype commands (libfido2 1.12 sends credentialManagement as 0x41).
var (
	versions20 = []string{ctap.VersionU2FV2, ctap.VersionFIDO20}
	versions21 = []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21}
	versions22 = []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21, ctap.VersionFIDO22}
)

// all builds the profiles afresh, so that no caller shares a Config's
// slices with another.
func all() []Profile {
	return []Profile{
		{
			Name:        "fido21",
			Description: "CTAP 2.1 key with a PIN and no sensor, like a YubiKey 5",
			Config:      authenticator.Config{Versions: slices.Clone(versions21), AAGUID: authenticator.DefaultAAGUID},
			CTAP2:       true,
			DeviceName:  "virtkey FIDO2",
		},
		{
			Name:        "fido21-bio",
			Description: "CTAP 2.1 key with a fingerprint sensor and a PIN, like a YubiKey Bio",
			Config: authenticator.Config{
				Versions:      slices.Clone(versions21),
				AAGUID:        BioAAGUID,
				BuiltInUV:     true, // `virtkey finger N` puts finger N on the sensor
				BioEnrollment: true, // enrolled fingers match, others do not
			},
			CTAP2:      true,
			Sensor:     true,
			DeviceName: "virtkey FIDO2 Bio",
		},
		{
			Name: "fido21-uv",
			Description: "CTAP 2.1 key with built-in user verification it configures itself (on-device PIN entry or a " +
				"finger enrolled by the vendor's tool) and a PIN, without bioEnrollment",
			Config: authenticator.Config{
				Versions:  slices.Clone(versions21),
				AAGUID:    UVAAGUID,
				BuiltInUV: true, // `virtkey finger N` verifies, `virtkey finger --bad` does not match
			},
			CTAP2:      true,
			Sensor:     true,
			DeviceName: "virtkey FIDO2 UV",
		},
		{
			Name: "fido21-nork",
			Description: "CTAP 2.1 key without discoverable credentials (rk false, so no credential management, " +
				"large blobs, credBlob or largeBlobKey), like a FIDO2 key with no credential storage",
			Config: authenticator.Config{
				Versions:               slices.Clone(versions21),
				AAGUID:                 NoRKAAGUID,
				NoResidentKeys:         true,
				NoCredentialManagement: true,
				NoLargeBlobs:           true,
				Extensions:             []string{ctap.ExtCredProtect, ctap.ExtMinPinLength, ctap.ExtHMACSecret, ctap.ExtHMACSecretMC},
			},
			CTAP2:      true,
			DeviceName: "virtkey FIDO2",
		},
		{
			Name:        "fido21-es256",
			Description: "CTAP 2.1 key with a PIN that makes ES256 (P-256) credentials only, as many keys do",
			Config: authenticator.Config{
				Versions:   slices.Clone(versions21),
				AAGUID:     ES256AAGUID,
				Algorithms: []int64{ctap.AlgES256},
			},
			CTAP2:      true,
			DeviceName: "virtkey FIDO2",
		},
		{
			Name: "passkey",
			Description: "CTAP 2.1 passkey provider: discoverable credentials that are backup eligible and backed up " +
				"(BE and BS set), built-in user verification, ES256 only, no attestation, enterprise or other",
			Config: authenticator.Config{
				Versions:    slices.Clone(versions21),
				AAGUID:      PasskeyAAGUID,
				BuiltInUV:   true,
				Algorithms:  []int64{ctap.AlgES256},
				Attestation: authenticator.AttestationNone,
				Backup:      authenticator.BackupFlags{Eligible: true, State: true},
				// A passkey provider attests nothing, enterprise
				// attestation included.
				NoEnterpriseAttestation: true,
			},
			CTAP2:      true,
			Sensor:     true,
			DeviceName: "virtkey Passkey",
		},
		{
			Name:        "fido22",
			Description: "CTAP 2.2 key with a PIN and no sensor: fido21 and the CTAP 2.2 features",
			Config:      authenticator.Config{Versions: slices.Clone(versions22), AAGUID: FIDO22AAGUID},
			CTAP2:       true,
			DeviceName:  "virtkey FIDO2",
		},
		{
			Name: "fido22-uv",
			Description: "CTAP 2.2 key with built-in user verification it configures itself and a PIN, made for " +
				"passkeys alone: no CTAP1/U2F (no U2F_V2, CAPABILITY_NMSG in INIT)",
			Config: authenticator.Config{
				Versions:  slices.DeleteFunc(slices.Clone(versions22), func(v string) bool { return v == ctap.VersionU2FV2 }),
				AAGUID:    FIDO22UVAAGUID,
				BuiltInUV: true, // `virtkey finger N` verifies, `virtkey finger --bad` does not match
			},
			CTAP2:      true,
			Sensor:     true,
			DeviceName: "virtkey FIDO2 UV",
		},
		{
			Name: "fido20-pin",
			Description: "CTAP 2.0 key with a PIN and no built-in user verification, like a first-generation " +
				"Security Key by Yubico: no CTAP 2.1 command or subcommand, PIN protocol 1, hmac-secret only",
			Config: authenticator.Config{
				Versions:       slices.Clone(versions20),
				AAGUID:         FIDO20AAGUID,
				MaxCredentials: 25,
			},
			CTAP2:      true,
			DeviceName: "virtkey FIDO2",
		},
		{
			Name:        "u2f",
			Description: "U2F-only key (FIDO U2F 1.2, CTAPHID_MSG only), like a FIDO U2F Security Key",
			Config:      authenticator.Config{Versions: []string{ctap.VersionU2FV2}},
			DeviceName:  "virtkey U2F",
		},
	}
}

// All returns every profile, the default first.
func All() []Profile { return all() }

// Names returns the profile names in All's order.
func Names() []string {
	var names []string
	for _, p := range all() {
		names = append(names, p.Name)
	}
	return names
}

// Lookup finds a profile by name.
func Lookup(name string) (Profile, bool) {
	for _, p := range all() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// MustLookup is Lookup for names known to exist; it panics on another.
func MustLookup(name string) Profile {
	p, ok := Lookup(name)
	if !ok {
		panic(fmt.Sprintf("profile: no profile %q (have %s)", name, strings.Join(Names(), ", ")))
	}
	return p
}
