package ctaphid

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// The UDP transport follows the SoloKeys simulator convention: one 64-byte
// report per datagram, without a report-ID byte. The device conventionally
// listens on 127.0.0.1:8111.

// maxDatagram is the read buffer size; longer datagrams are truncated, and
// Serve drops any report longer than ReportSize.
const maxDatagram = 2048

// ListenUDP returns the device end of a UDP report link listening on addr
// ("127.0.0.1:8111", or port 0 for any free port). It answers to the address
// of the last datagram it received; a write before any datagram arrived
// fails. The returned device also has a LocalAddr() net.Addr method.
func ListenUDP(addr string) (ReportDevice, error) {
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
	peer *net.UDPAddr // device side: the sender of the last datagram
}

var errNoPeer = errors.New("ctaphid: no datagram received yet, so no peer to answer")

func (d *udpDevice) ReadReport() ([]byte, error) {
	buf := make([]byte, maxDatagram)
	n, from, err := d.conn.ReadFromUDP(buf)
	if err != nil {
		return nil, err
	}
	if !d.connected {
		d.mu.Lock()
		d.peer = from
		d.mu.Unlock()
	}
	return buf[:n], nil
}

func (d *udpDevice) WriteReport(report []byte) error {
	if d.connected {
		_, err := d.conn.Write(report)
		return err
	}
	d.mu.Lock()
	peer := d.peer
	d.mu.Unlock()
	if peer == nil {
		return errNoPeer
	}
	_, err := d.conn.WriteToUDP(report, peer)
	return err
}

func (d *udpDevice) Close() error { return d.conn.Close() }

// LocalAddr returns the socket's local address.
func (d *udpDevice) LocalAddr() net.Addr { return d.conn.LocalAddr() }
