package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
)

// What the daemon logs at which level (--log-level):
//
//   - debug: every command with its status, size and duration, touches
//     answered at once, transport details;
//   - info: start-up and shut-down, and changes to the key's state: a
//     credential created or deleted (with its RP ID), the PIN set or
//     changed, a reset, a configuration change, a fingerprint enrolled
//     or removed, a user's details updated; requests that wait for the
//     user and how they ended;
//   - warn and error: a state file others can read, a command that failed
//     inside the key (CTAP1_ERR_OTHER), a PIN blocked.
//
// A client can make the daemon log at info only by changing what the key
// holds, which a relying party or the user asked for, so the log does not
// grow with every getInfo or getAssertion.

// loggingHandler is the daemon's ctaphid.Handler: the authenticator, with
// each command and the status it got logged.
type loggingHandler struct {
	*authenticator.Authenticator
	log *slog.Logger
}

func (h loggingHandler) HandleCBOR(ctx context.Context, req []byte) []byte {
	start := time.Now()
	resp := h.Authenticator.HandleCBOR(ctx, req)
	if len(req) > 0 && len(resp) > 0 {
		cmd, status := ctap.Command(req[0]), ctap.Status(resp[0])
		h.log.Debug("ctap", "cmd", cmd.String(), "status", status.String(),
			"in", len(req), "out", len(resp), "took", time.Since(start).Round(time.Microsecond))
		switch status {
		case ctap.StatusOK:
			h.logStateChange(cmd, req[1:], resp[1:])
		case ctap.StatusOther:
			h.log.Error("command failed inside the key", "cmd", cmd.String(), "status", status.String())
		case ctap.StatusPINBlocked:
			h.log.Warn("the PIN is blocked: only authenticatorReset makes the key usable again", "cmd", cmd.String())
		}
	}
	return resp
}

// logStateChange logs, at info, what a successful command changed in the
// key's state. Credentials created and deleted are logged from the
// authenticator's events (logCredentialEvent), which carry the RP ID.
func (h loggingHandler) logStateChange(cmd ctap.Command, params, body []byte) {
	sub := func(v any, get func() *uint64) (uint64, bool) {
		if ctap.Unmarshal(params, v) != nil || get() == nil {
			return 0, false
		}
		return *get(), true
	}
	switch cmd {
	case ctap.CmdReset:
		h.log.Info("reset", "erased", "credentials, PIN, fingerprints, large blobs and configuration")
	case ctap.CmdClientPIN:
		var r ctap.ClientPINRequest
		switch s, _ := sub(&r, func() *uint64 { return r.SubCommand }); s {
		case ctap.PINSetPIN:
			h.log.Info("PIN set")
		case ctap.PINChangePIN:
			h.log.Info("PIN changed")
		}
	case ctap.CmdConfig:
		var r ctap.ConfigRequest
		if s, ok := sub(&r, func() *uint64 { return r.SubCommand }); ok {
			h.log.Info("configuration changed", "subCommand", configNames[s])
		}
	case ctap.CmdBioEnrollment, ctap.CmdBioEnrollmentPre:
		var r ctap.BioEnrollmentRequest
		switch s, _ := sub(&r, func() *uint64 { return r.SubCommand }); s {
		case ctap.BioSetFriendlyName:
			h.log.Info("fingerprint renamed")
		case ctap.BioRemoveEnrollment:
			h.log.Info("fingerprint removed")
		case ctap.BioEnrollBegin, ctap.BioEnrollCaptureNextSample:
			var resp ctap.BioEnrollmentResponse
			if ctap.Unmarshal(body, &resp) == nil && resp.RemainingSamples != nil && *resp.RemainingSamples == 0 {
				h.log.Info("fingerprint enrolled")
			} else {
				h.log.Debug("fingerprint sample taken")
			}
		}
	case ctap.CmdCredentialManagement, ctap.CmdCredentialManagementPre:
		var r ctap.CredentialManagementRequest
		if s, _ := sub(&r, func() *uint64 { return r.SubCommand }); s == ctap.CredMgmtUpdateUserInformation {
			h.log.Info("credential user details updated")
		}
	}
}

// configNames names authenticatorConfig subcommands (CTAP 2.1 §6.11).
var configNames = map[uint64]string{
	ctap.ConfigEnableEnterpriseAttestation: "enableEnterpriseAttestation",
	ctap.ConfigToggleAlwaysUv:              "toggleAlwaysUv",
	ctap.ConfigSetMinPINLength:             "setMinPINLength",
	ctap.ConfigVendorPrototype:             "vendorPrototype",
}

// logCredentialEvent logs credentials created and deleted at info, with
// their RP ID, and signatures at debug (authenticator.Config.OnCredentialEvent).
func logCredentialEvent(log *slog.Logger) func(authenticator.CredentialEvent) {
	return func(ev authenticator.CredentialEvent) {
		rp := ev.RPID
		if rp == "" {
			rp = fmt.Sprintf("(rpIdHash %x)", ev.RPIDHash[:8])
		}
		switch ev.Kind {
		case authenticator.CredentialAdded:
			log.Info("credential created", "rp", rp, "resident", ev.Resident)
		case authenticator.CredentialDeleted:
			log.Info("credential deleted", "rp", rp)
		case authenticator.CredentialsCleared:
			log.Info("every credential is gone: the master secret was replaced")
		case authenticator.CredentialAsserted:
			log.Debug("credential used", "rp", rp, "signCount", ev.SignCount)
		}
	}
}

func (h loggingHandler) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	resp, err := h.Authenticator.HandleMsg(ctx, req)
	if err != nil {
		h.log.Error("ctap1", "in", len(req), "err", err)
	} else if n := len(resp); n >= 2 && len(req) >= 2 {
		sw := ctap.StatusWord(uint16(resp[n-2])<<8 | uint16(resp[n-1]))
		h.log.Debug("ctap1", "ins", fmt.Sprintf("0x%02x", req[1]), "sw", sw.String(), "in", len(req), "out", n)
		if req[1] == 0x01 && sw == 0x9000 { // U2F_REGISTER (U2F v1.2 raw message format §4.1)
			h.log.Info("credential created", "rp", "(U2F appId)", "resident", false)
		}
	} else {
		h.log.Debug("ctap1", "in", len(req), "out", len(resp))
	}
	return resp, err
}
