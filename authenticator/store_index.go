package authenticator

import (
	"crypto/sha256"
	"fmt"
	"slices"
)

// credIndex is the running key's discoverable credentials, indexed by
// credential ID and by rpIdHash, with the changes since the last commit.
// Every lookup a command makes costs the credentials of one RP at most,
// never all of them: getAssertion without an allowList reads its RP's
// list, with one it looks IDs up, and credentialManagement walks the RPs
// once and each RP's credentials once (O(total) for a whole enumeration).
type credIndex struct {
	byID   map[string]*ResidentCredential
	byRP   map[[32]byte]*rpCredentials
	rpByID map[string]*rpCredentials // byRP by RP ID: one hash per RP, not per credential
	// byUser is by RP ID, NUL, user ID; nil until forUser first needs it,
	// so that start-up does not build a map that only makeCredential and
	// credentialManagement's updateUserInformation read.
	byUser map[string]*ResidentCredential

	// The change since the last commit (Change.Clear, Delete, Put).
	cleared bool
	dirty   map[string]*ResidentCredential // put; nil value: deleted
}

// rpCredentials is one RP's credentials in creation order (ascending
// Sequence).
type rpCredentials struct {
	rpID  string
	hash  [32]byte
	creds []*ResidentCredential
	// byProtect counts creds by credProtect level (index 1 to 3), so that
	// getAssertion knows how many it may use without looking at each.
	byProtect [4]int
}

// newCredIndex indexes creds, which it takes over; it sorts them by
// Sequence first. Two credentials with one ID are ErrCorruptState.
func newCredIndex(creds []ResidentCredential) (*credIndex, error) {
	x := &credIndex{
		byID:   make(map[string]*ResidentCredential, len(creds)),
		byRP:   make(map[[32]byte]*rpCredentials, len(creds)/8),
		rpByID: make(map[string]*rpCredentials, len(creds)/8),
		dirty:  make(map[string]*ResidentCredential),
	}
	sortBySequence(creds)
	// What insert does, in two passes so that every RP's list is carved
	// from one array rather than grown one append at a time: first each
	// credential's RP and the RPs' sizes, then the lists.
	rpOf := make([]*rpCredentials, len(creds))
	for i := range creds {
		c := &creds[i]
		x.byID[aliasID(c.ID)] = c
		if len(x.byID) != i+1 {
			return nil, fmt.Errorf("%w: credential %d: duplicate ID", ErrCorruptState, i)
		}
		r := x.rpByID[c.RPID]
		if r == nil {
			r = &rpCredentials{rpID: c.RPID, hash: sha256.Sum256([]byte(c.RPID))}
			x.byRP[r.hash] = r
			x.rpByID[r.rpID] = r
		}
		r.byProtect[c.credProtectLevel()]++
		rpOf[i] = r
	}
	lists := make([]*ResidentCredential, len(creds))
	for i, r := range rpOf {
		if r.creds == nil {
			n := r.byProtect[0] + r.byProtect[1] + r.byProtect[2] + r.byProtect[3]
			// Capped: a later insert into one RP's list copies it
			// rather than writing over the next RP's.
			r.creds, lists = lists[:0:n], lists[n:]
		}
		r.creds = append(r.creds, &creds[i]) // in Sequence order, as insert keeps them
	}
	return x, nil
}

// len is the number of discoverable credentials.
func (x *credIndex) len() int { return len(x.byID) }

// byCredentialID returns the credential with that ID, or nil.
func (x *credIndex) byCredentialID(id []byte) *ResidentCredential { return x.byID[string(id)] }

// forRP returns the credentials of the RP with that rpIdHash, oldest
// first, or nil. The caller must not change the slice.
func (x *credIndex) forRP(rpIDHash [32]byte) []*ResidentCredential {
	if r := x.byRP[rpIDHash]; r != nil {
		return r.creds
	}
	return nil
}

// rp returns the RP with that rpIdHash, or nil.
func (x *credIndex) rp(rpIDHash [32]byte) *rpCredentials { return x.byRP[rpIDHash] }

// forUser returns the credential of that RP and user, or nil
// (makeCredential replaces it, CTAP 2.1 §6.1.2 step 17).
func (x *credIndex) forUser(rpID string, userID []byte) *ResidentCredential {
	if x.byUser == nil {
		x.byUser = make(map[string]*ResidentCredential, len(x.byID))
		for _, c := range x.byID {
			// As insert leaves it: the newest of one RP and user.
			k := userKey(c.RPID, c.UserID)
			if o := x.byUser[k]; o == nil || o.Sequence < c.Sequence {
				x.byUser[k] = c
			}
		}
	}
	return x.byUser[userKey(rpID, userID)]
}

func userKey(rpID string, userID []byte) string { return rpID + "\x00" + string(userID) }

// rps returns every RP that has credentials, ordered by its oldest
// credential.
func (x *credIndex) rps() []*rpCredentials {
	rps := make([]*rpCredentials, 0, len(x.byRP))
	for _, r := range x.byRP {
		rps = append(rps, r)
	}
	slices.SortFunc(rps, func(p, q *rpCredentials) int { return cmpUint64(p.creds[0].Sequence, q.creds[0].Sequence) })
	return rps
}

// put adds c, whose Sequence is larger than any stored one, or replaces
// the credential with its ID.
func (x *credIndex) put(c *ResidentCredential) {
	x.remove(c.ID)
	x.insert(c)
	x.dirty[string(c.ID)] = c
}

// remove deletes the credential with that ID, if there is one.
func (x *credIndex) remove(id []byte) {
	c := x.byID[string(id)]
	if c == nil {
		return
	}
	delete(x.byID, string(id))
	if x.byUser != nil {
		if k := userKey(c.RPID, c.UserID); x.byUser[k] == c {
			delete(x.byUser, k)
		}
	}
	r := x.rpByID[c.RPID]
	if i := slices.Index(r.creds, c); i >= 0 {
		r.creds = slices.Delete(r.creds, i, i+1)
		r.byProtect[c.credProtectLevel()]--
	}
	if len(r.creds) == 0 {
		delete(x.byRP, r.hash)
		delete(x.rpByID, r.rpID)
	}
	x.dirty[string(id)] = nil
}

// clear deletes every credential (authenticatorReset).
func (x *credIndex) clear() {
	clear(x.byID)
	clear(x.byRP)
	clear(x.rpByID)
	clear(x.byUser)
	clear(x.dirty)
	x.cleared = true
}

func (x *credIndex) insert(c *ResidentCredential) {
	x.byID[aliasID(c.ID)] = c
	if x.byUser != nil {
		x.byUser[userKey(c.RPID, c.UserID)] = c
	}
	r := x.rpByID[c.RPID]
	if r == nil {
		r = &rpCredentials{rpID: c.RPID, hash: sha256.Sum256([]byte(c.RPID))}
		x.byRP[r.hash] = r
		x.rpByID[r.rpID] = r
	}
	// Credentials arrive in creation order, except when an older one is
	// updated in place; keep the list sorted either way.
	i := len(r.creds)
	for i > 0 && r.creds[i-1].Sequence > c.Sequence {
		i--
	}
	r.creds = slices.Insert(r.creds, i, c)
	r.byProtect[c.credProtectLevel()]++
}

// change fills ch with the credential changes since the last commit.
func (x *credIndex) change(ch *Change) {
	ch.Clear = x.cleared
	for id, c := range x.dirty {
		if c == nil {
			ch.Delete = append(ch.Delete, []byte(id))
		} else {
			ch.Put = append(ch.Put, c)
		}
	}
}

// committed forgets the changes once the store has them.
func (x *credIndex) committed() {
	x.cleared = false
	clear(x.dirty)
}

// all returns every credential in creation order, for tests and export.
func (x *credIndex) all() []ResidentCredential {
	out := make([]ResidentCredential, 0, len(x.byID))
	for _, c := range x.byID {
		out = append(out, *c)
	}
	sortBySequence(out)
	return out
}

// aliasID is a credential ID as a map key without a copy: the string
// shares id's bytes. A credential ID is never changed in place once the
// credential exists (it is made once by makeCredential, or decoded into
// the state file's buffer, which nothing writes to), and the maps keyed
// this way hold the credential, so the bytes live and stay as long as the
// key. At 100,000 credentials this saves two allocations a credential at
// start-up (docs/store.md, "Scale and speed").
func aliasID(id []byte) string { return aliasText(id) }
