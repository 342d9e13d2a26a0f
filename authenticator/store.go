package authenticator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// StateVersion is the version of the State layout this package writes.
// Fields are only ever added (with omitempty), so a newer package reads an
// older state; a state with a higher version than this package knows is
// refused rather than silently truncated.
const StateVersion = 1

// State is everything the authenticator keeps across power cycles. It is
// plain data with exported fields: FileStore keeps it as records of a
// checksummed journal (store_file.go, docs/store.md), and the JSON form of
// the first release is still read once, to migrate it. Later features (PIN hash and retries, large-blob array,
// fingerprint templates, authenticatorConfig flags) add their own fields;
// a field that is absent in an older file decodes as its zero value, so
// every new field must have a zero value that means "feature unused".
type State struct {
	// Version is StateVersion when the state was written.
	Version int `json:"version"`

	// MasterSecret is the 32-byte secret from which the key that seals
	// non-discoverable credential IDs is derived (see credential.go).
	// authenticatorReset replaces it, which kills every credential ID
	// issued before.
	MasterSecret []byte `json:"masterSecret"`

	// Attestation holds the attestation CA and leaf key pairs, generated
	// on first start and kept across authenticatorReset.
	Attestation *AttestationState `json:"attestation,omitempty"`

	// SignCount is the global signature counter (WebAuthn §6.1.1): every
	// authenticator data this key emits carries SignCount+1, and the
	// incremented value is saved before the response leaves. It survives
	// authenticatorReset, so relying parties never see it go backwards.
	SignCount uint32 `json:"signCount"`

	// CreationSequence numbers discoverable credentials in creation order;
	// the next credential gets CreationSequence+1.
	CreationSequence uint64 `json:"creationSequence"`

	// Credentials are the discoverable (resident) credentials. A Store's
	// Load returns them in creation order (by Sequence). The running key
	// keeps them in an index instead (store_index.go) and leaves this
	// field nil; a Change carries the credentials a command touched.
	Credentials []ResidentCredential `json:"credentials,omitempty"`

	// PINHash is LEFT(SHA-256(PIN), 16) of the clientPIN PIN (CTAP 2.1
	// §6.5.5.5); empty when no PIN is set.
	PINHash []byte `json:"pinHash,omitempty"`
	// PINRetries is pinRetries (CTAP 2.1 §6.5.2.2), meaningful only while
	// PINHash is set: 0 then means the PIN is blocked.
	PINRetries int `json:"pinRetries,omitempty"`
	// ForcePINChange makes the token subcommands fail until changePIN
	// (CTAP 2.1 §6.4 forcePINChange, §6.5.5.7).
	ForcePINChange bool `json:"forcePINChange,omitempty"`
	// UVFailures counts the built-in user verification attempts that did
	// not match since the last match, correct PIN or reset: uvRetries is
	// MaxUVRetries less it (CTAP 2.1 §6.5.2.2, §6.5.5.3), so zero means
	// every retry is left.
	UVFailures int `json:"uvFailures,omitempty"`
	// AlwaysUV is the alwaysUv option, switched by authenticatorConfig
	// toggleAlwaysUv (CTAP 2.1 §6.11.2, §7.2); config.go.
	AlwaysUV bool `json:"alwaysUv,omitempty"`
	// EnterpriseAttestation is the ep option, set by authenticatorConfig
	// enableEnterpriseAttestation (CTAP 2.1 §6.11.1, §7.1); config.go.
	EnterpriseAttestation bool `json:"enterpriseAttestation,omitempty"`
	// MinPINLength is the minimum PIN length in code points set by
	// authenticatorConfig setMinPINLength (CTAP 2.1 §6.11.4); zero means
	// the default, MinPINLength.
	MinPINLength int `json:"minPINLength,omitempty"`
	// MinPINLengthRPIDs is setMinPINLength's minPinLengthRPIDs (CTAP 2.1
	// §6.11.4), the RP IDs that may learn the minimum PIN length.
	MinPINLengthRPIDs []string `json:"minPinLengthRPIDs,omitempty"`
	// PINCodePoints is the length of the current PIN in code points, for
	// setMinPINLength to tell whether the PIN is shorter than a new
	// minimum (CTAP 2.1 §6.11.4); zero when no PIN is set or for a PIN set
	// before it was recorded.
	PINCodePoints int `json:"pinCodePoints,omitempty"`
	// LargeBlobArray is the stored serialized large-blob array (CTAP 2.1
	// §6.10), committed by the last complete authenticatorLargeBlobs
	// write; nil means the initial one, InitialLargeBlobArray.
	LargeBlobArray []byte `json:"largeBlobArray,omitempty"`
	// Fingerprints are the enrolled fingerprint templates (CTAP 2.1
	// §6.7, bio.go); none means built-in UV with bio enrollment is not
	// configured.
	Fingerprints []FingerprintTemplate `json:"fingerprints,omitempty"`

	// The CTAP 2.2 state (ctap22.go). PersistentToken is the
	// persistentPinUvAuthToken that a pcmr grant hands out, 32 bytes or
	// nil before the first grant; changePIN and authenticatorReset drop
	// it. DeviceID is the 16-byte identifier that getInfo's encIdentifier
	// carries, made with the first persistent token and replaced by
	// authenticatorReset. CredStoreState is the 16-byte value that
	// encCredStoreState carries, new whenever the discoverable
	// credentials change. UVCountSincePIN counts the built-in user
	// verifications since the last correct PIN (uvCountSinceLastPinEntry).
	// PINComplexityPolicy is setMinPINLength's pinComplexityPolicy.
	PersistentToken     []byte `json:"persistentToken,omitempty"`
	DeviceID            []byte `json:"deviceId,omitempty"`
	CredStoreState      []byte `json:"credStoreState,omitempty"`
	UVCountSincePIN     uint64 `json:"uvCountSincePin,omitempty"`
	PINComplexityPolicy bool   `json:"pinComplexityPolicy,omitempty"`
}

// AttestationState is the attestation key material: a self-signed P-256
// CA and a P-256 leaf it issued (WebAuthn §8.2.1). Keys are the raw
// big-endian private scalars, certificates DER.
type AttestationState struct {
	CAKey  []byte `json:"caKey"`
	CACert []byte `json:"caCert"`
	Key    []byte `json:"key"`
	Cert   []byte `json:"cert"`
	// EnterpriseKey and EnterpriseCert are the enterprise attestation
	// leaf under the same CA (CTAP 2.1 §7.1, enterprise.go), made the
	// first time the key gives an enterprise attestation; empty before.
	EnterpriseKey  []byte `json:"enterpriseKey,omitempty"`
	EnterpriseCert []byte `json:"enterpriseCert,omitempty"`
}

// ResidentCredential is one discoverable credential (CTAP 2.1 §6.1.2 step
// 17). Its ID is 32 random bytes that index the store; the private key is
// kept here, not in the ID.
type ResidentCredential struct {
	ID              []byte `json:"id"`
	RPID            string `json:"rpId"`
	RPName          string `json:"rpName,omitempty"`
	UserID          []byte `json:"userId"`
	UserName        string `json:"userName,omitempty"`
	UserDisplayName string `json:"userDisplayName,omitempty"`
	// Alg is the COSE algorithm: ctap.AlgES256, ctap.AlgEdDSA,
	// ctap.AlgES384 or ctap.AlgRS256 (algorithms.go).
	Alg int64 `json:"alg"`
	// PrivateKey is the P-256 scalar (ES256), the Ed25519 seed (EdDSA),
	// or the 32-byte seed an ES384 or RS256 key derives from.
	PrivateKey []byte `json:"privateKey"`
	// Sequence is the creation order: a larger value is more recent.
	Sequence uint64 `json:"sequence"`
	// Created is Config.Now at creation, for display only.
	Created time.Time `json:"created"`
	// LargeBlobKey is the credential's largeBlobKey (CTAP 2.1 §12.3), nil
	// when it has none; credentialManagement reports it (§6.8.4).
	LargeBlobKey []byte `json:"largeBlobKey,omitempty"`
	// CredProtect is the credential's credProtect level (CTAP 2.1 §12.1);
	// zero means 1, userVerificationOptional (ext_credprotect.go).
	CredProtect uint64 `json:"credProtect,omitempty"`
	// CredBlob is the credential's credBlob (CTAP 2.1 §12.2), nil when it
	// has none (ext_credblob.go).
	CredBlob []byte `json:"credBlob,omitempty"`
	// ThirdPartyPayment is set for a credential made with the
	// thirdPartyPayment extension (CTAP 2.2; ext_thirdpartypayment.go).
	ThirdPartyPayment bool `json:"thirdPartyPayment,omitempty"`
	// HMACSecret is set for a credential made with "hmac-secret": true
	// (CTAP 2.1 §12.5); its CredRandom values are derived from the master
	// secret and its ID (ext_hmacsecret.go).
	HMACSecret bool `json:"hmacSecret,omitempty"`
	// PublicKey is the credential's COSE public key as makeCredential
	// returned it, kept so that credentialManagement lists credentials
	// without a scalar multiplication each; empty for a credential stored
	// before it was kept, whose key is derived when needed.
	PublicKey []byte `json:"publicKey,omitempty"`
}

// ErrCorruptState is wrapped by a Store's Load, and by New, for a state
// that fails its integrity check: a checksum, a missing or malformed
// field, a value out of range. The state is left as it is.
var ErrCorruptState = errors.New("authenticator: corrupt state")

// Store keeps the authenticator's State durably. A command changes the
// state in memory and hands the Store a Change; the response leaves only
// after Commit returned nil. The cost of a Commit is the size of the
// change, not of the state.
type Store interface {
	// Load returns the saved state, or (nil, nil) when nothing was saved
	// yet. The caller owns the returned State.
	Load() (*State, error)
	// Commit makes ch durable, all of it or nothing: after an error the
	// stored state is what it was before. Commit does not keep ch or
	// anything it points to.
	Commit(ch *Change) error
}

// RecordLoader is a Store that can hand the key its credentials as the
// records it read, rather than as State.Credentials: New then keeps each
// a fixed-size entry and decodes a credential when a command uses it, so
// that a key with many credentials holds no object per credential for the
// garbage collector to follow (FileStore; docs/store.md, "Scale and
// speed"). New and the reload after a failed commit call LoadRecords
// instead of Load.
type RecordLoader interface {
	Store
	// LoadRecords is Load with the credentials in recs; the State's
	// Credentials field holds any others. recs is nil when there are
	// none, and not to be changed.
	LoadRecords() (st *State, recs *CredentialRecords, err error)
}

// CredentialRecords is discoverable credentials as a state file holds
// them, checked as State.Validate checks Credentials, in creation order.
type CredentialRecords struct{ t *credTable }

// Len is the number of credentials; 0 for nil.
func (r *CredentialRecords) Len() int {
	if r == nil {
		return 0
	}
	return r.t.live
}

// Each calls f with each credential's ID and RP ID, in the file's order,
// without decoding the rest. Neither string ever changes: f may keep them
// without a copy.
func (r *CredentialRecords) Each(f func(id, rpID string)) {
	if r == nil {
		return
	}
	for i := range r.t.ents {
		if e := &r.t.ents[i]; !e.dead {
			f(aliasText(e.idIn(r.t.buf)), r.t.rpIDs[e.rpn])
		}
	}
}

// RPs calls f with each RP ID and its number of credentials, in no set
// order, without decoding any. The RP IDs never change: f may keep them.
func (r *CredentialRecords) RPs(f func(rpID string, n int)) {
	if r == nil {
		return
	}
	count := make([]int, len(r.t.rpIDs))
	for i := range r.t.ents {
		if e := &r.t.ents[i]; !e.dead {
			count[e.rpn]++
		}
	}
	for i, n := range count {
		if n > 0 {
			f(r.t.rpIDs[i], n)
		}
	}
}

// table is r's credTable, nil for nil.
func (r *CredentialRecords) table() *credTable {
	if r == nil {
		return nil
	}
	return r.t
}

// loadState loads s's state, the credentials as records when s is a
// RecordLoader.
func loadState(s Store) (*State, *credTable, error) {
	if rl, ok := s.(RecordLoader); ok {
		st, recs, err := rl.LoadRecords()
		return st, recs.table(), err
	}
	st, err := s.Load()
	return st, nil, err
}

// Change is what one command changed: the state outside the credentials,
// and the credentials it added, replaced or removed.
type Change struct {
	// State is the whole state after the command; its Credentials field
	// is ignored. A store writes only the parts that differ from what it
	// holds (FileStore compares them).
	State *State
	// Clear removes every stored credential before Delete and Put apply
	// (authenticatorReset).
	Clear bool
	// Delete lists the IDs of removed credentials.
	Delete [][]byte
	// Put lists the credentials added or replaced, matched by ID.
	Put []*ResidentCredential
}

// Validate checks what a state must satisfy to be this key's: a version
// this package knows, a 32-byte master secret, attestation keys, values in
// range and credentials that are well formed and unique. A failure wraps
// ErrCorruptState. New also refuses a state with more credentials than
// Config.MaxCredentials.
func (s *State) Validate() error { return s.validate(true) }

// validate is Validate; without dups it leaves out the check that the
// credential IDs are unique, for a caller that knows they are (a journal
// keyed by them) or checks it itself (the index).
func (s *State) validate(dups bool) error {
	if err := s.validateHead(); err != nil {
		return err
	}
	var seen map[string]struct{}
	if dups {
		seen = make(map[string]struct{}, len(s.Credentials))
	}
	for i := range s.Credentials {
		c := &s.Credentials[i]
		if err := c.validate(s.CreationSequence); err != nil {
			return fmt.Errorf("%w: credential %d: %v", ErrCorruptState, i, err)
		}
		if !dups {
			continue
		}
		if _, dup := seen[string(c.ID)]; dup {
			return fmt.Errorf("%w: credential %d: duplicate ID", ErrCorruptState, i)
		}
		seen[string(c.ID)] = struct{}{}
	}
	return s.validateFingerprints()
}

// validateHead is the part of validate before the credentials.
func (s *State) validateHead() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptState, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Version < 1 || s.Version > StateVersion:
		return bad("state version %d, this build knows 1 to %d", s.Version, StateVersion)
	case len(s.MasterSecret) != 32:
		return bad("master secret of %d bytes, want 32", len(s.MasterSecret))
	case s.Attestation == nil:
		return bad("no attestation keys")
	case len(s.Attestation.CAKey) == 0 || len(s.Attestation.CACert) == 0 || len(s.Attestation.Key) == 0 || len(s.Attestation.Cert) == 0:
		return bad("attestation keys incomplete")
	case len(s.PINHash) != 0 && len(s.PINHash) != 16:
		return bad("PIN hash of %d bytes, want 16", len(s.PINHash))
	case s.PINRetries < 0 || s.PINRetries > MaxPINRetries:
		return bad("pinRetries %d out of range 0 to %d", s.PINRetries, MaxPINRetries)
	case len(s.PINHash) == 0 && (s.PINRetries != 0 || s.ForcePINChange || s.PINCodePoints != 0):
		return bad("PIN retries or flags without a PIN")
	case s.UVFailures < 0 || s.UVFailures > MaxUVRetries:
		return bad("uvFailures %d out of range 0 to %d", s.UVFailures, MaxUVRetries)
	case s.MinPINLength != 0 && (s.MinPINLength < MinPINLength || s.MinPINLength > 63):
		return bad("minPINLength %d out of range %d to 63", s.MinPINLength, MinPINLength)
	case s.PINCodePoints < 0 || s.PINCodePoints > 63:
		return bad("PIN length %d out of range", s.PINCodePoints)
	case len(s.PersistentToken) != 0 && len(s.PersistentToken) != 32:
		return bad("persistent pinUvAuthToken of %d bytes, want 32", len(s.PersistentToken))
	case len(s.DeviceID) != 0 && len(s.DeviceID) != 16, len(s.CredStoreState) != 0 && len(s.CredStoreState) != 16:
		return bad("device identifier or credential store state not 16 bytes")
	}
	return nil
}

// validateFingerprints is the part of validate after the credentials.
func (s *State) validateFingerprints() error {
	for i, f := range s.Fingerprints {
		if len(f.ID) == 0 {
			return fmt.Errorf("%w: fingerprint %d: no template ID", ErrCorruptState, i)
		}
	}
	return nil
}

// validate checks one credential; seq is the state's CreationSequence.
func (c *ResidentCredential) validate(seq uint64) error {
	switch {
	case len(c.ID) == 0 || len(c.ID) > maxCredentialIDLength:
		return fmt.Errorf("ID of %d bytes", len(c.ID))
	case c.RPID == "":
		return errors.New("no RP ID")
	case len(c.UserID) > 64:
		return fmt.Errorf("user ID of %d bytes, more than 64", len(c.UserID))
	case !supportedAlgorithm(c.Alg):
		return fmt.Errorf("algorithm %d", c.Alg)
	case len(c.PrivateKey) != privateKeyLength:
		return fmt.Errorf("private key of %d bytes", len(c.PrivateKey))
	case c.Sequence == 0 || c.Sequence > seq:
		return fmt.Errorf("sequence %d outside 1 to %d", c.Sequence, seq)
	case c.CredProtect > 3:
		return fmt.Errorf("credProtect %d", c.CredProtect)
	case len(c.LargeBlobKey) != 0 && len(c.LargeBlobKey) != 32:
		return fmt.Errorf("largeBlobKey of %d bytes", len(c.LargeBlobKey))
	case len(c.PublicKey) > 1024:
		return fmt.Errorf("public key of %d bytes", len(c.PublicKey))
	}
	return nil
}

// metaCopy returns a copy of s without its credentials, sharing nothing
// that the key changes in place (the slices are cloned; byte slices the
// key only ever replaces are shared).
func (s *State) metaCopy() *State {
	c := *s
	c.Credentials = nil
	if s.Attestation != nil {
		att := *s.Attestation
		c.Attestation = &att
	}
	c.MinPINLengthRPIDs = slices.Clone(s.MinPINLengthRPIDs)
	c.Fingerprints = slices.Clone(s.Fingerprints)
	return &c
}

// decodeLegacyJSON reads a state in the JSON form of the first release
// (one file rewritten whole on every save), for FileStore's migration.
func decodeLegacyJSON(b []byte) (*State, error) {
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptState, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrCorruptState)
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	sortBySequence(st.Credentials)
	return &st, nil
}

func sortBySequence(creds []ResidentCredential) {
	sorted := true // as a journal or a snapshot usually holds them
	for i := 1; i < len(creds) && sorted; i++ {
		sorted = creds[i-1].Sequence <= creds[i].Sequence
	}
	if sorted {
		return
	}
	slices.SortFunc(creds, func(x, y ResidentCredential) int { return cmpUint64(x.Sequence, y.Sequence) })
}

// MemoryStore is a Store in memory, for tests. It keeps its own copy of
// what was committed (the state outside the credentials is small; each
// credential is copied once, when it is put), so tests can inspect
// exactly what the key acknowledged.
type MemoryStore struct {
	mu      sync.Mutex
	meta    *State
	creds   map[string]ResidentCredential
	commits int
	err     error
	failIn  int // with err: the number of commits that still succeed
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Load implements Store: the state as last committed, its credentials in
// creation order.
func (m *MemoryStore) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.meta == nil {
		return nil, nil
	}
	st := m.meta.metaCopy()
	st.Credentials = make([]ResidentCredential, 0, len(m.creds))
	for _, c := range m.creds {
		st.Credentials = append(st.Credentials, c)
	}
	sortBySequence(st.Credentials)
	return st, nil
}

// Commit implements Store. It fails with the error set by FailSaves or
// FailAfter, if any, and then stores nothing.
func (m *MemoryStore) Commit(ch *Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		if m.failIn == 0 {
			return m.err
		}
		m.failIn--
	}
	if ch.State == nil {
		return errors.New("authenticator: commit without a state")
	}
	m.meta = ch.State.metaCopy()
	if ch.Clear || m.creds == nil {
		m.creds = make(map[string]ResidentCredential)
	}
	for _, id := range ch.Delete {
		delete(m.creds, string(id))
	}
	for _, c := range ch.Put {
		m.creds[string(c.ID)] = *c
	}
	m.commits++
	return nil
}

// State returns a copy of the last committed state, nil before the first
// Commit.
func (m *MemoryStore) State() *State {
	st, _ := m.Load()
	return st
}

// Saves counts the successful calls to Commit.
func (m *MemoryStore) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commits
}

// FailSaves makes every later Commit return err (nil restores saving), to
// test what the key answers when its storage fails.
func (m *MemoryStore) FailSaves(err error) { m.FailAfter(0, err) }

// FailAfter lets the next n Commits succeed and makes every later one
// return err; a nil err restores saving.
func (m *MemoryStore) FailAfter(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err, m.failIn = err, n
}
