package ctaphid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

// fuzzHandler answers everything, exercising the error paths too.
type fuzzHandler struct{}

func (fuzzHandler) HandleCBOR(ctx context.Context, req []byte) []byte {
	return append([]byte{0x00}, req...) // 7610 bytes for a maximal request: ERR_OTHER
}

func (fuzzHandler) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	switch req[0] {
	case 0:
		return nil, ErrInvalidCmd
	case 1:
		return nil, errors.New("fuzz")
	}
	return append(append([]byte(nil), req...), 0x90, 0x00), nil
}

func (fuzzHandler) Wink() {}

// Fuzz events, applied after the report with the same index.
const (
	eventNone = iota
	eventTransactionTimeout
	eventLockTimeout
	eventKeepalive
	eventCount
)

// maxFuzzReports bounds one input; a maximal message is 129 reports.
const maxFuzzReports = 400

// FuzzReassembly feeds arbitrary reports (the input cut into 64-byte pieces,
// the last one possibly short) and timer events into the device state
// machine. Every report the device sends must be 64 bytes, go to the
// broadcast channel or a channel the host used, and be a well-formed answer.
func FuzzReassembly(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(bytes.Join(v.inputs(), nil), []byte(nil))
	}
	init := InitPacket(BroadcastCID, CmdInit, 8, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	ping := Fragment2Seed(f, testFirstCID, CmdPing, seqBytes(200))
	f.Add(bytes.Join(append([][]byte{init}, ping[:2]...), nil), []byte{0, 0, eventTransactionTimeout})
	lock := InitPacket(testFirstCID, CmdLock, 1, []byte{3})
	f.Add(bytes.Join([][]byte{init, lock, ping[0]}, nil), []byte{0, eventLockTimeout, 0})
	maxPing := Fragment2Seed(f, testFirstCID, CmdCBOR, seqBytes(MaxMessageSize))
	f.Add(bytes.Join(append([][]byte{init}, maxPing...), nil), []byte(nil))

	f.Fuzz(func(t *testing.T, in, events []byte) {
		ss := newSyncServer(t, fuzzHandler{})
		used := map[uint32]bool{BroadcastCID: true}
		for i := 0; len(in) > 0 && i < maxFuzzReports; i++ {
			r := in[:min(ReportSize, len(in))]
			in = in[len(r):]
			if padded, ok := padReport(r); ok {
				used[binary.BigEndian.Uint32(padded)] = true
			}
			if err := ss.feed(r); err != nil {
				t.Fatal(err)
			}
			if i < len(events) {
				if err := fuzzEvent(ss.s, events[i]%eventCount); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, r := range ss.dev.out {
			checkDeviceReport(t, i, r, used)
		}
	})
}

func fuzzEvent(s *server, ev byte) error {
	switch ev {
	case eventTransactionTimeout:
		if s.asm != nil {
			return s.transactionTimeout()
		}
	case eventLockTimeout:
		s.unlock()
	case eventKeepalive:
		return s.keepalive()
	}
	return nil
}

func checkDeviceReport(t *testing.T, i int, r []byte, used map[uint32]bool) {
	t.Helper()
	p, err := ParsePacket(r)
	if err != nil {
		t.Fatalf("report %d: %v", i, err)
	}
	if !used[p.CID] {
		t.Fatalf("report %d goes to channel %08x, which the host never used: %x", i, p.CID, r)
	}
	if !p.Init {
		return
	}
	switch p.Cmd {
	case CmdError:
		code := ErrorCode(p.Data[0])
		if _, known := errorNames[code]; p.BCNT != 1 || !known || code == ErrLockRequired {
			t.Fatalf("report %d: bad error packet %x", i, r)
		}
	case CmdInit:
		cid := binary.BigEndian.Uint32(p.Data[8:])
		if p.BCNT != initResponseSize || cid == 0 || cid == BroadcastCID {
			t.Fatalf("report %d: bad INIT response %x", i, r)
		}
		if p.CID != BroadcastCID && cid != p.CID {
			t.Fatalf("report %d: resync answered with another channel %x", i, r)
		}
	case CmdPing, CmdMsg, CmdCBOR, CmdLock, CmdWink, CmdKeepalive:
		if int(p.BCNT) > MaxMessageSize {
			t.Fatalf("report %d: length %d", i, p.BCNT)
		}
	default:
		t.Fatalf("report %d: device sent %v: %x", i, p.Cmd, r)
	}
}

// Fragment2Seed is Fragment for fuzz seeds.
func Fragment2Seed(f testing.TB, cid uint32, cmd Cmd, msg []byte) [][]byte {
	pkts, err := Fragment(cid, cmd, msg)
	if err != nil {
		f.Fatal(err)
	}
	return pkts
}

// FuzzParsePacket checks that any 64 bytes parse and encode back to
// themselves, and that nothing else parses.
func FuzzParsePacket(f *testing.F) {
	for _, v := range loadVectors(f) {
		for _, l := range v.lines {
			f.Add(l.report)
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, ReportSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			if len(b) == ReportSize {
				t.Fatalf("ParsePacket(%x): %v", b, err)
			}
			if p.Data != nil || p.CID != 0 {
				t.Fatalf("ParsePacket returned %+v with error %v", p, err)
			}
			return
		}
		if len(b) != ReportSize {
			t.Fatalf("ParsePacket accepted %d bytes", len(b))
		}
		if got := p.Bytes(); !bytes.Equal(got, b) {
			t.Fatalf("Bytes() = %x, want %x", got, b)
		}
		wantData := ContDataSize
		if p.Init {
			wantData = InitDataSize
		}
		if len(p.Data) != wantData {
			t.Fatalf("%d data bytes", len(p.Data))
		}
		if p.Init {
			_, err := newAssembler(p)
			if (err != nil) != (int(p.BCNT) > MaxMessageSize) {
				t.Fatalf("newAssembler(BCNT %d): %v", p.BCNT, err)
			}
		}
	})
}
