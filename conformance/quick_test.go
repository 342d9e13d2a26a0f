package conformance_test

import (
	"context"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/virtkeytest"
)

// Transport timings of a quickTarget's keys: what the whole-suite tests
// would otherwise wait for once per run. hid-msg-timeout waits out the
// transaction timeout (3 s by default) and hid-keepalive-processing three
// keepalives (100 ms apart by default). The transaction timeout stays far
// above the time any case takes between a message's first packet and its
// last, even on a loaded machine.
const (
	quickTransactionTimeout = 500 * time.Millisecond
	quickKeepaliveInterval  = 20 * time.Millisecond
)

// quickTarget is an in-process target whose keys answer an incomplete
// message with ERR_MSG_TIMEOUT after quickTransactionTimeout and send
// keepalives every quickKeepaliveInterval (ctaphid.ServerConfig); in
// everything else it is the virtkeytest.Target it holds.
// TestSuiteInProcess keeps the defaults.
type quickTarget struct{ *virtkeytest.Target }

func quick(t *virtkeytest.Target) quickTarget { return quickTarget{t} }

// Open implements conformance.Target as virtkeytest.Target.Open does,
// with the key's ServerConfig and the quick timings.
func (q quickTarget) Open(ctx context.Context) (*client.Device, error) {
	k, err := q.Controlled()
	if err != nil {
		return nil, err
	}
	var sc ctaphid.ServerConfig
	if k.ServerConfig != nil {
		sc = *k.ServerConfig
	}
	sc.TransactionTimeout, sc.KeepaliveInterval = quickTransactionTimeout, quickKeepaliveInterval
	return client.OpenInProcess(ctx, k, &sc)
}
