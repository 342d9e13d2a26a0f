// Package authenticator is the command core of virtkey's virtual FIDO2
// security key: one entry point, Handle, that runs a CTAP2 command (FIDO
// CTAP 2.1 Proposed Standard 2021-06-15, §6) against the key's state.
//
// The core never sees CTAPHID channels or reports: ctaphid.Serve calls
// HandleCBOR with a command byte and its CBOR parameters, and cancels the
// context on CTAPHID_CANCEL. State lives behind a Store (NewMemoryStore for
// tests, OpenFileStore for the daemon), and user presence comes from a
// Presence the caller supplies. A response that depends on a state change
// (a new discoverable credential, the signature counter, a reset) is sent
// only after Store.Commit returned.
//
// Multi-step commands follow crypto/tls: a state struct per command whose
// handle method calls the spec's numbered steps in order
// (makecredential.go, getassertion.go, clientpin.go).
package authenticator

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// DefaultAAGUID is the AAGUID of a key whose Config leaves AAGUID zero:
// 4c5b694a-e161-4df0-b57d-35fca987afc6, a random (version 4) UUID fixed
// for this project. It names the model "virtkey", not an individual key.
var DefaultAAGUID = [16]byte{
	0x4c, 0x5b, 0x69, 0x4a, 0xe1, 0x61, 0x4d, 0xf0,
	0xb5, 0x7d, 0x35, 0xfc, 0xa9, 0x87, 0xaf, 0xc6,
}

// Defaults for Config.
const (
	// DefaultMaxCredentials is the number of discoverable credentials a
	// key holds; makeCredential with rk answers CTAP2_ERR_KEY_STORE_FULL
	// beyond it.
	DefaultMaxCredentials = 100
	// DefaultResetWindow is how long after power-up authenticatorReset is
	// allowed (CTAP 2.1 §6.6).
	DefaultResetWindow = 10 * time.Second
	// NextAssertionTimeout is how long getAssertion's remaining
	// credentials stay available to getNextAssertion, counted from the
	// last getAssertion or getNextAssertion (CTAP 2.1 §6.2.2 step 12, §6.3).
	NextAssertionTimeout = 30 * time.Second
	// MaxMsgSize is the largest request (command byte and parameters) the
	// key accepts, the most a CTAPHID message can carry; getInfo
	// advertises it, and Handle answers a longer one with
	// CTAP1_ERR_INVALID_LENGTH.
	MaxMsgSize = ctaphid.MaxMessageSize
	// MaxCredentialCountInList is advertised in getInfo. Longer lists are
	// processed all the same.
	MaxCredentialCountInList = 32
	// DefaultTouchTimeout is how long the key waits for a touch, a
	// built-in user verification or a fingerprint sample before it gives
	// up, as a hardware key does after about 30 s (Config.TouchTimeout).
	DefaultTouchTimeout = 30 * time.Second
	// MaxStoredNameLength bounds rp.name, user.name and user.displayName
	// as stored with a discoverable credential; longer values are cut at
	// a UTF-8 boundary (CTAP 2.1 §6.1.1 lets authenticators truncate).
	MaxStoredNameLength = 64
)

// Config configures an Authenticator. The zero value is usable.
type Config struct {
	// Rand is the source of every secret and nonce: master secret,
	// attestation and credential keys, credential ID nonces, resident
	// credential IDs. Nil means crypto/rand. (ECDSA signatures always use
	// crypto/rand internally: Go's crypto/ecdsa ignores custom readers.)
	Rand io.Reader
	// Now is the clock for the reset window and the getNextAssertion
	// timer. Nil means time.Now.
	Now func() time.Time
	// Store keeps the state. Nil means NewMemoryStore().
	Store Store
	// Presence answers requests for user presence. Nil means AutoPresence.
	// With BuiltInUV, a Presence that also implements Verifier answers
	// the built-in user verification attempts; one that does not is a
	// user whose every attempt matches.
	Presence Presence
	// TouchTimeout is how long a request to the user (a touch, a built-in
	// user verification, a fingerprint sample) waits for an answer before
	// the key gives up with the status its command gives for a timeout
	// (presence.go). Zero means DefaultTouchTimeout; a negative value
	// means the request waits until it is answered or cancelled.
	TouchTimeout time.Duration
	// BuiltInUV gives the key built-in user verification, as a
	// fingerprint sensor would (uv.go): getInfo lists "uv" true,
	// preferredPlatformUvAttempts and uvModality; clientPIN answers
	// getUVRetries and getPinUvAuthTokenUsingUvWithPermissions; and
	// makeCredential and getAssertion accept the "uv" option. False keeps
	// a key without it, whose getInfo has no "uv" option.
	BuiltInUV bool
	// BioEnrollment, with BuiltInUV, makes the sensor enrollable
	// (authenticatorBioEnrollment, bio.go): UV is configured once a finger
	// is enrolled, and a Presence that implements FingerprintSensor gives
	// the samples.
	BioEnrollment bool
	// AAGUID identifies the authenticator model (WebAuthn §6.5.1). Zero
	// means DefaultAAGUID.
	AAGUID [16]byte
	// Attestation selects the makeCredential attestation statement;
	// AttestationPacked (the zero value) by default.
	Attestation AttestationMode
	// MaxCredentials is the discoverable credential capacity; zero means
	// DefaultMaxCredentials.
	MaxCredentials int
	// ResetWindow is how long after power-up (New or PowerCycle)
	// authenticatorReset is allowed; zero means DefaultResetWindow, a
	// negative value means always.
	ResetWindow time.Duration
	// FirmwareVersion is reported by getInfo (omitted when zero).
	FirmwareVersion uint64
	// EnterpriseRPIDs is the vendor-facilitated enterprise attestation
	// RP ID list (CTAP 2.1 §7.1.1), "burned into" the key: makeCredential
	// with enterpriseAttestation 1 gives an enterprise attestation only
	// for these RP IDs (enterprise.go). Nil means
	// DefaultEnterpriseRPIDs; an empty, non-nil list means none.
	EnterpriseRPIDs []string
	// OnWink, if set, is called by Wink.
	OnWink func()
	// Backup is the backup eligibility and state flags (BE, BS) of every
	// credential that has none of its own (credcontrol.go).
	Backup BackupFlags
	// OnCredentialEvent, if set, is told of credentials added, asserted
	// and deleted (credcontrol.go).
	OnCredentialEvent func(CredentialEvent)
	// Versions are the protocol versions the key implements and lists in
	// getInfo (CTAP 2.1 §6.4 member 0x01), in getInfo's order. Nil means
	// Versions (this package's default: U2F_V2 up to FIDO_2_1).
	Versions []string
	// PinUvAuthProtocols are the PIN/UV auth protocols the key supports,
	// in getInfo's order of preference (CTAP 2.1 §6.4 member 0x06, §6.5):
	// a request naming another protocol is refused as its command says
	// (features.go). Nil means 2 then 1; a CTAP 2.0 key (Versions without
	// FIDO_2_1 and FIDO_2_1_PRE) may list only 1, which is also its
	// default (CTAP 2.0 §5.5.2 defines no other).
	PinUvAuthProtocols []uint64
	// NoResidentKeys takes away discoverable credentials: getInfo's "rk"
	// is false and makeCredential with rk true answers
	// CTAP2_ERR_UNSUPPORTED_OPTION (CTAP 2.1 §6.1.2 step 5.4).
	NoResidentKeys bool
	// NoClientPIN takes away the PIN: getInfo has no "clientPin" option,
	// the PIN subcommands of authenticatorClientPIN answer
	// CTAP2_ERR_INVALID_SUBCOMMAND, and on a key without BuiltInUV either
	// the whole command (and pinUvAuthProtocols) goes: it answers
	// CTAP1_ERR_INVALID_COMMAND (CTAP 2.1 §6.4 clientPin, §6.5).
	NoClientPIN bool
	// NoLargeBlobs takes away authenticatorLargeBlobs (0x0C) and the
	// largeBlobs option (CTAP 2.1 §6.10).
	NoLargeBlobs bool
	// NoCredentialManagement takes away authenticatorCredentialManagement
	// (0x0A and its 2.1-PRE code 0x41) and the credMgmt options (§6.8).
	NoCredentialManagement bool
	// NoAuthenticatorConfig takes away authenticatorConfig (0x0D) and its
	// options authnrCfg, alwaysUv, setMinPINLength and ep: enterprise
	// attestation is enabled through it (§6.11, §7).
	NoAuthenticatorConfig bool
	// NoEnterpriseAttestation takes away enterprise attestation: no "ep"
	// option, makeCredential's enterpriseAttestation is
	// CTAP1_ERR_INVALID_PARAMETER and enableEnterpriseAttestation
	// CTAP2_ERR_INVALID_SUBCOMMAND (§6.1.2 step 9, §7.1).
	NoEnterpriseAttestation bool
	// Extensions are the extensions the key supports and lists in
	// getInfo (member 0x02); the others are ignored, as by a key without
	// them (§6.1.1, §6.2.1: an authenticator ignores extensions it does
	// not support). Nil means all of this package's (Extensions); an
	// empty, non-nil list means none. A CTAP 2.0 key may list only
	// hmac-secret, the one extension CTAP 2.0 defines (CTAP 2.0 §10),
	// which is also its default.
	Extensions []string
	// Algorithms are the COSE algorithms the key generates, in getInfo's
	// order of preference (member 0x0A; §6.1.2 step 3). Nil means ES256,
	// EdDSA, ES384, RS256 (algorithms.go).
	Algorithms []int64
	// Transports are getInfo's transports (member 0x09). Nil means "usb".
	Transports []string
	// MaxMsgSize is the longest request the key accepts and getInfo's
	// maxMsgSize (member 0x05). Zero means MaxMsgSize; otherwise at least
	// 1024, the size every platform may assume (§6.4), and at most
	// MaxMsgSize.
	MaxMsgSize int
	// MaxLargeBlobArray is getInfo's maxSerializedLargeBlobArray (member
	// 0x0B), the large-blob array's capacity. Zero means
	// MaxSerializedLargeBlobArray; otherwise at least 1024 (§6.10).
	MaxLargeBlobArray int
	// MaxCredBlobLength is getInfo's maxCredBlobLength (member 0x0F), the
	// longest credBlob kept. Zero means MaxCredBlobLength (32); otherwise
	// at least 32 (§12.2).
	MaxCredBlobLength int
	// Faults makes the key misbehave on purpose, each in the one way its
	// name says (faults.go); an unknown name is an error of New. None is
	// a correct key.
	Faults []Fault
	// FaultReached, if set, is called with a fault's name each time the
	// key comes to the one place where that fault would change what it
	// does, whether the fault is on or not (faults.go). Until the first
	// such call a key with the fault does what a correct key does, so a
	// tester need not run against a faulty key the checks that never
	// reach its fault (conformance's TestEveryFaultCaught). It may be
	// called from any goroutine that runs a command.
	FaultReached func(Fault)
}

// Implements reports whether a key of this Config implements protocol
// version v: whether v is in Versions, or in the package's Versions when
// that is nil.
func (c *Config) Implements(v string) bool {
	if c.Versions == nil {
		return slices.Contains(Versions, v)
	}
	return slices.Contains(c.Versions, v)
}

// Authenticator is a virtual FIDO2 authenticator. It implements the
// ctaphid Handler and Winker interfaces. Its methods are safe for
// concurrent use; commands run one at a time.
type Authenticator struct {
	rand     io.Reader
	now      func() time.Time
	store    Store
	presence Presence
	verifier Verifier // with builtInUV: presence, or AutoPresence
	aaguid   [16]byte
	attMode  AttestationMode
	maxCreds int
	resetWin time.Duration
	touchTO  time.Duration // Config.TouchTimeout, presence.go
	firmware uint64
	onWink   func()
	faults   map[Fault]bool // Config.Faults, faults.go
	epRPIDs  []string       // Config.EnterpriseRPIDs, enterprise.go
	versions []string       // Config.Versions
	feat     features       // what Config enables, precomputed (features.go)

	faultReached func(Fault) // Config.FaultReached

	builtInUV bool

	att *attestation // fixed after New: reset keeps the attestation keys

	// sem serialises commands: a command holds it while it runs, and
	// waiting for it is cancellable.
	sem chan struct{}

	// Guarded by sem.
	state *State     // the persistent state but its credentials
	creds *credIndex // the discoverable credentials (store_index.go)
	keys  keyCache   // parsed ES256 keys (store_keycache.go)
	// unsynced is set when a commit failed and the stored state could
	// not be loaded back: commands fail until it can (rollback).
	unsynced bool
	sealer   cipher.AEAD
	rt       runtime  // volatile state, replaced at power-up (runtime.go)
	bio      bioState // fingerprint sensor (§6.7), bio.go

	runMu   sync.Mutex
	running context.CancelFunc // cancels the running command; nil when idle

	winks atomic.Int64

	cc *credControl // backup flags and credential events, credcontrol.go
}

var _ ctaphid.Handler = (*Authenticator)(nil)
var _ ctaphid.Winker = (*Authenticator)(nil)

// New returns an authenticator with the state in cfg.Store. On first use
// (an empty store) it generates the master secret and the attestation CA
// and leaf, and saves them before returning.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{
		rand:     cfg.Rand,
		now:      cfg.Now,
		store:    cfg.Store,
		presence: cfg.Presence,
		aaguid:   cfg.AAGUID,
		attMode:  cfg.Attestation,
		maxCreds: cfg.MaxCredentials,
		resetWin: cfg.ResetWindow,
		touchTO:  cfg.TouchTimeout,
		firmware: cfg.FirmwareVersion,
		onWink:   cfg.OnWink,
		epRPIDs:  enterpriseRPIDs(cfg.EnterpriseRPIDs),
		versions: cfg.Versions,
		sem:      make(chan struct{}, 1),
		cc:       newCredControl(cfg),

		builtInUV: cfg.BuiltInUV,
	}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	if a.versions == nil {
		a.versions = Versions
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.store == nil {
		a.store = NewMemoryStore()
	}
	if a.presence == nil {
		a.presence = AutoPresence{}
	}
	if err := a.feat.init(cfg, a.versions); err != nil {
		return nil, err
	}
	if err := cfg.Backup.check(); err != nil {
		return nil, err
	}
	faults, err := faultSet(cfg.Faults)
	if err != nil {
		return nil, err
	}
	a.faults, a.faultReached = faults, cfg.FaultReached
	a.verifier = AutoPresence{}
	if v, ok := a.presence.(Verifier); ok {
		a.verifier = v
	}
	a.initBio(cfg)
	if a.aaguid == [16]byte{} {
		a.aaguid = DefaultAAGUID
	}
	switch a.attMode {
	case AttestationPacked, AttestationSelf, AttestationNone:
	default:
		return nil, fmt.Errorf("authenticator: unknown attestation mode %v", a.attMode)
	}
	if a.maxCreds == 0 {
		a.maxCreds = DefaultMaxCredentials
	}
	if a.maxCreds < 0 {
		return nil, fmt.Errorf("authenticator: MaxCredentials %d", a.maxCreds)
	}
	if a.resetWin == 0 {
		a.resetWin = DefaultResetWindow
	}
	if a.touchTO == 0 {
		a.touchTO = DefaultTouchTimeout
	}

	st, tab, err := loadState(a.store)
	if err != nil {
		return nil, fmt.Errorf("authenticator: loading state: %w", err)
	}
	dirty := false
	if st == nil {
		// A new key: the only time the master secret and the
		// attestation keys are made. A stored state that lacks them is
		// refused below, never completed.
		st = &State{Version: StateVersion}
		if st.MasterSecret, err = a.randomBytes(32); err != nil {
			return nil, err
		}
		if st.Attestation, err = newAttestationState(a.rand, a.aaguid); err != nil {
			return nil, err
		}
		dirty = true
	}
	// The index checks that the IDs are unique.
	if err := st.validate(false); err != nil {
		return nil, err
	}
	if n := len(st.Credentials) + tab.len(); n > a.maxCreds {
		return nil, fmt.Errorf("%w: %d discoverable credentials, more than this key's capacity of %d", ErrCorruptState, n, a.maxCreds)
	}
	a.att, err = loadAttestation(st.Attestation)
	if err != nil {
		return nil, err
	}
	if !a.att.matchesAAGUID(a.aaguid) {
		// The AAGUID changed: issue a new leaf under the same CA.
		if err := reissueLeaf(a.rand, st.Attestation, a.aaguid); err != nil {
			return nil, err
		}
		if a.att, err = loadAttestation(st.Attestation); err != nil {
			return nil, err
		}
		dirty = true
	}
	if a.sealer, err = newSealer(st.MasterSecret); err != nil {
		return nil, err
	}
	if a.creds, err = newCredIndex(tab, st.Credentials); err != nil {
		return nil, err
	}
	st.Credentials = nil
	a.state = st
	if dirty {
		st.Version = StateVersion
		if err := a.store.Commit(&Change{State: st}); err != nil {
			return nil, fmt.Errorf("authenticator: saving state: %w", err)
		}
	}
	a.rt = powerUp(a.now())
	return a, nil
}

// HandleCBOR implements ctaphid.Handler: req is a CTAP command byte and
// its CBOR parameters, the result a status byte and the CBOR response
// (CTAP 2.1 §11.2.9.1.2). An empty request is CTAP1_ERR_INVALID_LENGTH.
func (a *Authenticator) HandleCBOR(ctx context.Context, req []byte) []byte {
	if len(req) == 0 {
		return []byte{byte(ctap.StatusInvalidLength)}
	}
	status, body := a.Handle(ctx, ctap.Command(req[0]), req[1:])
	return append([]byte{byte(status)}, body...)
}

// HandleMsg implements ctaphid.Handler for CTAPHID_MSG: req is a CTAP1/U2F
// request APDU, the result the response APDU ending in a status word
// (CTAP 2.1 §11.2.9.1.1; ctap1.go). It never returns an error.
func (a *Authenticator) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	return a.handleMsg(ctx, req), nil
}

// Wink implements ctaphid.Winker: the key "blinks" by calling
// Config.OnWink and counting the wink.
func (a *Authenticator) Wink() {
	a.winks.Add(1)
	if a.onWink != nil {
		a.onWink()
	}
}

// Winks returns how many times Wink was called.
func (a *Authenticator) Winks() int { return int(a.winks.Load()) }

// PowerCycle simulates unplugging and replugging the key: it cancels a
// running command, forgets all volatile state (runtime: the
// getNextAssertion and enumeration state, an enrollment or large-blob
// write in progress) and restarts the reset window at Config.Now. The
// PIN/UV volatile state goes too: the key agreement key is regenerated,
// the pinUvAuthToken is no longer in use and the count of wrong PINs since
// power-up restarts (CTAP 2.1 §6.5.2). Durable state is unaffected: it
// always equals what the Store last saved.
func (a *Authenticator) PowerCycle() {
	a.runMu.Lock()
	if a.running != nil {
		a.running()
	}
	a.runMu.Unlock()
	a.sem <- struct{}{}
	defer func() { <-a.sem }()
	a.rt = powerUp(a.now())
}

// AttestationCA returns the self-signed root that issued the attestation
// certificate in packed attestation statements.
func (a *Authenticator) AttestationCA() *x509.Certificate { return a.att.ca }

// AttestationRoots returns a pool holding AttestationCA, for verifying x5c
// chains with x509.Certificate.Verify.
func (a *Authenticator) AttestationRoots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.att.ca)
	return p
}

// AAGUID returns the authenticator's AAGUID.
func (a *Authenticator) AAGUID() [16]byte { return a.aaguid }

// Handle runs one CTAP2 command; params is the CBOR after the command
// byte. It returns the status and, for StatusOK, the CBOR response body.
// It blocks while another command runs; ctx cancels the wait and a wait
// for user presence (answered with CTAP2_ERR_KEEPALIVE_CANCEL).
//
// Errors inside the core wrap a ctap.Status or not; this is the one place
// they become a status, with ctap.StatusOf (anything without a Status is
// CTAP1_ERR_OTHER).
func (a *Authenticator) Handle(ctx context.Context, cmd ctap.Command, params []byte) (ctap.Status, []byte) {
	body, err := a.handle(ctx, cmd, params)
	if err != nil {
		return ctap.StatusOf(err), nil
	}
	return ctap.StatusOK, body
}

// exclusive waits for the command lock and makes the returned context's
// cancel the running command's, so that PowerCycle can end it. ok is false
// when ctx ended first; otherwise release must be called when the command
// is done.
func (a *Authenticator) exclusive(ctx context.Context) (_ context.Context, release func(), ok bool) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx, nil, false
	}
	ctx, cancel := context.WithCancel(ctx)
	a.runMu.Lock()
	a.running = cancel
	a.runMu.Unlock()
	return ctx, func() {
		a.runMu.Lock()
		a.running = nil
		a.runMu.Unlock()
		cancel()
		<-a.sem
	}, true
}

func (a *Authenticator) handle(ctx context.Context, cmd ctap.Command, params []byte) ([]byte, error) {
	ctx, release, ok := a.exclusive(ctx)
	if !ok {
		return nil, fmt.Errorf("%w: %w", ctap.StatusKeepaliveCancel, ctx.Err())
	}
	defer release()

	if a.unsynced {
		if err := a.rollback(); err != nil {
			return nil, fmt.Errorf("%v: %w", cmd, err)
		}
	}

	// §6.3: the getAssertion state is discarded when the platform sends
	// any command other than getNextAssertion.
	if cmd != ctap.CmdGetNextAssertion && a.rt.pending != nil && !a.faulty(FaultGNASurvivesOtherCommand) {
		a.rt.pending = nil
	}
	// §6.8.3, §6.8.4: the enumeration state goes too (credman.go).
	if cmd != ctap.CmdCredentialManagement && cmd != ctap.CmdCredentialManagementPre {
		a.rt.credMan = nil
	}

	if len(params) >= a.feat.maxMsgSize {
		return nil, fmt.Errorf("%v: %w: %d bytes, more than maxMsgSize", cmd, ctap.StatusInvalidLength, len(params)+1)
	}

	// One case per command; the 2.1-PRE codes of bioEnrollment and
	// credentialManagement share their 2.1 handlers. An unknown code, and
	// a command this key does not implement (features.go: its version or
	// Config leaves it out), is CTAP1_ERR_INVALID_COMMAND.
	var body []byte
	var err error
	if !a.feat.commands[cmd] {
		return nil, fmt.Errorf("%v: %w: not a command of this key", cmd, ctap.StatusInvalidCommand)
	}
	switch cmd {
	case ctap.CmdMakeCredential:
		body, err = a.makeCredential(ctx, params)
	case ctap.CmdGetAssertion:
		body, err = a.getAssertion(ctx, params)
	case ctap.CmdGetNextAssertion:
		body, err = withoutParams(params, a.getNextAssertion)
	case ctap.CmdGetInfo:
		body, err = withoutParams(params, a.getInfo)
	case ctap.CmdReset:
		body, err = withoutParams(params, func() ([]byte, error) { return nil, a.reset(ctx) })
	case ctap.CmdClientPIN:
		body, err = a.clientPIN(ctx, params)
	case ctap.CmdCredentialManagement, ctap.CmdCredentialManagementPre:
		body, err = a.credentialManagement(params)
	case ctap.CmdSelection:
		body, err = withoutParams(params, func() ([]byte, error) { return nil, a.selection(ctx) })
	case ctap.CmdBioEnrollment, ctap.CmdBioEnrollmentPre:
		body, err = a.bioEnrollment(ctx, cmd, params)
	case ctap.CmdConfig:
		body, err = a.config(params)
	case ctap.CmdLargeBlobs:
		body, err = a.largeBlobs(params)
	default:
		err = ctap.StatusInvalidCommand
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", cmd, err)
	}
	return body, nil
}

// withoutParams runs f for a command that takes no parameters. A payload
// is answered with CTAP1_ERR_INVALID_LENGTH, as hardware keys answer
// getInfo with data; the spec leaves the status open.
func withoutParams(params []byte, f func() ([]byte, error)) ([]byte, error) {
	if len(params) != 0 {
		return nil, fmt.Errorf("%w: %d bytes of parameters for a command without any", ctap.StatusInvalidLength, len(params))
	}
	return f()
}

// randomBytes reads n bytes from Config.Rand.
func (a *Authenticator) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.rand, b); err != nil {
		return nil, fmt.Errorf("authenticator: random source: %w", err)
	}
	return b, nil
}

// nextSignCount increments the global signature counter and returns the
// value for the authenticator data being made (WebAuthn §6.1.1). The
// caller saves the state before the response leaves. The counter sticks
// at its maximum rather than wrapping.
func (a *Authenticator) nextSignCount() uint32 {
	if a.faulty(FaultCounterZero) {
		return 0
	}
	if a.faulty(FaultCounterRepeat) && a.state.SignCount > 0 {
		return a.state.SignCount
	}
	if a.state.SignCount < ^uint32(0) {
		a.state.SignCount++
	}
	return a.state.SignCount
}

// save commits what the command changed: the state outside the
// credentials and the credentials it put or removed (a Change of the size
// of the change). When the store fails, the in-memory state goes back to
// what the store holds, so nothing the key did not acknowledge survives;
// that reload reads the whole state, but only on failure.
func (a *Authenticator) save() error {
	ch := Change{State: a.state}
	a.creds.change(&ch)
	var err error
	if ch.Clear || len(ch.Put)+len(ch.Delete) > 0 {
		err = a.newCredStoreState() // CTAP 2.2 encCredStoreState (ctap22.go)
	}
	if err == nil {
		err = a.store.Commit(&ch)
	}
	if err == nil {
		a.creds.committed()
		return nil
	}
	if rerr := a.rollback(); rerr != nil {
		return fmt.Errorf("authenticator: saving state: %w (%v)", err, rerr)
	}
	return fmt.Errorf("authenticator: saving state: %w", err)
}

// rollback replaces the in-memory state with the stored one after a
// failed commit. If even loading fails, unsynced is set and every command
// tries again first, failing until the stored state is back in memory.
func (a *Authenticator) rollback() error {
	st, tab, err := loadState(a.store)
	if err == nil && st == nil {
		err = errors.New("the store lost its state")
	}
	if err == nil {
		err = st.validate(false) // the index checks that the IDs are unique
	}
	var sealer cipher.AEAD
	if err == nil {
		sealer, err = newSealer(st.MasterSecret)
	}
	var creds *credIndex
	if err == nil {
		creds, err = newCredIndex(tab, st.Credentials)
	}
	if err != nil {
		a.unsynced = true
		return fmt.Errorf("authenticator: reloading state after a failed save: %w", err)
	}
	a.creds = creds
	st.Credentials = nil
	a.state, a.sealer, a.unsynced = st, sealer, false
	return nil
}
