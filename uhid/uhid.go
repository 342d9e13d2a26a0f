// Package uhid creates a FIDO HID device through Linux's /dev/uhid
// (Documentation/hid/uhid.rst) and moves CTAPHID reports through it.
//
// The kernel turns the device into /dev/hidrawN, where hosts such as libfido2
// and browsers find it by its report descriptor ([FIDOReportDescriptor]).
// What a host writes to the hidraw node arrives here as UHID_OUTPUT events and
// is returned by [Device.ReadReport]; [Device.WriteReport] sends UHID_INPUT2,
// which the host reads from the hidraw node. A [Device] is a
// [ctaphid.ReportDevice], so [ctaphid.Serve] runs an authenticator on it.
//
// The kernel needs CONFIG_UHID (module uhid) and a HID driver for the device
// (hid-generic), and the process needs read-write access to /dev/uhid, which
// is normally root's only.
package uhid

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/virtkey/virtkey/ctaphid"
)

// Defaults for the zero fields of a [Config].
const (
	DefaultPath = "/dev/uhid"
	DefaultName = "virtkey"
	// BusUSB is BUS_USB from include/uapi/linux/input.h; hosts treat a
	// security key on another bus no differently, but USB is what real keys
	// report.
	BusUSB = 0x03
	// DefaultVendorID is pid.codes' vendor ID 0x1209, which is shared by open
	// hardware projects, and DefaultProductID its product ID 0x0001, which
	// pid.codes reserves as "Test PID" for devices that are not distributed.
	// No kernel quirk or udev rule matches the pair, so hid-generic binds it
	// and hosts identify the key by its report descriptor alone.
	DefaultVendorID  = 0x1209
	DefaultProductID = 0x0001
)

// Errors from [Create], wrapped with the failing call and what to do.
var (
	// ErrNoUHID means /dev/uhid does not exist or has no driver behind it.
	ErrNoUHID = errors.New("uhid: /dev/uhid is not available")
	// ErrPermission means the process may not open /dev/uhid read-write.
	ErrPermission = errors.New("uhid: no permission to open /dev/uhid")
)

// Config describes the HID device to create. Zero fields take the defaults
// given for them.
type Config struct {
	Path string // the uhid device node; default DefaultPath
	Name string // the HID name (HID_NAME in uevent); default DefaultName; at most 127 bytes
	Phys string // the physical path (HID_PHYS); at most 63 bytes
	Uniq string // the unique ID, e.g. a serial number (HID_UNIQ); at most 63 bytes

	Bus       uint16 // default BusUSB
	VendorID  uint32 // default DefaultVendorID
	ProductID uint32 // default DefaultProductID
	Version   uint32 // the device release number
	Country   uint32 // the HID country code; 0 means not localised

	// ReportDescriptor replaces FIDOReportDescriptor when set; tests use it.
	ReportDescriptor []byte

	// Logf, if set, is told about device events (START, OPEN, ...) and about
	// reports and requests that the device drops or refuses. The messages do
	// not start with the package name.
	Logf func(format string, args ...any)
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Bus == 0 {
		c.Bus = BusUSB
	}
	if c.VendorID == 0 {
		c.VendorID = DefaultVendorID
	}
	if c.ProductID == 0 {
		c.ProductID = DefaultProductID
	}
	if c.ReportDescriptor == nil {
		c.ReportDescriptor = FIDOReportDescriptor
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// Device is a HID device created through /dev/uhid. Its methods are safe for
// concurrent use.
//
// A goroutine started by New reads the kernel's events as soon as they come
// and keeps the reports for ReadReport. The kernel holds only 32 events for
// the device and drops output reports beyond that ("Output queue is full"),
// and a host writes a long CTAPHID message (up to 129 reports) as fast as it
// can, unlike USB, where each write waits for the device; so the reports must
// leave the kernel's queue without waiting for ReadReport's caller.
type Device struct {
	f    io.ReadWriteCloser
	logf func(format string, args ...any)

	reports chan []byte   // from the reader goroutine; closed when it stops
	readErr error         // why the reader stopped; set before reports is closed
	done    chan struct{} // closed by Close

	wmu    sync.Mutex // serialises writes, so events never interleave
	closed atomic.Bool
	once   sync.Once
	err    error // from the first Close

	started atomic.Bool // between START and STOP
	opened  atomic.Bool // between OPEN and CLOSE
}

// reportBuffer is how many reports the device holds for ReadReport: two
// maximum-size CTAPHID messages (1 + 128 reports each).
const reportBuffer = 2 * 129

var _ ctaphid.ReportDevice = (*Device)(nil)

// New creates the device described by cfg by writing UHID_CREATE2 to f, which
// must behave like an open /dev/uhid: each Read returns one whole event, each
// Write takes one, and Close unblocks a Read. Unlike [Create], New ignores
// cfg.Path. On failure New closes f. The caller must Close the device, which
// stops the goroutine that reads f.
func New(f io.ReadWriteCloser, cfg Config) (*Device, error) {
	cfg = cfg.withDefaults()
	ev, err := createEvent(&cfg, cfg.ReportDescriptor)
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Write(ev); err != nil {
		f.Close()
		return nil, fmt.Errorf("uhid: create %q: %w", cfg.Name, err)
	}
	d := &Device{
		f:       f,
		logf:    cfg.Logf,
		reports: make(chan []byte, reportBuffer),
		done:    make(chan struct{}),
	}
	go d.readLoop()
	return d, nil
}

// Started reports whether a HID driver has bound the device (between the
// kernel's START and STOP events). Until then the kernel refuses input.
func (d *Device) Started() bool { return d.started.Load() }

// Opened reports whether a host has the device open (between the kernel's
// OPEN and CLOSE events), for example through /dev/hidrawN.
func (d *Device) Opened() bool { return d.opened.Load() }

// linuxEIO is EIO on Linux, the error in GET_REPORT_REPLY and
// SET_REPORT_REPLY, which the kernel hands to the host.
const linuxEIO = 5

// maxEmptyReads bounds the zero-byte reads the device tolerates in a row; a
// real /dev/uhid never returns one.
const maxEmptyReads = 100

// ReadReport returns the next report a host sent to the device, without its
// report-ID byte. Meanwhile the device tracks START, STOP, OPEN and CLOSE,
// refuses GET_REPORT and SET_REPORT requests with EIO (the FIDO descriptor has
// no feature reports, and an unanswered request holds the host for seconds),
// and drops output reports it cannot use. After Close it returns an error
// wrapping net.ErrClosed.
func (d *Device) ReadReport() ([]byte, error) {
	select {
	case <-d.done:
		return nil, fmt.Errorf("uhid: read: %w", net.ErrClosed)
	default:
	}
	select {
	case r, ok := <-d.reports:
		if !ok {
			if d.closed.Load() {
				return nil, fmt.Errorf("uhid: read: %w", net.ErrClosed)
			}
			return nil, d.readErr
		}
		return r, nil
	case <-d.done:
		return nil, fmt.Errorf("uhid: read: %w", net.ErrClosed)
	}
}

// readLoop reads events until the file fails or the device is closed, and
// queues their reports for ReadReport.
func (d *Device) readLoop() {
	defer close(d.reports)
	buf := make([]byte, EventSize)
	empty := 0
	for {
		n, err := d.f.Read(buf)
		if n > 0 {
			empty = 0
			if r, ok := d.handle(parseEvent(buf[:n])); ok {
				select {
				case d.reports <- r:
				case <-d.done:
					return
				}
			}
		}
		switch {
		case d.closed.Load():
			return
		case err == nil && n == 0:
			if empty++; empty >= maxEmptyReads {
				d.readErr = fmt.Errorf("uhid: read: %w", io.ErrNoProgress)
				return
			}
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			d.readErr = fmt.Errorf("uhid: read: %w", err)
			return
		}
	}
}

// handle acts on one event from the kernel and returns the report it carries,
// if any.
func (d *Device) handle(ev event) ([]byte, bool) {
	switch ev.typ {
	case EventStart:
		d.started.Store(true)
		d.logf("%v: a HID driver bound the device", ev.typ)
	case EventStop:
		d.started.Store(false)
		d.opened.Store(false)
		d.logf("%v: the HID driver unbound the device", ev.typ)
	case EventOpen:
		d.opened.Store(true)
		d.logf("%v: a host opened the device", ev.typ)
	case EventClose:
		d.opened.Store(false)
		d.logf("%v: the last host closed the device", ev.typ)
	case EventOutput:
		return d.output(ev)
	case EventGetReport, EventSetReport:
		reply := EventGetReportReply
		if ev.typ == EventSetReport {
			reply = EventSetReportReply
		}
		d.logf("%v id=%d report %d type %d: refused with EIO", ev.typ, ev.id, ev.rnum, ev.rtype)
		if err := d.write(replyEvent(reply, ev.id, linuxEIO)); err != nil {
			d.logf("%v: %v", reply, err)
		}
	default:
		d.logf("ignored event %v", ev.typ)
	}
	return nil, false
}

// output returns the report of an OUTPUT event. The FIDO descriptor declares
// no report IDs, so the kernel passes hidraw's leading report number, which
// must be 0, and this strips it: libfido2's 65-byte write becomes a 64-byte
// report.
func (d *Device) output(ev event) ([]byte, bool) {
	switch {
	case ev.rtype != reportOutput:
		d.logf("OUTPUT of report type %d dropped", ev.rtype)
		return nil, false
	case len(ev.data) < 2:
		d.logf("OUTPUT of %d bytes dropped: no report after the report number", len(ev.data))
		return nil, false
	case ev.data[0] != 0:
		d.logf("OUTPUT with report number %d dropped: the device has only report 0", ev.data[0])
		return nil, false
	}
	return append([]byte(nil), ev.data[1:]...), true
}

// WriteReport sends report (at most DataMax bytes, normally
// [ctaphid.ReportSize]) to the host as an input report.
func (d *Device) WriteReport(report []byte) error {
	ev, err := inputEvent(report)
	if err != nil {
		return err
	}
	if err := d.write(ev); err != nil {
		return fmt.Errorf("uhid: write report: %w", err)
	}
	return nil
}

func (d *Device) write(ev []byte) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.closed.Load() {
		return net.ErrClosed
	}
	_, err := d.f.Write(ev)
	return err
}

// Close destroys the device (UHID_DESTROY), closes the file, and unblocks a
// ReadReport. Closing the file alone would destroy the device too; the
// explicit DESTROY makes the removal visible at once. Later calls return what
// the first returned.
func (d *Device) Close() error {
	d.once.Do(func() {
		d.wmu.Lock()
		d.closed.Store(true)
		close(d.done)
		_, werr := d.f.Write(destroyEvent())
		d.wmu.Unlock()
		cerr := d.f.Close()
		if werr != nil {
			d.err = fmt.Errorf("uhid: destroy: %w", werr)
		} else if cerr != nil {
			d.err = fmt.Errorf("uhid: close: %w", cerr)
		}
	})
	return d.err
}
