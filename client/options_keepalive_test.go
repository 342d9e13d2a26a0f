package client

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/ctaphid"
)

func TestWithDefaultKeepalive(t *testing.T) {
	t.Parallel()
	ft := &fakeTransport{steps: []step{
		{keepalives: []ctaphid.KeepaliveStatus{ctaphid.StatusProcessing}, resp: append([]byte{0}, fixedInfo...)},
		{keepalives: []ctaphid.KeepaliveStatus{ctaphid.StatusUPNeeded}, resp: []byte{0}},
		{keepalives: []ctaphid.KeepaliveStatus{ctaphid.StatusUPNeeded, ctaphid.StatusProcessing}, resp: []byte{0}},
		{keepalives: []ctaphid.KeepaliveStatus{ctaphid.StatusUPNeeded}, resp: []byte{0}},
	}}
	var (
		mu              sync.Mutex
		byDefault, mine []ctaphid.KeepaliveStatus
	)
	record := func(into *[]ctaphid.KeepaliveStatus) func(ctaphid.KeepaliveStatus) {
		return func(s ctaphid.KeepaliveStatus) {
			mu.Lock()
			defer mu.Unlock()
			*into = append(*into, s)
		}
	}
	ctx := context.Background()
	c, err := New(ctx, ft, WithDefaultKeepalive(record(&byDefault)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Selection(ctx); err != nil { // the default
		t.Fatal(err)
	}
	if err := c.Selection(ctx, WithKeepalive(record(&mine))); err != nil { // the call's own
		t.Fatal(err)
	}
	if err := c.Selection(ctx, WithKeepalive(nil)); err != nil { // nil: the default again
		t.Fatal(err)
	}
	wantDefault := []ctaphid.KeepaliveStatus{ctaphid.StatusProcessing, ctaphid.StatusUPNeeded, ctaphid.StatusUPNeeded}
	wantMine := []ctaphid.KeepaliveStatus{ctaphid.StatusUPNeeded, ctaphid.StatusProcessing}
	if !slices.Equal(byDefault, wantDefault) || !slices.Equal(mine, wantMine) {
		t.Fatalf("default saw %v, want %v; the call's own saw %v, want %v", byDefault, wantDefault, mine, wantMine)
	}
}
