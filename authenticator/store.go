package authenticator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// StateVersion is the version of the State layout this package writes.
// Fields are only ever added (with omitempty), so a newer package reads an
// older state; a state with a higher version than this package knows is
// refused rather than silently truncated.
const StateVersion = 1

// State is everything the authenticator keeps across power cycles. It is
// plain data with exported fields, serialised by FileStore with
// encoding/json. Later features (PIN hash and retries, large-blob array,
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

	// Credentials are the discoverable (resident) credentials, in no
	// particular order.
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
}

// Clone returns a deep copy of s, made by a JSON round trip so that fields
// added later are copied without touching this function.
func (s *State) Clone() (*State, error) {
	if s == nil {
		return nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("authenticator: copying state: %w", err)
	}
	return decodeState(b)
}

func decodeState(b []byte) (*State, error) {
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptState, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrCorruptState)
	}
	if st.Version < 1 || st.Version > StateVersion {
		return nil, fmt.Errorf("%w: state version %d, this build knows up to %d", ErrCorruptState, st.Version, StateVersion)
	}
	return &st, nil
}

// ErrCorruptState is wrapped by a Store's Load for state it cannot decode.
var ErrCorruptState = errors.New("authenticator: corrupt state")

// Store keeps the authenticator's State durably.
type Store interface {
	// Load returns the saved state, or (nil, nil) when nothing was saved
	// yet. The caller owns the returned State.
	Load() (*State, error)
	// Save replaces the saved state. It is durable when Save returns: a
	// response that depends on the state is sent only after that. Save
	// does not keep st.
	Save(st *State) error
}

// MemoryStore is a Store in memory. It keeps a deep copy of what was
// saved, so tests can inspect exactly what the key acknowledged.
type MemoryStore struct {
	mu    sync.Mutex
	state *State
	saves int
	err   error
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Load implements Store.
func (m *MemoryStore) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Clone()
}

// Save implements Store. It fails with the error set by FailSaves, if any.
func (m *MemoryStore) Save(st *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	c, err := st.Clone()
	if err != nil {
		return err
	}
	m.state = c
	m.saves++
	return nil
}

// State returns a deep copy of the last saved state, nil before the first
// Save.
func (m *MemoryStore) State() *State {
	st, _ := m.Load()
	return st
}

// Saves counts the successful calls to Save.
func (m *MemoryStore) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}

// FailSaves makes every later Save return err (nil restores saving), to
// test what the key answers when its storage fails.
func (m *MemoryStore) FailSaves(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// FileStore is a Store in one JSON file, for the daemon.
type FileStore struct {
	path string
	mu   sync.Mutex
}

// NewFileStore returns a FileStore for the file at path. The file is
// created by the first Save with mode 0600.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path returns the state file's path.
func (f *FileStore) Path() string { return f.path }

// Load implements Store. A missing file is (nil, nil); a file that does
// not decode is an error wrapping ErrCorruptState, and the file is left as
// it is.
func (f *FileStore) Load() (*State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authenticator: loading state: %w", err)
	}
	st, err := decodeState(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return st, nil
}

// Save implements Store: it writes a temporary file in the same directory,
// syncs it, renames it over the state file and syncs the directory, so the
// file always holds either the old or the new state.
func (f *FileStore) Save(st *State) (err error) {
	b, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return fmt.Errorf("authenticator: encoding state: %w", err)
	}
	b = append(b, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	if _, err = tmp.Write(b); err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	if err = os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("authenticator: saving state: syncing %s: %w", dir, err)
	}
	return nil
}
