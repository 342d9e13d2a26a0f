package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// fidoDescriptor is the report descriptor of a full-speed FIDO key (CTAP
// 2.1 §11.2.8.1), as virtkey's uhid device and most hardware keys send it.
var fidoDescriptor = []byte{
	0x06, 0xD0, 0xF1, // Usage Page (FIDO Alliance)
	0x09, 0x01, // Usage (CTAPHID authenticator)
	0xA1, 0x01, // Collection (Application)
	0x09, 0x20, //   Usage (Input Report Data)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8)
	0x95, 0x40, //   Report Count (64)
	0x81, 0x02, //   Input (Data, Variable, Absolute)
	0x09, 0x21, //   Usage (Output Report Data)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8)
	0x95, 0x40, //   Report Count (64)
	0x91, 0x02, //   Output (Data, Variable, Absolute)
	0xC0, // End Collection
}

// keyboardDescriptor is a boot keyboard (HID 1.11 Appendix E.6): an 8-byte
// input report and a 1-byte LED output report.
var keyboardDescriptor = []byte{
	0x05, 0x01, // Usage Page (Generic Desktop)
	0x09, 0x06, // Usage (Keyboard)
	0xA1, 0x01, // Collection (Application)
	0x05, 0x07, //   Usage Page (Keyboard/Keypad)
	0x19, 0xE0, //   Usage Minimum (224)
	0x29, 0xE7, //   Usage Maximum (231)
	0x15, 0x00, //   Logical Minimum (0)
	0x25, 0x01, //   Logical Maximum (1)
	0x75, 0x01, //   Report Size (1)
	0x95, 0x08, //   Report Count (8)
	0x81, 0x02, //   Input (Data, Variable, Absolute): modifiers
	0x95, 0x01, //   Report Count (1)
	0x75, 0x08, //   Report Size (8)
	0x81, 0x01, //   Input (Constant): reserved
	0x95, 0x05, //   Report Count (5)
	0x75, 0x01, //   Report Size (1)
	0x05, 0x08, //   Usage Page (LEDs)
	0x19, 0x01, //   Usage Minimum (1)
	0x29, 0x05, //   Usage Maximum (5)
	0x91, 0x02, //   Output (Data, Variable, Absolute): LEDs
	0x95, 0x01, //   Report Count (1)
	0x75, 0x03, //   Report Size (3)
	0x91, 0x01, //   Output (Constant): padding
	0x95, 0x06, //   Report Count (6)
	0x75, 0x08, //   Report Size (8)
	0x15, 0x00, //   Logical Minimum (0)
	0x25, 0x65, //   Logical Maximum (101)
	0x05, 0x07, //   Usage Page (Keyboard/Keypad)
	0x19, 0x00, //   Usage Minimum (0)
	0x29, 0x65, //   Usage Maximum (101)
	0x81, 0x00, //   Input (Data, Array): key codes
	0xC0, // End Collection
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseReportDescriptor(t *testing.T) {
	t.Parallel()
	fido := hidCollection{UsagePage: 0xF1D0, Usage: 0x01, InputBits: 512, OutputBits: 512}
	keyboard := hidCollection{UsagePage: 0x01, Usage: 0x06, InputBits: 64, OutputBits: 8}
	// A mouse with report ID 1 and a 3-byte input report.
	mouse := []byte{0x05, 0x01, 0x09, 0x02, 0xA1, 0x01, 0x85, 0x01, 0x09, 0x01, 0xA1, 0x00,
		0x75, 0x08, 0x95, 0x03, 0x81, 0x06, 0xC0, 0xC0}
	tests := []struct {
		name    string
		desc    []byte
		want    []hidCollection
		wantErr string
	}{
		{name: "empty", desc: nil},
		{name: "fido", desc: fidoDescriptor, want: []hidCollection{fido}},
		{name: "keyboard", desc: keyboardDescriptor, want: []hidCollection{keyboard}},
		{name: "mouse then fido", desc: cat(mouse, fidoDescriptor), want: []hidCollection{
			{UsagePage: 0x01, Usage: 0x02, InputBits: 24, ReportIDs: true},
			// The report ID is global: the FIDO collection inherits it.
			{UsagePage: 0xF1D0, Usage: 0x01, InputBits: 512, OutputBits: 512, ReportIDs: true},
		}},
		{name: "extended usage", desc: cat(
			[]byte{0x05, 0x01, 0x0B, 0x01, 0x00, 0xD0, 0xF1}, // Usage Page (Generic Desktop), Usage (F1D0:0001)
			fidoDescriptor[5:]),
			want: []hidCollection{fido}},
		{name: "push and pop", desc: cat(
			[]byte{0x75, 0x08, 0x95, 0x40, 0xA4, 0x95, 0x01}, // size 8, count 64, Push, count 1
			fidoDescriptor[:7],
			[]byte{0x81, 0x02, 0xB4, 0x91, 0x02, 0xC0}), // Input (8 bits), Pop, Output (512 bits)
			want: []hidCollection{{UsagePage: 0xF1D0, Usage: 0x01, InputBits: 8, OutputBits: 512}}},
		{name: "long item skipped", desc: cat([]byte{0xFE, 0x02, 0x10, 0xAA, 0xBB}, fidoDescriptor), want: []hidCollection{fido}},
		{name: "nested collections", desc: cat(fidoDescriptor[:7], []byte{0xA1, 0x02}, fidoDescriptor[7:], []byte{0xC0}),
			want: []hidCollection{fido}},
		{name: "truncated item", desc: []byte{0x06, 0xD0}, wantErr: "truncated item"},
		{name: "truncated long item", desc: []byte{0xFE, 0x05, 0x00, 0x01}, wantErr: "truncated long item"},
		{name: "end without collection", desc: []byte{0xC0}, wantErr: "without a Collection"},
		{name: "collection left open", desc: fidoDescriptor[:len(fidoDescriptor)-1], wantErr: "left open"},
		{name: "pop without push", desc: []byte{0xB4}, wantErr: "Pop without Push"},
		{name: "report ID 0", desc: []byte{0x85, 0x00}, wantErr: "report ID 0"},
		{name: "reserved type", desc: []byte{0x0C}, wantErr: "reserved item type"},
		{name: "huge report", desc: cat(fidoDescriptor[:7],
			[]byte{0x77, 0xFF, 0xFF, 0xFF, 0xFF, 0x97, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x02, 0xC0}), wantErr: "bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseReportDescriptor(tt.desc)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errReportDescriptor) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				if got != nil {
					t.Fatalf("error with collections %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("collections (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseHIDUevent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uevent   string
		vid, pid uint16
		name     string
	}{
		{"DRIVER=hid-generic\nHID_ID=0003:00001050:00000407\nHID_NAME=Yubico YubiKey OTP+FIDO+CCID\nHID_PHYS=usb-0000:00:14.0-1/input1\n",
			0x1050, 0x0407, "Yubico YubiKey OTP+FIDO+CCID"},
		{"HID_NAME=a=b\n", 0, 0, "a=b"},
		{"HID_ID=0003:00001050\n", 0, 0, ""},
		{"HID_ID=0003:00011050:00000407\n", 0, 0, ""},
		{"HID_ID=0003:zz:00000407\n", 0, 0, ""},
		{"", 0, 0, ""},
	}
	for _, tt := range tests {
		vid, pid, name := parseHIDUevent([]byte(tt.uevent))
		if vid != tt.vid || pid != tt.pid || name != tt.name {
			t.Errorf("parseHIDUevent(%q) = %04x, %04x, %q; want %04x, %04x, %q", tt.uevent, vid, pid, name, tt.vid, tt.pid, tt.name)
		}
	}
}

// fakeSysfs is a /sys tree with a keyboard (hidraw0), two FIDO keys
// (hidraw9 and hidraw10, the latter without a uevent), a device with a
// broken descriptor (hidraw2), one without a device directory (hidraw3), a
// FIDO device with 32-byte reports (hidraw4) and one using report IDs
// (hidraw5).
func fakeSysfs() fstest.MapFS {
	small := append([]byte(nil), fidoDescriptor...)
	small[17], small[30] = 0x20, 0x20 // Report Count (32)
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	data := func(b []byte) *fstest.MapFile { return &fstest.MapFile{Data: b} }
	return fstest.MapFS{
		"class/hidraw/hidraw0/device/report_descriptor":    data(keyboardDescriptor),
		"class/hidraw/hidraw0/device/uevent":               file("HID_ID=0003:0000046D:0000C31C\nHID_NAME=Logitech USB Keyboard\n"),
		"class/hidraw/hidraw9/device/report_descriptor":    data(fidoDescriptor),
		"class/hidraw/hidraw9/device/uevent":               file("DRIVER=hid-generic\nHID_ID=0003:00001050:00000407\nHID_NAME=Yubico YubiKey OTP+FIDO+CCID\n"),
		"class/hidraw/hidraw10/device/report_descriptor":   data(fidoDescriptor),
		"class/hidraw/hidraw2/device/report_descriptor":    data([]byte{0xA1}),
		"class/hidraw/hidraw3/power/control":               file("auto\n"),
		"class/hidraw/hidraw4/device/report_descriptor":    data(small),
		"class/hidraw/hidraw5/device/report_descriptor":    data(cat([]byte{0x85, 0x02}, fidoDescriptor)),
		"class/hidraw/not-hidraw/device/report_descriptor": data(fidoDescriptor),
	}
}

func TestListHIDDevices(t *testing.T) {
	t.Parallel()
	got, err := listHIDDevices(fakeSysfs())
	if err != nil {
		t.Fatal(err)
	}
	want := []HIDInfo{
		{Path: "/dev/hidraw4", InputReportSize: 32, OutputReportSize: 32},
		{Path: "/dev/hidraw5", InputReportSize: 64, OutputReportSize: 64},
		{Path: "/dev/hidraw9", VendorID: 0x1050, ProductID: 0x0407, Product: "Yubico YubiKey OTP+FIDO+CCID",
			InputReportSize: 64, OutputReportSize: 64},
		{Path: "/dev/hidraw10", InputReportSize: 64, OutputReportSize: 64},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listHIDDevices (-want +got):\n%s", diff)
	}
}

func TestListHIDDevicesNone(t *testing.T) {
	t.Parallel()
	for name, sysfs := range map[string]fstest.MapFS{
		"no hidraw class": {"class/input/event0/uevent": &fstest.MapFile{}},
		"no devices":      {"class/hidraw": &fstest.MapFile{Mode: 0o755 | 1<<31}},
		"keyboard only":   {"class/hidraw/hidraw0/device/report_descriptor": &fstest.MapFile{Data: keyboardDescriptor}},
	} {
		got, err := listHIDDevices(sysfs)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: listHIDDevices = %v, %v; want none", name, got, err)
		}
	}
}

func TestCheckHIDNode(t *testing.T) {
	t.Parallel()
	sysfs := fakeSysfs()
	tests := []struct {
		path    string
		wantErr string
	}{
		{"/dev/hidraw9", ""},
		{"/dev/hidraw10", ""},
		{"/dev/hidraw77", ""}, // unknown to sysfs: let the open decide
		{"/dev/fido", ""},
		{"/dev/hidraw0", "not a FIDO device"},
		{"/dev/hidraw2", "malformed HID report descriptor"},
		{"/dev/hidraw4", "32 (input) and 32 (output) bytes"},
		{"/dev/hidraw5", "report IDs"},
	}
	for _, tt := range tests {
		err := checkHIDNode(sysfs, tt.path)
		if tt.wantErr == "" && err != nil {
			t.Errorf("checkHIDNode(%s) = %v, want nil", tt.path, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkHIDNode(%s) = %v, want an error mentioning %q", tt.path, err, tt.wantErr)
		}
	}
}

func TestOpenHIDRefusesKeyboard(t *testing.T) {
	t.Parallel()
	d, err := openHID(context.Background(), fakeSysfs(), "/dev/hidraw0")
	if err == nil || !strings.Contains(err.Error(), "not a FIDO device") {
		t.Fatalf("openHID(keyboard) = %v, %v; want a not-FIDO error", d, err)
	}
}

// FuzzParseReportDescriptor checks that no descriptor makes the parser
// panic, that an error comes without collections, and that sizes stay in
// bounds.
func FuzzParseReportDescriptor(f *testing.F) {
	f.Add(fidoDescriptor)
	f.Add(keyboardDescriptor)
	f.Add(cat([]byte{0x85, 0x01, 0xA4, 0xB4, 0xFE, 0x00, 0x00}, fidoDescriptor))
	f.Add([]byte{0x0B, 0x01, 0x00, 0xD0, 0xF1, 0xA1, 0x01, 0xC0})
	f.Fuzz(func(t *testing.T, d []byte) {
		cs, err := parseReportDescriptor(d)
		if err != nil {
			if cs != nil {
				t.Fatalf("error %v with collections %v", err, cs)
			}
			if !errors.Is(err, errReportDescriptor) {
				t.Fatalf("error %v does not wrap errReportDescriptor", err)
			}
			return
		}
		for _, c := range cs {
			if c.InputBits < 0 || c.InputBits > maxReportBits || c.OutputBits < 0 || c.OutputBits > maxReportBits {
				t.Fatalf("collection %+v out of bounds", c)
			}
		}
		_, _, _ = fidoCollection(d)
	})
}
