package conformance_test

import (
	"context"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/virtkeytest"
)

// TestRecord: Options.Record gets every message a case sends, with the
// case's ID, the bytes and the answer.
func TestRecord(t *testing.T) {
	var mu sync.Mutex
	var got []conformance.Exchange
	var ids []string
	cases := []conformance.Case{{ID: "rec-getinfo", Section: "§6.4", Title: "records", Versions: conformance.CTAP2, Run: func(t *conformance.T) {
		if _, err := t.Ctap2().GetInfo(t.Context()); err != nil {
			t.Fatalf("getInfo: %v", err)
		}
	}}}
	opts := conformance.Options{Cases: cases, Record: func(id string, x conformance.Exchange) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, x)
		ids = append(ids, id)
	}}
	rs := conformance.Run(context.Background(), virtkeytest.NewTarget(authenticator.Config{}, true), opts)
	if len(rs) != 1 || rs[0].Outcome != conformance.Pass {
		t.Fatalf("results %+v", rs)
	}
	if len(got) < 2 { // client.New's getInfo, then the case's
		t.Fatalf("recorded %d exchanges, want at least 2", len(got))
	}
	last := got[len(got)-1]
	if ids[len(ids)-1] != "rec-getinfo" || string(last.RequestBytes) != "\x04" || len(last.ResponseBytes) < 2 || last.ResponseBytes[0] != 0 {
		t.Errorf("last exchange %q: %+v", ids[len(ids)-1], last)
	}
}
