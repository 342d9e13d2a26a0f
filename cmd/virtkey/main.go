// Command virtkey is a virtual FIDO2 security key.
//
//	virtkey serve [--udp ADDR] [--state PATH] [--profile NAME] [--presence auto|deny|prompt|control]
//	              [--control PATH|off] [--name NAME] [--vid HEX] [--pid HEX] [--uhid PATH]
//	              [--ready-file PATH] [--touch-timeout D] [--log-level LEVEL]
//	              [--has-resident-key[=BOOL]] [--has-user-verification[=BOOL]] [--has-large-blob[=BOOL]]
//	              [--has-cred-blob[=BOOL]] [--has-min-pin-length[=BOOL]] [--has-prf[=BOOL]]
//	virtkey profiles [--names]
//	virtkey touch|deny [--wait] [--timeout D] [--control PATH]
//	virtkey finger N | --bad [--control PATH]
//	virtkey power-cycle [--control PATH]
//	virtkey status [--wait] [--json] [--control PATH]
//	virtkey webauthn create|get --origin URL [--udp ADDR | --device PATH] [--pin-file F] [--user NAME]
//
// serve creates a FIDO HID device through Linux's /dev/uhid, which
// browsers and libfido2 see as a USB security key, or with --udp answers
// CTAPHID over UDP in the SoloKeys simulator convention (one 64-byte
// report per datagram, no report-ID byte, replies to the sender). With
// --state, the key's state lives in PATH, a file only its owner can read,
// written atomically and durably before any response that depends on it
// leaves; without it the key forgets everything when it stops.
//
// --profile picks the key model (package profile: `virtkey profiles`
// prints each one's getInfo), which the key obeys in every command; the
// --has-* feature switches, those of Chromium's virtual authenticator,
// change it before the key starts (profile.Switches).
//
// The other commands talk to a running daemon through its control socket
// (see control.go for the protocol): they answer a request for a touch,
// put a finger on the sensor, unplug and replug the key, or show what the
// key holds and what it is waiting for. docs/running.md tells how to run
// the daemon on a Linux machine.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process at once.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage:
  virtkey serve [flags]          run the key (virtkey serve --help for the flags)
  virtkey profiles               list the device profiles for serve --profile
  virtkey profiles --names       only their names, one a line
  virtkey faults                 list the named faults for serve --fault
  virtkey touch [--wait]         touch the key: answer the request that waits for a touch
  virtkey deny [--wait]          decline the request that waits for a touch
  virtkey finger N | --bad       put finger N (1-10), or an unenrolled finger, on the sensor (fido21-bio)
  virtkey power-cycle            unplug and replug the key
  virtkey status [--wait]        what the key holds and what it is waiting for
  virtkey webauthn create|get    a browser's part of a WebAuthn ceremony: options JSON on stdin,
                                 response JSON on stdout (virtkey webauthn --help)
The control commands take --control PATH (default $XDG_RUNTIME_DIR/virtkey.sock,
or /run/virtkey.sock for root, else virtkey-UID/virtkey.sock in the temporary folder).`

func usage(w io.Writer) { fmt.Fprintln(w, usageText) }

// run is the whole command; it returns the exit code: 0, 1 when something
// failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "profiles":
		return listProfiles(args[1:], stdout, stderr)
	case "faults":
		return listFaults(args[1:], stdout, stderr) // faults.go
	case "webauthn":
		return webauthnCommand(ctx, args[1:], stdout, stderr) // webauthn.go
	case opTouch, opDeny, opFinger, opPowerCycle, opStatus:
		return controlCommand(ctx, args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "virtkey: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}
