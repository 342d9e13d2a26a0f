package conformance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/virtkey/virtkey/ctap"
)

// Cases about what a key's declared version and features leave out: a
// CTAP 2.0 key (getInfo versions without FIDO_2_1 and FIDO_2_1_PRE) does not
// run the commands and clientPIN subcommands CTAP 2.1 added, a key refuses
// a PIN/UV auth protocol it does not list, and a key whose rk option is
// false makes no discoverable credential. The rest of the suite checks what
// a feature does on a key that has it; these check that a key without it
// does not pretend to.
//
// How strongly the spec states each:
//   - CTAP 2.0 §5 lists the commands 0x01 to 0x08 (and the vendor range
//     0x40 to 0xBF), and its status table (§6.3) names
//     CTAP1_ERR_INVALID_COMMAND for "The command is not a valid CTAP
//     command". No numbered step requires that status, so the status is a
//     SHOULD; answering CTAP2_OK to a command the key does not define is a
//     failure.
//   - CTAP 2.0 §5.5 defines clientPIN subCommands 0x01 to 0x05 and names no
//     status for another. CTAP 2.1 §6.5.5 answers a subcommand the key does
//     not support with CTAP2_ERR_INVALID_SUBCOMMAND, the status these cases
//     expect at SHOULD; running one (CTAP2_OK) is a failure.
//   - A pinUvAuthProtocol the key does not support MUST be refused with
//     CTAP1_ERR_INVALID_PARAMETER in CTAP 2.1 (§6.5.5, step 2 of each
//     subcommand; §6.1.2 step 2) and, in makeCredential of a CTAP 2.0 key,
//     with CTAP2_ERR_PIN_AUTH_INVALID (CTAP 2.0 §5.1 step 7); CTAP 2.0
//     names no status for clientPIN, so there any error passes.
//   - An option the key knows but does not support is
//     CTAP2_ERR_UNSUPPORTED_OPTION (CTAP 2.1 §6.1.2 step 5; CTAP 2.0 §5.1
//     step 3: "If the option is known but not supported, terminate this
//     procedure and return CTAP2_ERR_UNSUPPORTED_OPTION"): a MUST.

// ctap21Commands are the command codes CTAP 2.1 added (CTAP 2.1 §6):
// bioEnrollment, credentialManagement, selection, largeBlobs and config.
var ctap21Commands = []ctap.Command{
	ctap.CmdBioEnrollment, ctap.CmdCredentialManagement, ctap.CmdSelection, ctap.CmdLargeBlobs, ctap.CmdConfig,
}

// ctap21PINSubcommands are the clientPIN subcommands CTAP 2.1 added
// (§6.5.5): getPinUvAuthTokenUsingUvWithPermissions, getUVRetries and
// getPinUvAuthTokenUsingPinWithPermissions.
var ctap21PINSubcommands = []uint64{
	ctap.PINGetPinUvAuthTokenUsingUvWithPermissions, ctap.PINGetUVRetries, ctap.PINGetPinUvAuthTokenUsingPinWithPermissions,
}

// needCTAP20Only skips a case on a key that lists FIDO_2_1 or
// FIDO_2_1_PRE (or later): it is about a CTAP 2.0 key.
func (t *T) needCTAP20Only() {
	if !t.ListsAny(FIDO21PRE, FIDO21, FIDO22) {
		return
	}
	t.mu.Lock()
	t.skipReason = "not this version: the key lists a CTAP 2.1 version"
	t.mu.Unlock()
	t.Skipf("the case applies to FIDO_2_0 without FIDO_2_1_PRE, FIDO_2_1; the key lists %s", strings.Join(t.versions(), ", "))
}

// expectRefusedAt checks a status where the spec requires a refusal and
// names want at level: CTAP2_OK fails the case; another error is judged
// at level (ExpectStatusAt).
func (t *T) expectRefusedAt(level Level, st, want ctap.Status, what string) {
	if st == ctap.StatusOK {
		t.Fatalf("%s: CTAP2_OK, want %v", what, want)
	}
	t.ExpectStatusAt(level, statusErr(st), want, what)
}

func init() {
	Register(
		Case{ID: "ver-20-no-21-commands", Section: "CTAP 2.0 §5, §6.3 (CTAP1_ERR_INVALID_COMMAND); CTAP 2.1 §6", Versions: []Version{FIDO20}, Level: Should,
			Title: "a CTAP 2.0 key answers the CTAP 2.1 command codes 0x09 to 0x0D with CTAP1_ERR_INVALID_COMMAND",
			Run: func(t *T) {
				t.needCTAP20Only()
				for _, cmd := range ctap21Commands {
					st, _ := t.Raw(cmd, t.Encode(map[int]any{1: 1}))
					t.expectRefusedAt(Should, st, ctap.StatusInvalidCommand, fmt.Sprintf("command %#02x (%v)", byte(cmd), cmd))
				}
			}},
		Case{ID: "ver-20-no-21-clientpin-subcommands", Section: "CTAP 2.0 §5.5; CTAP 2.1 §6.5.5", Versions: []Version{FIDO20}, Level: Should,
			Title: "a CTAP 2.0 key answers clientPIN subCommands 0x06, 0x07 and 0x09 with CTAP2_ERR_INVALID_SUBCOMMAND",
			Run: func(t *T) {
				t.needCTAP20Only()
				t.needClientPINCommand()
				v := t.preferredProtocol()
				pc := t.pinProtocol(v)
				pk, _, err := pc.cp.KeyAgreement(t.ctx)
				if err != nil {
					t.Fatalf("key agreement: %v", err)
				}
				for _, sub := range ctap21PINSubcommands {
					// A well-formed 2.1 request for each, so that only the
					// subcommand can be what the key refuses.
					m := map[int]any{1: v, 2: sub, 3: pk, 6: make([]byte, 16), 9: uint64(ctap.PermissionGetAssertion)}
					st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(m))
					t.expectRefusedAt(Should, st, ctap.StatusInvalidSubcommand, fmt.Sprintf("clientPIN subCommand %#02x", sub))
				}
			}},
		Case{ID: "ver-no-pre-vendor-codes", Section: "CTAP 2.1 §6 (0x40, 0x41: the 2.1-PRE codes, in the vendor range 0x40 to 0xBF); CTAP 2.0 §5", Versions: CTAP2, Level: May,
			Title: "a key that does not list FIDO_2_1_PRE answers 0x40 and 0x41 as commands it does not have (CTAP1_ERR_INVALID_COMMAND)",
			Run: func(t *T) {
				if t.Lists(FIDO21PRE) {
					t.skipFeature("the key lists FIDO_2_1_PRE: 0x40 and 0x41 are its prototype bioEnrollment and credentialManagement")
				}
				// 0x40 to 0xBF are vendor commands, so a key MAY run
				// something of its own there: another answer is recorded.
				for _, cmd := range []ctap.Command{ctap.CmdBioEnrollmentPre, ctap.CmdCredentialManagementPre} {
					st, _ := t.Raw(cmd, t.Encode(map[int]any{1: 1}))
					t.ExpectStatusAt(May, statusErr(st), ctap.StatusInvalidCommand, fmt.Sprintf("command %#02x", byte(cmd)))
				}
			}},
		Case{ID: "ver-pin-protocol-unlisted", Section: "CTAP 2.1 §6.5.5 (step 2 of each subcommand), §6.1.2 step 2; CTAP 2.0 §5.1 step 7, §5.5", Versions: CTAP2,
			Title: "a PIN/UV auth protocol (1 or 2) that getInfo does not list is refused by clientPIN and makeCredential",
			Run: func(t *T) {
				t.needClientPINCommand()
				ps := t.keyProtocols()
				var p uint64
				for _, v := range []uint64{1, 2} {
					if !slices.Contains(ps, v) {
						p = v
						break
					}
				}
				if p == 0 {
					t.skipFeature("the key lists PIN/UV auth protocols 1 and 2 (cp-unsupported-protocol checks 3)")
				}
				st, _ := t.Raw(ctap.CmdClientPIN, t.Encode(map[int]any{1: p, 2: ctap.PINGetKeyAgreement}))
				t.ExpectStatus21(statusErr(st), ctap.StatusInvalidParameter, fmt.Sprintf("getKeyAgreement with protocol %d", p))

				req := t.MakeCredentialRequest("unlisted-protocol", false)
				req.PinUvAuthParam = make([]byte, 32)
				req.PinUvAuthProtocol = u64(p)
				_, err := t.Ctap2().MakeCredential(t.ctx, req)
				what := fmt.Sprintf("makeCredential with pinUvAuthProtocol %d", p)
				switch {
				case t.Lists(FIDO21):
					t.ExpectStatus(err, ctap.StatusInvalidParameter, what)
				case t.ListsAny(FIDO21PRE):
					// The pre-release follows either text.
					t.ExpectOneOf(err, what, ctap.StatusInvalidParameter, ctap.StatusPINAuthInvalid)
				default:
					t.ExpectStatus(err, ctap.StatusPINAuthInvalid, what)
				}
			}},
		Case{ID: "mc-rk-false-refuses-rk", Section: "CTAP 2.1 §6.1.2 step 5, §6.4 (rk); CTAP 2.0 §5.1 step 3, §5.4", Versions: CTAP2,
			Title: "a key whose rk option is false answers makeCredential with rk true with CTAP2_ERR_UNSUPPORTED_OPTION",
			Run: func(t *T) {
				if rk, _ := t.Ctap2().Info().Option(ctap.OptionRK); rk {
					t.skipFeature("the key makes discoverable credentials (rk true)")
				}
				req := t.MakeCredentialRequest("rk-unsupported", false)
				req.Options = map[string]bool{ctap.OptionRK: true}
				st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(req))
				t.ExpectStatus(statusErr(st), ctap.StatusUnsupportedOption, "makeCredential with rk true")
			}},
	)
}
