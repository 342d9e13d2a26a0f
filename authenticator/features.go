package authenticator

import (
	"fmt"
	"slices"

	"github.com/virtkey/virtkey/ctap"
)

// What a key implements: the Config fields that make one key model differ
// from another (Versions, PinUvAuthProtocols, the No* options,
// Extensions, Algorithms, Transports and the limits), turned once, in New,
// into the features value the commands consult. A feature switched off is
// off in every command, not only in getInfo:
//
//   - a command the key does not implement answers
//     CTAP1_ERR_INVALID_COMMAND, as an unknown command code does (CTAP 2.1
//     §8.2: "The command is not a valid CTAP command"); so do the CTAP 2.1
//     commands 0x09 to 0x0D on a CTAP 2.0 key, which CTAP 2.0 §5 does not
//     define, and the 2.1-PRE codes 0x40 and 0x41 on a key that does not
//     list FIDO_2_1_PRE;
//   - a subcommand it does not implement answers
//     CTAP2_ERR_INVALID_SUBCOMMAND (§6.5.5.1, §6.11: "If the subCommand is
//     not supported");
//   - an option it does not support answers CTAP2_ERR_UNSUPPORTED_OPTION
//     where the command's steps say so (§6.1.2 step 5.4 for rk);
//   - an extension it does not support is ignored, as §6.1.1 and §6.2.1
//     ask of any key for an extension it lacks: no output, no effect;
//   - a PIN/UV auth protocol it does not list is refused with the status
//     of the command's step for "not supported": CTAP1_ERR_INVALID_PARAMETER
//     in CTAP 2.1 (§6.1.2 step 2, §6.5.5.1), CTAP2_ERR_PIN_AUTH_INVALID in
//     makeCredential and getAssertion of a CTAP 2.0 key (CTAP 2.0 §5.1
//     step 7, §5.2 step 7).
//
// Every check is a field or a bit read: nothing is looked up or allocated
// per command.
type features struct {
	// ctap21 is set when Versions lists FIDO_2_1 or FIDO_2_1_PRE: the
	// key is not a CTAP 2.0 one (CTAP 2.0 behaviour: ctap20.go).
	ctap21 bool
	// commands[cmd] says the key implements command cmd at all.
	commands [256]bool
	// protocols are the PIN/UV auth protocols, in getInfo's order;
	// protocol[v] says v is one of them.
	protocols []uint64
	protocol  [3]bool

	rk, clientPIN, largeBlobs, credMgmt, authnrCfg, ep bool

	extensions []string
	ext        extensionSet
	algorithms []int64
	algParams  []ctap.CredentialParameter // getInfo's algorithms
	transports []string

	maxMsgSize, maxLargeBlob, maxCredBlob int
}

// extensionSet has a bit per extension of Extensions.
type extensionSet uint16

const (
	extCredProtect extensionSet = 1 << iota
	extCredBlob
	extLargeBlobKey
	extMinPinLength
	extThirdPartyPayment
	extHMACSecret
	extHMACSecretMC
	extPinComplexityPolicy // CTAP 2.2, ext_pincomplexity.go
)

// Extensions are the extensions this package implements (ext_*.go),
// getInfo's list on a key whose Config.Extensions is nil.
var Extensions = []string{
	ctap.ExtCredProtect,
	ctap.ExtCredBlob,
	ctap.ExtLargeBlobKey,
	ctap.ExtMinPinLength,
	ctap.ExtThirdPartyPayment,
	ctap.ExtHMACSecret,   // ext_hmacsecret.go
	ctap.ExtHMACSecretMC, // CTAP 2.2, ext_hmacsecret.go
}

// DefaultExtensions is getInfo's extension list of a key with these
// versions whose Config.Extensions is nil: hmac-secret alone on a CTAP
// 2.0 key, Extensions on a 2.1 one, and Extensions with
// pinComplexityPolicy on a 2.2 one (ext_pincomplexity.go; a 2.2 key
// without clientPin or authenticatorConfig leaves it out).
func DefaultExtensions(versions []string) []string {
	switch {
	case slices.Contains(versions, ctap.VersionFIDO22):
		return append(slices.Clone(Extensions), ctap.ExtPinComplexityPolicy)
	case slices.Contains(versions, ctap.VersionFIDO21), slices.Contains(versions, ctap.VersionFIDO21Pre):
		return slices.Clone(Extensions)
	}
	return slices.Clone(ctap20Extensions)
}

// extensionBits maps an extension identifier to its bit.
var extensionBits = map[string]extensionSet{
	ctap.ExtCredProtect:       extCredProtect,
	ctap.ExtCredBlob:          extCredBlob,
	ctap.ExtLargeBlobKey:      extLargeBlobKey,
	ctap.ExtMinPinLength:      extMinPinLength,
	ctap.ExtThirdPartyPayment: extThirdPartyPayment,
	ctap.ExtHMACSecret:        extHMACSecret,
	ctap.ExtHMACSecretMC:      extHMACSecretMC,

	ctap.ExtPinComplexityPolicy: extPinComplexityPolicy,
}

// ctap20Extensions are the extensions CTAP 2.0 defines (CTAP 2.0 §10):
// hmac-secret alone. credProtect and the others came with CTAP 2.1 (§12).
var ctap20Extensions = []string{ctap.ExtHMACSecret}

// PIN/UV auth protocols of a key whose Config leaves them nil.
var (
	defaultProtocols = []uint64{2, 1}
	ctap20Protocols  = []uint64{1}
)

// init computes f from cfg and the key's versions; a Config that asks for
// what this package cannot do, or for what the key's version does not
// have, is an error.
func (f *features) init(cfg Config, versions []string) error {
	f.ctap21 = slices.Contains(versions, ctap.VersionFIDO21) || slices.Contains(versions, ctap.VersionFIDO21Pre)
	pre := slices.Contains(versions, ctap.VersionFIDO21Pre)

	// PIN/UV auth protocols.
	f.clientPIN = !cfg.NoClientPIN
	pinUV := f.clientPIN || cfg.BuiltInUV // authenticatorClientPIN is there
	f.protocols = slices.Clone(cfg.PinUvAuthProtocols)
	switch {
	case f.protocols == nil && !pinUV:
		// Neither a PIN nor built-in UV: no protocol to list (CTAP 2.1
		// §6.4 pinUvAuthProtocols).
		f.protocols = []uint64{}
	case f.protocols == nil && f.ctap21:
		f.protocols = defaultProtocols
	case f.protocols == nil:
		f.protocols = ctap20Protocols
	case len(f.protocols) > 0 && !pinUV:
		return fmt.Errorf("authenticator: PIN/UV auth protocols %v on a key with neither a PIN nor built-in UV", f.protocols)
	}
	for _, p := range f.protocols {
		if p != 1 && p != 2 {
			return fmt.Errorf("authenticator: PIN/UV auth protocol %d: this key has 1 and 2", p)
		}
		if p == 2 && !f.ctap21 {
			return fmt.Errorf("authenticator: PIN/UV auth protocol 2 on a CTAP 2.0 key: CTAP 2.0 defines protocol 1 only")
		}
		if f.protocol[p] {
			return fmt.Errorf("authenticator: PIN/UV auth protocol %d listed twice", p)
		}
		f.protocol[p] = true
	}

	// Options.
	f.rk = !cfg.NoResidentKeys
	f.largeBlobs = !cfg.NoLargeBlobs && f.ctap21
	f.credMgmt = !cfg.NoCredentialManagement && f.ctap21
	f.authnrCfg = !cfg.NoAuthenticatorConfig && f.ctap21
	f.ep = !cfg.NoEnterpriseAttestation && f.authnrCfg
	if len(f.protocols) == 0 && pinUV {
		return fmt.Errorf("authenticator: a key with a PIN or built-in UV needs a PIN/UV auth protocol")
	}
	if !f.ctap21 && cfg.BioEnrollment {
		return fmt.Errorf("authenticator: BioEnrollment on a CTAP 2.0 key: authenticatorBioEnrollment is CTAP 2.1's")
	}

	// Extensions.
	f.extensions = slices.Clone(cfg.Extensions)
	if f.extensions == nil {
		f.extensions = Extensions
		if !f.ctap21 {
			f.extensions = ctap20Extensions
		}
		if !pinUV {
			// hmac-secret's input is encrypted under a shared secret
			// from clientPIN's getKeyAgreement (§12.5).
			f.extensions = slices.DeleteFunc(slices.Clone(f.extensions), func(id string) bool {
				return id == ctap.ExtHMACSecret || id == ctap.ExtHMACSecretMC
			})
		}
	}
	if cfg.Extensions == nil && slices.Contains(versions, ctap.VersionFIDO22) && f.authnrCfg && f.clientPIN {
		f.extensions = append(slices.Clone(f.extensions), ctap.ExtPinComplexityPolicy) // ext_pincomplexity.go; DefaultExtensions
	}
	f.ext = 0
	for _, id := range f.extensions {
		bit, ok := extensionBits[id]
		if !ok {
			return fmt.Errorf("authenticator: extension %q: this key has %v", id, Extensions)
		}
		if !pinUV && (id == ctap.ExtHMACSecret || id == ctap.ExtHMACSecretMC) {
			return fmt.Errorf("authenticator: extension %s on a key with neither a PIN nor built-in UV: it needs clientPIN's key agreement", id)
		}
		if !f.ctap21 && !slices.Contains(ctap20Extensions, id) {
			return fmt.Errorf("authenticator: extension %s on a CTAP 2.0 key: CTAP 2.0 defines only %v", id, ctap20Extensions)
		}
		if bit == extPinComplexityPolicy && !pinComplexityPossible(f, versions) {
			return fmt.Errorf("authenticator: extension %s needs a CTAP 2.2 key with clientPin and authenticatorConfig", id)
		}
		f.ext |= bit
	}

	// Algorithms.
	f.algorithms = slices.Clone(cfg.Algorithms)
	if f.algorithms == nil {
		f.algorithms = algorithmPreference
	}
	if len(f.algorithms) == 0 {
		return fmt.Errorf("authenticator: no credential algorithm")
	}
	for _, alg := range f.algorithms {
		if !isSupportedAlgorithm(alg) {
			return fmt.Errorf("authenticator: algorithm %d: this key has %v", alg, algorithmPreference)
		}
	}
	f.algParams = make([]ctap.CredentialParameter, len(f.algorithms))
	for i, alg := range f.algorithms {
		f.algParams[i] = ctap.CredentialParameter{Type: ctap.CredentialTypePublicKey, Alg: alg}
	}
	f.transports = slices.Clone(cfg.Transports)
	if f.transports == nil {
		f.transports = []string{"usb"}
	}

	// Limits.
	f.maxMsgSize = cfg.MaxMsgSize
	switch {
	case f.maxMsgSize == 0:
		f.maxMsgSize = MaxMsgSize
	case f.maxMsgSize < 1024 || f.maxMsgSize > MaxMsgSize:
		return fmt.Errorf("authenticator: MaxMsgSize %d: want 1024 to %d", f.maxMsgSize, MaxMsgSize)
	}
	f.maxLargeBlob = cfg.MaxLargeBlobArray
	switch {
	case f.maxLargeBlob == 0:
		f.maxLargeBlob = MaxSerializedLargeBlobArray
	case f.maxLargeBlob < 1024:
		return fmt.Errorf("authenticator: MaxLargeBlobArray %d: CTAP 2.1 §6.10 wants at least 1024", f.maxLargeBlob)
	}
	f.maxCredBlob = cfg.MaxCredBlobLength
	switch {
	case f.maxCredBlob == 0:
		f.maxCredBlob = MaxCredBlobLength
	case f.maxCredBlob < 32:
		return fmt.Errorf("authenticator: MaxCredBlobLength %d: CTAP 2.1 §12.2 wants at least 32", f.maxCredBlob)
	}

	// Commands.
	f.commands = [256]bool{}
	for _, c := range []ctap.Command{ctap.CmdMakeCredential, ctap.CmdGetAssertion, ctap.CmdGetNextAssertion, ctap.CmdGetInfo, ctap.CmdReset} {
		f.commands[c] = true
	}
	f.commands[ctap.CmdClientPIN] = f.clientPIN || cfg.BuiltInUV
	if f.ctap21 {
		f.commands[ctap.CmdSelection] = true
		f.commands[ctap.CmdBioEnrollment] = true // bio.go answers for a key without a sensor
		f.commands[ctap.CmdBioEnrollmentPre] = pre
		f.commands[ctap.CmdCredentialManagement] = f.credMgmt
		f.commands[ctap.CmdCredentialManagementPre] = f.credMgmt && pre
		f.commands[ctap.CmdLargeBlobs] = f.largeBlobs
		f.commands[ctap.CmdConfig] = f.authnrCfg
	}
	return nil
}

// hasExtension reports whether the key supports the extension bit e.
func (a *Authenticator) hasExtension(e extensionSet) bool { return a.feat.ext&e != 0 }

// supportsProtocol reports whether the key lists PIN/UV auth protocol p.
func (a *Authenticator) supportsProtocol(p uint64) bool {
	return p < uint64(len(a.feat.protocol)) && a.feat.protocol[p]
}

// ctap20 reports whether the key is a CTAP 2.0 one: Versions lists
// neither FIDO_2_1 nor FIDO_2_1_PRE.
func (a *Authenticator) ctap20() bool { return !a.feat.ctap21 }
