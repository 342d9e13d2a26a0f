package main

import (
	"context"
	"log/slog"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// loggingHandler logs each CTAP command and the status it got.
type loggingHandler struct {
	*authenticator.Authenticator
	log *slog.Logger
}

func (h loggingHandler) HandleCBOR(ctx context.Context, req []byte) []byte {
	resp := h.Authenticator.HandleCBOR(ctx, req)
	if len(req) > 0 && len(resp) > 0 {
		h.log.Info("ctap", "cmd", ctap.Command(req[0]).String(), "status", ctap.Status(resp[0]).String(),
			"in", len(req), "out", len(resp))
	}
	return resp
}
