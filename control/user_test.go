package control_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/control"
	"github.com/virtkey/virtkey/ctap"
)

// TestUserKeepsRecentRequests: past MaxRecorded requests, a User keeps
// the last MaxRecorded of each kind and still counts them all, and
// WaitRequests counts every touch.
func TestUserKeepsRecentRequests(t *testing.T) {
	t.Parallel()
	u := control.NewUser()
	ctx := context.Background()
	const n = 2*control.MaxRecorded + 3
	var touches []authenticator.TouchRequest
	var uvs []authenticator.UVRequest
	for i := range n {
		tr := authenticator.TouchRequest{Command: ctap.CmdGetAssertion, RPID: strconv.Itoa(i)}
		touches = append(touches, tr)
		if err := u.Touch(ctx, tr); err != nil {
			t.Fatal(err)
		}
		uv := authenticator.UVRequest{RPID: tr.RPID}
		uvs = append(uvs, uv)
		if err := u.VerifyUser(ctx, uv); err != nil {
			t.Fatal(err)
		}
	}
	if got := u.Touches(); got != n {
		t.Errorf("Touches() = %d, want %d", got, n)
	}
	if diff := cmp.Diff(touches[n-control.MaxRecorded:], u.Requests()); diff != "" {
		t.Errorf("Requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(uvs[n-control.MaxRecorded:], u.UVRequests()); diff != "" {
		t.Errorf("UVRequests (-want +got):\n%s", diff)
	}
	if err := u.WaitRequests(ctx, n); err != nil {
		t.Fatal(err)
	}
}
