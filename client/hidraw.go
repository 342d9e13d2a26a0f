package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/virtkey/virtkey/ctaphid"
)

// HIDInfo describes a FIDO HID device that Linux exposes through hidraw: one
// whose report descriptor has an application collection with usage page
// 0xF1D0 and usage 0x01 (CTAP 2.1 §11.2.8.1).
type HIDInfo struct {
	// Path is the device node, such as /dev/hidraw0.
	Path string
	// VendorID and ProductID are the USB (or other bus) IDs from the
	// device's uevent HID_ID.
	VendorID, ProductID uint16
	// Product is the device's name, HID_NAME in its uevent.
	Product string
	// InputReportSize and OutputReportSize are the sizes of the FIDO
	// collection's reports in bytes, without a report-ID byte: 64 for a
	// full-speed key (CTAP 2.1 §11.2.4).
	InputReportSize, OutputReportSize int
}

// sysHIDRaw is where sysfs lists hidraw devices, relative to /sys.
const sysHIDRaw = "class/hidraw"

// listHIDDevices is ListHIDDevices on the sysfs tree sysfs, rooted like
// /sys. A missing class/hidraw directory (no hidraw driver) means no
// devices. Devices whose report descriptor cannot be read or parsed, and
// those without a FIDO collection, are left out. The result is sorted by
// device number.
func listHIDDevices(sysfs fs.FS) ([]HIDInfo, error) {
	entries, err := fs.ReadDir(sysfs, sysHIDRaw)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client: listing hidraw devices: %w", err)
	}
	var out []HIDInfo
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "hidraw") {
			continue
		}
		info, c, err := hidInfo(sysfs, e.Name())
		if err != nil || c == nil {
			continue
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b HIDInfo) int { return hidrawNumber(a.Path) - hidrawNumber(b.Path) })
	return out, nil
}

// hidrawNumber is N of /dev/hidrawN, or -1.
func hidrawNumber(path string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "hidraw"))
	if err != nil {
		return -1
	}
	return n
}

// hidInfo reads what sysfs says about the hidraw device name (hidrawN):
// its report descriptor and its uevent. It returns the FIDO collection, or
// nil for a device without one. A uevent that is missing or lacks HID_ID or
// HID_NAME leaves those fields empty.
func hidInfo(sysfs fs.FS, name string) (HIDInfo, *hidCollection, error) {
	dir := sysHIDRaw + "/" + name + "/device"
	desc, err := fs.ReadFile(sysfs, dir+"/report_descriptor")
	if err != nil {
		return HIDInfo{}, nil, fmt.Errorf("client: %s: %w", name, err)
	}
	c, fido, err := fidoCollection(desc)
	if err != nil {
		return HIDInfo{}, nil, fmt.Errorf("client: %s: %w", name, err)
	}
	if !fido {
		return HIDInfo{}, nil, nil
	}
	info := HIDInfo{
		Path:             "/dev/" + name,
		InputReportSize:  c.InputReportSize(),
		OutputReportSize: c.OutputReportSize(),
	}
	if ev, err := fs.ReadFile(sysfs, dir+"/uevent"); err == nil {
		info.VendorID, info.ProductID, info.Product = parseHIDUevent(ev)
	}
	return info, &c, nil
}

// parseHIDUevent takes the IDs and the name from a HID device's uevent
// file: HID_ID=BBBB:VVVVVVVV:PPPPPPPP (bus, vendor, product in hex) and
// HID_NAME=... . What is missing or malformed is left zero.
func parseHIDUevent(b []byte) (vendor, product uint16, name string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch key {
		case "HID_ID":
			parts := strings.Split(val, ":")
			if len(parts) != 3 {
				continue
			}
			v, err1 := strconv.ParseUint(parts[1], 16, 32)
			p, err2 := strconv.ParseUint(parts[2], 16, 32)
			if err1 != nil || err2 != nil || v > 0xFFFF || p > 0xFFFF {
				continue
			}
			vendor, product = uint16(v), uint16(p)
		case "HID_NAME":
			name = val
		}
	}
	return vendor, product, name
}

// OpenHID opens the FIDO hidraw device at path (such as a HIDInfo's Path)
// with OpenHIDRaw and allocates a CTAPHID channel on it like OpenDevice.
// When sysfs describes the device, OpenHID first checks that it has a FIDO
// collection with 64-byte reports and no report IDs, so that a keyboard
// is never sent CTAPHID packets. ctx bounds the INIT exchange only.
func OpenHID(ctx context.Context, path string) (*Device, error) {
	return openHID(ctx, os.DirFS("/sys"), path)
}

func openHID(ctx context.Context, sysfs fs.FS, path string) (*Device, error) {
	if err := checkHIDNode(sysfs, path); err != nil {
		return nil, err
	}
	rd, err := OpenHIDRaw(path)
	if err != nil {
		return nil, err
	}
	return OpenDevice(ctx, rd)
}

// checkHIDNode refuses a hidraw node that sysfs describes as something other
// than a 64-byte FIDO device. A node sysfs does not know passes.
func checkHIDNode(sysfs fs.FS, path string) error {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	name := filepath.Base(path)
	if !strings.HasPrefix(name, "hidraw") {
		return nil
	}
	info, c, err := hidInfo(sysfs, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case c == nil:
		return fmt.Errorf("client: %s is not a FIDO device (no usage page 0xF1D0 collection)", path)
	case c.ReportIDs:
		return fmt.Errorf("client: %s: the FIDO collection uses report IDs; CTAPHID needs unnumbered reports", path)
	case info.InputReportSize != ctaphid.ReportSize || info.OutputReportSize != ctaphid.ReportSize:
		return fmt.Errorf("client: %s: FIDO reports of %d (input) and %d (output) bytes, want %d", path,
			info.InputReportSize, info.OutputReportSize, ctaphid.ReportSize)
	}
	return nil
}

// errLongReport is an input report longer than a FIDO device's 64 bytes.
var errLongReport = fmt.Errorf("input report longer than %d bytes (a device with report IDs or larger reports)", ctaphid.ReportSize)

// readHIDReport reads one input report from r, a hidraw node of a FIDO
// device with 64-byte unnumbered reports (CTAP 2.1 §11.2.4). hidraw returns
// one report per read, starting with the report ID only on a device that
// numbers its reports (Linux Documentation/hid/hidraw.rst). A shorter report
// is zero-padded to 64 bytes; a longer one, which is what a numbered
// report's leading ID byte makes of a 64-byte report, is errLongReport, so
// that a device of the wrong kind is refused rather than misread.
func readHIDReport(r io.Reader) ([]byte, error) {
	buf := make([]byte, ctaphid.ReportSize+1) // one byte more to see a longer report
	n, err := r.Read(buf)
	if err != nil {
		return nil, err
	}
	if n > ctaphid.ReportSize {
		return nil, errLongReport
	}
	clear(buf[n:])
	return buf[:ctaphid.ReportSize], nil
}
