package ctaphid

import (
	"io"
	"net"
	"sync"
)

// pipeBuffer is the number of reports each direction of a Pipe holds, like
// the report queue of a HID driver: enough for two maximum-size messages.
const pipeBuffer = 2 * (MaxSeq + 2)

// Pipe returns the two ends of an in-memory report link: what one end writes
// the other reads, in order. Each direction buffers a few hundred reports.
// Both ends are safe for concurrent use. After an end's Close, its own reads
// and writes fail with net.ErrClosed; the other end reads what was already
// sent, then io.EOF, and its writes fail with io.ErrClosedPipe.
func Pipe() (device, host ReportDevice) {
	d2h := make(chan []byte, pipeBuffer)
	h2d := make(chan []byte, pipeBuffer)
	d := &pipeEnd{rx: h2d, tx: d2h, done: make(chan struct{})}
	h := &pipeEnd{rx: d2h, tx: h2d, done: make(chan struct{})}
	d.peer, h.peer = h.done, d.done
	return d, h
}

type pipeEnd struct {
	rx   <-chan []byte
	tx   chan<- []byte
	done chan struct{} // closed by Close
	peer <-chan struct{}
	once sync.Once
}

func (p *pipeEnd) ReadReport() ([]byte, error) {
	select {
	case <-p.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case r := <-p.rx:
		return r, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-p.peer:
		select { // deliver what the peer wrote before closing
		case r := <-p.rx:
			return r, nil
		default:
			return nil, io.EOF
		}
	}
}

func (p *pipeEnd) WriteReport(report []byte) error {
	return p.write(append([]byte(nil), report...))
}

// write sends r itself, which the caller no longer touches.
func (p *pipeEnd) write(r []byte) error {
	select {
	case <-p.done:
		return net.ErrClosed
	case <-p.peer:
		return io.ErrClosedPipe
	default:
	}
	select {
	case p.tx <- r:
		return nil
	case <-p.done:
		return net.ErrClosed
	case <-p.peer:
		return io.ErrClosedPipe
	}
}

func (p *pipeEnd) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

// pipeReports gives Serve and Conn a Pipe end's incoming channel, so they
// receive reports in their own select instead of through a reader
// goroutine: two goroutine hand-offs fewer per report. rx carries the
// reports; done is closed by the end's Close, peer by the other end's
// (after which rx still holds what the peer sent before).
func pipeReports(dev ReportDevice) (rx <-chan []byte, done, peer <-chan struct{}, ok bool) {
	p, ok := dev.(*pipeEnd)
	if !ok {
		return nil, nil, nil, false
	}
	return p.rx, p.done, p.peer, true
}

// writeOwned writes a report its caller made for the write and no longer
// touches (a packet from Fragment or InitPacket): a Pipe end passes it on
// as it is instead of copying it; any other device gets WriteReport.
func writeOwned(dev ReportDevice, report []byte) error {
	if p, ok := dev.(*pipeEnd); ok {
		return p.write(report)
	}
	return dev.WriteReport(report)
}
