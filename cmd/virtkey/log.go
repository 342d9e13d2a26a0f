package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// loggingHandler is the daemon's ctaphid.Handler: the authenticator, with
// each command and the status it got logged, and getInfo answered as the
// profile's key.
type loggingHandler struct {
	*authenticator.Authenticator
	profile *profile
	log     *slog.Logger
}

func (h loggingHandler) HandleCBOR(ctx context.Context, req []byte) []byte {
	start := time.Now()
	resp := h.Authenticator.HandleCBOR(ctx, req)
	if len(req) > 0 && ctap.Command(req[0]) == ctap.CmdGetInfo {
		resp = h.profile.rewriteInfo(resp)
	}
	if len(req) > 0 && len(resp) > 0 {
		h.log.Info("ctap", "cmd", ctap.Command(req[0]).String(), "status", ctap.Status(resp[0]).String(),
			"in", len(req), "out", len(resp), "took", time.Since(start).Round(time.Microsecond))
	}
	return resp
}

func (h loggingHandler) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	resp, err := h.Authenticator.HandleMsg(ctx, req)
	if err != nil {
		h.log.Info("ctap1", "in", len(req), "err", err)
	} else if n := len(resp); n >= 2 && len(req) >= 2 {
		h.log.Info("ctap1", "ins", fmt.Sprintf("0x%02x", req[1]), "sw", ctap.StatusWord(uint16(resp[n-2])<<8|uint16(resp[n-1])).String(),
			"in", len(req), "out", n)
	} else {
		h.log.Info("ctap1", "in", len(req), "out", len(resp))
	}
	return resp, err
}
