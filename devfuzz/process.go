package devfuzz

import (
	"context"
	"fmt"
	"sync"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctaphid"
)

// Process runs a key's command core behind ctaphid.Serve on an in-memory
// link, the way firmware runs behind a USB interface: a panic in the
// command core ends the whole device (CTAPHID included stops answering),
// as a crash of a key's firmware or of the virtkey daemon would, instead of
// ending the program that fuzzes it. Open after a power cycle starts it
// again.
type Process struct {
	// Handler is the command core; it keeps its state across crashes
	// (a power cycle of the key is the caller's business).
	Handler ctaphid.Handler
	// Crashed, when set, is called with the panic value.
	Crashed func(v any)
	// Config is passed to ctaphid.Serve (nil: its defaults).
	Config *ctaphid.ServerConfig

	mu   sync.Mutex
	stop func()
}

// Open starts the device on a new link and connects to it.
func (p *Process) Open(ctx context.Context) (*client.Device, error) {
	devEnd, hostEnd := ctaphid.Pipe()
	sctx, stop := context.WithCancel(context.Background())
	var once sync.Once
	crash := func(v any) {
		once.Do(func() {
			stop()
			devEnd.Close()
			if p.Crashed != nil {
				p.Crashed(v)
			}
		})
	}
	p.mu.Lock()
	if p.stop != nil {
		p.stop()
	}
	p.stop = func() { stop(); devEnd.Close() }
	p.mu.Unlock()
	go ctaphid.Serve(sctx, devEnd, crashing{h: p.Handler, crash: crash}, p.Config)
	dev, err := client.OpenDevice(ctx, hostEnd)
	if err != nil {
		crash(nil)
		return nil, fmt.Errorf("devfuzz: opening the in-process device: %w", err)
	}
	return dev, nil
}

// Close stops the device.
func (p *Process) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// crashing turns a panic of the handler into the end of the device.
type crashing struct {
	h     ctaphid.Handler
	crash func(any)
}

func (c crashing) HandleCBOR(ctx context.Context, req []byte) (resp []byte) {
	defer func() {
		if v := recover(); v != nil {
			c.crash(v)
			resp = nil
		}
	}()
	return c.h.HandleCBOR(ctx, req)
}

func (c crashing) HandleMsg(ctx context.Context, req []byte) (resp []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.crash(v)
			resp, err = nil, fmt.Errorf("devfuzz: the device crashed: %v", v)
		}
	}()
	return c.h.HandleMsg(ctx, req)
}
