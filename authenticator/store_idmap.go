package authenticator

import (
	"bytes"
	"hash/maphash"
	"math/bits"
)

// idMap maps credential IDs to int32 values (a position in a list that
// also holds each ID): an open-addressing table by a hash of the ID,
// seeded per map (hash/maphash), probed linearly and kept at most half
// full. A slot holds 32 bits of the hash and the value, no pointer, so
// the garbage collector does not scan the table; a probe compares
// integers and reads an ID (through idOf) only where they match, so
// adding a new ID touches one slot array, not the ID's bytes elsewhere in
// memory as a Go map by the ID as a string does, and put and delete hand
// back the value they replace in the same probe (one map operation where
// a Go map needs a lookup and an assignment). IDs whose slots hold the
// same 32 bits (about n²/2³³ pairs of n IDs, one at 100,000) are told
// apart by idOf.
type idMap struct {
	seed  maphash.Seed
	slots []idSlot // a power of two long (at most 2³²), at most half full
	n     int
	idOf  func(int32) []byte
	// narrow, set by tests, keeps only the top 64-narrow bits of the
	// hash, so that IDs collide.
	narrow uint8
}

// idSlot is one slot of an idMap: the low 32 bits of the ID's hash (its
// tag, which also places it) above the value plus one; 0 is an empty
// slot. Eight bytes a slot rather than sixteen: the table of 100,000 IDs
// is 2 MiB, which reading the journal's 20 MiB through the cache evicts
// less of.
type idSlot uint64

func newSlot(h uint64, v int32) idSlot { return idSlot(h<<32 | uint64(uint32(v+1))) }

// tag is the low 32 bits of the slot's hash.
func (s idSlot) tag() uint64 { return uint64(s >> 32) }

// value is the slot's value; -1 for an empty slot.
func (s idSlot) value() int32 { return int32(uint32(s)) - 1 }

func newIDMap(hint int, idOf func(int32) []byte) idMap {
	size := 8
	if hint > 2 {
		size = max(size, 1<<bits.Len(uint(2*hint-1)))
	}
	return idMap{seed: maphash.MakeSeed(), slots: make([]idSlot, size), idOf: idOf}
}

// hash is id's hash in m.
func (m *idMap) hash(id []byte) uint64 { return maphash.Bytes(m.seed, id) >> m.narrow }

// len is the number of IDs in m.
func (m *idMap) len() int { return m.n }

// probe returns the slot of id, whose hash is h, and true; or, when id
// is absent, the empty slot where it would go, and false.
func (m *idMap) probe(h uint64, id []byte) (int, bool) {
	mask, tag := uint64(len(m.slots)-1), uint64(uint32(h))
	for i := tag & mask; ; i = (i + 1) & mask {
		s := m.slots[i]
		if s == 0 {
			return int(i), false
		}
		if s.tag() == tag && bytes.Equal(m.idOf(s.value()), id) {
			return int(i), true
		}
	}
}

// get returns the value of id.
func (m *idMap) get(id []byte) (int32, bool) {
	i, ok := m.probe(m.hash(id), id)
	return m.slots[i].value(), ok
}

// add adds id, whose hash is h, with v, unless id is there: then it
// returns id's value and true, and m is unchanged. idOf(v) must be id.
func (m *idMap) add(h uint64, id []byte, v int32) (had int32, present bool) {
	if 2*(m.n+1) > len(m.slots) {
		m.grow()
	}
	i, ok := m.probe(h, id)
	if ok {
		return m.slots[i].value(), true
	}
	m.slots[i] = newSlot(h, v)
	m.n++
	return 0, false
}

// put adds id, whose hash is h, with v, or replaces its value and
// returns the one it had. idOf(v) must be id.
func (m *idMap) put(h uint64, id []byte, v int32) (old int32, replaced bool) {
	if 2*(m.n+1) > len(m.slots) {
		m.grow()
	}
	i, ok := m.probe(h, id)
	if ok {
		old = m.slots[i].value()
		m.slots[i] = newSlot(h, v)
		return old, true
	}
	m.slots[i] = newSlot(h, v)
	m.n++
	return 0, false
}

// set adds id with v or replaces its value. idOf(v) must be id.
func (m *idMap) set(id []byte, v int32) { m.put(m.hash(id), id, v) }

// delete removes id, whose hash is h, and returns its value, if it is
// there.
func (m *idMap) delete(h uint64, id []byte) (int32, bool) {
	i, ok := m.probe(h, id)
	if !ok {
		return 0, false
	}
	v := m.slots[i].value()
	// Backward-shift deletion (Knuth, TAOCP vol. 3, §6.4, algorithm R):
	// move up each later slot of the run that may live at i, so that no
	// probe stops early at the hole.
	mask := len(m.slots) - 1
	for j := i; ; {
		j = (j + 1) & mask
		s := m.slots[j]
		if s == 0 {
			break
		}
		home := int(s.tag() & uint64(mask))
		// s stays if its home lies cyclically in (i, j].
		if i <= j && i < home && home <= j || i > j && (i < home || home <= j) {
			continue
		}
		m.slots[i] = s
		i = j
	}
	m.slots[i] = 0
	m.n--
	return v, true
}

// grow doubles the table.
func (m *idMap) grow() {
	old := m.slots
	m.slots = make([]idSlot, 2*len(old))
	mask := uint64(len(m.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := s.tag() & mask
		for m.slots[i] != 0 {
			i = (i + 1) & mask
		}
		m.slots[i] = s
	}
}

// clear removes every ID.
func (m *idMap) clear() {
	clear(m.slots)
	m.n = 0
}

// all calls f for every ID's value, in no order, until f returns false.
func (m *idMap) all(f func(int32) bool) {
	for _, s := range m.slots {
		if s != 0 && !f(s.value()) {
			return
		}
	}
}
