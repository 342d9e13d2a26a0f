package client

import "github.com/virtkey/virtkey/ctaphid"

// WithDefaultKeepalive has f called with the status of every
// CTAPHID_KEEPALIVE packet (CTAP 2.1 §11.2.9.1.7) received during a command
// sent without a WithKeepalive option of its own (or with WithKeepalive(nil)),
// the getInfo that New sends included. A platform uses it to ask the user
// for a touch on StatusUPNeeded whatever the command. Like WithKeepalive's,
// f runs on the transport's goroutine and must not block.
func WithDefaultKeepalive(f func(ctaphid.KeepaliveStatus)) Option {
	return func(c *Ctap2) { c.onKeepalive = f }
}
