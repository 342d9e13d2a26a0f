package storecmp

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// The work compared, at 1,000 and 100,000 stored credentials over one
// tenth as many RPs:
//
//   - Counter: the state outside the credentials changes (getAssertion's
//     signature counter), durably.
//   - Put: one new credential (a discoverable makeCredential), durably.
//   - Open: opening the store and reading every credential back, as a key
//     does when it starts.
//
// Each reports ns/op and written-B/op, the bytes the process handed to
// write(2) and pwrite(2) per operation (/proc/self/io wchar), fsyncs not
// counted. bbolt keeps the same data: a "meta" bucket with the state's
// CBOR under one key and a "creds" bucket of each credential's CBOR by ID,
// each change one Update transaction (fsync'd by bbolt's default).

var sizes = []int{1_000, 100_000}

// state is a key's state with n synthetic credentials (random keys of the
// right length: neither store looks inside them).
func state(n int) *authenticator.State {
	st := &authenticator.State{
		Version:      authenticator.StateVersion,
		MasterSecret: random(32),
		Attestation: &authenticator.AttestationState{
			CAKey: random(32), CACert: random(550), Key: random(32), Cert: random(560),
		},
		CreationSequence: uint64(n),
	}
	for i := range n {
		st.Credentials = append(st.Credentials, credential(i))
	}
	return st
}

func credential(i int) authenticator.ResidentCredential {
	return authenticator.ResidentCredential{
		ID: random(32), RPID: fmt.Sprintf("rp%d.example", i/10), RPName: "RP",
		UserID: fmt.Appendf(nil, "u%d", i), UserName: "user", UserDisplayName: "User",
		Alg: ctap.AlgES256, PrivateKey: random(32), Sequence: uint64(i + 1),
		Created: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), PublicKey: random(77),
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// wchar is the bytes this process has written so far.
func wchar(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		tb.Skip("no /proc/self/io")
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "wchar:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	tb.Skip("no wchar in /proc/self/io")
	return 0
}

// journal is a FileStore at path holding st.
func journal(tb testing.TB, path string, st *authenticator.State) *authenticator.FileStore {
	fs, err := authenticator.OpenFileStore(path)
	if err != nil {
		tb.Fatal(err)
	}
	ch := &authenticator.Change{State: st}
	for i := range st.Credentials {
		ch.Put = append(ch.Put, &st.Credentials[i])
	}
	if err := fs.Commit(ch); err != nil {
		tb.Fatal(err)
	}
	return fs
}

var metaKey = []byte("state")

// boltStore is a bbolt file at path holding st.
func boltStore(tb testing.TB, path string, st *authenticator.State) *bolt.DB {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	meta := *st
	meta.Credentials = nil
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := m.Put(metaKey, ctap.MustMarshal(&meta)); err != nil {
			return err
		}
		c, err := tx.CreateBucket([]byte("creds"))
		if err != nil {
			return err
		}
		c.FillPercent = 0.9 // mostly appended in ID order below
		for i := range st.Credentials {
			if err := c.Put(st.Credentials[i].ID, ctap.MustMarshal(&st.Credentials[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func report(b *testing.B, w0 int64, ops int) {
	b.ReportMetric(float64(wchar(b)-w0)/float64(ops), "written-B/op")
}

func BenchmarkCounter(b *testing.B) {
	commits(b, func(meta *authenticator.State) *authenticator.ResidentCredential {
		meta.SignCount++
		return nil
	})
}

func BenchmarkPut(b *testing.B) {
	commits(b, func(meta *authenticator.State) *authenticator.ResidentCredential {
		meta.CreationSequence++
		c := credential(int(meta.CreationSequence))
		c.Sequence = meta.CreationSequence
		return &c
	})
}

// commits measures one durable change per operation on the journal and on
// bbolt, at every size: next changes the state outside the credentials
// and returns the credential to add with it, or nil.
func commits(b *testing.B, next func(meta *authenticator.State) *authenticator.ResidentCredential) {
	for _, n := range sizes {
		st := state(n)
		b.Run(fmt.Sprintf("journal/n=%d", n), func(b *testing.B) {
			fs := journal(b, filepath.Join(b.TempDir(), "state"), st)
			defer fs.Close()
			meta := *st
			meta.Credentials = nil
			w0, ops := wchar(b), 0
			for b.Loop() {
				ch := &authenticator.Change{State: &meta}
				if c := next(&meta); c != nil {
					ch.Put = []*authenticator.ResidentCredential{c}
				}
				if err := fs.Commit(ch); err != nil {
					b.Fatal(err)
				}
				ops++
			}
			report(b, w0, ops)
		})
		b.Run(fmt.Sprintf("bbolt/n=%d", n), func(b *testing.B) {
			db := boltStore(b, filepath.Join(b.TempDir(), "state.db"), st)
			defer db.Close()
			meta := *st
			meta.Credentials = nil
			w0, ops := wchar(b), 0
			for b.Loop() {
				c := next(&meta)
				err := db.Update(func(tx *bolt.Tx) error {
					if err := tx.Bucket([]byte("meta")).Put(metaKey, ctap.MustMarshal(&meta)); err != nil || c == nil {
						return err
					}
					return tx.Bucket([]byte("creds")).Put(c.ID, ctap.MustMarshal(c))
				})
				if err != nil {
					b.Fatal(err)
				}
				ops++
			}
			report(b, w0, ops)
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, n := range sizes {
		st := state(n)
		b.Run(fmt.Sprintf("journal/n=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "state")
			journal(b, path, st).Close()
			for b.Loop() {
				fs, err := authenticator.OpenFileStore(path)
				if err != nil {
					b.Fatal(err)
				}
				got, err := fs.Load()
				if err != nil || len(got.Credentials) != n {
					b.Fatalf("%v, %d credentials", err, len(got.Credentials))
				}
				fs.Close()
			}
		})
		b.Run(fmt.Sprintf("bbolt/n=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "state.db")
			boltStore(b, path, st).Close()
			for b.Loop() {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				var got authenticator.State
				err = db.View(func(tx *bolt.Tx) error {
					if err := ctap.Unmarshal(tx.Bucket([]byte("meta")).Get(metaKey), &got); err != nil {
						return err
					}
					return tx.Bucket([]byte("creds")).ForEach(func(k, v []byte) error {
						var c authenticator.ResidentCredential
						if err := ctap.Unmarshal(v, &c); err != nil {
							return err
						}
						if !bytes.Equal(c.ID, k) {
							return fmt.Errorf("credential under %x has ID %x", k, c.ID)
						}
						got.Credentials = append(got.Credentials, c)
						return nil
					})
				})
				if err != nil || len(got.Credentials) != n {
					b.Fatalf("%v, %d credentials", err, len(got.Credentials))
				}
				db.Close()
			}
		})
	}
}
