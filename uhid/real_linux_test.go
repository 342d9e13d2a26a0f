package uhid

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// TestRealDevice creates a device on the real /dev/uhid and talks to it
// through the hidraw node the kernel makes, as a host would. It needs root,
// the uhid and hid-generic modules, and VIRTKEY_UHID_REAL=1; vm/run.sh runs it
// in a VM.
func TestRealDevice(t *testing.T) {
	if os.Getenv("VIRTKEY_UHID_REAL") != "1" {
		t.Skip("set VIRTKEY_UHID_REAL=1 to test against the kernel's /dev/uhid (needs root and the uhid module)")
	}
	uniq := fmt.Sprintf("virtkey-test-%d", os.Getpid())
	d, err := Create(Config{Name: "virtkey uhid test", Uniq: uniq, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	reports := make(chan []byte, 16)
	readErr := make(chan error, 1)
	go func() {
		for {
			r, err := d.ReadReport()
			if err != nil {
				readErr <- err
				return
			}
			reports <- r
		}
	}()

	sysDir := waitFor(t, "the hidraw node", func() (string, bool) {
		return findHidraw(uniq)
	})
	node := "/dev/" + filepath.Base(sysDir)
	t.Logf("device %s (%s)", node, sysDir)
	waitFor(t, "START", func() (struct{}, bool) { return struct{}{}, d.Started() })

	t.Run("report descriptor in sysfs", func(t *testing.T) {
		rd, err := os.ReadFile(filepath.Join(sysDir, "device", "report_descriptor"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(FIDOReportDescriptor, rd); diff != "" {
			t.Errorf("report descriptor (-want +got):\n%s", diff)
		}
		uevent, err := os.ReadFile(filepath.Join(sysDir, "device", "uevent"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"HID_ID=0003:00001209:00000001", "HID_NAME=virtkey uhid test", "HID_UNIQ=" + uniq} {
			if !strings.Contains(string(uevent), want+"\n") {
				t.Errorf("uevent lacks %q:\n%s", want, uevent)
			}
		}
	})

	if _, err := os.Stat(node); err != nil {
		t.Fatalf("%v (is devtmpfs mounted on /dev?)", err)
	}
	h, err := os.OpenFile(node, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	waitFor(t, "OPEN", func() (struct{}, bool) { return struct{}{}, d.Opened() })

	t.Run("host to device", func(t *testing.T) {
		for seed := range byte(3) {
			want := report(seed * 50)
			if _, err := h.Write(append([]byte{0}, want...)); err != nil {
				t.Fatalf("write %s: %v", node, err)
			}
			select {
			case got := <-reports:
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("report (-want +got):\n%s", diff)
				}
			case err := <-readErr:
				t.Fatal(err)
			case <-time.After(5 * time.Second):
				t.Fatal("no report within 5 s")
			}
		}
	})

	t.Run("device to host", func(t *testing.T) {
		for seed := range byte(3) {
			want := report(seed*50 + 7)
			if err := d.WriteReport(want); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 128)
			if err := h.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Logf("no read deadline on %s: %v", node, err)
			}
			n, err := h.Read(got)
			if err != nil {
				t.Fatalf("read %s: %v", node, err)
			}
			if diff := cmp.Diff(want, got[:n]); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("feature requests fail at once", func(t *testing.T) {
		// HIDIOCGFEATURE and HIDIOCSFEATURE make uhid send GET_REPORT and
		// SET_REPORT; the kernel waits up to 5 s for an answer, so a quick
		// EIO shows that the device refused them.
		for _, nr := range []uintptr{0x07, 0x06} { // HIDIOCGFEATURE, HIDIOCSFEATURE
			buf := make([]byte, 65)
			req := uintptr(3)<<30 | uintptr(len(buf))<<16 | uintptr('H')<<8 | nr
			start := time.Now()
			_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, h.Fd(), req, uintptr(unsafe.Pointer(&buf[0])))
			took := time.Since(start)
			if errno != syscall.EIO {
				t.Errorf("ioctl %#x: %v, want EIO", req, errno)
			}
			if took > 2*time.Second {
				t.Errorf("ioctl %#x took %v: the request was not answered", req, took)
			}
		}
	})

	h.Close()
	t.Run("close", func(t *testing.T) {
		waitFor(t, "CLOSE", func() (struct{}, bool) { return struct{}{}, !d.Opened() })
	})

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadReport after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadReport still blocked 5 s after Close")
	}
	waitFor(t, "the hidraw node to go", func() (struct{}, bool) {
		_, ok := findHidraw(uniq)
		return struct{}{}, !ok
	})
}

// findHidraw returns the sysfs directory of the hidraw node whose HID device
// has HID_UNIQ=uniq.
func findHidraw(uniq string) (string, bool) {
	dirs, _ := filepath.Glob("/sys/class/hidraw/hidraw*")
	for _, dir := range dirs {
		uevent, err := os.ReadFile(filepath.Join(dir, "device", "uevent"))
		if err == nil && bytes.Contains(uevent, []byte("HID_UNIQ="+uniq+"\n")) {
			return dir, true
		}
	}
	return "", false
}

// waitFor polls cond for up to 10 s.
func waitFor[T any](t *testing.T, what string, cond func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, ok := cond()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
