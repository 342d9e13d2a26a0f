package authenticator

import (
	"context"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// selection is authenticatorSelection (CTAP 2.1 §6.9): the platform asks
// the user to pick this key by touching it. A touch is CTAP2_OK, a decline
// CTAP2_ERR_OPERATION_DENIED, a timeout CTAP2_ERR_USER_ACTION_TIMEOUT.
func (a *Authenticator) selection(ctx context.Context) error {
	err := a.touch(ctx, TouchRequest{Command: ctap.CmdSelection, Reason: ReasonSelection})
	switch outcome(err) {
	case touched:
		return nil
	case declined:
		if a.faulty(FaultSelectionDeclineIgnored) {
			return nil
		}
		return fmt.Errorf("%w: user declined", ctap.StatusOperationDenied)
	case timedOut:
		if a.faulty(FaultSelectionTimeoutIgnored) {
			return nil
		}
		return fmt.Errorf("%w: no touch", ctap.StatusUserActionTimeout)
	}
	return err
}
