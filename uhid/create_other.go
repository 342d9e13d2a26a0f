//go:build !linux

package uhid

import "fmt"

// Create fails: uhid is Linux's.
func Create(cfg Config) (*Device, error) {
	return nil, fmt.Errorf("%w: uhid is a Linux interface", ErrNoUHID)
}
