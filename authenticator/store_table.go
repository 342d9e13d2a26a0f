package authenticator

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// credTable is discoverable credentials as a state file holds them: the
// file's buffer, and for each credential a fixed-size entry without
// pointers that says where its record, ID, user ID and RP ID lie in the
// buffer and holds what the index reads of every credential (sequence,
// credProtect level). A credential is decoded from its record when a
// command uses it (credIndex.cred). At 100,000 credentials the entries
// are one 4 MB array that the garbage collector does not scan, where a
// ResidentCredential each was 26 MB with a dozen pointers a credential
// for every collection to follow (docs/store.md, "Scale and speed").
//
// Nothing writes to buf: the decoded credentials alias it.
type credTable struct {
	buf []byte
	// ents is in the journal's order, and holds the entries of
	// credentials replaced or deleted later (dead) as well.
	ents []credEntry
	live int // the entries not dead
	// sorted tells whether the live entries are in creation order, as a
	// journal or a snapshot usually holds them.
	sorted bool
	// ids is the live entries by credential ID: the map the journal was
	// read with, for the key's index to take over, so that start-up does
	// not make a second one.
	ids idMap
	// rpIDs is the RP IDs, each once (copies, not in buf), numbered as
	// the journal is read: the index groups credentials by the number
	// rather than by looking each one's RP ID up again, when its bytes
	// are no longer in the processor's cache.
	rpIDs []string
}

// credEntry is one credential of a credTable, or of a credIndex. The
// offsets are into the table's buffer, which is shorter than 4 GiB.
type credEntry struct {
	seq         uint64 // Sequence
	rec, recN   uint32 // the record's payload
	id, idN     uint32 // the credential ID
	user, userN uint32 // the user ID
	rpn         uint32 // the RP ID: credTable.rpIDs[rpn]
	prot        uint8  // credProtectLevel
	// bad is set for a record whose values ResidentCredential.validate
	// refuses (but for the upper bound of its sequence); the state is
	// refused if it is still live at the end of the journal.
	bad bool
	// dead marks a credential replaced or deleted later in the journal;
	// in a credIndex, heap marks one put since the table was read, whose
	// ResidentCredential is credIndex.heap[rec].
	dead, heap bool
}

// len is the number of live credentials; 0 for nil.
func (t *credTable) len() int {
	if t == nil {
		return 0
	}
	return t.live
}

// maxTableBuffer is the largest state file whose credentials a credTable
// can point into.
const maxTableBuffer = math.MaxUint32

// entryOf makes the entry of c, decoded from payload, both inside buf;
// rpn is the number of its RP ID.
func entryOf(buf, payload []byte, c *ResidentCredential, rpn uint32) credEntry {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	at := func(p *byte) uint32 {
		if p == nil {
			return 0
		}
		return uint32(uintptr(unsafe.Pointer(p)) - base)
	}
	return credEntry{
		rec: at(unsafe.SliceData(payload)), recN: uint32(len(payload)),
		id: at(unsafe.SliceData(c.ID)), idN: uint32(len(c.ID)),
		user: at(unsafe.SliceData(c.UserID)), userN: uint32(len(c.UserID)),
		rpn:  rpn,
		seq:  c.Sequence,
		prot: uint8(c.credProtectLevel()),
		bad:  c.validate(math.MaxUint64) != nil,
	}
}

// record is e's record payload in buf.
func (e *credEntry) record(buf []byte) []byte { return buf[e.rec : e.rec+e.recN : e.rec+e.recN] }

// idIn is e's credential ID in buf.
func (e *credEntry) idIn(buf []byte) []byte { return buf[e.id : e.id+e.idN : e.id+e.idN] }

// decode decodes e's record from buf. The record decoded when it was
// read and nothing writes to buf, so an error is a bug.
func (e *credEntry) decode(buf []byte) *ResidentCredential {
	c := new(ResidentCredential)
	if err := decodeCredRecordInto(c, e.record(buf), nil); err != nil {
		panic(fmt.Sprintf("authenticator: a stored credential record no longer decodes: %v", err))
	}
	return c
}

// finish counts the live entries and sees whether they are in creation
// order, once the journal is read.
func (t *credTable) finish() {
	t.live, t.sorted = 0, true
	var last uint64
	for i := range t.ents {
		if e := &t.ents[i]; !e.dead {
			t.live++
			t.sorted = t.sorted && e.seq >= last
			last = e.seq
		}
	}
}

// order returns the numbers of the live entries in creation order.
func (t *credTable) order() []int32 {
	order := make([]int32, 0, t.live)
	for i := range t.ents {
		if !t.ents[i].dead {
			order = append(order, int32(i))
		}
	}
	if !t.sorted {
		slices.SortStableFunc(order, func(p, q int32) int { return cmpUint64(t.ents[p].seq, t.ents[q].seq) })
	}
	return order
}

// check checks the live credentials as State.validate checks its
// Credentials; seq is the state's CreationSequence. A failure wraps
// ErrCorruptState and names the first credential in creation order that
// fails, by its place in that order.
func (t *credTable) check(seq uint64) error {
	failed := false
	for i := range t.ents {
		if e := &t.ents[i]; !e.dead && (e.bad || e.seq > seq) {
			failed = true
			break
		}
	}
	if !failed {
		return nil
	}
	for k, i := range t.order() {
		e := &t.ents[i]
		if e.bad || e.seq > seq {
			err := e.decode(t.buf).validate(seq)
			if err == nil {
				err = fmt.Errorf("sequence %d outside 1 to %d", e.seq, seq)
			}
			return fmt.Errorf("%w: credential %d: %v", ErrCorruptState, k, err)
		}
	}
	return nil
}

// credentials decodes every live credential, in creation order.
func (t *credTable) credentials() []ResidentCredential {
	if t.len() == 0 {
		return nil
	}
	order := t.order()
	out := make([]ResidentCredential, len(order))
	for k, i := range order {
		if err := decodeCredRecordInto(&out[k], t.ents[i].record(t.buf), nil); err != nil {
			panic(fmt.Sprintf("authenticator: a stored credential record no longer decodes: %v", err))
		}
	}
	return out
}
