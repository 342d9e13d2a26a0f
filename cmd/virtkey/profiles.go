package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/profile"
)

// The daemon's key models are package profile's: each a named
// authenticator.Config the key obeys, commands included (a fido20-pin key
// refuses the CTAP 2.1 commands), with the CTAPHID side and the HID
// device name. The feature switches of `serve` (--has-resident-key, ...)
// change a profile's Config before the key is made.

// profiles are the models `virtkey profiles` lists, the default first.
var profiles = profile.All()

// defaultProfile is serve's --profile when none is given.
const defaultProfile = profile.Default

// lookupProfile returns a copy of the profile named name.
func lookupProfile(name string) (*profile.Profile, bool) {
	p, ok := profile.Lookup(name)
	return &p, ok
}

func profileNames() string { return strings.Join(profile.Names(), ", ") }

// serverConfig is the CTAPHID side of the profile: a U2F-only key
// advertises neither CBOR nor NMSG in INIT and refuses CTAPHID_CBOR, a key
// without U2F_V2 advertises NMSG and refuses CTAPHID_MSG (CTAP 2.1
// §11.2.9.1.3).
func serverConfig(p *profile.Profile, cfg *ctaphid.ServerConfig) *ctaphid.ServerConfig {
	cfg.U2FOnly = !p.CTAP2
	cfg.NoMsg = !p.Config.Implements(ctap.VersionU2FV2)
	return cfg
}

// applyProfile puts the profile's Config under cfg's Rand, Now, Store,
// Presence and callbacks, which the daemon sets.
func applyProfile(p *profile.Profile, cfg *authenticator.Config) {
	pc := p.Config
	pc.Rand, pc.Now, pc.Store, pc.Presence = cfg.Rand, cfg.Now, cfg.Store, cfg.Presence
	pc.OnWink, pc.OnCredentialEvent = cfg.OnWink, cfg.OnCredentialEvent
	*cfg = pc
}

// switchFlag is a feature switch flag: unset (nil), or true or false.
// `--has-prf` alone is true, like a boolean flag.
type switchFlag struct{ v **bool }

func (f switchFlag) String() string {
	if f.v == nil || *f.v == nil {
		return ""
	}
	return strconv.FormatBool(**f.v)
}

func (f switchFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	*f.v = &b
	return nil
}

func (f switchFlag) IsBoolFlag() bool { return true }

// switchFlags defines the feature switches on fs: the options of
// Chromium's virtual authenticator, applied on top of the profile
// (profile.Switches).
func switchFlags(fs *flag.FlagSet, s *profile.Switches) {
	for _, sw := range []struct {
		name, usage string
		v           **bool
	}{
		{"has-resident-key", "discoverable credentials (rk); false also takes credential management, large blobs, credBlob and largeBlobKey", &s.ResidentKey},
		{"has-user-verification", "built-in user verification (the uv option; `virtkey finger` verifies); false also takes bio enrollment", &s.UserVerification},
		{"has-large-blob", "authenticatorLargeBlobs and the largeBlobKey extension", &s.LargeBlob},
		{"has-cred-blob", "the credBlob extension", &s.CredBlob},
		{"has-min-pin-length", "the minPinLength extension", &s.MinPinLength},
		{"has-prf", "hmac-secret (and hmac-secret-mc), what WebAuthn's prf extension uses", &s.Prf},
		{"has-u2f", "CTAP1/U2F (U2F_V2); false sets CAPABILITY_NMSG and refuses CTAPHID_MSG", &s.U2F},
	} {
		fs.Var(switchFlag{sw.v}, sw.name, sw.usage+" (default: the profile's)")
	}
}

// profileInfo makes a key of p, fresh and in memory, and returns its
// getInfo: what `virtkey serve --profile` answers before any PIN or
// credential.
func profileInfo(p *profile.Profile) (*ctap.InfoResponse, error) {
	var cfg authenticator.Config
	applyProfile(p, &cfg)
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

// listProfiles is `virtkey profiles`: a table of the profiles, then each
// profile's getInfo values, read from a fresh key of it.
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
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, strings.Join(versionsOf(&p), " "), p.Description)
	}
	tw.Flush()
	for _, p := range profiles {
		fmt.Fprintf(stdout, "\n%s:\n", p.Name)
		if !p.CTAP2 {
			fmt.Fprintf(stdout, "  versions: %s\n  no getInfo: CTAP1/U2F only (CTAPHID_CBOR refused)\n", strings.Join(versionsOf(&p), " "))
			continue
		}
		info, err := profileInfo(&p)
		if err != nil {
			fmt.Fprintf(stderr, "virtkey: profile %s: %v\n", p.Name, err)
			return 1
		}
		printInfo(stdout, info)
	}
	return 0
}

func versionsOf(p *profile.Profile) []string {
	if p.Config.Versions == nil {
		return authenticator.Versions
	}
	return p.Config.Versions
}

// printInfo prints the getInfo members a key has, by their CTAP names
// (CTAP 2.1 §6.4, CTAP 2.2 §6.4), one a line.
func printInfo(w io.Writer, info *ctap.InfoResponse) {
	line := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %s: %s\n", name, value)
		}
	}
	num := func(v uint64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatUint(v, 10)
	}
	ptr := func(v *uint64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatUint(*v, 10)
	}
	line("versions", strings.Join(info.Versions, " "))
	line("aaguid", uuid(info.AAGUID))
	var opts []string
	for _, k := range slices.Sorted(maps.Keys(info.Options)) {
		opts = append(opts, fmt.Sprintf("%s=%t", k, info.Options[k]))
	}
	line("options", strings.Join(opts, " "))
	var protos []string
	for _, v := range info.PinUvAuthProtocols {
		protos = append(protos, strconv.FormatUint(v, 10))
	}
	line("pinUvAuthProtocols", strings.Join(protos, " "))
	line("extensions", strings.Join(info.Extensions, " "))
	var algs []string
	for _, a := range info.Algorithms {
		algs = append(algs, algName(a.Alg))
	}
	line("algorithms", strings.Join(algs, " "))
	line("transports", strings.Join(info.Transports, " "))
	var limits []string
	for _, l := range []struct{ name, v string }{
		{"maxMsgSize", num(info.MaxMsgSize)},
		{"maxCredentialCountInList", num(info.MaxCredentialCountInList)},
		{"maxCredentialIdLength", num(info.MaxCredentialIDLength)},
		{"maxSerializedLargeBlobArray", num(info.MaxSerializedLargeBlobArray)},
		{"maxCredBlobLength", num(info.MaxCredBlobLength)},
		{"minPINLength", num(info.MinPINLength)},
		{"maxPINLength", num(info.MaxPINLength)},
		{"maxRPIDsForSetMinPINLength", num(info.MaxRPIDsForSetMinPINLength)},
		{"remainingDiscoverableCredentials", ptr(info.RemainingDiscoverableCredentials)},
	} {
		if l.v != "" {
			limits = append(limits, l.name+"="+l.v)
		}
	}
	line("limits", strings.Join(limits, " "))
	if info.PreferredPlatformUvAttempts != 0 || info.UVModality != 0 {
		line("uv", fmt.Sprintf("preferredPlatformUvAttempts=%d uvModality=%d", info.PreferredPlatformUvAttempts, info.UVModality))
	}
	line("attestationFormats", strings.Join(info.AttestationFormats, " "))
}

// algName names a COSE algorithm (CTAP 2.1 §6.4 algorithms).
func algName(alg int64) string {
	names := map[int64]string{ctap.AlgES256: "ES256", ctap.AlgEdDSA: "EdDSA", ctap.AlgES384: "ES384", ctap.AlgRS256: "RS256"}
	if n, ok := names[alg]; ok {
		return fmt.Sprintf("%s(%d)", n, alg)
	}
	return strconv.FormatInt(alg, 10)
}

// uuid formats an AAGUID as a UUID.
func uuid(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
