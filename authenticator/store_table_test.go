package authenticator

import (
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

// TestIDMap runs random sets, adds, deletes and lookups on idMaps against
// a map by the ID itself: one with the whole hash, growing from its
// smallest size, and ones whose hash keeps a few bits, so that IDs share
// hashes and runs of slots wrap around the end of the table.
func TestIDMap(t *testing.T) {
	t.Parallel()
	for _, narrow := range []uint8{0, 58, 61, 63} {
		r := rand.New(rand.NewPCG(1, uint64(narrow)))
		var ids [][]byte // by value
		m := newIDMap(0, func(v int32) []byte { return ids[v] })
		m.narrow = narrow
		want := map[string]int32{}
		check := func(step int, id []byte) {
			t.Helper()
			if got, ok := m.get(id); ok != hasKey(want, id) || ok && got != want[string(id)] {
				t.Fatalf("narrow %d, step %d: get(%x) = %d, %v; want %d", narrow, step, id, got, ok, want[string(id)])
			}
		}
		for step := range 6000 {
			id := []byte{byte(r.IntN(100)), byte(r.IntN(3))}
			switch r.IntN(4) {
			case 0:
				ids = append(ids, id)
				m.set(id, int32(len(ids)-1))
				want[string(id)] = int32(len(ids) - 1)
			case 1:
				ids = append(ids, id)
				had, present := m.add(m.hash(id), id, int32(len(ids)-1))
				if w, ok := want[string(id)]; present != ok || ok && had != w {
					t.Fatalf("narrow %d, step %d: add(%x) = %d, %v; want %d, %v", narrow, step, id, had, present, w, ok)
				}
				if !present {
					want[string(id)] = int32(len(ids) - 1)
				}
			case 2:
				v, ok := m.delete(m.hash(id), id)
				if w, had := want[string(id)]; ok != had || ok && v != w {
					t.Fatalf("narrow %d, step %d: delete(%x) = %d, %v; want %d, %v", narrow, step, id, v, ok, w, had)
				}
				delete(want, string(id))
			}
			check(step, id)
			if m.len() != len(want) {
				t.Fatalf("narrow %d, step %d: len %d, want %d", narrow, step, m.len(), len(want))
			}
			if step%500 == 0 {
				for k := range want {
					check(step, []byte(k))
				}
			}
		}
		seen := map[string]int32{}
		m.all(func(v int32) bool {
			seen[string(ids[v])] = v
			return true
		})
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("narrow %d: all (-want +got):\n%s", narrow, diff)
		}
	}
}

// TestIDMapDeleteWraps deletes from runs of slots that wrap around the
// end of an eight-slot table, with hashes chosen for it: what stays must
// still be found, from its home slot.
func TestIDMapDeleteWraps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hashes []uint64 // of IDs 0, 1, ... added in order
		del    int
	}{
		{[]uint64{6, 7, 0}, 0},    // 0's home is past the end: it stays
		{[]uint64{6, 7, 6}, 0},    // 2 wrapped from 6: it moves up
		{[]uint64{7, 7, 0, 7}, 1}, // 2 stays at its home, 3 moves over the end
		{[]uint64{6, 7, 7}, 0},    // 2 wrapped from 7 and stays
		{[]uint64{5, 6, 5, 6}, 0},
	} {
		ids := [][]byte{{0}, {1}, {2}, {3}}
		m := newIDMap(0, func(v int32) []byte { return ids[v] })
		if len(m.slots) != 8 {
			t.Fatalf("%d slots, want 8", len(m.slots))
		}
		for i, h := range tc.hashes {
			if _, present := m.add(h, ids[i], int32(i)); present {
				t.Fatalf("%v: add %d: present", tc.hashes, i)
			}
		}
		if v, ok := m.delete(tc.hashes[tc.del], ids[tc.del]); !ok || v != int32(tc.del) {
			t.Fatalf("%v: delete %d = %d, %v", tc.hashes, tc.del, v, ok)
		}
		for i, h := range tc.hashes {
			if at, ok := m.probe(h, ids[i]); ok != (i != tc.del) || ok && m.slots[at].value() != int32(i) {
				t.Errorf("%v after deleting %d: ID %d found %v", tc.hashes, tc.del, i, ok)
			}
		}
	}
}

func hasKey(m map[string]int32, id []byte) bool {
	_, ok := m[string(id)]
	return ok
}

// TestCredIndexFromRecords runs the same puts, removes and lookups on an
// index of a state file's records (decoded when used, their IDs made to
// collide) and on one of the same credentials as ResidentCredentials, and
// checks that both answer the same; a reset leaves an RP kept from before
// it (as a getNextAssertion that survives it under
// FaultGNASurvivesOtherCommand does) empty.
func TestCredIndexFromRecords(t *testing.T) {
	t.Parallel()
	st := scaleState(t, 30, 4)
	for i := range st.Credentials {
		st.Credentials[i].CredProtect = uint64(i % 4)
	}
	// Records out of creation order, which the index sorts.
	st.Credentials[3], st.Credentials[17] = st.Credentials[17], st.Credentials[3]
	b, err := snapshot(st, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Then a journal's later records: one credential deleted, one
	// replaced, one deleted and put again, each leaving a dead entry.
	var more []byte
	put := func(c *ResidentCredential) {
		p, err := ctap.Marshal(toCredRecord(c))
		if err != nil {
			t.Fatal(err)
		}
		more = appendRecord(more, kindPut, p)
	}
	more = appendRecord(more, kindDelete, st.Credentials[2].ID)
	st.Credentials[4].UserName = "replaced"
	put(&st.Credentials[4])
	more = appendRecord(more, kindDelete, st.Credentials[9].ID)
	put(&st.Credentials[9])
	b = append(b, more...)
	copy(b, encodeHeader(2, int64(len(b))))
	st.Credentials = slices.Delete(st.Credentials, 2, 3)
	j, err := readJournal(b)
	if err != nil {
		t.Fatal(err)
	}
	if j.st.Credentials != nil || j.tab.len() != 29 || len(j.tab.ents) != 32 {
		t.Fatalf("readJournal: %d credentials in the state, %d records", len(j.st.Credentials), j.tab.len())
	}
	recs, err := buildCredIndex(j.tab, nil, 62)
	if err != nil {
		t.Fatal(err)
	}
	if shared(&recs.byID) == 0 {
		t.Fatal("no two IDs shared a hash: the test tests less than it says")
	}
	heap, err := newCredIndex(nil, slices.Clone(st.Credentials))
	if err != nil {
		t.Fatal(err)
	}
	// And one that takes over the map the journal was read with.
	j, err = readJournal(b)
	if err != nil {
		t.Fatal(err)
	}
	took, err := newCredIndex(j.tab, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took.byID.slots == nil || j.tab.ids.slots != nil {
		t.Fatal("the index did not take the journal's map over")
	}
	check := func(step string) {
		t.Helper()
		checkIndex(t, step, heap, recs)
		checkIndex(t, step, heap, took)
	}
	both := func(f func(x *credIndex)) {
		f(heap)
		f(recs)
		f(took)
	}

	check("built")
	seq := uint64(30)
	newCred := func(rp, user string) *ResidentCredential {
		seq++
		c := st.Credentials[0]
		c.ID = sha256.New().Sum([]byte{byte(seq)})[:32]
		c.RPID, c.UserID, c.Sequence, c.CredProtect = rp, []byte(user), seq, seq%4
		return &c
	}
	for i, id := range [][]byte{st.Credentials[0].ID, st.Credentials[5].ID, st.Credentials[28].ID} {
		both(func(x *credIndex) { x.remove(id) })
		check("remove " + string(rune('0'+i)))
	}
	for _, c := range []*ResidentCredential{newCred("rp1.example", "new1"), newCred("new.example", "new2"), newCred("rp2.example", "u6")} {
		both(func(x *credIndex) { x.put(c) })
		check("put " + string(c.UserID))
	}
	// An update in place of a stored credential, and of a put one.
	upd := *recs.byCredentialID(st.Credentials[7].ID)
	upd.UserName = "renamed"
	both(func(x *credIndex) { x.put(&upd) })
	check("update stored")
	last := newCred("new.example", "new3")
	both(func(x *credIndex) { x.put(last) })
	both(func(x *credIndex) { x.remove(last.ID) })
	check("put and remove")
	if len(recs.free) == 0 {
		t.Error("no entry free for reuse after removes")
	}

	kept := recs.rp(rpHash("rp1.example"))
	both(func(x *credIndex) { x.clear() })
	check("clear")
	if kept.len() != 0 {
		t.Errorf("an RP kept from before the reset lists %d credentials", kept.len())
	}
	after := newCred("rp1.example", "after")
	both(func(x *credIndex) { x.put(after) })
	check("put after clear")
}

// TestCredIndexDuplicateCollides: with IDs that share hashes, two
// credentials with one ID are still refused, and distinct ones are not.
func TestCredIndexDuplicateCollides(t *testing.T) {
	t.Parallel()
	var creds []ResidentCredential
	for i := range 40 {
		creds = append(creds, ResidentCredential{ID: []byte{byte(i)}, RPID: "a", Sequence: uint64(i + 1)})
	}
	x, err := buildCredIndex(nil, slices.Clone(creds), 62)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if got := x.byCredentialID(c.ID); got == nil || got.Sequence != c.Sequence {
			t.Fatalf("byCredentialID(%x) = %v", c.ID, got)
		}
	}
	creds[33].ID = []byte{21}
	if _, err := buildCredIndex(nil, creds, 62); !errors.Is(err, ErrCorruptState) {
		t.Errorf("two credentials with one ID: %v, want ErrCorruptState", err)
	}
}

// shared is the number of m's IDs whose hash an ID before them has.
func shared(m *idMap) int {
	seen, n := map[uint64]bool{}, 0
	for _, s := range m.slots {
		if s != 0 {
			if seen[s.tag()] {
				n++
			}
			seen[s.tag()] = true
		}
	}
	return n
}

// checkIndex fails t unless recs holds what heap holds and answers
// lookups as it does.
func checkIndex(t *testing.T, step string, heap, recs *credIndex) {
	t.Helper()
	want, got := heap.all(), recs.all()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: credentials (-want +got):\n%s", step, diff)
	}
	if heap.len() != recs.len() {
		t.Fatalf("%s: len %d, want %d", step, recs.len(), heap.len())
	}
	wrps, grps := heap.rps(), recs.rps()
	if len(wrps) != len(grps) {
		t.Fatalf("%s: %d RPs, want %d", step, len(grps), len(wrps))
	}
	for i, w := range wrps {
		g := grps[i]
		if g.rpID != w.rpID || g.byProtect != w.byProtect || g.len() != w.len() {
			t.Fatalf("%s: RP %d is %s %v, %d credentials; want %s %v, %d", step, i, g.rpID, g.byProtect, g.len(), w.rpID, w.byProtect, w.len())
		}
		for k := range w.len() {
			if diff := cmp.Diff(w.cred(k), g.cred(k)); diff != "" || g.protect(k) != w.protect(k) {
				t.Fatalf("%s: RP %s credential %d (-want +got):\n%s", step, w.rpID, k, diff)
			}
		}
	}
	for _, c := range want {
		if diff := cmp.Diff(&c, recs.byCredentialID(c.ID)); diff != "" {
			t.Fatalf("%s: byCredentialID(%x) (-want +got):\n%s", step, c.ID, diff)
		}
		if u := recs.forUser(c.RPID, c.UserID); u == nil || !slices.Equal(u.ID, heap.forUser(c.RPID, c.UserID).ID) {
			t.Fatalf("%s: forUser(%s, %x) = %v, want %v", step, c.RPID, c.UserID, u, heap.forUser(c.RPID, c.UserID))
		}
	}
}
