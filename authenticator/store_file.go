package authenticator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// The state file is an append-only journal of checksummed records behind
// a header that names how much of it is committed (docs/store.md):
//
//	header  magic "VKSTATE\x00" | format u32 | 0 u32 | seq u64 | end u64 | 0 u32 | crc32c u32 of the 36 bytes before
//	record  length u32 | kind u8 | payload (length bytes) | crc32c u32 of the 5+length bytes before
//
// Integers are little-endian. A commit appends its records at end, syncs
// the file, then writes a header with the new end and syncs again: the
// response leaves after the second sync. Bytes past end belong to a commit
// that was never acknowledged and are cut off. The last record of each
// state part (secrets, meta, large blobs, fingerprints) holds that part;
// credentials are put, deleted or all cleared one record each. When dead
// records outweigh live ones, the whole state is written to a new file
// that is synced and renamed over the old one (compaction).
const (
	fileMagic      = "VKSTATE\x00"
	fileFormat     = 2 // the JSON file of the first release was format 1
	headerSize     = 40
	recordOverhead = 9
	// maxRecordSize bounds one record's payload: the largest part is the
	// large-blob array.
	maxRecordSize = 1 << 20
)

// Record kinds.
const (
	kindSecrets      = 1 // secretsRecord
	kindMeta         = 2 // State without credentials, secrets, large blobs, fingerprints
	kindLargeBlob    = 3 // 0 (nil) or 1 followed by the array
	kindFingerprints = 4 // []FingerprintTemplate
	kindPut          = 5 // credRecord
	kindDelete       = 6 // a credential ID
	kindClear        = 7 // empty: every credential deleted
	numParts         = 5 // kinds 1 to 4 index FileStore.parts
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// secretsRecord is the part of the state made once: the master secret
// (replaced by authenticatorReset) and the attestation keys.
type secretsRecord struct {
	Version      int               `cbor:"1,keyasint"`
	MasterSecret []byte            `cbor:"2,keyasint"`
	Attestation  *AttestationState `cbor:"3,keyasint"`
}

// credRecord is a ResidentCredential as the journal stores it.
type credRecord struct {
	ID                []byte `cbor:"1,keyasint"`
	RPID              string `cbor:"2,keyasint"`
	RPName            string `cbor:"3,keyasint,omitempty"`
	UserID            []byte `cbor:"4,keyasint"`
	UserName          string `cbor:"5,keyasint,omitempty"`
	UserDisplayName   string `cbor:"6,keyasint,omitempty"`
	Alg               int64  `cbor:"7,keyasint"`
	PrivateKey        []byte `cbor:"8,keyasint"`
	Sequence          uint64 `cbor:"9,keyasint"`
	Created           int64  `cbor:"10,keyasint"` // Unix nanoseconds
	LargeBlobKey      []byte `cbor:"11,keyasint,omitempty"`
	CredProtect       uint64 `cbor:"12,keyasint,omitempty"`
	CredBlob          []byte `cbor:"13,keyasint,omitempty"`
	ThirdPartyPayment bool   `cbor:"14,keyasint,omitempty"`
	HMACSecret        bool   `cbor:"15,keyasint,omitempty"`
	PublicKey         []byte `cbor:"16,keyasint,omitempty"`
}

func toCredRecord(c *ResidentCredential) credRecord {
	return credRecord{
		ID: c.ID, RPID: c.RPID, RPName: c.RPName, UserID: c.UserID, UserName: c.UserName,
		UserDisplayName: c.UserDisplayName, Alg: c.Alg, PrivateKey: c.PrivateKey, Sequence: c.Sequence,
		Created: c.Created.UnixNano(), LargeBlobKey: c.LargeBlobKey, CredProtect: c.CredProtect,
		CredBlob: c.CredBlob, ThirdPartyPayment: c.ThirdPartyPayment, HMACSecret: c.HMACSecret,
		PublicKey: c.PublicKey,
	}
}

func (r *credRecord) credential() ResidentCredential {
	return ResidentCredential{
		ID: r.ID, RPID: r.RPID, RPName: r.RPName, UserID: r.UserID, UserName: r.UserName,
		UserDisplayName: r.UserDisplayName, Alg: r.Alg, PrivateKey: r.PrivateKey, Sequence: r.Sequence,
		Created: time.Unix(0, r.Created).UTC(), LargeBlobKey: r.LargeBlobKey, CredProtect: r.CredProtect,
		CredBlob: r.CredBlob, ThirdPartyPayment: r.ThirdPartyPayment, HMACSecret: r.HMACSecret,
		PublicKey: r.PublicKey,
	}
}

// encodeParts encodes the four parts of st outside the credentials, the
// payloads of kinds 1 to 4 (index 0 is unused).
func encodeParts(st *State) ([numParts][]byte, error) {
	var p [numParts][]byte
	var err error
	if p[kindSecrets], err = ctap.Marshal(secretsRecord{Version: st.Version, MasterSecret: st.MasterSecret, Attestation: st.Attestation}); err != nil {
		return p, err
	}
	meta := *st
	meta.MasterSecret, meta.Attestation, meta.Credentials, meta.LargeBlobArray, meta.Fingerprints = nil, nil, nil, nil, nil
	if p[kindMeta], err = ctap.Marshal(&meta); err != nil {
		return p, err
	}
	if st.LargeBlobArray == nil {
		p[kindLargeBlob] = []byte{0}
	} else {
		p[kindLargeBlob] = append([]byte{1}, st.LargeBlobArray...)
	}
	if p[kindFingerprints], err = ctap.Marshal(st.Fingerprints); err != nil {
		return p, err
	}
	return p, nil
}

// appendRecord appends one record to b.
func appendRecord(b []byte, kind byte, payload []byte) []byte {
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, kind)
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

func encodeHeader(seq uint64, end int64) []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, fileMagic...)
	b = binary.LittleEndian.AppendUint32(b, fileFormat)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(end))
	b = binary.LittleEndian.AppendUint32(b, 0)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// journal is a state file read: the state and what a writer needs.
type journal struct {
	st    *State
	seq   uint64
	end   int64            // committed end
	parts [numParts][]byte // the payload of each part's last record
	// tab is the credentials as read; st's Credentials field is nil
	// (readJournal) or tab is (parseJournal). The writer keeps it until
	// it makes sizes from it.
	tab *credTable
	// sizes is each live credential's record size, by ID, made from tab
	// when a commit first puts or deletes a credential (credSizes); a
	// commit that changes only the rest of the state needs none.
	sizes *credSizes
	// credBytes is the live credential records' sizes, summed.
	credBytes int64
	live      int64 // bytes of the records that make the state
	dead      int64 // bytes of superseded records
}

// credSizes is the record size of each live credential, by credential
// ID, for the live and dead byte counts that decide compaction. It holds
// no pointers for the garbage collector to follow: the IDs are copied
// into one array, and the map is by a hash of the ID (idMap).
type credSizes struct {
	ids   idMap      // index in slots
	slots []credSlot // a removed ID's slot stays until the file is read again
	arena []byte     // the IDs, back to back
}

// credSlot is a live credential's record: its ID in credSizes.arena and
// its size.
type credSlot struct {
	off  int
	n    int32 // an ID is shorter than a record, at most maxRecordSize
	size int32 // at most maxRecordSize+recordOverhead
}

// newCredSizes returns an empty credSizes with room for about hint IDs.
func newCredSizes(hint int) *credSizes {
	s := &credSizes{slots: make([]credSlot, 0, hint), arena: make([]byte, 0, hint*residentIDLength)}
	s.ids = newIDMap(hint, func(i int32) []byte {
		sl := &s.slots[i]
		return s.arena[sl.off : sl.off+int(sl.n)]
	})
	return s
}

// put records id's record size, and returns the size it replaced, if
// the ID had one. s keeps a copy of id.
func (s *credSizes) put(id []byte, size int32) (old int32, replaced bool) {
	i, ok := s.ids.add(s.ids.hash(id), id, int32(len(s.slots)))
	if ok {
		sl := &s.slots[i]
		old, sl.size = sl.size, size
		return old, true
	}
	s.slots = append(s.slots, credSlot{off: len(s.arena), n: int32(len(id)), size: size})
	s.arena = append(s.arena, id...)
	return 0, false
}

// drop removes id and returns its record size, if it had one.
func (s *credSizes) drop(id []byte) (old int32, dropped bool) {
	i, ok := s.ids.delete(s.ids.hash(id), id)
	if !ok {
		return 0, false
	}
	return s.slots[i].size, true
}

// credSizes returns j.sizes, made from j.tab first if there is none
// yet, and lets go of j.tab.
func (j *journal) credSizes() *credSizes {
	if j.sizes == nil {
		s := newCredSizes(j.tab.len())
		if t := j.tab; t != nil {
			for i := range t.ents {
				if e := &t.ents[i]; !e.dead {
					s.put(e.idIn(t.buf), int32(e.recN)+recordOverhead)
				}
			}
		}
		j.sizes = s
	}
	j.tab = nil
	return j.sizes
}

// parseJournal reads a state file. Everything up to the header's end must
// check out; a file shorter than that is truncated. The result passes
// State.Validate. Errors wrap ErrCorruptState.
func parseJournal(b []byte) (*journal, error) {
	j, err := readJournal(b)
	if err != nil {
		return nil, err
	}
	j.st.Credentials = j.tab.credentials()
	return j, nil
}

// readJournal is parseJournal without decoding the credentials into the
// state: they are in j.tab, whose entries point into b, and
// j.st.Credentials is nil.
func readJournal(b []byte) (*journal, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptState, fmt.Sprintf(format, args...))
	}
	if len(b) < headerSize || string(b[:8]) != fileMagic {
		return nil, bad("not a virtkey state file (no header)")
	}
	if crc32.Checksum(b[:36], castagnoli) != binary.LittleEndian.Uint32(b[36:]) {
		return nil, bad("header checksum mismatch")
	}
	if f := binary.LittleEndian.Uint32(b[8:]); f != fileFormat {
		return nil, bad("file format %d, this build reads %d", f, fileFormat)
	}
	// About 200 bytes a credential record: size the map and list once.
	hint := len(b) / 200
	j := &journal{seq: binary.LittleEndian.Uint64(b[16:])}
	end := binary.LittleEndian.Uint64(b[24:])
	if end < headerSize || end > uint64(len(b)) {
		return nil, bad("file truncated: %d bytes, the header names %d", len(b), end)
	}
	if end > maxTableBuffer {
		return nil, bad("state of %d bytes, more than this build reads", end)
	}
	j.end = int64(end)
	// The credentials in record order, by ID in tab.ids; a replaced or
	// deleted one is marked dead.
	tab := &credTable{buf: b, ents: make([]credEntry, 0, hint)}
	tab.ids = newIDMap(hint, func(v int32) []byte { return tab.ents[v].idIn(b) })
	rpn := make(map[string]uint32, hint/8+1) // tab.rpIDs by RP ID
	gone := func(old int32) {
		e := &tab.ents[old]
		size := int64(e.recN) + recordOverhead
		e.dead = true
		j.credBytes -= size
		j.live -= size
		j.dead += size
	}
	// The checksums are verified beside the decoding, on another core if
	// there is one (about a tenth of a large start-up). The records are
	// decoded into memory only, and nothing is returned before both are
	// done; the error is the one at the lowest offset, a checksum's first
	// where one record has both, as if each record were checked before
	// it is decoded.
	badSum := make(chan int64, 1)
	go func() { badSum <- firstBadChecksum(b, j.end) }()
	sumChecked := false
	fail := func(off int64, err error) error {
		sumChecked = true
		if c := <-badSum; c >= 0 && c <= off {
			return bad("record at %d: checksum mismatch", c)
		}
		return err
	}
	defer func() {
		if !sumChecked {
			<-badSum
		}
	}()
	for off := int64(headerSize); off < j.end; {
		rest := b[off:j.end]
		if len(rest) < recordOverhead {
			return nil, fail(off, bad("record at %d cut short", off))
		}
		n := int64(binary.LittleEndian.Uint32(rest))
		if n > maxRecordSize || n+recordOverhead > int64(len(rest)) {
			return nil, fail(off, bad("record at %d: length %d beyond the committed end", off, n))
		}
		size := n + recordOverhead
		kind, payload := rest[4], rest[5:5+n:5+n]
		switch kind {
		case kindSecrets, kindMeta, kindLargeBlob, kindFingerprints:
			if j.parts[kind] != nil {
				j.dead += int64(len(j.parts[kind])) + recordOverhead
			}
			j.parts[kind] = payload
			j.live += size
		case kindPut:
			// Decoded into a credential on the stack, of which the
			// table keeps only where its parts lie in b.
			var c ResidentCredential
			err := decodeCredRecordInto(&c, payload, nil)
			if err == nil && len(c.ID) == 0 {
				err = errors.New("no credential ID")
			}
			if err != nil {
				return nil, fail(off, bad("record at %d: credential: %v", off, err))
			}
			n, ok := rpn[c.RPID]
			if !ok {
				n = uint32(len(tab.rpIDs))
				rpID := strings.Clone(c.RPID)
				tab.rpIDs = append(tab.rpIDs, rpID)
				rpn[rpID] = n
			}
			tab.ents = append(tab.ents, entryOf(b, payload, &c, n))
			if old, ok := tab.ids.put(tab.ids.hash(c.ID), c.ID, int32(len(tab.ents)-1)); ok {
				gone(old)
			}
			j.credBytes += size
			j.live += size
		case kindDelete:
			if old, ok := tab.ids.delete(tab.ids.hash(payload), payload); ok {
				gone(old)
			}
			j.dead += size
		case kindClear:
			j.live -= j.credBytes
			j.dead += j.credBytes
			j.credBytes = 0
			tab.ids.clear()
			tab.ents = tab.ents[:0]
			j.dead += size
		default:
			return nil, fail(off, bad("record at %d: unknown kind %d", off, kind))
		}
		off += size
	}
	if err := fail(j.end, nil); err != nil {
		return nil, err
	}
	for k := kindSecrets; k <= kindFingerprints; k++ {
		if j.parts[k] == nil {
			return nil, bad("no record of part %d", k)
		}
	}
	var sec secretsRecord
	if err := ctap.Unmarshal(j.parts[kindSecrets], &sec); err != nil {
		return nil, bad("secrets: %v", err)
	}
	st := new(State)
	if err := ctap.Unmarshal(j.parts[kindMeta], st); err != nil {
		return nil, bad("state: %v", err)
	}
	st.Version, st.MasterSecret, st.Attestation = sec.Version, sec.MasterSecret, sec.Attestation
	switch lb := j.parts[kindLargeBlob]; {
	case len(lb) == 1 && lb[0] == 0:
	case len(lb) >= 1 && lb[0] == 1:
		st.LargeBlobArray = bytes.Clone(lb[1:])
	default:
		return nil, bad("large-blob record malformed")
	}
	if err := ctap.Unmarshal(j.parts[kindFingerprints], &st.Fingerprints); err != nil {
		return nil, bad("fingerprints: %v", err)
	}
	// The IDs are unique: tab.ids is keyed by them. The checks are
	// State.validate's, in its order.
	tab.finish()
	if err := st.validateHead(); err != nil {
		return nil, err
	}
	if err := tab.check(st.CreationSequence); err != nil {
		return nil, err
	}
	if err := st.validateFingerprints(); err != nil {
		return nil, err
	}
	for k := range j.parts {
		j.parts[k] = bytes.Clone(j.parts[k])
	}
	j.st, j.tab = st, tab
	return j, nil
}

// firstBadChecksum is the offset of the first record in b[headerSize:end]
// whose checksum does not match, or -1. It stops at a record whose length
// runs past end, which parseJournal reports itself.
func firstBadChecksum(b []byte, end int64) int64 {
	for off := int64(headerSize); off < end; {
		rest := b[off:end]
		if len(rest) < recordOverhead {
			return -1
		}
		n := int64(binary.LittleEndian.Uint32(rest))
		if n > maxRecordSize || n+recordOverhead > int64(len(rest)) {
			return -1
		}
		if crc32.Checksum(rest[:5+n], castagnoli) != binary.LittleEndian.Uint32(rest[5+n:]) {
			return off
		}
		off += n + recordOverhead
	}
	return -1
}

// snapshot encodes st whole as a state file: header and one record per
// part and per credential.
func snapshot(st *State, seq uint64) ([]byte, error) {
	parts, err := encodeParts(st)
	if err != nil {
		return nil, err
	}
	b := make([]byte, headerSize, headerSize+4096+len(st.Credentials)*256)
	for k := kindSecrets; k <= kindFingerprints; k++ {
		b = appendRecord(b, byte(k), parts[k])
	}
	for i := range st.Credentials {
		p, err := ctap.Marshal(toCredRecord(&st.Credentials[i]))
		if err != nil {
			return nil, err
		}
		b = appendRecord(b, kindPut, p)
	}
	copy(b, encodeHeader(seq, int64(len(b))))
	return b, nil
}

// LockedError is Open's error for a state file that another process
// holds.
type LockedError struct {
	Path string
	PID  int // 0 when the holder did not say
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("state file %s is in use by another process", e.Path)
	}
	return fmt.Sprintf("state file %s is in use by process %d", e.Path, e.PID)
}

// FileStore is a Store in one file, for the daemon: a checksummed journal
// (see the format above and docs/store.md). It holds an exclusive lock on
// PATH.lock while open, so a second daemon on the same state refuses to
// start.
type FileStore struct {
	path string
	mu   sync.Mutex
	lock *os.File
	f    *os.File // the state file; nil until the first commit creates it
	j    *journal // the writer's view; j.st and j.tab are nil once handed to Load

	broken  error // a failed write could not be undone: every commit fails
	written int64 // bytes written to the state file

	// compactSlack, when set by tests, replaces compactionSlack.
	compactSlack int64

	// failOp, set by tests, makes the named file operation fail
	// ("write", "sync", "header", "headersync", "truncate", "create",
	// "rename").
	failOp func(op string) error
}

// OpenFileStore opens the state at path, locks it and checks it. A missing
// file is an empty store (the first Commit creates it, 0600); a file in the
// JSON form of the first release is migrated, the old file kept as
// path.bak; a file that fails its integrity check is an error wrapping
// ErrCorruptState and is left as it is; a file another process holds is a
// *LockedError. A file readable by others is made 0600.
func OpenFileStore(path string) (*FileStore, error) {
	fs := &FileStore{path: path}
	if err := fs.acquireLock(); err != nil {
		return nil, err
	}
	if err := fs.open(); err != nil {
		fs.lock.Close()
		return nil, err
	}
	return fs, nil
}

// compactionSlack is how many more dead bytes than live ones the state
// file may hold before it is compacted.
const compactionSlack = 64 << 10

func (fs *FileStore) slack() int64 {
	if fs.compactSlack > 0 {
		return fs.compactSlack
	}
	return compactionSlack
}

func (fs *FileStore) fail(op string) error {
	if fs.failOp != nil {
		return fs.failOp(op)
	}
	return nil
}

func (fs *FileStore) acquireLock() error {
	lf, err := os.OpenFile(fs.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("authenticator: locking state: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := io.ReadAll(io.LimitReader(lf, 32))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return &LockedError{Path: fs.path, PID: pid}
		}
		return fmt.Errorf("authenticator: locking state %s: %w", fs.path, err)
	}
	if err := lf.Truncate(0); err == nil {
		lf.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	fs.lock = lf
	return nil
}

// tmpPath is where a new state file is written before it is renamed over
// the state file. Open removes one left by a crash.
func (fs *FileStore) tmpPath() string {
	return filepath.Join(filepath.Dir(fs.path), "."+filepath.Base(fs.path)+".new")
}

func (fs *FileStore) open() error {
	os.Remove(fs.tmpPath())
	// The first release's FileStore wrote .NAME.tmp* files.
	if old, _ := filepath.Glob(filepath.Join(filepath.Dir(fs.path), "."+filepath.Base(fs.path)+".tmp*")); len(old) > 0 {
		for _, o := range old {
			os.Remove(o)
		}
	}
	f, err := os.OpenFile(fs.path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("authenticator: opening state: %w", err)
	}
	b, err := readAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("authenticator: reading state %s: %w", fs.path, err)
	}
	if len(b) > 0 && !bytes.HasPrefix(b, []byte(fileMagic)) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
		f.Close()
		if err := fs.migrate(b); err != nil {
			return err
		}
		return fs.open()
	}
	j, err := readJournal(b)
	if err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", fs.path, err)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return fmt.Errorf("authenticator: state %s is readable by others and cannot be made 0600: %w", fs.path, err)
		}
	}
	if int64(len(b)) > j.end {
		// An unacknowledged commit's records.
		if err := f.Truncate(j.end); err != nil {
			f.Close()
			return fmt.Errorf("authenticator: state %s: %w", fs.path, err)
		}
	}
	fs.f, fs.j = f, j
	return nil
}

// readAll reads f whole, sized by its length.
func readAll(f *os.File) ([]byte, error) {
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	b := make([]byte, 0, size+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// migrate converts a JSON state of the first release: the new file is
// written, synced and renamed over it, and the old one stays as path.bak.
func (fs *FileStore) migrate(old []byte) error {
	st, err := decodeLegacyJSON(old)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.path, err)
	}
	bak := fs.path + ".bak"
	if prev, err := os.ReadFile(bak); err == nil && !bytes.Equal(prev, old) {
		return fmt.Errorf("authenticator: migrating %s: %s exists and differs; move it away", fs.path, bak)
	}
	st.Version = StateVersion
	b, err := snapshot(st, 1)
	if err != nil {
		return err
	}
	if err := fs.writeNew(b); err != nil {
		return err
	}
	if err := os.Link(fs.path, bak); err != nil && !errors.Is(err, os.ErrExist) {
		os.Remove(fs.tmpPath())
		return fmt.Errorf("authenticator: migrating %s: keeping the old file: %w", fs.path, err)
	}
	_, err = fs.replace()
	return err
}

// writeNew writes b to the temporary file, synced, mode 0600.
func (fs *FileStore) writeNew(b []byte) error {
	if err := fs.fail("create"); err != nil {
		return err
	}
	tmp := fs.tmpPath()
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("authenticator: saving state: %w", err)
	}
	return nil
}

// replace renames the temporary file over the state file and syncs the
// directory. renamed tells whether the rename happened, even when the
// directory sync then failed.
func (fs *FileStore) replace() (renamed bool, err error) {
	err = fs.fail("rename")
	if err == nil {
		err = os.Rename(fs.tmpPath(), fs.path)
	}
	if err != nil {
		os.Remove(fs.tmpPath())
		return false, fmt.Errorf("authenticator: saving state: %w", err)
	}
	if d, err := os.Open(filepath.Dir(fs.path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return true, fmt.Errorf("authenticator: saving state: syncing directory: %w", err)
		}
	}
	return true, nil
}

// Path returns the state file's path.
func (fs *FileStore) Path() string { return fs.path }

// BytesWritten is the number of bytes written to the state file since
// Open, headers and compactions included.
func (fs *FileStore) BytesWritten() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.written
}

// Close releases the file and the lock.
func (fs *FileStore) Close() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var err error
	if fs.f != nil {
		err = fs.f.Close()
		fs.f = nil
	}
	if fs.lock != nil {
		fs.lock.Close()
		fs.lock = nil
	}
	return err
}

// Load implements Store. The first Load after Open returns the state Open
// read; later ones read the file again. A file removed since is an empty
// store.
func (fs *FileStore) Load() (*State, error) {
	st, recs, err := fs.LoadRecords()
	if st != nil {
		st.Credentials = recs.table().credentials()
	}
	return st, err
}

// LoadRecords implements RecordLoader: Load with the credentials left as
// the records read from the file (State.Credentials is nil).
func (fs *FileStore) LoadRecords() (*State, *CredentialRecords, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.j == nil {
		return nil, nil, nil
	}
	if st := fs.j.st; st != nil {
		// The writer keeps the table, whose entries the key's index
		// does not write, to make its sizes from.
		fs.j.st = nil
		return st, &CredentialRecords{fs.j.tab}, nil
	}
	b, err := os.ReadFile(fs.path)
	if errors.Is(err, os.ErrNotExist) {
		// Removed while open: an empty store again, whose next commit
		// creates the file (not one that writes to the removed file).
		fs.f.Close()
		fs.f, fs.j = nil, nil
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("authenticator: loading state: %w", err)
	}
	if int64(len(b)) > fs.j.end {
		b = b[:fs.j.end]
	}
	j, err := readJournal(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fs.path, err)
	}
	return j.st, &CredentialRecords{j.tab}, nil
}

// Commit implements Store: the records of the parts that changed and of
// the credentials put or deleted are appended and synced, then the header
// names them and is synced. A failure cuts the file back, so the stored
// state is the one before.
func (fs *FileStore) Commit(ch *Change) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.broken != nil {
		return fs.broken
	}
	if ch.State == nil {
		return errors.New("authenticator: commit without a state")
	}
	if fs.f == nil {
		return fs.create(ch)
	}
	parts, err := encodeParts(ch.State)
	if err != nil {
		return fmt.Errorf("authenticator: encoding state: %w", err)
	}
	j := fs.j
	var buf []byte
	for k := kindSecrets; k <= kindFingerprints; k++ {
		if !bytes.Equal(parts[k], j.parts[k]) {
			buf = appendRecord(buf, byte(k), parts[k])
		}
	}
	if ch.Clear {
		buf = appendRecord(buf, kindClear, nil)
	}
	for _, id := range ch.Delete {
		buf = appendRecord(buf, kindDelete, id)
	}
	putSizes := make([]int64, len(ch.Put))
	for i, c := range ch.Put {
		p, err := ctap.Marshal(toCredRecord(c))
		if err != nil {
			return fmt.Errorf("authenticator: encoding credential: %w", err)
		}
		n := len(buf)
		buf = appendRecord(buf, kindPut, p)
		putSizes[i] = int64(len(buf) - n)
	}
	if len(buf) == 0 {
		return nil
	}
	newEnd := j.end + int64(len(buf))
	if err := fs.append(buf, j.end, j.seq+1, newEnd); err != nil {
		return err
	}
	fs.written += int64(len(buf)) + headerSize

	// The commit is durable: account for it.
	j.seq, j.end = j.seq+1, newEnd
	for k := kindSecrets; k <= kindFingerprints; k++ {
		if !bytes.Equal(parts[k], j.parts[k]) {
			j.dead += int64(len(j.parts[k])) + recordOverhead
			j.live += int64(len(parts[k])) - int64(len(j.parts[k]))
			j.parts[k] = parts[k]
		}
	}
	gone := func(old int32) {
		j.credBytes -= int64(old)
		j.live -= int64(old)
		j.dead += int64(old)
	}
	if ch.Clear {
		j.live -= j.credBytes
		j.dead += j.credBytes
		j.credBytes = 0
		j.sizes, j.tab = newCredSizes(0), nil
	}
	if len(ch.Delete)+len(ch.Put) > 0 {
		sizes := j.credSizes()
		for _, id := range ch.Delete {
			if old, ok := sizes.drop(id); ok {
				gone(old)
			}
		}
		for i, c := range ch.Put {
			if old, ok := sizes.put(c.ID, int32(putSizes[i])); ok {
				gone(old)
			}
			j.credBytes += putSizes[i]
			j.live += putSizes[i]
		}
	}
	if j.dead > j.live+fs.slack() {
		fs.compact()
	}
	return nil
}

// append writes buf at off and the header, each synced; on failure it
// cuts the file back to off and restores the header.
func (fs *FileStore) append(buf []byte, off int64, seq uint64, end int64) error {
	step := func(op string, f func() error) error {
		if err := fs.fail(op); err != nil {
			return err
		}
		return f()
	}
	err := step("write", func() error { _, err := fs.f.WriteAt(buf, off); return err })
	if err == nil {
		err = step("sync", fs.f.Sync)
	}
	if err == nil {
		err = step("header", func() error { _, err := fs.f.WriteAt(encodeHeader(seq, end), 0); return err })
		if err == nil {
			err = step("headersync", fs.f.Sync)
		}
		if err != nil {
			// The header may or may not be on disk: put the old one back.
			if _, herr := fs.f.WriteAt(encodeHeader(seq-1, off), 0); herr != nil {
				fs.broken = fmt.Errorf("authenticator: state file %s: a failed write could not be undone: %w", fs.path, herr)
			}
		}
	}
	if err == nil {
		return nil
	}
	terr := fs.fail("truncate")
	if terr == nil {
		terr = fs.f.Truncate(off)
	}
	if terr == nil {
		terr = fs.f.Sync()
	}
	if terr != nil && fs.broken == nil {
		fs.broken = fmt.Errorf("authenticator: state file %s: a failed write could not be undone: %w", fs.path, terr)
	}
	return fmt.Errorf("authenticator: saving state: %w", err)
}

// create writes the first state file.
func (fs *FileStore) create(ch *Change) error {
	st := *ch.State
	st.Credentials = st.Credentials[:0:0]
	for _, c := range ch.Put {
		st.Credentials = append(st.Credentials, *c)
	}
	b, err := snapshot(&st, 1)
	if err != nil {
		return err
	}
	if err := fs.writeNew(b); err != nil {
		return err
	}
	if renamed, err := fs.replace(); err != nil {
		if renamed {
			// On disk, maybe not durably: a new key answers an error
			// and the daemon does not start.
			os.Remove(fs.path)
		}
		return err
	}
	fs.written += int64(len(b))
	return fs.reopen()
}

// reopen reads the state file again as the writer's view.
func (fs *FileStore) reopen() error {
	f, err := os.OpenFile(fs.path, os.O_RDWR, 0)
	if err != nil {
		fs.broken = fmt.Errorf("authenticator: reopening state %s: %w", fs.path, err)
		return fs.broken
	}
	b, err := io.ReadAll(f)
	var j *journal
	if err == nil {
		j, err = readJournal(b)
	}
	if err != nil {
		f.Close()
		fs.broken = fmt.Errorf("authenticator: reopening state %s: %w", fs.path, err)
		return fs.broken
	}
	if fs.f != nil {
		fs.f.Close()
	}
	// The key's credentials are in the buffer read before: copy the IDs
	// rather than keep a second whole file alive.
	j.credSizes()
	j.st = nil
	fs.f, fs.j = f, j
	return nil
}

// compact writes the state whole to a new file and renames it over the
// state file. The commit that triggered it is already durable, so a
// failure here only leaves the longer file in place.
func (fs *FileStore) compact() {
	b := make([]byte, fs.j.end)
	if _, err := fs.f.ReadAt(b, 0); err != nil {
		return
	}
	j, err := parseJournal(b)
	if err != nil {
		return
	}
	nb, err := snapshot(j.st, j.seq+1)
	if err != nil {
		return
	}
	if err := fs.writeNew(nb); err != nil {
		fs.j.dead = 0 // try again after as many dead bytes as live ones
		return
	}
	renamed, err := fs.replace()
	if !renamed {
		fs.j.dead = 0
		return
	}
	_ = err // the new file holds the same state as the old one
	fs.written += int64(len(nb))
	fs.reopen()
}
