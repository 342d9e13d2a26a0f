package uhid

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func report(seed byte) []byte {
	r := make([]byte, 64)
	for i := range r {
		r[i] = seed + byte(i)
	}
	return r
}

func TestCreateEventBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []byte
	}{
		{
			name: "defaults",
			cfg:  Config{},
			want: kernelEvent(11, map[int][]byte{
				4:   []byte("virtkey"),
				260: u16(uint16(len(FIDOReportDescriptor))),
				262: u16(0x03),
				264: u32(0x1209),
				268: u32(0x0001),
				280: FIDOReportDescriptor,
			}),
		},
		{
			name: "every field",
			cfg: Config{
				Name: "Example Key", Phys: "usb-0000:00:14.0-1/input0", Uniq: "SN1234",
				Bus: 0x05, VendorID: 0x1050, ProductID: 0x0407, Version: 0x0512, Country: 33,
				ReportDescriptor: []byte{0x06, 0xD0, 0xF1, 0xC0},
			},
			want: kernelEvent(11, map[int][]byte{
				4:   []byte("Example Key"),
				132: []byte("usb-0000:00:14.0-1/input0"),
				196: []byte("SN1234"),
				260: u16(4),
				262: u16(0x05),
				264: u32(0x1050),
				268: u32(0x0407),
				272: u32(0x0512),
				276: u32(33),
				280: {0x06, 0xD0, 0xF1, 0xC0},
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			d, err := New(f, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			w := f.written()
			if len(w) != 1 {
				t.Fatalf("New wrote %d events, want 1 (CREATE2)", len(w))
			}
			if len(w[0]) != 4376 {
				t.Errorf("CREATE2 is %d bytes, want 4376 (sizeof struct uhid_event)", len(w[0]))
			}
			if diff := cmp.Diff(tt.want, w[0]); diff != "" {
				t.Errorf("CREATE2 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"name without room for NUL", Config{Name: strings.Repeat("n", 128)}},
		{"phys too long", Config{Phys: strings.Repeat("p", 64)}},
		{"uniq too long", Config{Uniq: strings.Repeat("u", 64)}},
		{"descriptor too long", Config{ReportDescriptor: make([]byte, 4097)}},
		{"descriptor empty", Config{ReportDescriptor: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			d, err := New(f, tt.cfg)
			if err == nil {
				d.Close()
				t.Fatal("New succeeded")
			}
			if d != nil {
				t.Error("New returned a device with its error")
			}
			if len(f.written()) != 0 || f.closes != 1 {
				t.Errorf("after a refused config: %d writes, %d closes; want 0 and 1", len(f.written()), f.closes)
			}
		})
	}
	// The longest strings that fit are accepted.
	if _, err := New(newFake(), Config{Name: strings.Repeat("n", 127), Phys: strings.Repeat("p", 63),
		Uniq: strings.Repeat("u", 63), ReportDescriptor: make([]byte, 4096)}); err != nil {
		t.Errorf("New with the longest fields: %v", err)
	}
}

func TestWriteReportInput2(t *testing.T) {
	t.Parallel()
	f := newFake()
	d, err := New(f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := report(0x80)
	if err := d.WriteReport(r); err != nil {
		t.Fatal(err)
	}
	r[0] = 0xFF // the device must not keep the caller's slice
	want := kernelEvent(12, map[int][]byte{4: u16(64), 6: report(0x80)})
	w := f.written()
	if diff := cmp.Diff(want, w[len(w)-1]); diff != "" {
		t.Errorf("INPUT2 (-want +got):\n%s", diff)
	}
	if err := d.WriteReport(make([]byte, 4097)); err == nil {
		t.Error("WriteReport of 4097 bytes succeeded")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	f := newFake()
	d, err := New(f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := d.ReadReport()
		readErr <- err
	}()
	// Whether ReadReport is already waiting or not yet started, Close
	// must make it return net.ErrClosed.
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadReport after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadReport still blocked after Close")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	w := f.written()
	if diff := cmp.Diff([][]byte{kernelEvent(1, nil)}, w[1:]); diff != "" {
		t.Errorf("events after CREATE2 (-want +got):\n%s", diff)
	}
	if f.closes != 1 {
		t.Errorf("file closed %d times, want 1", f.closes)
	}
	if err := d.WriteReport(report(0)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteReport after Close: %v, want net.ErrClosed", err)
	}
	if _, err := d.ReadReport(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadReport after Close: %v, want net.ErrClosed", err)
	}
}

// state is what Started and Opened report.
type state struct{ Started, Opened bool }

func TestReadReport(t *testing.T) {
	t.Parallel()
	withID0 := append([]byte{0}, report(1)...)
	tests := []struct {
		name    string
		events  [][]byte
		reports [][]byte // what ReadReport returns until the fake ends
		replies [][]byte // events written after CREATE2
		state   state
	}{
		{
			name:    "hidraw output loses its report number",
			events:  [][]byte{outputEvent(withID0, 1)},
			reports: [][]byte{report(1)},
		},
		{
			name:    "a short hidraw write keeps its length",
			events:  [][]byte{outputEvent([]byte{0, 0xAA, 0xBB}, 1)},
			reports: [][]byte{{0xAA, 0xBB}},
		},
		{
			name: "outputs the device cannot use are dropped",
			events: [][]byte{
				outputEvent(append([]byte{3}, report(2)...), 1), // report number 3
				outputEvent(withID0, 0),                         // feature report type
				outputEvent([]byte{0}, 1),                       // the report number alone
				outputEvent(nil, 1),                             // nothing
				outputEvent(append([]byte{0}, report(4)...), 1),
			},
			reports: [][]byte{report(4)},
		},
		{
			name:   "start and open",
			events: [][]byte{kernelEvent(2, nil), kernelEvent(4, nil)},
			state:  state{Started: true, Opened: true},
		},
		{
			name:   "open then close",
			events: [][]byte{kernelEvent(2, nil), kernelEvent(4, nil), kernelEvent(5, nil)},
			state:  state{Started: true},
		},
		{
			name:   "stop closes too",
			events: [][]byte{kernelEvent(2, nil), kernelEvent(4, nil), kernelEvent(3, nil)},
			state:  state{},
		},
		{
			name:   "requests are refused with EIO",
			events: [][]byte{requestEvent(9, 0x01020304, 0, 0), requestEvent(13, 7, 1, 1)},
			replies: [][]byte{
				kernelEvent(10, map[int][]byte{4: u32(0x01020304), 8: u16(5)}),
				kernelEvent(14, map[int][]byte{4: u32(7), 8: u16(5)}),
			},
		},
		{
			name: "reports between other events, in order",
			events: [][]byte{
				kernelEvent(2, nil), kernelEvent(4, nil),
				outputEvent(append([]byte{0}, report(10)...), 1),
				requestEvent(9, 1, 0, 2),
				outputEvent(append([]byte{0}, report(20)...), 1),
				kernelEvent(99, nil), // unknown
				kernelEvent(0, nil),  // legacy CREATE, never sent
			},
			reports: [][]byte{report(10), report(20)},
			replies: [][]byte{kernelEvent(10, map[int][]byte{4: u32(1), 8: u16(5)})},
			state:   state{Started: true, Opened: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			var logs []string
			var mu sync.Mutex
			d, err := New(f, Config{Logf: func(format string, args ...any) {
				mu.Lock()
				logs = append(logs, fmt.Sprintf(format, args...))
				mu.Unlock()
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			f.push(tt.events...)
			f.end()
			var got [][]byte
			for {
				r, err := d.ReadReport()
				if err != nil {
					break
				}
				got = append(got, r)
			}
			if diff := cmp.Diff(tt.reports, got); diff != "" {
				t.Errorf("reports (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.replies, f.written()[1:], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events written after CREATE2 (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.state, state{d.Started(), d.Opened()}); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			if len(logs) < len(tt.events)-len(tt.reports) {
				t.Errorf("%d log lines for %d events that carry no report: %q",
					len(logs), len(tt.events)-len(tt.reports), logs)
			}
		})
	}
}

func TestReadReportShortEvents(t *testing.T) {
	t.Parallel()
	f := newFake()
	d, err := New(f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f.readCut = 8 // an OUTPUT cut before its size field reads as size 0
	f.push(outputEvent(append([]byte{0}, report(1)...), 1), []byte{6}, []byte{9, 0, 0, 0, 1})
	f.end()
	if r, err := d.ReadReport(); err == nil {
		t.Errorf("ReadReport returned %x from cut events", r)
	}
	// The cut GET_REPORT (id 1, padded with zeros) is still answered.
	w := f.written()
	want := kernelEvent(10, map[int][]byte{4: u32(1), 8: u16(5)})
	if diff := cmp.Diff([][]byte{want}, w[1:]); diff != "" {
		t.Errorf("events written (-want +got):\n%s", diff)
	}
}

// emptyReader returns zero bytes forever, which a real /dev/uhid never does.
type emptyReader struct{ fakeUHID }

func (*emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestReadReportNoProgress(t *testing.T) {
	t.Parallel()
	f := &emptyReader{}
	f.cond = sync.NewCond(&f.mu)
	d, err := New(f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ReadReport(); err == nil {
		t.Fatal("ReadReport returned a report from empty reads")
	}
}

// The device drains the kernel's queue without waiting for ReadReport: the
// kernel keeps only 32 events and drops output reports beyond that.
func TestEventsHandledWithoutReadReport(t *testing.T) {
	t.Parallel()
	f := newFake()
	d, err := New(f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var evs [][]byte
	for i := range 100 {
		evs = append(evs, outputEvent(append([]byte{0}, report(byte(i))...), 1))
	}
	f.push(kernelEvent(2, nil), kernelEvent(4, nil))
	f.push(evs...)
	f.push(requestEvent(9, 77, 0, 0))
	want := kernelEvent(10, map[int][]byte{4: u32(77), 8: u16(5)})
	// The reader answers GET_REPORT while 100 reports wait unread; the
	// test's time limit catches a reader that does not.
	f.waitWritten(func(w [][]byte) bool { return len(w) >= 2 && bytes.Equal(w[1], want) })
	if !d.Started() || !d.Opened() {
		t.Errorf("Started %v, Opened %v; want both", d.Started(), d.Opened())
	}
	for i := range 100 {
		r, err := d.ReadReport()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r, report(byte(i))) {
			t.Fatalf("report %d is %x", i, r)
		}
	}
}

func TestConcurrentWritesDoNotInterleave(t *testing.T) {
	t.Parallel()
	f := newFake()
	d, err := New(f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				if err := d.WriteReport(report(byte(i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	f.push(requestEvent(9, 42, 0, 0))
	f.end()
	d.ReadReport()
	wg.Wait()
	d.Close()
	w := f.written()
	if len(w) != 1+8*20+1+1 {
		t.Fatalf("%d events written, want %d", len(w), 1+8*20+1+1)
	}
	for i, ev := range w {
		if len(ev) != 4376 {
			t.Errorf("event %d is %d bytes", i, len(ev))
		}
	}
}

func TestOpenError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		errno    syscall.Errno
		sentinel error
		also     error
		advice   string
	}{
		{syscall.ENOENT, ErrNoUHID, fs.ErrNotExist, "modprobe uhid"},
		{syscall.ENODEV, ErrNoUHID, syscall.ENODEV, "modprobe uhid"},
		{syscall.EACCES, ErrPermission, fs.ErrPermission, "run as root or grant access to /dev/uhid"},
		{syscall.EPERM, ErrPermission, fs.ErrPermission, "run as root or grant access to /dev/uhid"},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			t.Parallel()
			err := openError("/dev/uhid", tt.errno)
			if !errors.Is(err, tt.sentinel) || !errors.Is(err, tt.also) {
				t.Errorf("%v: want errors.Is %v and %v", err, tt.sentinel, tt.also)
			}
			if !strings.Contains(err.Error(), tt.advice) {
				t.Errorf("%v: does not say %q", err, tt.advice)
			}
		})
	}
	if err := openError("/dev/uhid", syscall.EBUSY); errors.Is(err, ErrNoUHID) || errors.Is(err, ErrPermission) {
		t.Errorf("EBUSY: %v", err)
	}
}

func TestCreateMissingDevice(t *testing.T) {
	t.Parallel()
	_, err := Create(Config{Path: filepath.Join(t.TempDir(), "uhid")})
	if !errors.Is(err, ErrNoUHID) {
		t.Fatalf("Create on a missing node: %v, want ErrNoUHID", err)
	}
	t.Log(err)
}

// TestFIDOReportDescriptor walks the descriptor's short items (HID 1.11
// §6.2.2.2) and checks what a FIDO host looks for.
func TestFIDOReportDescriptor(t *testing.T) {
	t.Parallel()
	type main struct {
		Tag                     string
		UsagePage, Usage        uint32
		ReportSize, ReportCount uint32
		Flags                   uint32
	}
	var (
		got                            []main
		page, size, count, usage, coll uint32
	)
	d := FIDOReportDescriptor
	for i := 0; i < len(d); {
		prefix := d[i]
		n := int(prefix & 3)
		if n == 3 {
			n = 4
		}
		if i+1+n > len(d) {
			t.Fatalf("item at %d runs past the end", i)
		}
		var v uint32
		for j := n - 1; j >= 0; j-- {
			v = v<<8 | uint32(d[i+1+j])
		}
		switch prefix &^ 3 {
		case 0x04: // Usage Page (global)
			page = v
		case 0x08: // Usage (local)
			usage = v
		case 0x74: // Report Size (global)
			size = v
		case 0x94: // Report Count (global)
			count = v
		case 0xA0: // Collection
			coll++
			got = append(got, main{Tag: "collection", UsagePage: page, Usage: usage, Flags: v})
		case 0xC0: // End Collection
			coll--
			got = append(got, main{Tag: "end"})
		case 0x80:
			got = append(got, main{"input", page, usage, size, count, v})
		case 0x90:
			got = append(got, main{"output", page, usage, size, count, v})
		case 0x84, 0xB0:
			t.Errorf("item %#x at %d: report IDs and feature reports are not expected", prefix, i)
		}
		i += 1 + n
	}
	want := []main{
		{Tag: "collection", UsagePage: 0xF1D0, Usage: 0x01, Flags: 0x01},
		{"input", 0xF1D0, 0x20, 8, 64, 0x02},
		{"output", 0xF1D0, 0x21, 8, 64, 0x02},
		{Tag: "end"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("descriptor items (-want +got):\n%s", diff)
	}
	if coll != 0 {
		t.Errorf("%d collections left open", coll)
	}
}

func FuzzEvents(f *testing.F) {
	f.Add(outputEvent(append([]byte{0}, report(1)...), 1))
	f.Add(requestEvent(9, 1, 0, 0))
	f.Add(requestEvent(13, 2, 0, 0))
	f.Add(kernelEvent(2, nil)[:8])
	f.Add(append(kernelEvent(6, map[int][]byte{4100: {0xFF, 0xFF}, 4102: {1}})[:4103], 0xFF))
	f.Add([]byte{6, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		// The input is a stream of events, each preceded by a u16 length.
		fake := newFake()
		var evs [][]byte
		for len(in) >= 2 {
			n := min(int(in[0])|int(in[1])<<8, len(in)-2)
			evs = append(evs, in[2:2+n])
			in = in[2+n:]
		}
		if len(in) > 0 {
			evs = append(evs, in)
		}
		d, err := New(fake, Config{})
		if err != nil {
			t.Fatal(err)
		}
		fake.push(evs...)
		fake.end()
		for {
			r, err := d.ReadReport()
			if err != nil {
				if r != nil {
					t.Fatal("ReadReport returned a report with an error")
				}
				break
			}
			if len(r) == 0 || len(r) > 4095 {
				t.Fatalf("report of %d bytes", len(r))
			}
		}
		d.Close()
		w := fake.written()
		for i, ev := range w[1 : len(w)-1] { // between CREATE2 and DESTROY: replies only
			if len(ev) != 4376 || (ev[0] != 10 && ev[0] != 14) || !bytes.Equal(ev[8:10], u16(5)) {
				t.Fatalf("event %d written: %x", i, ev[:16])
			}
		}
	})
}
