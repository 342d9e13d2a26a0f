package ctaphid

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// The UDP transport follows the SoloKeys simulator convention: one 64-byte
// report per datagram, without a report-ID byte. The device conventionally
// listens on 127.0.0.1:8111.
//
// UDP has no access control: any process that can reach the address can use
// the key, so a device should listen on a loopback address only.

// maxDatagram is the read buffer size; longer datagrams are truncated, and
// Serve drops any report longer than ReportSize.
const maxDatagram = 2048

// PeerDevice is a ReportDevice that several hosts share and that tells them
// apart, such as a UDP socket: each report comes from one host, and each
// answer goes to one host. [Serve] binds each channel to the host that
// allocated it and sends that channel's answers there only.
type PeerDevice interface {
	ReportDevice
	// ReadReportFrom is ReadReport that also returns the sender.
	ReadReportFrom() ([]byte, netip.AddrPort, error)
	// WriteReportTo sends one report to one host.
	WriteReportTo(report []byte, to netip.AddrPort) error
}

// ListenUDP returns the device end of a UDP report link listening on addr
// ("127.0.0.1:8111", or port 0 for any free port). It is a [PeerDevice]:
// Serve answers each host on its own channels only. Used as a plain
// ReportDevice, it answers the sender of the last datagram it received, and a
// write before any datagram arrived fails. The returned device also has a
// LocalAddr() net.Addr method.
func ListenUDP(addr string) (PeerDevice, error) {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("ctaphid: %w", err)
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		return nil, fmt.Errorf("ctaphid: %w", err)
	}
	return &udpDevice{conn: c}, nil
}

// DialUDP returns the host end of a UDP report link to a device listening on
// addr. The returned device also has a LocalAddr() net.Addr method.
func DialUDP(addr string) (ReportDevice, error) {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("ctaphid: %w", err)
	}
	c, err := net.DialUDP("udp", nil, a)
	if err != nil {
		return nil, fmt.Errorf("ctaphid: %w", err)
	}
	return &udpDevice{conn: c, connected: true}, nil
}

type udpDevice struct {
	conn      *net.UDPConn
	connected bool // host side: the socket is connected to the device

	mu   sync.Mutex
	peer netip.AddrPort // device side: the sender of the last datagram
}

var errNoPeer = errors.New("ctaphid: no datagram received yet, so no peer to answer")

func (d *udpDevice) ReadReportFrom() ([]byte, netip.AddrPort, error) {
	buf := make([]byte, maxDatagram)
	n, from, err := d.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return buf[:n], from, nil
}

func (d *udpDevice) WriteReportTo(report []byte, to netip.AddrPort) error {
	if d.connected {
		return errors.New("ctaphid: WriteReportTo on the host end of a UDP link")
	}
	_, err := d.conn.WriteToUDPAddrPort(report, to)
	return err
}

func (d *udpDevice) ReadReport() ([]byte, error) {
	r, from, err := d.ReadReportFrom()
	if err != nil {
		return nil, err
	}
	if !d.connected {
		d.mu.Lock()
		d.peer = from
		d.mu.Unlock()
	}
	return r, nil
}

func (d *udpDevice) WriteReport(report []byte) error {
	if d.connected {
		_, err := d.conn.Write(report)
		return err
	}
	d.mu.Lock()
	peer := d.peer
	d.mu.Unlock()
	if !peer.IsValid() {
		return errNoPeer
	}
	return d.WriteReportTo(report, peer)
}

func (d *udpDevice) Close() error { return d.conn.Close() }

// LocalAddr returns the socket's local address.
func (d *udpDevice) LocalAddr() net.Addr { return d.conn.LocalAddr() }

// IsLoopback reports whether a UDP listening address ("127.0.0.1:8111",
// "[::1]:8111", "localhost:8111") can be reached from this machine only. An
// unspecified host ("0.0.0.0:8111", ":8111", "[::]:8111") listens on every
// interface and is not loopback; a host name counts only if every address it
// resolves to is loopback.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("ctaphid: %w", err)
	}
	if host == "" {
		return false, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false, fmt.Errorf("ctaphid: %w", err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}
