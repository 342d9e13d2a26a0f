package authenticator

import (
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIDMap runs random sets, deletes and lookups on an idMap whose hash
// keeps two bits, so that most IDs share a hash with another, against a
// map by the ID itself.
func TestIDMap(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var ids [][]byte // by value
	m := newIDMap(0, func(v int) []byte { return ids[v] })
	m.narrow = 62
	want := map[string]int{}
	for step := range 4000 {
		id := []byte{byte(r.IntN(40)), 7}
		switch r.IntN(3) {
		case 0:
			ids = append(ids, id)
			m.set(id, len(ids)-1)
			want[string(id)] = len(ids) - 1
		case 1:
			m.delete(m.hash(id), id)
			delete(want, string(id))
		}
		if got, ok := m.get(id); ok != hasKey(want, id) || ok && got != want[string(id)] {
			t.Fatalf("step %d: get(%x) = %d, %v; want %d", step, id, got, ok, want[string(id)])
		}
		if m.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, m.len(), len(want))
		}
	}
	if len(m.others) == 0 {
		t.Fatal("no two IDs shared a hash: the test tests nothing")
	}
	seen := map[string]int{}
	m.all(func(v int) bool {
		seen[string(ids[v])] = v
		return true
	})
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("all (-want +got):\n%s", diff)
	}
}

func hasKey(m map[string]int, id []byte) bool {
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
	j, err := readJournal(b)
	if err != nil {
		t.Fatal(err)
	}
	if j.st.Credentials != nil || j.tab.len() != 30 {
		t.Fatalf("readJournal: %d credentials in the state, %d records", len(j.st.Credentials), j.tab.len())
	}
	recs, err := buildCredIndex(j.tab, nil, 62)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs.byID.others) == 0 {
		t.Fatal("no two IDs shared a hash: the test tests less than it says")
	}
	heap, err := newCredIndex(nil, slices.Clone(st.Credentials))
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string) {
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
	both := func(f func(x *credIndex)) {
		f(heap)
		f(recs)
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
	for i, id := range [][]byte{st.Credentials[0].ID, st.Credentials[5].ID, st.Credentials[29].ID} {
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
