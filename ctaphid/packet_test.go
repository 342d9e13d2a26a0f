package ctaphid

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

func TestParsePacket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		report  []byte
		want    Packet
		wantErr bool
	}{
		{
			name:   "init",
			report: unhex(t, "cafe0001 90 0003 04 a1 01"),
			want: Packet{
				CID: 0xcafe0001, Init: true, Cmd: CmdCBOR, BCNT: 3,
				Data: append([]byte{0x04, 0xa1, 0x01}, make([]byte, InitDataSize-3)...),
			},
		},
		{
			name:   "keepalive",
			report: unhex(t, "01020304 bb 0001 02"),
			want: Packet{
				CID: 0x01020304, Init: true, Cmd: CmdKeepalive, BCNT: 1,
				Data: append([]byte{0x02}, make([]byte, InitDataSize-1)...),
			},
		},
		{
			name:   "continuation",
			report: unhex(t, "ffffffff 7f aabb"),
			want: Packet{
				CID: BroadcastCID, Seq: 0x7f,
				Data: append([]byte{0xaa, 0xbb}, make([]byte, ContDataSize-2)...),
			},
		},
		{name: "short", report: make([]byte, 63), wantErr: true},
		{name: "long", report: make([]byte, 65), wantErr: true},
		{name: "with report ID", report: append([]byte{0}, unhex(t, "cafe0001 81 0000")...), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePacket(tt.report)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePacket error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePacket (-want +got):\n%s", diff)
			}
			if back := got.Bytes(); !bytes.Equal(back, tt.report) {
				t.Errorf("Bytes() = %x, want %x", back, tt.report)
			}
		})
	}
}

func TestBuildPackets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"init", InitPacket(0x11223344, CmdPing, 2, []byte{0xde, 0xad}), "11223344 81 0002 dead"},
		{"init with lying length", InitPacket(0x11223344, CmdMsg, 0x1db9, nil), "11223344 83 1db9"},
		{"continuation", ContPacket(0x11223344, 5, []byte{1, 2, 3}), "11223344 05 010203"},
		{"error", errorPacket(0xcafe0001, ErrInvalidSeq), "cafe0001 bf 0001 04"},
		{"cancel", InitPacket(0xcafe0001, CmdCancel, 0, nil), "cafe0001 91 0000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(unhex(t, tt.want), tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildPacketsPanic(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"init data too long":    func() { InitPacket(1, CmdPing, 0, make([]byte, InitDataSize+1)) },
		"init command bit":      func() { InitPacket(1, Cmd(0x81), 0, nil) },
		"continuation too long": func() { ContPacket(1, 0, make([]byte, ContDataSize+1)) },
		"continuation seq":      func() { ContPacket(1, 0x80, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestFragmentRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		size    int
		packets int
	}{
		{0, 1},
		{1, 1},
		{56, 1},
		{57, 1},
		{58, 2},
		{57 + 59, 2},
		{57 + 59 + 1, 3},
		{57 + 2*59, 3},
		{1024, 18},
		{MaxMessageSize - 1, 129},
		{MaxMessageSize, 129},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.size), func(t *testing.T) {
			t.Parallel()
			msg := seqBytes(tt.size)
			pkts, err := Fragment(0xcafe0001, CmdCBOR, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkts) != tt.packets {
				t.Errorf("%d packets, want %d", len(pkts), tt.packets)
			}
			for i, p := range pkts {
				if len(p) != ReportSize {
					t.Fatalf("packet %d is %d bytes", i, len(p))
				}
				if i > 0 && p[4] != byte(i-1) {
					t.Errorf("packet %d has SEQ %d", i, p[4])
				}
			}
			got, err := Reassemble(pkts)
			if err != nil {
				t.Fatal(err)
			}
			want := Message{CID: 0xcafe0001, Cmd: CmdCBOR, Data: msg}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Reassemble (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFragmentTooLong(t *testing.T) {
	t.Parallel()
	if _, err := Fragment(1, CmdPing, make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrInvalidLen) {
		t.Errorf("Fragment(7610 bytes) error = %v, want ErrInvalidLen", err)
	}
}

func TestReassembleErrors(t *testing.T) {
	t.Parallel()
	pkts, err := Fragment(7, CmdMsg, seqBytes(200)) // 4 packets
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		reports [][]byte
		want    error
	}{
		{"empty", nil, ErrInvalidSeq},
		{"starts with continuation", pkts[1:], ErrInvalidSeq},
		{"missing packet", [][]byte{pkts[0], pkts[1], pkts[3]}, ErrInvalidSeq},
		{"truncated", pkts[:3], ErrInvalidSeq},
		{"other channel", [][]byte{pkts[0], pkts[1], ContPacket(8, 1, nil), pkts[3]}, ErrInvalidSeq},
		{"init in the middle", [][]byte{pkts[0], pkts[0]}, ErrInvalidSeq},
		{"left over", append(pkts[:4:4], ContPacket(7, 3, nil)), ErrInvalidLen},
		{"too long", [][]byte{InitPacket(7, CmdMsg, MaxMessageSize+1, nil)}, ErrInvalidLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Reassemble(tt.reports)
			if !errors.Is(err, tt.want) {
				t.Errorf("Reassemble error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{CmdCBOR.String(), "CTAPHID_CBOR"},
		{CmdKeepalive.String(), "CTAPHID_KEEPALIVE"},
		{Cmd(0x41).String(), "CTAPHID_VENDOR(0x41)"},
		{Cmd(0x22).String(), "Cmd(0x22)"},
		{ErrInvalidSeq.String(), "ERR_INVALID_SEQ"},
		{ErrInvalidChannel.Error(), "ctaphid: ERR_INVALID_CHANNEL"},
		{ErrorCode(0x55).String(), "ErrorCode(0x55)"},
		{StatusUPNeeded.String(), "STATUS_UPNEEDED"},
		{KeepaliveStatus(9).String(), "KeepaliveStatus(0x09)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestFragmentReassembleProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		cid := rapid.Uint32().Draw(t, "cid")
		cmd := Cmd(rapid.ByteRange(0, 0x7f).Draw(t, "cmd"))
		msg := rapid.SliceOfN(rapid.Byte(), 0, MaxMessageSize).Draw(t, "msg")
		pkts, err := Fragment(cid, cmd, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Reassemble(pkts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Message{CID: cid, Cmd: cmd, Data: msg}, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}
