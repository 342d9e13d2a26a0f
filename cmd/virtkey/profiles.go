package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// A profile is a model of security key the daemon can pretend to be: what
// its getInfo says and how its authenticator.Config differs from the
// default. The authenticator implements one key (CTAP 2.1 with PIN); a
// profile can only take away from what that key advertises, never add.
// What a profile wants but the authenticator cannot yet do is listed by
// missing, partly computed from the authenticator's own getInfo, so the
// list shrinks by itself as features land.
type profile struct {
	Name        string
	Description string
	// Versions are the getInfo versions of the modelled key (CTAP 2.1
	// §6.4 member 0x01). getInfo lists those the authenticator has.
	Versions []string
	// Options are the getInfo option IDs the modelled key has (member
	// 0x04). getInfo keeps the authenticator's options in this list, with
	// the authenticator's values, and drops the others.
	Options []string
	// PinUvAuthProtocols are the PIN/UV auth protocols the model offers
	// (member 0x06).
	PinUvAuthProtocols []uint64
	// CTAP20Members limits getInfo to the members CTAP 2.0 defines
	// (0x01 to 0x06).
	CTAP20Members bool
	// CTAP2 is false for a key that speaks only CTAP1/U2F over
	// CTAPHID_MSG and has no getInfo at all.
	CTAP2 bool
	// Sensor says the model has a fingerprint sensor: `virtkey finger`
	// is accepted.
	Sensor bool
	// AAGUID of the model; zero for U2F-only keys, which have none.
	AAGUID [16]byte
	// DeviceName is the HID device name on uhid unless --name is given.
	DeviceName string
	// Config applies the model's authenticator.Config changes.
	Config func(*authenticator.Config)
	// Lacks names what the authenticator cannot do for this model and
	// cannot be detected from its getInfo: a behaviour that getInfo hides
	// but the key still has, or a transport feature.
	Lacks []string
}

// defaultProfile is the key the authenticator implements, with nothing
// hidden and nothing added.
const defaultProfile = "fido21"

// bioAAGUID identifies the fido21-bio model:
// bd61cc2f-6d03-45a6-8bda-117076f27545, a random (version 4) UUID fixed for
// this project.
var bioAAGUID = [16]byte{
	0xbd, 0x61, 0xcc, 0x2f, 0x6d, 0x03, 0x45, 0xa6,
	0x8b, 0xda, 0x11, 0x70, 0x76, 0xf2, 0x75, 0x45,
}

// uvAAGUID identifies the fido21-uv model:
// e8e6e3f7-5220-4681-be00-46b4302499fb, a random (version 4) UUID fixed for
// this project.
var uvAAGUID = [16]byte{
	0xe8, 0xe6, 0xe3, 0xf7, 0x52, 0x20, 0x46, 0x81,
	0xbe, 0x00, 0x46, 0xb4, 0x30, 0x24, 0x99, 0xfb,
}

// fido20AAGUID identifies the fido20-pin model:
// e4e46a83-df8b-4782-8980-3c46ecaef4bc, a random (version 4) UUID fixed for
// this project.
var fido20AAGUID = [16]byte{
	0xe4, 0xe4, 0x6a, 0x83, 0xdf, 0x8b, 0x47, 0x82,
	0x89, 0x80, 0x3c, 0x46, 0xec, 0xae, 0xf4, 0xbc,
}

// fido21Options are the getInfo options of a CTAP 2.1 key without
// built-in user verification.
var fido21Options = []string{
	ctap.OptionRK, ctap.OptionUP, ctap.OptionPlat,
	ctap.OptionClientPIN, ctap.OptionPinUvAuthToken, ctap.OptionMakeCredUvNotRqd,
	ctap.OptionCredMgmt, ctap.OptionCredentialMgmtPreview,
	ctap.OptionLargeBlobs, ctap.OptionAuthnrCfg, ctap.OptionSetMinPINLength, ctap.OptionAlwaysUv, ctap.OptionEP,
}

var profiles = []profile{
	{
		Name:               "fido21",
		Description:        "CTAP 2.1 key with a PIN and no sensor, like a YubiKey 5",
		Versions:           []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21},
		Options:            fido21Options,
		PinUvAuthProtocols: []uint64{2, 1},
		CTAP2:              true,
		AAGUID:             authenticator.DefaultAAGUID,
		DeviceName:         "virtkey FIDO2",
		Config:             func(*authenticator.Config) {},
	},
	{
		Name:        "fido21-bio",
		Description: "CTAP 2.1 key with a fingerprint sensor and a PIN, like a YubiKey Bio",
		Versions:    []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21},
		Options: append([]string{
			ctap.OptionUV, ctap.OptionBioEnroll, ctap.OptionUserVerificationMgmtPreview, ctap.OptionUVBioEnroll,
		}, fido21Options...),
		PinUvAuthProtocols: []uint64{2, 1},
		CTAP2:              true,
		Sensor:             true,
		AAGUID:             bioAAGUID,
		DeviceName:         "virtkey FIDO2 Bio",
		Config: func(c *authenticator.Config) {
			c.BuiltInUV = true     // `virtkey finger N` puts finger N on the sensor
			c.BioEnrollment = true // enrolled fingers match, others do not
		},
	},
	{
		Name: "fido21-uv",
		Description: "CTAP 2.1 key with built-in user verification it configures itself (on-device PIN entry or a " +
			"finger enrolled by the vendor's tool) and a PIN, without bioEnrollment",
		Versions:           []string{ctap.VersionU2FV2, ctap.VersionFIDO20, ctap.VersionFIDO21Pre, ctap.VersionFIDO21},
		Options:            append([]string{ctap.OptionUV}, fido21Options...),
		PinUvAuthProtocols: []uint64{2, 1},
		CTAP2:              true,
		Sensor:             true,
		AAGUID:             uvAAGUID,
		DeviceName:         "virtkey FIDO2 UV",
		Config: func(c *authenticator.Config) {
			c.BuiltInUV = true // `virtkey finger N` verifies, `virtkey finger --bad` does not match
		},
	},
	{
		Name:               "fido20-pin",
		Description:        "CTAP 2.0 key with a PIN and no built-in user verification, like a first-generation Security Key by Yubico",
		Versions:           []string{ctap.VersionU2FV2, ctap.VersionFIDO20},
		Options:            []string{ctap.OptionRK, ctap.OptionUP, ctap.OptionPlat, ctap.OptionClientPIN},
		PinUvAuthProtocols: []uint64{1},
		CTAP20Members:      true,
		CTAP2:              true,
		AAGUID:             fido20AAGUID,
		DeviceName:         "virtkey FIDO2",
		Config: func(c *authenticator.Config) {
			c.MaxCredentials = 25
		},
		Lacks: []string{
			"Config.Versions: the key still runs the CTAP 2.1 commands and subcommands (getPinUvAuthTokenUsingPinWithPermissions, selection); virtkey only hides them from getInfo",
			"Config.PinUvAuthProtocols: PIN/UV auth protocol 2 is still accepted although getInfo lists only 1",
		},
	},
	{
		Name:        "u2f",
		Description: "U2F-only key (FIDO U2F 1.2, CTAPHID_MSG only), like a FIDO U2F Security Key",
		Versions:    []string{ctap.VersionU2FV2},
		DeviceName:  "virtkey U2F",
		Config:      func(*authenticator.Config) {},
	},
}

// lookupProfile finds a profile by name.
func lookupProfile(name string) (*profile, bool) {
	for i := range profiles {
		if profiles[i].Name == name {
			return &profiles[i], true
		}
	}
	return nil, false
}

func profileNames() string {
	var names []string
	for _, p := range profiles {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// servable reports whether the daemon can be this key today, and if not,
// why. Every profile can be served: a U2F-only one (CTAP2 false) through
// ctaphid.ServerConfig.U2FOnly (serverConfig).
func (p *profile) servable() error {
	return nil
}

// serverConfig is the CTAPHID side of the profile: a U2F-only key
// advertises neither CBOR nor NMSG in INIT and refuses CTAPHID_CBOR
// (CTAP 2.1 §11.2.9.1.3).
func (p *profile) serverConfig(cfg *ctaphid.ServerConfig) *ctaphid.ServerConfig {
	cfg.U2FOnly = !p.CTAP2
	return cfg
}

// apply makes the Config changes of the profile.
func (p *profile) apply(cfg *authenticator.Config) {
	cfg.AAGUID = p.AAGUID
	if p.Config != nil {
		p.Config(cfg)
	}
}

// filterInfo turns the authenticator's getInfo into the profile's: it
// keeps the versions, options and PIN/UV auth protocols the model has,
// and, for a CTAP 2.0 model, only the members CTAP 2.0 defines.
func (p *profile) filterInfo(in *ctap.InfoResponse) *ctap.InfoResponse {
	out := *in
	out.Versions = keep(in.Versions, p.Versions)
	out.PinUvAuthProtocols = keep(in.PinUvAuthProtocols, p.PinUvAuthProtocols)
	if in.Options != nil {
		out.Options = map[string]bool{}
		for k, v := range in.Options {
			if slices.Contains(p.Options, k) {
				out.Options[k] = v
			}
		}
	}
	if p.CTAP20Members {
		out = ctap.InfoResponse{
			Versions: out.Versions,
			// CTAP 2.0 defines one extension, hmac-secret (§10.2 of
			// CTAP 2.0); credBlob, for one, would need getInfo's
			// maxCredBlobLength (0x0F), which 2.0 does not have
			// (CTAP 2.1 §12.2).
			Extensions:         keep(out.Extensions, []string{ctap.ExtHMACSecret}),
			AAGUID:             out.AAGUID,
			Options:            out.Options,
			MaxMsgSize:         out.MaxMsgSize,
			PinUvAuthProtocols: out.PinUvAuthProtocols,
		}
	}
	return &out
}

// rewriteInfo applies filterInfo to a whole getInfo response payload
// (status byte and CBOR). A response it cannot decode goes out as it is.
func (p *profile) rewriteInfo(resp []byte) []byte {
	if len(resp) < 1 || ctap.Status(resp[0]) != ctap.StatusOK {
		return resp
	}
	var info ctap.InfoResponse
	if err := ctap.Unmarshal(resp[1:], &info); err != nil {
		return resp
	}
	body, err := ctap.Marshal(p.filterInfo(&info))
	if err != nil {
		return resp
	}
	return append([]byte{byte(ctap.StatusOK)}, body...)
}

// keep returns the elements of have that are in want, in have's order.
func keep[T comparable](have, want []T) []T {
	var out []T
	for _, v := range have {
		if slices.Contains(want, v) {
			out = append(out, v)
		}
	}
	return out
}

// missing lists what the profile needs and the authenticator lacks: the
// versions and options of the model that the authenticator's getInfo
// (info) does not have, then the profile's Lacks.
func (p *profile) missing(info *ctap.InfoResponse) []string {
	var out []string
	for _, v := range p.Versions {
		if !slices.Contains(info.Versions, v) {
			out = append(out, "version "+v)
		}
	}
	for _, o := range p.Options {
		if _, ok := info.Options[o]; !ok {
			out = append(out, "option "+o)
		}
	}
	for _, v := range p.PinUvAuthProtocols {
		if !slices.Contains(info.PinUvAuthProtocols, v) {
			out = append(out, fmt.Sprintf("PIN/UV auth protocol %d", v))
		}
	}
	return append(out, p.Lacks...)
}

// authenticatorInfo is the getInfo of the authenticator configured for p,
// before the profile filters it.
func (p *profile) authenticatorInfo() (*ctap.InfoResponse, error) {
	var cfg authenticator.Config
	p.apply(&cfg)
	key, err := authenticator.New(cfg)
	if err != nil {
		return nil, err
	}
	st, body := key.Handle(context.Background(), ctap.CmdGetInfo, nil)
	if st != ctap.StatusOK {
		return nil, fmt.Errorf("getInfo: %w", st)
	}
	var info ctap.InfoResponse
	if err := ctap.Unmarshal(body, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// listProfiles is `virtkey profiles`.
func listProfiles(args []string, stdout, stderr io.Writer) int {
	// --names prints the profile names alone, one a line, for scripts
	// that serve every profile (interop/profiles.sh).
	if len(args) == 1 && args[0] == "--names" {
		for _, p := range profiles {
			fmt.Fprintln(stdout, p.Name)
		}
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintln(stderr, "virtkey: profiles takes no arguments")
		return 2
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tVERSIONS\tDESCRIPTION")
	for _, p := range profiles {
		name := p.Name
		if name == defaultProfile {
			name += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, strings.Join(p.Versions, " "), p.Description)
	}
	tw.Flush()
	for _, p := range profiles {
		fmt.Fprintf(stdout, "\n%s:\n", p.Name)
		if err := p.servable(); err != nil {
			fmt.Fprintln(stdout, "  not servable yet")
		}
		if p.CTAP2 {
			fmt.Fprintf(stdout, "  getInfo options: %s\n", strings.Join(p.Options, " "))
		} else {
			fmt.Fprintln(stdout, "  no getInfo: CTAP1/U2F only")
		}
		info, err := p.authenticatorInfo()
		if err != nil {
			fmt.Fprintf(stderr, "virtkey: %v\n", err)
			return 1
		}
		if m := p.missing(info); len(m) > 0 {
			fmt.Fprintln(stdout, "  the authenticator does not have yet:")
			for _, s := range m {
				fmt.Fprintf(stdout, "    - %s\n", s)
			}
		}
	}
	return 0
}
