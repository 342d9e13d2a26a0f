package conformance

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Exchange is one CTAPHID message a case sent through its clients and
// what came back, for reports: a failure or a warning carries the last
// few, so that a vendor sees the bytes on the wire.
type Exchange struct {
	// Request names the message: the CTAPHID command, and for CTAPHID_CBOR
	// the CTAP command its first byte selects.
	Request string `json:"request"`
	// RequestBytes is the CTAPHID payload sent.
	RequestBytes HexBytes `json:"requestBytes"`
	// ResponseBytes is the payload received; empty when none came.
	ResponseBytes HexBytes `json:"responseBytes,omitempty"`
	// Error is the transport's error, if any.
	Error string `json:"error,omitempty"`
}

// HexBytes marshals to JSON as a hex string.
type HexBytes []byte

// MarshalText implements encoding.TextMarshaler.
func (b HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(b)), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *HexBytes) UnmarshalText(text []byte) error {
	d, err := hex.DecodeString(string(text))
	*b = d
	return err
}

// keptExchanges is how many of a case's last exchanges a result keeps.
const keptExchanges = 6

// describeRequest names a CTAPHID message for a person.
func describeRequest(cmd ctaphid.Cmd, payload []byte) string {
	switch {
	case cmd == ctaphid.CmdCBOR && len(payload) > 0:
		return fmt.Sprintf("%v %v", cmd, ctap.Command(payload[0]))
	case cmd == ctaphid.CmdMsg && len(payload) > 1:
		return fmt.Sprintf("%v APDU INS %#02x", cmd, payload[1])
	}
	return cmd.String()
}

// tap is a client.Transport that records each message of a case.
type tap struct {
	t    *T
	next client.Transport
}

// Call implements client.Transport.
func (p tap) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, onKeepalive func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	x := &Exchange{Request: describeRequest(cmd, payload), RequestBytes: append(HexBytes(nil), payload...)}
	p.t.mu.Lock()
	p.t.exchanges = append(p.t.exchanges, x)
	if len(p.t.exchanges) > keptExchanges {
		p.t.exchanges = p.t.exchanges[len(p.t.exchanges)-keptExchanges:]
	}
	p.t.lastRequest = x.Request
	p.t.mu.Unlock()
	resp, err := p.next.Call(ctx, cmd, payload, onKeepalive)
	p.t.mu.Lock()
	x.ResponseBytes = append(HexBytes(nil), resp...)
	if err != nil {
		x.Error = err.Error()
	}
	done := *x
	p.t.mu.Unlock()
	if p.t.record != nil {
		p.t.record(p.t.c.ID, done)
	}
	return resp, err
}

// Tap returns tr wrapped so that the case records what passes through it:
// cases that build their own clients on T.Device use it to have their
// messages in the report.
func (t *T) Tap(tr client.Transport) client.Transport { return tap{t: t, next: tr} }

// recorded returns copies of the exchanges the case kept.
func (t *T) recorded() []Exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Exchange, len(t.exchanges))
	for i, x := range t.exchanges {
		out[i] = *x
	}
	return out
}
