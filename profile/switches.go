package profile

import (
	"slices"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// Switches are the feature switches of Chromium's virtual authenticator
// (the WebDriver "Add Virtual Authenticator" options of W3C WebAuthn L3
// §11.3: hasResidentKey, hasUserVerification, hasLargeBlob, hasCredBlob,
// hasMinPinLength, hasPrf), applied on top of a profile. A nil switch
// leaves the profile's choice; true turns the feature on, false off.
// What each changes in the Config:
//
//   - ResidentKey: discoverable credentials (rk, Config.NoResidentKeys);
//     off also takes credential management, large blobs and the credBlob
//     and largeBlobKey extensions, which only discoverable credentials
//     have.
//   - UserVerification: built-in user verification (Config.BuiltInUV, the
//     "uv" option), as Chromium's internal UV; off also takes bio
//     enrollment. The PIN is not this switch's.
//   - LargeBlob: authenticatorLargeBlobs and the largeBlobKey extension.
//   - CredBlob: the credBlob extension.
//   - MinPinLength: the minPinLength extension.
//   - Prf: hmac-secret, what WebAuthn's prf extension runs on (and
//     hmac-secret-mc with it, on a key that has that).
//   - U2F (not one of Chromium's; its ctap2 authenticators have none):
//     CTAP1/U2F, the U2F_V2 version. Off, getInfo leaves out U2F_V2,
//     INIT sets CAPABILITY_NMSG and CTAPHID_MSG is refused (CTAP 2.1
//     §11.2.9.1.3), as on keys that dropped U2F.
//
// A switch that asks a key for what its version lacks (largeBlob on a
// CTAP 2.0 key) makes authenticator.New fail with the reason.
type Switches struct {
	ResidentKey, UserVerification, LargeBlob, CredBlob, MinPinLength, Prf *bool
	U2F                                                                   *bool
}

// Apply applies the switches to p: its Config, and its Sensor for the
// UserVerification switch.
func (s Switches) Apply(p *Profile) {
	c := &p.Config
	exts := slices.Clone(c.Extensions)
	if exts == nil {
		exts = defaultExtensions(c.Versions)
	}
	set := func(on bool, ids ...string) {
		for _, id := range ids {
			exts = slices.DeleteFunc(exts, func(e string) bool { return e == id })
			if on {
				exts = append(exts, id)
			}
		}
	}
	if v := s.ResidentKey; v != nil {
		c.NoResidentKeys = !*v
		if !*v {
			c.NoCredentialManagement, c.NoLargeBlobs = true, true
			set(false, ctap.ExtCredBlob, ctap.ExtLargeBlobKey)
		}
	}
	if v := s.UserVerification; v != nil {
		c.BuiltInUV, p.Sensor = *v, *v
		if !*v {
			c.BioEnrollment = false
		}
	}
	if v := s.LargeBlob; v != nil {
		c.NoLargeBlobs = !*v
		set(*v, ctap.ExtLargeBlobKey)
	}
	if v := s.CredBlob; v != nil {
		set(*v, ctap.ExtCredBlob)
	}
	if v := s.MinPinLength; v != nil {
		set(*v, ctap.ExtMinPinLength)
	}
	if v := s.Prf; v != nil {
		set(*v, ctap.ExtHMACSecret)
		if !*v || ctap21(c.Versions) { // hmac-secret-mc is no CTAP 2.0 extension
			set(*v, ctap.ExtHMACSecretMC)
		}
	}
	if v := s.U2F; v != nil {
		vs := slices.Clone(c.Versions)
		if vs == nil {
			vs = slices.Clone(authenticator.Versions)
		}
		vs = slices.DeleteFunc(vs, func(x string) bool { return x == ctap.VersionU2FV2 })
		if *v {
			vs = append([]string{ctap.VersionU2FV2}, vs...) // first, as getInfo lists it
		}
		c.Versions = vs
	}
	// getInfo lists them in the package's order.
	slices.SortStableFunc(exts, func(a, b string) int {
		return slices.Index(authenticator.Extensions, a) - slices.Index(authenticator.Extensions, b)
	})
	c.Extensions = exts
}

// defaultExtensions is what a Config with nil Extensions has: every
// extension on a CTAP 2.1 key, hmac-secret alone on a CTAP 2.0 one
// (authenticator.Config.Extensions).
func defaultExtensions(versions []string) []string {
	if versions == nil {
		return slices.Clone(authenticator.Extensions)
	}
	return authenticator.DefaultExtensions(versions)
}

// ctap21 reports whether a Config's Versions make a CTAP 2.1 key (nil is
// the authenticator's default, a CTAP 2.1 one).
func ctap21(versions []string) bool {
	return versions == nil || slices.Contains(versions, ctap.VersionFIDO21) || slices.Contains(versions, ctap.VersionFIDO21Pre)
}

// Bool returns a pointer to v, for a Switches field.
func Bool(v bool) *bool { return &v }
