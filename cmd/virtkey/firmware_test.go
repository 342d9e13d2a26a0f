package main

import "testing"

func TestParseFirmware(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0.2.0", 0x000200, true},
		{"v5.4.3", 0x050403, true},
		{"255.255.255", 0xffffff, true},
		{"7", 7, true},
		{"0", 0, true},
		{"4294967295", 1<<32 - 1, true},
		{"4294967296", 0, false},
		{"1.2", 0, false},
		{"1.2.256", 0, false},
		{"1.2.3.4", 0, false},
		{"-1", 0, false},
		{"", 0, false},
	} {
		got, err := parseFirmware(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseFirmware(%q) = %#x, %v; want %#x, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestServeFirmwareVersion: getInfo's firmwareVersion (CTAP 2.1 §6.4
// member 0x0E) is the daemon's version unless --firmware-version says
// otherwise, and 0 leaves the member out; a CTAP 2.0 key has no such
// member (CTAP 2.0 §5.4) whatever the flag says.
func TestServeFirmwareVersion(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want uint64
	}{
		{nil, defaultFirmware()},
		{[]string{"--firmware-version", "5.4.3"}, 0x050403},
		{[]string{"--firmware-version", "0"}, 0},
		{[]string{"--profile", "fido20-pin", "--firmware-version", "5.4.3"}, 0},
	} {
		addr, stop := startDaemon(t, tt.args...)
		info := connect(t, addr).Info()
		if info.FirmwareVersion != tt.want {
			t.Errorf("serve %v: firmwareVersion %#x, want %#x", tt.args, info.FirmwareVersion, tt.want)
		}
		if code := stop(); code != 0 {
			t.Fatalf("serve %v exited with %d", tt.args, code)
		}
	}
	if defaultFirmware() == 0 {
		t.Error("the default firmware version is 0: getInfo would leave it out")
	}
}
