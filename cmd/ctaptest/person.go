package main

import (
	"context"
	"io"
	"os"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/control"
)

// stdin is where the person's answers come from (--person); tests
// replace it.
var stdin io.Reader = os.Stdin

// newPerson is the controller of --person: the person at the key, asked
// on this terminal to touch it, not to touch it, or to unplug it and plug
// it back in. A hidraw key's replug is seen by its node going away and
// coming back; a key over UDP has no node, so its replug is seen by the
// key going silent (CTAPHID_INIT unanswered) and answering INIT again.
func newPerson(out io.Writer, device, udpAddr string, canDecline bool) *control.Person {
	p := &control.Person{In: stdin, Out: out, Decline: canDecline}
	switch {
	case device != "":
		p.Replug = control.HIDRawReplug{Path: device}
	case udpAddr != "":
		p.Replug = control.ProbeReplug{Answers: func(ctx context.Context) bool {
			d, err := client.OpenUDP(ctx, udpAddr)
			if err != nil {
				return false
			}
			d.Close()
			return true
		}}
	}
	return p
}
