//go:build !linux

package client

import (
	"errors"
	"fmt"

	"github.com/virtkey/virtkey/ctaphid"
)

// errNoHIDRaw is the answer of the hidraw functions off Linux.
var errNoHIDRaw = fmt.Errorf("client: hidraw devices need Linux: %w", errors.ErrUnsupported)

// ListHIDDevices lists the FIDO devices Linux exposes through hidraw. On
// this system it returns an error wrapping errors.ErrUnsupported.
func ListHIDDevices() ([]HIDInfo, error) { return nil, errNoHIDRaw }

// OpenHIDRaw opens a Linux hidraw node as a ctaphid.ReportDevice. On this
// system it returns an error wrapping errors.ErrUnsupported.
func OpenHIDRaw(path string) (ctaphid.ReportDevice, error) { return nil, errNoHIDRaw }
