//go:build linux

package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/virtkey/virtkey/ctaphid"
)

// ListHIDDevices lists the FIDO devices Linux exposes through hidraw: every
// /sys/class/hidraw/hidrawN whose report descriptor has a FIDO application
// collection (usage page 0xF1D0, usage 0x01; CTAP 2.1 §11.2.8.1), with the
// IDs and name from its uevent and its report sizes, sorted by N. Without a
// hidraw driver the list is empty. On systems other than Linux it returns
// an error wrapping errors.ErrUnsupported.
func ListHIDDevices() ([]HIDInfo, error) {
	return listHIDDevices(os.DirFS("/sys"))
}

// OpenHIDRaw opens the hidraw node at path, such as /dev/hidraw0, read-write
// as a ctaphid.ReportDevice for a FIDO device with 64-byte unnumbered
// reports: WriteReport sends report ID 0 followed by the 64-byte report
// (65 bytes, as hidraw wants), ReadReport returns 64-byte reports. The file
// descriptor is non-blocking and served by the runtime's poller, so Close
// unblocks a ReadReport in progress, which then fails with an error wrapping
// net.ErrClosed. OpenHIDRaw does not check what the device is: see OpenHID.
// On systems other than Linux it returns an error wrapping
// errors.ErrUnsupported.
func OpenHIDRaw(path string) (ctaphid.ReportDevice, error) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("client: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("client: %w", &os.PathError{Op: "fstat", Path: path, Err: err})
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFCHR {
		syscall.Close(fd)
		return nil, fmt.Errorf("client: %s is not a character device", path)
	}
	return newHIDRaw(os.NewFile(uintptr(fd), path)), nil
}

// hidrawDevice is a hidraw node as a ctaphid.ReportDevice.
type hidrawDevice struct {
	f *os.File // non-blocking: reads wait in the poller
}

func newHIDRaw(f *os.File) *hidrawDevice { return &hidrawDevice{f: f} }

// ReadReport implements ctaphid.ReportDevice with readHIDReport.
func (h *hidrawDevice) ReadReport() ([]byte, error) {
	r, err := readHIDReport(h.f)
	if err != nil {
		return nil, h.wrap("read", err)
	}
	return r, nil
}

// WriteReport implements ctaphid.ReportDevice: report ID 0, then report
// zero-padded to 64 bytes.
func (h *hidrawDevice) WriteReport(report []byte) error {
	if len(report) > ctaphid.ReportSize {
		return fmt.Errorf("client: %s: %d-byte report, at most %d", h.f.Name(), len(report), ctaphid.ReportSize)
	}
	buf := make([]byte, 1+ctaphid.ReportSize)
	copy(buf[1:], report)
	n, err := h.f.Write(buf)
	if err != nil {
		return h.wrap("write", err)
	}
	if n != len(buf) {
		return fmt.Errorf("client: %s: write: %w", h.f.Name(), io.ErrShortWrite)
	}
	return nil
}

// Close implements ctaphid.ReportDevice.
func (h *hidrawDevice) Close() error {
	if err := h.f.Close(); err != nil {
		return h.wrap("close", err)
	}
	return nil
}

// wrap names the device in err and makes a closed file net.ErrClosed, as
// ctaphid.ReportDevice promises.
func (h *hidrawDevice) wrap(op string, err error) error {
	if errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("client: %s: %s: %w", h.f.Name(), op, net.ErrClosed)
	}
	return fmt.Errorf("client: %s: %s: %w", h.f.Name(), op, err)
}
