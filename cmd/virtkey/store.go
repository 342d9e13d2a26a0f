package main

import (
	"slices"
	"sync"

	"github.com/virtkey/virtkey/authenticator"
)

// watchedStore is the authenticator's Store with a summary of the state it
// last loaded or committed, for `virtkey status`. Because the authenticator
// commits before it answers, the summary is what the key has acknowledged.
// A commit updates it by the size of the change: the credential count per
// RP is kept, and the sorted RP list is made only when status asks. The
// map of each credential's RP, which only a commit that puts or deletes a
// credential reads, is made from a FileStore's records when the first
// such commit comes, not at start-up (a quarter of a 100,000-credential
// daemon start-up's CPU).
type watchedStore struct {
	authenticator.Store

	mu        sync.Mutex
	pinSet    bool
	retries   int
	signCount uint32
	n         int               // credentials
	rpOf      map[string]string // credential ID to RP ID, but those of pending
	perRP     map[string]int    // credentials per RP ID
	// pending is the loaded records whose IDs are not in rpOf yet.
	pending *authenticator.CredentialRecords
}

// stateSummary is what `virtkey status` tells about the key's state.
type stateSummary struct {
	Credentials int      `json:"credentials"`
	RPs         []string `json:"rps"`
	PINSet      bool     `json:"pinSet"`
	PINRetries  int      `json:"pinRetries,omitempty"`
	SignCount   uint32   `json:"signCount"`
}

// Load implements authenticator.Store.
func (w *watchedStore) Load() (*authenticator.State, error) {
	st, err := w.Store.Load()
	if err == nil && st != nil {
		w.noteLoaded(st, nil)
	}
	return st, err
}

// LoadRecords implements authenticator.RecordLoader, so that the key
// gets a FileStore's credentials as the records it read; from another
// store they come in the State.
func (w *watchedStore) LoadRecords() (*authenticator.State, *authenticator.CredentialRecords, error) {
	rl, ok := w.Store.(authenticator.RecordLoader)
	if !ok {
		st, err := w.Load()
		return st, nil, err
	}
	st, recs, err := rl.LoadRecords()
	if err == nil && st != nil {
		w.noteLoaded(st, recs)
	}
	return st, recs, err
}

// noteLoaded makes the summary that of a loaded state, whose credentials
// are st's and recs'.
func (w *watchedStore) noteLoaded(st *authenticator.State, recs *authenticator.CredentialRecords) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n, w.rpOf, w.perRP, w.pending = 0, make(map[string]string, len(st.Credentials)), map[string]int{}, nil
	for i := range st.Credentials {
		w.add(&st.Credentials[i])
	}
	if recs.Len() > 0 {
		recs.RPs(func(rpID string, n int) { w.perRP[rpID] += n })
		w.n += recs.Len()
		w.pending = recs
	}
	w.noteMeta(st)
}

// Commit implements authenticator.Store.
func (w *watchedStore) Commit(ch *authenticator.Change) error {
	err := w.Store.Commit(ch)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch.Clear || w.rpOf == nil {
		w.n, w.rpOf, w.perRP, w.pending = 0, map[string]string{}, map[string]int{}, nil
	}
	if p := w.pending; p != nil && len(ch.Delete)+len(ch.Put) > 0 {
		// The records' IDs and RP IDs never change: kept without a copy.
		p.Each(func(id, rpID string) { w.rpOf[id] = rpID })
		w.pending = nil
	}
	for _, id := range ch.Delete {
		w.remove(string(id))
	}
	for _, c := range ch.Put {
		w.remove(string(c.ID))
		w.add(c)
	}
	w.noteMeta(ch.State)
	return nil
}

func (w *watchedStore) noteMeta(st *authenticator.State) {
	w.pinSet, w.retries, w.signCount = len(st.PINHash) > 0, st.PINRetries, st.SignCount
}

func (w *watchedStore) add(c *authenticator.ResidentCredential) {
	w.rpOf[string(c.ID)] = c.RPID
	w.perRP[c.RPID]++
	w.n++
}

func (w *watchedStore) remove(id string) {
	rp, ok := w.rpOf[id]
	if !ok {
		return
	}
	delete(w.rpOf, id)
	w.n--
	if w.perRP[rp]--; w.perRP[rp] == 0 {
		delete(w.perRP, rp)
	}
}

func (w *watchedStore) summary() stateSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := stateSummary{Credentials: w.n, PINSet: w.pinSet, SignCount: w.signCount, RPs: []string{}}
	if s.PINSet {
		s.PINRetries = w.retries
	}
	for rp := range w.perRP {
		s.RPs = append(s.RPs, rp)
	}
	slices.Sort(s.RPs)
	return s
}
