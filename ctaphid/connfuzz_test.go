package ctaphid

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// reportScript is the host end of a link whose device sends the reports
// of a script, one per ReadReport, then io.EOF; what the host writes is
// counted and dropped.
type reportScript struct {
	mu      sync.Mutex
	reports [][]byte
	closed  bool
	written int
}

func (d *reportScript) ReadReport() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, net.ErrClosed
	}
	if len(d.reports) == 0 {
		return nil, io.EOF
	}
	r := d.reports[0]
	d.reports = d.reports[1:]
	return r, nil
}

func (d *reportScript) WriteReport(r []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return net.ErrClosed
	}
	d.written++
	return nil
}

func (d *reportScript) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return nil
}

// cycleReader repeats its bytes for ever: the INIT nonce of the vectors.
type cycleReader struct {
	b []byte
	i int
}

func (r *cycleReader) Read(p []byte) (int, error) {
	for j := range p {
		p[j] = r.b[r.i%len(r.b)]
		r.i++
	}
	return len(p), nil
}

// vectorNonce is the INIT nonce the CTAPHID vectors use.
var vectorNonce = []byte{1, 2, 3, 4, 5, 6, 7, 8}

// FuzzConnReassembly is the host side of FuzzReassembly: a device sends
// arbitrary reports (the input cut into 64-byte pieces, the last one possibly
// short) to a Conn that opens a channel with the vectors' nonce and then
// makes a CTAPHID_CBOR call. Neither may panic or hang. A channel Open
// accepts is a valid one, announced on the broadcast channel with the nonce;
// a response Call accepts was announced on that channel with CTAPHID_CBOR
// and its length, and starts with that packet's data.
func FuzzConnReassembly(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(bytes.Join(v.outputs(), nil))
	}
	initResp := initResponse(BroadcastCID, vectorNonce, testFirstCID)
	keepalive := InitPacket(testFirstCID, CmdKeepalive, 1, []byte{byte(StatusUPNeeded)})
	other := InitPacket(testFirstCID+1, CmdCBOR, 1, []byte{0})
	resp := Fragment2Seed(f, testFirstCID, CmdCBOR, seqBytes(200))
	f.Add(bytes.Join(append([][]byte{initResp, keepalive, other}, resp...), nil))
	f.Add(bytes.Join([][]byte{initResp, resp[0], resp[2]}, nil))                          // a sequence skipped
	f.Add(bytes.Join([][]byte{initResp, errorPacket(testFirstCID, ErrChannelBusy)}, nil)) // an error
	f.Add(bytes.Join([][]byte{initResp, InitPacket(testFirstCID, CmdCBOR, 0xffff, nil)}, nil))

	f.Fuzz(func(t *testing.T, in []byte) {
		dev := &reportScript{}
		for len(in) > 0 {
			r := in[:min(ReportSize, len(in))]
			in = in[len(r):]
			dev.reports = append(dev.reports, r)
		}
		script := append([][]byte(nil), dev.reports...)
		ctx := context.Background()
		c, err := Open(ctx, dev, &cycleReader{b: vectorNonce})
		if err != nil {
			if c != nil {
				t.Fatal("Open returned a Conn with an error")
			}
			return
		}
		defer c.Close()
		cid := c.Info().CID
		if cid == 0 || cid == BroadcastCID {
			t.Fatalf("Open accepted channel %08x", cid)
		}
		announced := false
		for _, r := range script {
			p, ok := parseReport(r)
			if ok && p.Init && p.CID == BroadcastCID && p.Cmd == CmdInit && bytes.Equal(p.Data[:nonceSize], vectorNonce) {
				announced = true
				break
			}
		}
		if !announced {
			t.Fatalf("Open accepted channel %08x, which no INIT response with the nonce announced", cid)
		}
		got, err := c.Call(ctx, CmdCBOR, []byte{0x04}, func(KeepaliveStatus) {})
		if err != nil {
			var code ErrorCode
			if got != nil && !errors.As(err, &code) {
				t.Fatalf("Call returned %x with %v", got, err)
			}
			return
		}
		for _, r := range script {
			p, ok := parseReport(r)
			if !ok || !p.Init || p.CID != cid || p.Cmd != CmdCBOR || int(p.BCNT) != len(got) {
				continue
			}
			if bytes.HasPrefix(got, p.Data[:min(len(got), InitDataSize)]) {
				return
			}
		}
		t.Fatalf("Call returned %d bytes %x that no CTAPHID_CBOR packet on %08x announced", len(got), got, cid)
	})
}
