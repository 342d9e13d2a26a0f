//go:build linux

package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/virtkey/virtkey/ctaphid"
)

// seqpacketPair returns a hidrawDevice on one end of a SOCK_SEQPACKET pair,
// which keeps datagram boundaries like hidraw keeps reports, and the other
// end's file descriptor as the "kernel" side.
func seqpacketPair(t *testing.T) (*hidrawDevice, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("socketpair: %v", err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[1]) })
	return newHIDRaw(os.NewFile(uintptr(fds[0]), "/dev/hidraw-test")), fds[1]
}

func TestHIDRawReportFraming(t *testing.T) {
	t.Parallel()
	h, peer := seqpacketPair(t)
	defer h.Close()

	// Writes carry report ID 0 in front of the 64-byte report.
	report := bytes.Repeat([]byte{0xA5}, 10)
	if err := h.WriteReport(report); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200)
	n, err := syscall.Read(peer, buf)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 65)
	copy(want[1:], report)
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("device got %x, want %x", buf[:n], want)
	}
	if err := h.WriteReport(make([]byte, 65)); err == nil {
		t.Fatal("a 65-byte report was accepted")
	}

	// Reads return 64-byte reports; a short one is padded, a long one refused.
	in := bytes.Repeat([]byte{0x5A}, ctaphid.ReportSize)
	for _, r := range [][]byte{in, in[:8], append(in, 0)} {
		if _, err := syscall.Write(peer, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.ReadReport()
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("ReadReport = %x, %v; want %x", got, err, in)
	}
	got, err = h.ReadReport()
	if err != nil || len(got) != ctaphid.ReportSize || !bytes.Equal(got[:8], in[:8]) || got[8] != 0 {
		t.Fatalf("short report: ReadReport = %x, %v", got, err)
	}
	if _, err := h.ReadReport(); err == nil || !strings.Contains(err.Error(), "longer") {
		t.Fatalf("long report: err = %v", err)
	}
}

func TestHIDRawCloseUnblocksRead(t *testing.T) {
	t.Parallel()
	h, _ := seqpacketPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := h.ReadReport()
		errc <- err
	}()
	// Whether the read already waits in the poller or not, Close must
	// make it return net.ErrClosed.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadReport after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock ReadReport")
	}
	if err := h.WriteReport([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteReport after Close: %v, want net.ErrClosed", err)
	}
}

func TestOpenHIDRawErrors(t *testing.T) {
	t.Parallel()
	if _, err := OpenHIDRaw(filepath.Join(t.TempDir(), "hidraw0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing node: %v, want os.ErrNotExist", err)
	}
	file := filepath.Join(t.TempDir(), "hidraw1")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenHIDRaw(file); err == nil || !strings.Contains(err.Error(), "not a character device") {
		t.Errorf("regular file: %v, want a not-a-character-device error", err)
	}
}

func TestListHIDDevicesHere(t *testing.T) {
	t.Parallel()
	// This machine may or may not have hidraw devices; the call must not fail.
	infos, err := ListHIDDevices()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range infos {
		if !strings.HasPrefix(i.Path, "/dev/hidraw") {
			t.Errorf("path %q", i.Path)
		}
	}
}

// TestListHIDDevicesSymlinks lays out sysfs as Linux does, class entries
// and device links being symbolic links, and lists it through os.DirFS.
func TestListHIDDevicesSymlinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	hid := filepath.Join(root, "devices/virtual/misc/uhid/0003:15D9:0A37.0001")
	node := filepath.Join(hid, "hidraw/hidraw0")
	for _, dir := range []string{node, filepath.Join(root, "class/hidraw")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		filepath.Join(hid, "report_descriptor"): fidoDescriptor,
		filepath.Join(hid, "uevent"):            []byte("DRIVER=hid-generic\nHID_ID=0003:000015D9:00000A37\nHID_NAME=virtkey\nHID_PHYS=\nHID_UNIQ=\nMODALIAS=hid:b0003g0001v000015D9p00000A37\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(node, "device"):               "../../../0003:15D9:0A37.0001",
		filepath.Join(root, "class/hidraw/hidraw0"): "../../devices/virtual/misc/uhid/0003:15D9:0A37.0001/hidraw/hidraw0",
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	got, err := listHIDDevices(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	want := []HIDInfo{{Path: "/dev/hidraw0", VendorID: 0x15D9, ProductID: 0x0A37, Product: "virtkey", InputReportSize: 64, OutputReportSize: 64}}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("listHIDDevices = %+v, want %+v", got, want)
	}
}

// kernelEnd is the far end of seqpacketPair seen as the device: it expects
// hidraw's report-ID byte 0 on what the host writes and sends bare reports.
type kernelEnd struct{ f *os.File }

func (k kernelEnd) ReadReport() ([]byte, error) {
	buf := make([]byte, 2*ctaphid.ReportSize)
	n, err := k.f.Read(buf)
	if err != nil {
		if errors.Is(err, os.ErrClosed) {
			return nil, net.ErrClosed
		}
		return nil, err
	}
	if n != 1+ctaphid.ReportSize || buf[0] != 0 {
		return nil, errors.New("kernelEnd: want report ID 0 and 64 bytes")
	}
	return buf[1:n], nil
}

func (k kernelEnd) WriteReport(r []byte) error { _, err := k.f.Write(r); return err }
func (k kernelEnd) Close() error               { return k.f.Close() }

// TestHIDRawWithServe runs CTAPHID end to end over hidraw framing: a
// selection that waits for a touch until WithDefaultKeepalive's handler
// sees STATUS_UPNEEDED and touches.
func TestHIDRawWithServe(t *testing.T) {
	t.Parallel()
	h, peer := seqpacketPair(t)
	pf, err := syscall.Dup(peer)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(pf, true); err != nil {
		t.Fatal(err)
	}
	key := newTestHandler()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ctaphid.Serve(ctx, kernelEnd{os.NewFile(uintptr(pf), "kernel")}, key, nil) }()
	defer func() {
		cancel()
		<-served
	}()

	dev, err := OpenDevice(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	var once sync.Once
	c, err := New(ctx, dev, WithDefaultKeepalive(func(s ctaphid.KeepaliveStatus) {
		if s == ctaphid.StatusUPNeeded {
			once.Do(func() { close(key.release) })
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	wantFixedInfo(t, c.Info())
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := c.Selection(sctx); err != nil {
		t.Fatalf("selection: %v", err)
	}
}
