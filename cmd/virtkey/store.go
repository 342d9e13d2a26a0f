package main

import (
	"slices"
	"sync"

	"github.com/virtkey/virtkey/authenticator"
)

// watchedStore is the authenticator's Store with a summary of the state it
// last loaded or saved, for `virtkey status`. Because the authenticator
// saves before it answers, the summary is what the key has acknowledged.
type watchedStore struct {
	authenticator.Store

	mu  sync.Mutex
	sum stateSummary
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
		w.note(st)
	}
	return st, err
}

// Save implements authenticator.Store.
func (w *watchedStore) Save(st *authenticator.State) error {
	err := w.Store.Save(st)
	if err == nil {
		w.note(st)
	}
	return err
}

func (w *watchedStore) note(st *authenticator.State) {
	sum := stateSummary{
		Credentials: len(st.Credentials),
		PINSet:      len(st.PINHash) > 0,
		SignCount:   st.SignCount,
		RPs:         []string{},
	}
	if sum.PINSet {
		sum.PINRetries = st.PINRetries
	}
	for _, c := range st.Credentials {
		if !slices.Contains(sum.RPs, c.RPID) {
			sum.RPs = append(sum.RPs, c.RPID)
		}
	}
	slices.Sort(sum.RPs)
	w.mu.Lock()
	w.sum = sum
	w.mu.Unlock()
}

func (w *watchedStore) summary() stateSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sum
	s.RPs = slices.Clone(s.RPs)
	return s
}
