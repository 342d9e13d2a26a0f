package virtkeytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/webauthn"
)

// Controls for testing relying parties, after Chromium DevTools' WebAuthn
// domain: a ready WebAuthn client, credentials added, listed and removed
// from outside the protocol, user verification and presence outcomes,
// backup flags, and events a test can wait on.

var seeds struct {
	mu sync.Mutex
	n  map[string]int
}

// seedFor returns a seed no other key of this process got: the test's name
// (when tb has one) and how many keys were made for that name before.
func seedFor(tb TB) string {
	name := "virtkeytest"
	if n, ok := tb.(interface{ Name() string }); ok {
		name = n.Name()
	}
	seeds.mu.Lock()
	defer seeds.mu.Unlock()
	if seeds.n == nil {
		seeds.n = map[string]int{}
	}
	seeds.n[name]++
	return fmt.Sprintf("%s#%d", name, seeds.n[name])
}

// WebAuthn returns a WebAuthn client (the browser's part) for origin on
// this key, with platform randomness derived from the key's seed. opts
// add to or override that, for example webauthn.WithPIN.
func (k *Key) WebAuthn(origin string, opts ...webauthn.Option) *webauthn.Client {
	k.tb.Helper()
	all := append([]webauthn.Option{webauthn.WithRand(NewRand(k.Seed + "/webauthn"))}, opts...)
	c, err := webauthn.NewClient(k.Ctap2, origin, all...)
	if err != nil {
		k.tb.Fatalf("virtkeytest: WebAuthn(%q): %v", origin, err)
	}
	return c
}

// Credential is a credential of the key as a test sees it.
type Credential struct {
	ID              []byte
	RPID            string // empty for a non-discoverable credential whose RP ID the key never saw in clear
	RPIDHash        [32]byte
	UserID          []byte
	UserName        string
	UserDisplayName string
	Resident        bool
	PublicKey       ctap.COSEKey
	// SignCount is the signature counter of the last authenticator data
	// made with the credential (0 for one imported and not used yet).
	// The key keeps one global counter, so it grows by more than one
	// between two uses when other credentials were used in between.
	SignCount uint32
	Backup    authenticator.BackupFlags
}

// events records the key's credential events and the credentials they
// tell of; it lives as long as the Key, across power cycles.
type events struct {
	mu sync.Mutex
	// changed is closed when an event comes, if someone waits for one;
	// nil when nobody does.
	changed chan struct{}
	// log holds the recent events: the last maxEvents are kept (up to
	// twice as many are held); first is the number of the first one,
	// counting every event since the start.
	log   []authenticator.CredentialEvent
	first int
	taken int // the number of the event after the last WaitEvent returned
	creds map[string]*Credential
	order []string
}

// maxEvents is how many credential events a Key keeps for Events and
// WaitEvent: a key that runs for long (a benchmark) does not keep them
// all.
const maxEvents = 1024

// newEvents makes cfg report to a new event log (after any handler cfg
// already had).
func newEvents(cfg *authenticator.Config) *events {
	e := &events{creds: map[string]*Credential{}}
	prev := cfg.OnCredentialEvent
	cfg.OnCredentialEvent = func(ev authenticator.CredentialEvent) {
		if prev != nil {
			prev(ev)
		}
		e.add(ev)
	}
	return e
}

func (e *events) add(ev authenticator.CredentialEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.log) == 2*maxEvents {
		n := copy(e.log, e.log[maxEvents:])
		clear(e.log[n:])
		e.log = e.log[:n]
		e.first += maxEvents
	}
	e.log = append(e.log, ev)
	switch ev.Kind {
	case authenticator.CredentialAdded:
		id := string(ev.CredentialID)
		if _, ok := e.creds[id]; !ok {
			e.order = append(e.order, id)
		}
		e.creds[id] = &Credential{ID: ev.CredentialID, RPID: ev.RPID, RPIDHash: ev.RPIDHash, UserID: ev.UserID,
			Resident: ev.Resident, PublicKey: ev.PublicKey, SignCount: ev.SignCount}
	case authenticator.CredentialAsserted:
		if c, ok := e.creds[string(ev.CredentialID)]; ok {
			c.SignCount = ev.SignCount
		}
	case authenticator.CredentialDeleted:
		delete(e.creds, string(ev.CredentialID))
	case authenticator.CredentialsCleared:
		clear(e.creds)
	}
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// Events returns the credential events so far, oldest first: the last
// 1024 of them.
func (k *Key) Events() []authenticator.CredentialEvent {
	k.events.mu.Lock()
	defer k.events.mu.Unlock()
	log := k.events.log
	if len(log) > maxEvents {
		log = log[len(log)-maxEvents:]
	}
	return append([]authenticator.CredentialEvent(nil), log...)
}

// WaitEvent returns the oldest event of kind that no WaitEvent call
// returned before, waiting for one until ctx ends. Events of other kinds
// before it are passed over. Of the events that came before the last
// 1024, only those still held (up to 1024 more) are looked at.
func (k *Key) WaitEvent(ctx context.Context, kind authenticator.CredentialEventKind) (authenticator.CredentialEvent, error) {
	e := k.events
	for {
		e.mu.Lock()
		for i := max(e.taken-e.first, 0); i < len(e.log); i++ {
			if e.log[i].Kind == kind {
				e.taken = e.first + i + 1
				ev := e.log[i]
				e.mu.Unlock()
				return ev, nil
			}
		}
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return authenticator.CredentialEvent{}, fmt.Errorf("virtkeytest: waiting for %v: %w", kind, ctx.Err())
		}
	}
}

func (k *Key) authenticator() *authenticator.Authenticator {
	k.tb.Helper()
	a, err := k.Key()
	if err != nil {
		k.tb.Fatalf("virtkeytest: %v", err)
	}
	return a
}

// AddCredential adds a credential with a given private key (discoverable
// when c.Resident) and returns its ID; see
// authenticator.ImportCredential.
func (k *Key) AddCredential(c authenticator.ImportedCredential) []byte {
	k.tb.Helper()
	id, err := k.authenticator().ImportCredential(context.Background(), c)
	if err != nil {
		k.tb.Fatalf("virtkeytest: AddCredential: %v", err)
	}
	k.events.mu.Lock()
	if cr, ok := k.events.creds[string(id)]; ok {
		cr.UserName, cr.UserDisplayName = c.UserName, c.UserDisplayName
	}
	k.events.mu.Unlock()
	return id
}

// Credentials lists the key's credentials, in the order they were added:
// the discoverable ones the key stores, and the non-discoverable ones made
// or added since New (the key does not store those: they live in their
// IDs). Each carries the sign count of its last use.
func (k *Key) Credentials() []Credential {
	k.tb.Helper()
	a := k.authenticator()
	stored, err := a.Credentials(context.Background())
	if err != nil {
		k.tb.Fatalf("virtkeytest: Credentials: %v", err)
	}
	e := k.events
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Credential
	seen := map[string]bool{}
	for _, id := range e.order {
		c, ok := e.creds[id]
		if !ok {
			continue
		}
		if c.Resident {
			i := indexStored(stored, c.ID)
			if i < 0 {
				continue
			}
			s := stored[i]
			c.RPID, c.UserID, c.UserName, c.UserDisplayName = s.RPID, s.UserID, s.UserName, s.UserDisplayName
		}
		cc := *c
		cc.Backup = backupOf(a, c, stored)
		out = append(out, cc)
		seen[id] = true
	}
	// Discoverable credentials made before New's key saw events (a store
	// carried over) are listed too.
	for _, s := range stored {
		if !seen[string(s.ID)] {
			out = append(out, Credential{ID: s.ID, RPID: s.RPID, RPIDHash: sha256.Sum256([]byte(s.RPID)), UserID: s.UserID,
				UserName: s.UserName, UserDisplayName: s.UserDisplayName, Resident: true, PublicKey: s.PublicKey, Backup: s.Backup})
		}
	}
	return out
}

func indexStored(stored []authenticator.StoredCredential, id []byte) int {
	for i, s := range stored {
		if bytes.Equal(s.ID, id) {
			return i
		}
	}
	return -1
}

func backupOf(a *authenticator.Authenticator, c *Credential, stored []authenticator.StoredCredential) authenticator.BackupFlags {
	if i := indexStored(stored, c.ID); i >= 0 {
		return stored[i].Backup
	}
	return a.CredentialBackupFlags(c.ID)
}

// RemoveCredential deletes a discoverable credential; a non-discoverable
// one cannot be removed alone (authenticator.ErrNotDiscoverable).
func (k *Key) RemoveCredential(id []byte) error {
	return k.authenticator().RemoveCredential(context.Background(), id)
}

// ClearCredentials removes every credential of both kinds.
func (k *Key) ClearCredentials() {
	k.tb.Helper()
	if err := k.authenticator().ClearCredentials(context.Background()); err != nil {
		k.tb.Fatalf("virtkeytest: ClearCredentials: %v", err)
	}
}

// SetBackupFlags sets the BE and BS flags of every credential without its
// own, for as long as this authenticator runs (Config.Backup sets them for
// good).
func (k *Key) SetBackupFlags(f authenticator.BackupFlags) error {
	return k.authenticator().SetBackupFlags(f)
}

// SetCredentialBackupFlags sets one credential's BE and BS flags until the
// next power cycle.
func (k *Key) SetCredentialBackupFlags(id []byte, f authenticator.BackupFlags) error {
	return k.authenticator().SetCredentialBackupFlags(id, f)
}

// SetUserVerified makes the next built-in user verifications match or
// not, as DevTools' setUserVerified does (Config.BuiltInUV keys).
func (k *Key) SetUserVerified(ok bool) error {
	if ok {
		return k.SetUV(control.UVMatch)
	}
	return k.SetUV(control.UVNoMatch)
}
