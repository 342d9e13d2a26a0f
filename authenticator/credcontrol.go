package authenticator

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// Credential controls: what a test of a relying party does to a key from
// outside the CTAP protocol, after Chromium DevTools' WebAuthn domain
// (addCredential, getCredentials, removeCredential, clearCredentials,
// setUserVerified, setCredentialProperties and the credentialAdded /
// credentialAsserted / credentialDeleted events). Each control takes the
// command lock, so it runs between commands, and goes through the Store:
// a credential it adds or removes is durable before it returns.

// BackupFlags are a credential's backup eligibility (BE) and backup state
// (BS) flags in authenticator data (WebAuthn L3 §6.1, §6.1.3): BE says
// the credential may be synced (a multi-device credential, a passkey that
// a provider backs up), BS that it is backed up now. BS without BE is not
// a valid combination (§6.1.3); SetBackupFlags refuses it.
type BackupFlags struct {
	Eligible bool // BE, flag bit 3
	State    bool // BS, flag bit 4
}

func (f BackupFlags) bits() ctap.AuthDataFlags {
	var b ctap.AuthDataFlags
	if f.Eligible {
		b |= ctap.FlagBE
	}
	if f.State {
		b |= ctap.FlagBS
	}
	return b
}

func (f BackupFlags) check() error {
	if f.State && !f.Eligible {
		return errors.New("authenticator: backup state (BS) without backup eligibility (BE) (WebAuthn §6.1.3)")
	}
	return nil
}

// CredentialEventKind says what happened to a credential.
type CredentialEventKind int

// Credential events.
const (
	// CredentialAdded: makeCredential stored or issued a credential, or
	// ImportCredential added one; sent once the state is saved (U2F
	// registrations are not reported).
	CredentialAdded CredentialEventKind = iota + 1
	// CredentialAsserted: getAssertion or getNextAssertion signed with a
	// credential (U2F authentications are not reported).
	CredentialAsserted
	// CredentialDeleted: credentialManagement deleteCredential,
	// authenticatorReset, RemoveCredential or ClearCredentials removed a
	// discoverable credential; sent once the state is saved.
	CredentialDeleted
	// CredentialsCleared: authenticatorReset or ClearCredentials replaced
	// the master secret, so every non-discoverable credential issued
	// before is gone too (the discoverable ones are reported one by one
	// as CredentialDeleted first).
	CredentialsCleared
)

func (k CredentialEventKind) String() string {
	switch k {
	case CredentialAdded:
		return "credentialAdded"
	case CredentialAsserted:
		return "credentialAsserted"
	case CredentialDeleted:
		return "credentialDeleted"
	case CredentialsCleared:
		return "credentialsCleared"
	}
	return fmt.Sprintf("CredentialEventKind(%d)", int(k))
}

// CredentialEvent is one credential event. It is delivered on the
// command's goroutine: a handler must not block and must not call back
// into the authenticator.
type CredentialEvent struct {
	Kind         CredentialEventKind
	CredentialID []byte
	RPID         string // empty when only the rpIdHash is known (non-discoverable, asserted)
	RPIDHash     [32]byte
	UserID       []byte // discoverable credentials only
	Resident     bool
	// SignCount is the signature counter of the authenticator data made
	// with the credential (Added, Asserted).
	SignCount uint32
	// PublicKey is the credential's public key (Added).
	PublicKey ctap.COSEKey
}

// credControl is the authenticator's side of the credential controls:
// the backup flags and the event handler. Per-credential backup flags are
// volatile: they are kept in memory for the life of this Authenticator
// (the key-wide flags come from Config and so survive a restart).
type credControl struct {
	mu      sync.Mutex
	backup  BackupFlags            // the key-wide default, Config.Backup
	perCred map[string]BackupFlags // credential ID -> override
	onEvent func(CredentialEvent)  // Config.OnCredentialEvent
}

func newCredControl(cfg Config) *credControl {
	return &credControl{backup: cfg.Backup, perCred: map[string]BackupFlags{}, onEvent: cfg.OnCredentialEvent}
}

// backupBits returns the BE and BS bits for the credential with id.
func (cc *credControl) backupBits(id []byte) ctap.AuthDataFlags { return cc.flags(id).bits() }

// flags returns the credential's own backup flags, or the key-wide ones.
func (cc *credControl) flags(id []byte) BackupFlags {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if f, ok := cc.perCred[string(id)]; ok {
		return f
	}
	return cc.backup
}

func (cc *credControl) emit(ev CredentialEvent) {
	if cc.onEvent != nil {
		ev.CredentialID = bytes.Clone(ev.CredentialID)
		ev.UserID = bytes.Clone(ev.UserID)
		cc.onEvent(ev)
	}
}

// emitAdded reports a credential makeCredential made, from its
// authenticator data.
func (cc *credControl) emitAdded(rpID string, rpIDHash [32]byte, id, userID []byte, resident bool, signCount uint32, pub ctap.COSEKey) {
	cc.emit(CredentialEvent{Kind: CredentialAdded, CredentialID: id, RPID: rpID, RPIDHash: rpIDHash,
		UserID: userID, Resident: resident, SignCount: signCount, PublicKey: pub})
}

// emitAsserted reports a signature with c.
func (cc *credControl) emitAsserted(rpIDHash [32]byte, c credentialRef, signCount uint32) {
	ev := CredentialEvent{Kind: CredentialAsserted, CredentialID: c.id, RPIDHash: rpIDHash, SignCount: signCount}
	if r := c.resident; r != nil {
		ev.RPID, ev.UserID, ev.Resident = r.RPID, r.UserID, true
	}
	cc.emit(ev)
}

// emitDeleted reports the discoverable credentials in gone.
func (cc *credControl) emitDeleted(gone []ResidentCredential) {
	for _, c := range gone {
		cc.emit(CredentialEvent{Kind: CredentialDeleted, CredentialID: c.ID, RPID: c.RPID,
			RPIDHash: sha256.Sum256([]byte(c.RPID)), UserID: c.UserID, Resident: true})
	}
}

// SetBackupFlags sets the BE and BS flags of every credential without its
// own (SetCredentialBackupFlags) in the authenticator data this key makes
// from now on.
func (a *Authenticator) SetBackupFlags(f BackupFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	a.cc.mu.Lock()
	a.cc.backup = f
	a.cc.mu.Unlock()
	return nil
}

// SetCredentialBackupFlags sets the BE and BS flags of one credential,
// discoverable or not, for as long as this Authenticator runs.
func (a *Authenticator) SetCredentialBackupFlags(id []byte, f BackupFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	a.cc.mu.Lock()
	a.cc.perCred[string(id)] = f
	a.cc.mu.Unlock()
	return nil
}

// ImportedCredential is a credential for ImportCredential to add.
type ImportedCredential struct {
	// RPID is the relying party the credential is for.
	RPID string
	// Resident makes a discoverable credential, stored in the key; else
	// the credential lives in its ID, sealed like one makeCredential
	// makes (credential.go), and nothing is stored.
	Resident bool
	// ID is the discoverable credential's ID (1 to 128 bytes); nil means
	// 32 random bytes. A non-discoverable credential's ID is always the
	// sealed key, so ID must be nil.
	ID []byte
	// UserID (1 to 64 bytes), UserName and UserDisplayName are the user
	// entity of a discoverable credential.
	UserID          []byte
	UserName        string
	UserDisplayName string
	// PrivateKey is an *ecdsa.PrivateKey on P-256 (ES256) or an
	// ed25519.PrivateKey (EdDSA); nil generates an ES256 key from
	// Config.Rand.
	PrivateKey crypto.Signer
	// CredProtect is the credProtect level (CTAP 2.1 §12.1), 0 or 1 to 3.
	CredProtect uint64
	// LargeBlobKey, when set, is the discoverable credential's
	// largeBlobKey (32 bytes, CTAP 2.1 §12.3).
	LargeBlobKey []byte
	// Backup is the credential's BE and BS flags; nil keeps the key-wide
	// ones.
	Backup *BackupFlags
}

// ErrNotDiscoverable is returned by RemoveCredential for an ID that is not
// a stored discoverable credential: a non-discoverable credential lives in
// its ID, so only ClearCredentials, which replaces the master secret,
// revokes it.
var ErrNotDiscoverable = errors.New("authenticator: not a stored discoverable credential")

// ImportCredential adds a credential with a given private key, as
// DevTools' WebAuthn.addCredential does, and returns its ID. A
// discoverable credential for the same RP ID and user ID replaces the
// stored one, as makeCredential would (CTAP 2.1 §6.1.2 step 17); a full
// store is ctap.StatusKeyStoreFull.
func (a *Authenticator) ImportCredential(ctx context.Context, c ImportedCredential) ([]byte, error) {
	if c.RPID == "" {
		return nil, errors.New("authenticator: import: no RP ID")
	}
	if c.CredProtect > credProtectUVRequired {
		return nil, fmt.Errorf("authenticator: import: credProtect %d", c.CredProtect)
	}
	if c.Backup != nil {
		if err := c.Backup.check(); err != nil {
			return nil, err
		}
	}
	ctx, release, ok := a.exclusive(ctx)
	if !ok {
		return nil, ctx.Err()
	}
	defer release()
	var k credentialKey
	var err error
	switch p := c.PrivateKey.(type) {
	case nil:
		k, err = generateKey(a.rand, ctap.AlgES256)
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("authenticator: import: %w: ECDSA keys must be on P-256", ctap.StatusUnsupportedAlgorithm)
		}
		var raw []byte
		if raw, err = p.Bytes(); err == nil {
			k = credentialKey{alg: ctap.AlgES256, priv: raw}
		}
	case ed25519.PrivateKey:
		k = credentialKey{alg: ctap.AlgEdDSA, priv: bytes.Clone(p.Seed())}
	default:
		return nil, fmt.Errorf("authenticator: import: %w: a %T key", ctap.StatusUnsupportedAlgorithm, c.PrivateKey)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticator: import: %w", err)
	}
	pub, err := k.publicKey()
	if err != nil {
		return nil, err
	}
	rpIDHash := sha256.Sum256([]byte(c.RPID))
	var id []byte
	if !c.Resident {
		if c.ID != nil {
			return nil, errors.New("authenticator: import: a non-discoverable credential's ID is its sealed key; leave ID nil")
		}
		k.flags = byte(c.CredProtect) & sealedFlagCredProtect
		if id, err = sealCredentialID(a.sealer, a.rand, rpIDHash, k); err != nil {
			return nil, err
		}
	} else {
		if n := len(c.UserID); n < 1 || n > ctap.MaxUserIDLength {
			return nil, fmt.Errorf("authenticator: import: user ID of %d bytes", n)
		}
		if c.ID != nil && (len(c.ID) == 0 || len(c.ID) > maxCredentialIDLength) {
			return nil, fmt.Errorf("authenticator: import: credential ID of %d bytes", len(c.ID))
		}
		if c.LargeBlobKey != nil && len(c.LargeBlobKey) != 32 {
			return nil, fmt.Errorf("authenticator: import: largeBlobKey of %d bytes", len(c.LargeBlobKey))
		}
		id = bytes.Clone(c.ID)
		if id == nil {
			if id, err = a.newResidentID(); err != nil {
				return nil, err
			}
		}
		// It replaces the credential with its ID and the one of the
		// same RP and user, if any.
		var replace []*ResidentCredential
		if r := a.creds.byCredentialID(id); r != nil {
			replace = append(replace, r)
		}
		if r := a.creds.forUser(c.RPID, c.UserID); r != nil {
			replace = append(replace, r)
		}
		if len(replace) == 0 && a.creds.len() >= a.maxCreds {
			return nil, ctap.StatusKeyStoreFull
		}
		rc := ResidentCredential{
			ID: id, RPID: c.RPID, UserID: bytes.Clone(c.UserID),
			UserName: truncate(c.UserName), UserDisplayName: truncate(c.UserDisplayName),
			Alg: k.alg, PrivateKey: k.priv, Created: a.now().UTC(),
			CredProtect: c.CredProtect, LargeBlobKey: bytes.Clone(c.LargeBlobKey),
		}
		a.state.CreationSequence++
		rc.Sequence = a.state.CreationSequence
		for _, r := range replace {
			a.creds.remove(r.ID)
		}
		a.creds.put(&rc)
		if err := a.save(); err != nil {
			return nil, err
		}
	}
	if c.Backup != nil {
		a.cc.mu.Lock()
		a.cc.perCred[string(id)] = *c.Backup
		a.cc.mu.Unlock()
	}
	a.cc.emitAdded(c.RPID, rpIDHash, id, c.UserID, c.Resident, 0, pub)
	return id, nil
}

// StoredCredential describes a discoverable credential the key holds.
type StoredCredential struct {
	ID              []byte
	RPID            string
	UserID          []byte
	UserName        string
	UserDisplayName string
	Alg             int64
	PublicKey       ctap.COSEKey
	Created         time.Time
	CredProtect     uint64
	HasLargeBlobKey bool
	Backup          BackupFlags
}

// Credentials lists the discoverable credentials the key holds, oldest
// first. Non-discoverable credentials are not stored and so not listed.
func (a *Authenticator) Credentials(ctx context.Context) ([]StoredCredential, error) {
	ctx, release, ok := a.exclusive(ctx)
	if !ok {
		return nil, ctx.Err()
	}
	defer release()
	creds := a.creds.all() // oldest first
	out := make([]StoredCredential, 0, len(creds))
	for _, c := range creds {
		k := credentialKey{alg: c.Alg, priv: c.PrivateKey}
		pub, err := k.publicKey()
		if err != nil {
			return nil, err
		}
		out = append(out, StoredCredential{
			ID: bytes.Clone(c.ID), RPID: c.RPID, UserID: bytes.Clone(c.UserID),
			UserName: c.UserName, UserDisplayName: c.UserDisplayName, Alg: c.Alg,
			PublicKey: pub, Created: c.Created, CredProtect: c.CredProtect,
			HasLargeBlobKey: c.LargeBlobKey != nil, Backup: a.cc.flags(c.ID),
		})
	}
	return out, nil
}

// SignCount returns the key's signature counter: this key keeps one
// global counter (WebAuthn §6.1.1 allows it), which every credential's
// next authenticator data carries plus one.
func (a *Authenticator) SignCount(ctx context.Context) (uint32, error) {
	ctx, release, ok := a.exclusive(ctx)
	if !ok {
		return 0, ctx.Err()
	}
	defer release()
	return a.state.SignCount, nil
}

// RemoveCredential deletes the discoverable credential with id, durably,
// as credentialManagement deleteCredential would (CTAP 2.1 §6.8.5). An ID
// that is not a stored discoverable credential is ErrNotDiscoverable.
func (a *Authenticator) RemoveCredential(ctx context.Context, id []byte) error {
	ctx, release, ok := a.exclusive(ctx)
	if !ok {
		return ctx.Err()
	}
	defer release()
	c := a.creds.byCredentialID(id)
	if c == nil {
		return ErrNotDiscoverable
	}
	gone := *c
	a.creds.remove(id)
	a.rt.pending, a.rt.credMan = nil, nil
	if err := a.save(); err != nil {
		return err
	}
	a.cc.emitDeleted([]ResidentCredential{gone})
	return nil
}

// ClearCredentials removes every credential: the discoverable ones are
// deleted and the master secret replaced, so every non-discoverable
// credential ID stops opening, as after authenticatorReset; unlike a
// reset it keeps the PIN, the configuration, the large-blob array and
// the fingerprints, and needs no touch.
func (a *Authenticator) ClearCredentials(ctx context.Context) error {
	ctx, release, ok := a.exclusive(ctx)
	if !ok {
		return ctx.Err()
	}
	defer release()
	secret, sealer, err := a.newMasterSecret() // reset.go
	if err != nil {
		return err
	}
	gone := a.creds.all()
	a.state.MasterSecret = secret
	a.creds.clear()
	a.sealer = sealer
	a.rt.pending, a.rt.credMan = nil, nil
	if err := a.save(); err != nil {
		return err
	}
	a.cc.mu.Lock()
	clear(a.cc.perCred)
	a.cc.mu.Unlock()
	a.cc.emitDeleted(gone)
	a.cc.emit(CredentialEvent{Kind: CredentialsCleared})
	return nil
}

// emitAdded reports the credential makeCredential made, with the public
// key and signature counter of its authenticator data.
func (hs *makeCredentialState) emitAdded() {
	var userID []byte
	if hs.resident != nil {
		userID = hs.resident.UserID
	}
	hs.a.cc.emitAdded(hs.req.RP.ID, hs.rpIDHash, hs.credID, userID, hs.resident != nil, hs.signCount, hs.pub)
}

// CredentialBackupFlags returns the BE and BS flags the credential with id
// gets: its own, or the key-wide ones.
func (a *Authenticator) CredentialBackupFlags(id []byte) BackupFlags { return a.cc.flags(id) }
