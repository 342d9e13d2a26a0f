package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/control"
)

// socketController drives a key through its control socket (--control):
// a virtkey daemon's (`virtkey serve --control PATH`) or any simulator's
// that speaks package control's protocol (docs/control-protocol.md). It is
// a control.Client whose capabilities are what the server says in its
// hello: for a virtkey daemon scripted presence, power cycles and the
// clock, UV and fingerprint samples on profiles with a sensor.
type socketController struct {
	path string

	once sync.Once
	c    *control.Client
}

var _ conformance.Controller = (*socketController)(nil)

func (s *socketController) client() *control.Client {
	s.once.Do(func() { s.c = control.Dial(s.path) })
	return s.c
}

// check says hello, so that an unreachable or foreign socket is one clear
// error before the first case. Like --wait for the key, it retries for
// up to wait while the socket is not there yet.
func (s *socketController) check(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, _, err := s.client().Hello(hctx)
		cancel()
		if err == nil {
			return nil
		}
		var refused *control.Error
		if errors.As(err, &refused) || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("--control %s: %w", s.path, err)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// Capabilities implements conformance.Controller.
func (s *socketController) Capabilities() []conformance.Capability {
	return s.client().Capabilities()
}

// PowerCycle implements conformance.Controller.
func (s *socketController) PowerCycle(ctx context.Context) error {
	return s.client().PowerCycle(ctx)
}

// SetPresence implements conformance.Controller.
func (s *socketController) SetPresence(p conformance.Presence) error {
	return s.client().SetPresence(p)
}

// SetUV implements conformance.Controller.
func (s *socketController) SetUV(o conformance.UVOutcome) error { return s.client().SetUV(o) }

// PushSamples implements conformance.Controller.
func (s *socketController) PushSamples(samples ...conformance.FingerSample) error {
	return s.client().PushSamples(samples...)
}

// Advance implements conformance.Controller.
func (s *socketController) Advance(d time.Duration) error { return s.client().Advance(d) }
