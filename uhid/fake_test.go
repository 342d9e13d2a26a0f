package uhid

import (
	"io"
	"sync"
)

// fakeUHID is an in-memory /dev/uhid: the test queues the kernel's events,
// each Read returns one, and every Write is recorded as one event. Read
// blocks until an event is queued or the file is closed; after end() it
// returns io.EOF once the queue is empty.
type fakeUHID struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   [][]byte
	writes  [][]byte
	closed  bool
	ended   bool
	closes  int
	readCut int // if > 0, Read returns at most this many bytes of an event
}

func newFake() *fakeUHID {
	f := &fakeUHID{}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// push queues events for Read.
func (f *fakeUHID) push(evs ...[]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, evs...)
	f.cond.Broadcast()
}

// end makes Read return io.EOF once the queue is empty.
func (f *fakeUHID) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = true
	f.cond.Broadcast()
}

func (f *fakeUHID) Read(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.queue) == 0 && !f.closed && !f.ended {
		f.cond.Wait()
	}
	if f.closed {
		return 0, io.ErrClosedPipe
	}
	if len(f.queue) == 0 {
		return 0, io.EOF
	}
	ev := f.queue[0]
	f.queue = f.queue[1:]
	if f.readCut > 0 && len(ev) > f.readCut {
		ev = ev[:f.readCut]
	}
	return copy(b, ev), nil
}

func (f *fakeUHID) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, io.ErrClosedPipe
	}
	f.writes = append(f.writes, append([]byte(nil), b...))
	f.cond.Broadcast()
	return len(b), nil
}

// waitWritten blocks until done holds for the events written so far.
func (f *fakeUHID) waitWritten(done func([][]byte) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !done(f.writes) {
		f.cond.Wait()
	}
}

func (f *fakeUHID) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	f.closed = true
	f.cond.Broadcast()
	return nil
}

// written returns the events written so far.
func (f *fakeUHID) written() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.writes...)
}

// kernelEvent builds an event as the kernel would send it, with fields at
// their offsets in struct uhid_event written out as numbers, independently of
// the package's constants.
func kernelEvent(typ uint32, fields map[int][]byte) []byte {
	ev := make([]byte, 4376)
	ev[0], ev[1], ev[2], ev[3] = byte(typ), byte(typ>>8), byte(typ>>16), byte(typ>>24)
	for off, b := range fields {
		copy(ev[off:], b)
	}
	return ev
}

func u16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }
func u32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// outputEvent is UHID_OUTPUT (6): data at 4, u16 size at 4100, u8 rtype at 4102.
func outputEvent(data []byte, rtype byte) []byte {
	return kernelEvent(6, map[int][]byte{4: data, 4100: u16(uint16(len(data))), 4102: {rtype}})
}

// requestEvent is UHID_GET_REPORT (9) or UHID_SET_REPORT (13): u32 id at 4,
// u8 rnum at 8, u8 rtype at 9.
func requestEvent(typ, id uint32, rnum, rtype byte) []byte {
	return kernelEvent(typ, map[int][]byte{4: u32(id), 8: {rnum}, 9: {rtype}})
}
