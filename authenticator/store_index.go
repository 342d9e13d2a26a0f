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
//
// The credentials read from a state file stay records in its buffer
// (credTable), each decoded when a command uses it; the index holds a
// fixed-size entry without pointers for each, and lists and maps of entry
// numbers, so that the garbage collector has next to nothing to follow
// however many credentials there are. A credential put since, or given
// as a ResidentCredential (MemoryStore), is held as one.
type credIndex struct {
	buf   []byte      // the table's buffer, which its entries point into
	rpIDs []string    // the table's RP IDs
	ents  []credEntry // by credRef
	heap  []*ResidentCredential
	// free is the entries of removed credentials of heap, for insert to
	// reuse. The table's entries are never written: CredentialRecords.Each
	// reads them.
	free []credRef
	byID idMap // of credRefs
	byRP map[[32]byte]*rpCredentials
	// rpByID is byRP by RP ID: one hash per RP, not per credential.
	rpByID map[string]*rpCredentials
	// byUser is by RP ID, NUL, user ID; nil until forUser first needs it,
	// so that start-up does not build a map that only makeCredential and
	// credentialManagement's updateUserInformation read.
	byUser map[string]credRef

	// The change since the last commit (Change.Clear, Delete, Put).
	cleared bool
	dirty   map[string]*ResidentCredential // put; nil value: deleted
}

// credRef is a credential of a credIndex: the number of its entry.
type credRef int32

// rpCredentials is one RP's credentials in creation order (ascending
// Sequence).
type rpCredentials struct {
	x     *credIndex
	rpID  string
	hash  [32]byte
	creds []credRef
	// byProtect counts creds by credProtect level (index 1 to 3), so that
	// getAssertion knows how many it may use without looking at each.
	byProtect [4]int
}

// len is the number of the RP's credentials.
func (r *rpCredentials) len() int { return len(r.creds) }

// cred returns the RP's i'th credential, oldest first. A stored
// credential is decoded anew each time: the caller may keep it, and must
// not change it.
func (r *rpCredentials) cred(i int) *ResidentCredential { return r.x.cred(r.creds[i]) }

// protect is the credProtect level of the RP's i'th credential.
func (r *rpCredentials) protect(i int) uint64 { return uint64(r.x.ents[r.creds[i]].prot) }

// newCredIndex indexes the credentials of tab, which may be nil, and
// creds, all of which it takes over, in order of Sequence. Two
// credentials with one ID are ErrCorruptState.
func newCredIndex(tab *credTable, creds []ResidentCredential) (*credIndex, error) {
	return buildCredIndex(tab, creds, 0)
}

// buildCredIndex is newCredIndex with byID's narrow (tests make IDs
// collide with it).
func buildCredIndex(tab *credTable, creds []ResidentCredential, narrow uint8) (*credIndex, error) {
	x := &credIndex{dirty: make(map[string]*ResidentCredential)}
	live, sorted := 0, true
	if tab != nil {
		// Dead entries stay in ents, in neither the map nor a list.
		x.buf, x.ents, x.rpIDs = tab.buf, tab.ents, tab.rpIDs
		live, sorted = tab.live, tab.sorted
	}
	if len(creds) > 0 {
		x.ents = slices.Clip(x.ents) // the table's entries are not written
		sortBySequence(creds)
		x.heap = make([]*ResidentCredential, len(creds))
		for i := range creds {
			c := &creds[i]
			x.heap[i] = c
			x.ents = append(x.ents, credEntry{rec: uint32(i), seq: c.Sequence, prot: uint8(c.credProtectLevel()), heap: true})
		}
		live += len(creds)
		sorted = sorted && live == len(creds)
	}
	idOf := func(v int32) []byte { return x.id(credRef(v)) }
	// The table's map of its entries, when it is all there is.
	taken := tab != nil && len(creds) == 0 && tab.ids.slots != nil && narrow == 0
	if taken {
		x.byID, tab.ids = tab.ids, idMap{}
		x.byID.idOf = idOf
	} else {
		x.byID = newIDMap(live, idOf)
		x.byID.narrow = narrow
	}
	x.byRP = make(map[[32]byte]*rpCredentials, live/8)
	x.rpByID = make(map[string]*rpCredentials, live/8)
	// What insert does, in two passes so that every RP's list is carved
	// from one array rather than grown one append at a time: first each
	// credential's RP and the RPs' sizes, then the lists.
	rpOf := make([]*rpCredentials, len(x.ents))
	byNum := make([]*rpCredentials, len(x.rpIDs)) // the table's RPs by number
	for i := range x.ents {
		e := &x.ents[i]
		if e.dead {
			continue
		}
		ref := credRef(i)
		if !taken { // the journal's map is by ID: no two are the same
			id := x.id(ref)
			if _, dup := x.byID.add(x.byID.hash(id), id, int32(ref)); dup {
				return nil, fmt.Errorf("%w: credential %d: duplicate ID", ErrCorruptState, i)
			}
		}
		var r *rpCredentials
		if e.heap {
			r = x.rpByID[x.rpID(ref)]
		} else {
			r = byNum[e.rpn]
		}
		if r == nil {
			rpID := x.rpID(ref)
			r = &rpCredentials{x: x, rpID: rpID, hash: sha256.Sum256([]byte(rpID))}
			x.byRP[r.hash] = r
			x.rpByID[r.rpID] = r
			if !e.heap {
				byNum[e.rpn] = r
			}
		}
		r.byProtect[e.prot]++
		rpOf[i] = r
	}
	lists := make([]credRef, live)
	for i, r := range rpOf {
		if r == nil {
			continue
		}
		if r.creds == nil {
			m := r.byProtect[0] + r.byProtect[1] + r.byProtect[2] + r.byProtect[3]
			// Capped: a later insert into one RP's list copies it
			// rather than writing over the next RP's.
			r.creds, lists = lists[:0:m], lists[m:]
		}
		r.creds = append(r.creds, credRef(i))
	}
	if !sorted {
		// In Sequence order, as insert keeps them.
		for _, r := range x.byRP {
			slices.SortStableFunc(r.creds, func(p, q credRef) int { return cmpUint64(x.ents[p].seq, x.ents[q].seq) })
		}
	}
	return x, nil
}

// cred returns the credential ref refers to. A stored one is decoded anew
// each time: the caller may keep it, and must not change it.
func (x *credIndex) cred(ref credRef) *ResidentCredential {
	e := &x.ents[ref]
	if e.heap {
		return x.heap[e.rec]
	}
	return e.decode(x.buf)
}

// id is the credential ID of ref.
func (x *credIndex) id(ref credRef) []byte {
	e := &x.ents[ref]
	if e.heap {
		return x.heap[e.rec].ID
	}
	return e.idIn(x.buf)
}

// rpID is the RP ID of ref; a stored credential's aliases the buffer.
func (x *credIndex) rpID(ref credRef) string {
	e := &x.ents[ref]
	if e.heap {
		return x.heap[e.rec].RPID
	}
	return x.rpIDs[e.rpn]
}

// userID is the user ID of ref.
func (x *credIndex) userID(ref credRef) []byte {
	e := &x.ents[ref]
	if e.heap {
		return x.heap[e.rec].UserID
	}
	return x.buf[e.user : e.user+e.userN : e.user+e.userN]
}

// len is the number of discoverable credentials.
func (x *credIndex) len() int { return x.byID.len() }

// byCredentialID returns the credential with that ID, or nil.
func (x *credIndex) byCredentialID(id []byte) *ResidentCredential {
	if ref, ok := x.byID.get(id); ok {
		return x.cred(credRef(ref))
	}
	return nil
}

// rp returns the RP with that rpIdHash, or nil.
func (x *credIndex) rp(rpIDHash [32]byte) *rpCredentials { return x.byRP[rpIDHash] }

// forUser returns the credential of that RP and user, or nil
// (makeCredential replaces it, CTAP 2.1 §6.1.2 step 17).
func (x *credIndex) forUser(rpID string, userID []byte) *ResidentCredential {
	if x.byUser == nil {
		x.byUser = make(map[string]credRef, x.byID.len())
		x.byID.all(func(v int32) bool {
			ref := credRef(v)
			// As insert leaves it: the newest of one RP and user.
			k := userKey(x.rpID(ref), x.userID(ref))
			if o, ok := x.byUser[k]; !ok || x.ents[o].seq < x.ents[ref].seq {
				x.byUser[k] = ref
			}
			return true
		})
	}
	if ref, ok := x.byUser[userKey(rpID, userID)]; ok {
		return x.cred(ref)
	}
	return nil
}

func userKey(rpID string, userID []byte) string { return rpID + "\x00" + string(userID) }

// rps returns every RP that has credentials, ordered by its oldest
// credential.
func (x *credIndex) rps() []*rpCredentials {
	rps := make([]*rpCredentials, 0, len(x.byRP))
	for _, r := range x.byRP {
		rps = append(rps, r)
	}
	slices.SortFunc(rps, func(p, q *rpCredentials) int { return cmpUint64(x.ents[p.creds[0]].seq, x.ents[q.creds[0]].seq) })
	return rps
}

// put adds c, whose Sequence is larger than any stored one, or replaces
// the credential with its ID. The index keeps c, which must not change
// after.
func (x *credIndex) put(c *ResidentCredential) {
	x.remove(c.ID)
	x.insert(c)
	x.dirty[string(c.ID)] = c
}

// remove deletes the credential with that ID, if there is one.
func (x *credIndex) remove(id []byte) {
	v, ok := x.byID.delete(x.byID.hash(id), id)
	if !ok {
		return
	}
	ref := credRef(v)
	rpID := x.rpID(ref)
	if x.byUser != nil {
		if k := userKey(rpID, x.userID(ref)); x.byUser[k] == ref {
			delete(x.byUser, k)
		}
	}
	r := x.rpByID[rpID]
	if i := slices.Index(r.creds, ref); i >= 0 {
		r.creds = slices.Delete(r.creds, i, i+1)
		r.byProtect[x.ents[ref].prot]--
	}
	if len(r.creds) == 0 {
		delete(x.byRP, r.hash)
		delete(x.rpByID, r.rpID)
	}
	if e := &x.ents[ref]; e.heap {
		x.heap[e.rec] = nil
		x.free = append(x.free, ref)
	}
	x.dirty[string(id)] = nil
}

// clear deletes every credential (authenticatorReset).
func (x *credIndex) clear() {
	// A getAssertion view kept past the reset (FaultGNASurvivesOtherCommand)
	// finds its RP empty rather than entries that are gone.
	for _, r := range x.byRP {
		r.creds = nil
	}
	x.buf, x.rpIDs, x.ents, x.heap, x.free = nil, nil, nil, nil, nil
	x.byID.clear()
	clear(x.byRP)
	clear(x.rpByID)
	clear(x.byUser)
	clear(x.dirty)
	x.cleared = true
}

func (x *credIndex) insert(c *ResidentCredential) {
	e := credEntry{seq: c.Sequence, prot: uint8(c.credProtectLevel()), heap: true}
	var ref credRef
	if n := len(x.free); n > 0 {
		// A removed credential's entry and place in heap.
		ref, x.free = x.free[n-1], x.free[:n-1]
		e.rec = x.ents[ref].rec
		x.heap[e.rec] = c
		x.ents[ref] = e
	} else {
		x.heap = append(x.heap, c)
		e.rec = uint32(len(x.heap) - 1)
		ref = credRef(len(x.ents))
		x.ents = append(x.ents, e)
	}
	x.byID.set(c.ID, int32(ref))
	if x.byUser != nil {
		x.byUser[userKey(c.RPID, c.UserID)] = ref
	}
	r := x.rpByID[c.RPID]
	if r == nil {
		r = &rpCredentials{x: x, rpID: c.RPID, hash: sha256.Sum256([]byte(c.RPID))}
		x.byRP[r.hash] = r
		x.rpByID[r.rpID] = r
	}
	// Credentials arrive in creation order, except when an older one is
	// updated in place; keep the list sorted either way.
	i := len(r.creds)
	for i > 0 && x.ents[r.creds[i-1]].seq > c.Sequence {
		i--
	}
	r.creds = slices.Insert(r.creds, i, ref)
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
	out := make([]ResidentCredential, 0, x.byID.len())
	x.byID.all(func(v int32) bool {
		out = append(out, *x.cred(credRef(v)))
		return true
	})
	sortBySequence(out)
	return out
}
