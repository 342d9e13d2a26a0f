package ctaphid

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vectorDir holds the CTAPHID vectors; see its README.md for the format.
const vectorDir = "../testvectors/ctaphid"

// vectorLine is one report of a vector: host to device (in) or back.
type vectorLine struct {
	in     bool
	report []byte
}

type vector struct {
	name, source, comment, expect string
	lines                         []vectorLine
}

func (v vector) inputs() [][]byte {
	var in [][]byte
	for _, l := range v.lines {
		if l.in {
			in = append(in, l.report)
		}
	}
	return in
}

func (v vector) outputs() [][]byte {
	var out [][]byte
	for _, l := range v.lines {
		if !l.in {
			out = append(out, l.report)
		}
	}
	return out
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no vectors in %s", vectorDir)
	}
	var vs []vector
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, parseVector(t, filepath.Base(path), string(data)))
	}
	return vs
}

func parseVector(t testing.TB, name, data string) vector {
	t.Helper()
	v := vector{name: strings.TrimSuffix(name, ".txt")}
	header, body, ok := strings.Cut(data, "\n\n")
	if !ok {
		t.Fatalf("%s: no blank line after the header", name)
	}
	for _, line := range strings.Split(header, "\n") {
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s: bad header line %q", name, line)
		}
		switch key {
		case "source":
			v.source = val
		case "comment":
			v.comment = val
		case "expect":
			v.expect = val
		default:
			t.Fatalf("%s: unknown header %q", name, key)
		}
	}
	if v.source == "" || v.expect == "" {
		t.Fatalf("%s: missing source or expect", name)
	}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		switch {
		case strings.HasPrefix(line, ">"):
			v.lines = append(v.lines, vectorLine{in: true, report: unhex(t, line[1:])})
		case strings.HasPrefix(line, "<"):
			v.lines = append(v.lines, vectorLine{in: false, report: unhex(t, line[1:])})
		default:
			t.Fatalf("%s: bad report line %q", name, line)
		}
	}
	return v
}

// syncServer drives the device state machine without goroutines or
// devices: each report is processed, and a handler it starts finishes,
// before the next. It is what the vectors and FuzzReassembly run against.
type syncServer struct {
	s   *server
	dev *recordingDevice
}

func newSyncServer(t testing.TB, h Handler) *syncServer {
	dev := &recordingDevice{}
	s, err := newServer(dev, h, &ServerConfig{
		Version: [3]byte{1, 2, 3},
		After:   func(time.Duration) <-chan time.Time { return nil },
		Rand:    bytes.NewReader([]byte{0xca, 0xfe, 0x00, 0x01}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &syncServer{s: s, dev: dev}
}

func (ss *syncServer) feed(r []byte) error {
	if err := ss.s.handleReport(context.Background(), r, netip.AddrPort{}); err != nil {
		return err
	}
	return ss.settle()
}

// settle runs the handler the last report called for and sends its
// response.
func (ss *syncServer) settle() error {
	return ss.s.runPending()
}

func TestVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			ss := newSyncServer(t, &fakeHandler{})
			for _, r := range v.inputs() {
				if err := ss.feed(r); err != nil {
					t.Fatal(err)
				}
			}
			got, want := ss.dev.out, v.outputs()
			for i := range max(len(got), len(want)) {
				switch {
				case i >= len(got):
					t.Errorf("missing report %d: %x", i, want[i])
				case i >= len(want):
					t.Errorf("extra report %d: %x", i, got[i])
				case !bytes.Equal(got[i], want[i]):
					t.Errorf("report %d:\n got %x\nwant %x", i, got[i], want[i])
				}
			}
			lastErr := "ok"
			for _, r := range got {
				if p, err := ParsePacket(r); err == nil && p.Init && p.Cmd == CmdError {
					lastErr = ErrorCode(p.Data[0]).String()
				}
			}
			if lastErr != v.expect {
				t.Errorf("outcome %s, want %s (%s)", lastErr, v.expect, v.comment)
			}
		})
	}
}
