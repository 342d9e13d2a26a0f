package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/testvectors"
)

// chunkReader returns one chunk per Read, as hidraw returns one report per
// read, cut to the reader's buffer as hidraw cuts it; then io.EOF.
type chunkReader struct {
	mu     sync.Mutex
	chunks [][]byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks = c.chunks[1:]
	return n, nil
}

// hidReader is the read path of a hidraw device on a chunkReader; writes
// are dropped.
type hidReader struct{ r io.Reader }

func (h hidReader) ReadReport() ([]byte, error) { return readHIDReport(h.r) }
func (h hidReader) WriteReport([]byte) error    { return nil }
func (h hidReader) Close() error                { return nil }

// vectorNonce yields the INIT nonce of the CTAPHID vectors, 01..08, for ever.
type vectorNonce struct{ i int }

func (v *vectorNonce) Read(p []byte) (int, error) {
	for j := range p {
		p[j] = byte(v.i%8 + 1)
		v.i++
	}
	return len(p), nil
}

// hidChunks cuts a fuzz input into reads: a length byte, then that many
// bytes (fewer at the end).
func hidChunks(in []byte) [][]byte {
	var out [][]byte
	for len(in) > 0 {
		n := min(int(in[0]), len(in)-1)
		out = append(out, in[1:1+n])
		in = in[1+n:]
	}
	return out
}

func withLength(reports ...[]byte) []byte {
	var b []byte
	for _, r := range reports {
		b = append(append(b, byte(len(r))), r...)
	}
	return b
}

// FuzzHIDRawRead runs arbitrary hidraw reads (short ones, empty ones, and
// ones with a report-ID byte in front or otherwise longer than 64 bytes)
// through readHIDReport and then a ctaphid.Conn opening a channel and
// making a call. Each read is one 64-byte report, zero-padded, or
// errLongReport; the Conn neither panics nor hangs. Seeded with the device
// reports of testvectors/ctaphid, whole, with a report ID 0 in front, and
// with trailing zeros cut.
func FuzzHIDRawRead(f *testing.F) {
	vs, err := testvectors.Load("ctaphid")
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		var whole, numbered, short [][]byte
		for _, l := range v.Lines {
			if !strings.HasPrefix(l, "<") {
				continue
			}
			r, err := hex.DecodeString(strings.Join(strings.Fields(l[1:]), ""))
			if err != nil {
				f.Fatal(err)
			}
			whole = append(whole, r)
			numbered = append(numbered, append([]byte{0}, r...))
			short = append(short, bytes.TrimRight(r, "\x00"))
		}
		f.Add(withLength(whole...))
		f.Add(withLength(numbered...))
		f.Add(withLength(short...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		chunks := hidChunks(in)
		cr := &chunkReader{chunks: append([][]byte(nil), chunks...)}
		for i, c := range chunks {
			r, err := readHIDReport(cr)
			switch {
			case len(c) > ctaphid.ReportSize:
				if !errors.Is(err, errLongReport) || r != nil {
					t.Fatalf("read %d, %d bytes: %x, %v; want errLongReport", i, len(c), r, err)
				}
			case err != nil:
				t.Fatalf("read %d, %d bytes: %v", i, len(c), err)
			case len(r) != ctaphid.ReportSize || !bytes.Equal(r[:len(c)], c) || bytes.ContainsFunc(r[len(c):], func(r rune) bool { return r != 0 }):
				t.Fatalf("read %d: %x became %x", i, c, r)
			}
		}
		if _, err := readHIDReport(cr); !errors.Is(err, io.EOF) {
			t.Fatalf("after the reads: %v, want io.EOF", err)
		}

		ctx := context.Background()
		conn, err := ctaphid.Open(ctx, hidReader{&chunkReader{chunks: chunks}}, &vectorNonce{})
		if err != nil {
			return
		}
		defer conn.Close()
		resp, err := conn.Call(ctx, ctaphid.CmdCBOR, []byte{0x04}, nil)
		var code ctaphid.ErrorCode
		if err != nil && resp != nil && !errors.As(err, &code) {
			t.Fatalf("Call returned %x with %v", resp, err)
		}
	})
}
