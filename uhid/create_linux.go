package uhid

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Create opens cfg.Path (default /dev/uhid) and creates the device described
// by cfg. A missing or driverless device node gives an error wrapping
// [ErrNoUHID], a forbidden one an error wrapping [ErrPermission]; both say
// what to do.
//
// The file is opened non-blocking, so reads wait in Go's poller (/dev/uhid
// supports poll) and Close unblocks a ReadReport at once.
func Create(cfg Config) (*Device, error) {
	cfg = cfg.withDefaults()
	fd, err := syscall.Open(cfg.Path, syscall.O_RDWR|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, openError(cfg.Path, err)
	}
	f := os.NewFile(uintptr(fd), cfg.Path)
	return New(f, cfg)
}

// openError explains a failed open of the uhid device node.
func openError(path string, err error) error {
	pe := &os.PathError{Op: "open", Path: path, Err: err}
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return fmt.Errorf("%w: %w; load the uhid module (modprobe uhid), or use a kernel built with CONFIG_UHID", ErrNoUHID, pe)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: %w; run as root or grant access to %s (e.g. a udev rule: KERNEL==\"uhid\", GROUP=\"...\", MODE=\"0660\")", ErrPermission, pe, path)
	}
	return fmt.Errorf("uhid: %w", pe)
}
