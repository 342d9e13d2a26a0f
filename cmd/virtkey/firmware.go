package main

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
)

// The firmware version a served key reports in getInfo (CTAP 2.1 §6.4
// member 0x0E, firmwareVersion: "a vendor-defined number"). virtkey
// encodes a release MAJOR.MINOR.PATCH as MAJOR<<16 | MINOR<<8 | PATCH,
// the way several vendors do (a YubiKey 5.4.3 reports 0x050403), so a
// tester can tell which daemon it talks to.

// develFirmware is the version a build that is not a tagged release
// reports: virtkey 0.2, the release line this tree leads to.
const develFirmware = "0.2.0"

// firmwareFlag is --firmware-version: a MAJOR.MINOR.PATCH version or a
// plain number; 0 leaves the member out of getInfo.
type firmwareFlag struct{ v uint64 }

func (f *firmwareFlag) String() string { return strconv.FormatUint(f.v, 10) }

func (f *firmwareFlag) Set(s string) error {
	v, err := parseFirmware(s)
	if err != nil {
		return err
	}
	f.v = v
	return nil
}

// parseFirmware reads "MAJOR.MINOR.PATCH" (each 0-255, a leading "v"
// allowed) or a decimal number below 2^32.
func parseFirmware(s string) (uint64, error) {
	t := strings.TrimPrefix(s, "v")
	if !strings.Contains(t, ".") {
		n, err := strconv.ParseUint(t, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q: want MAJOR.MINOR.PATCH or a number below 2^32", s)
		}
		return n, nil
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q: want MAJOR.MINOR.PATCH", s)
	}
	var v uint64
	for _, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return 0, fmt.Errorf("%q: each of MAJOR.MINOR.PATCH is 0 to 255", s)
		}
		v = v<<8 | n
	}
	return v, nil
}

// defaultFirmware is the version of this build: the module version when
// the binary was built from a tagged release (go install …@vX.Y.Z), and
// develFirmware otherwise.
func defaultFirmware() uint64 {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v, err := parseFirmware(strings.SplitN(bi.Main.Version, "-", 2)[0]); err == nil && bi.Main.Version != "(devel)" {
			return v
		}
	}
	v, _ := parseFirmware(develFirmware)
	return v
}
