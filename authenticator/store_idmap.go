package authenticator

import (
	"bytes"
	"hash/maphash"
)

// idMap maps credential IDs to values by a 64-bit hash of the ID, seeded
// per map (hash/maphash), rather than by the ID as a string. A lookup
// compares one integer a probe, not a string whose bytes lie elsewhere in
// memory (at 100,000 credentials that is a cache miss a probe, and most
// of the start-up's map time), and the keys hold no pointers for the
// garbage collector to follow. Two IDs with one hash, about n²/2⁶⁵ for n
// IDs, are told apart by the ID that idOf returns for a value: the second
// goes to a map by the ID itself.
type idMap[V any] struct {
	seed   maphash.Seed
	byHash map[uint64]V
	others map[string]V // IDs whose hash a different ID in byHash has; nil until one does
	idOf   func(V) []byte
	// narrow, set by tests, keeps only the top 64-narrow bits of the
	// hash, so that IDs collide.
	narrow uint8
}

func newIDMap[V any](hint int, idOf func(V) []byte) idMap[V] {
	return idMap[V]{seed: maphash.MakeSeed(), byHash: make(map[uint64]V, hint), idOf: idOf}
}

// hash is id's key in byHash.
func (m *idMap[V]) hash(id []byte) uint64 { return maphash.Bytes(m.seed, id) >> m.narrow }

// len is the number of IDs in m.
func (m *idMap[V]) len() int { return len(m.byHash) + len(m.others) }

// find returns the value of id, whose hash is h. When id is absent,
// taken reports whether another ID has that hash, for add.
func (m *idMap[V]) find(h uint64, id []byte) (v V, ok, taken bool) {
	v, ok = m.byHash[h]
	if !ok {
		return v, false, false
	}
	if bytes.Equal(m.idOf(v), id) {
		return v, true, false
	}
	v, ok = m.others[string(id)]
	return v, ok, true
}

// get returns the value of id.
func (m *idMap[V]) get(id []byte) (V, bool) {
	v, ok, _ := m.find(m.hash(id), id)
	return v, ok
}

// add adds id, whose hash is h and which find reported absent, with
// taken as find reported it. idOf(v) must be id.
func (m *idMap[V]) add(h uint64, id []byte, v V, taken bool) {
	if !taken {
		m.byHash[h] = v
		return
	}
	if m.others == nil {
		m.others = make(map[string]V)
	}
	m.others[string(id)] = v
}

// set adds id with v or replaces its value. idOf(v) must be id.
func (m *idMap[V]) set(id []byte, v V) {
	h := m.hash(id)
	_, ok, taken := m.find(h, id)
	if ok && !taken {
		m.byHash[h] = v
		return
	}
	m.add(h, id, v, taken) // new, or replacing its entry in others
}

// delete removes id, whose hash is h, if it is there.
func (m *idMap[V]) delete(h uint64, id []byte) {
	v, ok := m.byHash[h]
	if !ok {
		return
	}
	if !bytes.Equal(m.idOf(v), id) {
		delete(m.others, string(id))
		return
	}
	delete(m.byHash, h)
	for o, w := range m.others {
		if maphash.String(m.seed, o)>>m.narrow == h {
			// Another ID with that hash takes its place.
			m.byHash[h] = w
			delete(m.others, o)
			break
		}
	}
}

// clear removes every ID.
func (m *idMap[V]) clear() {
	clear(m.byHash)
	m.others = nil
}

// all calls f for every ID's value, in no order, until f returns false.
func (m *idMap[V]) all(f func(V) bool) {
	for _, v := range m.byHash {
		if !f(v) {
			return
		}
	}
	for _, v := range m.others {
		if !f(v) {
			return
		}
	}
}
