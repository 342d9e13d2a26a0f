package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/virtkey/virtkey/control"
)

// controlCommand runs touch, deny, finger, power-cycle and status: one
// request to the daemon's control socket.
func controlCommand(ctx context.Context, op string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("virtkey "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ctlPath := fs.String("control", defaultControlPath(), "the daemon's control socket")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	var wait, bad, asJSON *bool
	switch op {
	case opTouch, opDeny:
		wait = fs.Bool("wait", false, "if nothing waits for a touch yet, wait for a request")
	case opStatus:
		wait = fs.Bool("wait", false, "return once a request waits for a touch")
		asJSON = fs.Bool("json", false, "print the status as JSON")
	case opFinger:
		bad = fs.Bool("bad", false, "put a finger that is not enrolled on the sensor")
	}
	// Flags may come after the finger number: parse around positional
	// arguments.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	usageErr := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "virtkey %s: %s\n", op, fmt.Sprintf(format, args...))
		return 2
	}
	req := controlRequest{Op: op}
	if wait != nil {
		req.Wait = *wait
	}
	switch {
	case op == opFinger && *bad:
		if len(pos) > 0 {
			return usageErr("give a finger number or --bad, not both")
		}
		req.Bad = true
	case op == opFinger:
		if len(pos) != 1 {
			return usageErr("usage: virtkey finger N (1 to 10) or virtkey finger --bad")
		}
		n, err := strconv.Atoi(pos[0])
		if err != nil || n < 1 || n > 10 {
			return usageErr("finger %q: want a number from 1 to 10", pos[0])
		}
		req.Finger = n
	case len(pos) > 0:
		return usageErr("unexpected argument %q", pos[0])
	}
	if *ctlPath == "" || *ctlPath == controlOff {
		return usageErr("no control socket: give --control PATH (or set XDG_RUNTIME_DIR)")
	}
	if *timeout <= 0 {
		return usageErr("--timeout %v: want a positive duration", *timeout)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	resp, err := control.Dial(*ctlPath).Do(ctx, &req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(stderr, "virtkey %s: %s: no answer within %v\n", op, *ctlPath, *timeout)
			return 1
		}
		// The innermost error says why (no such file, connection
		// refused); the path is ours to name, once.
		why := err
		for u := errors.Unwrap(why); u != nil; u = errors.Unwrap(why) {
			why = u
		}
		fmt.Fprintf(stderr, "virtkey %s: cannot reach the daemon at %s: %v (is `virtkey serve` running with this --control?)\n", op, *ctlPath, why)
		return 1
	}
	if !resp.OK {
		fmt.Fprintf(stderr, "virtkey %s: %s\n", op, resp.Error)
		return 1
	}
	switch {
	case asJSON != nil && *asJSON:
		b, _ := json.MarshalIndent(resp.Status, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	case op == opStatus:
		if resp.Status != nil {
			writeStatus(stdout, resp.Status)
		}
	default:
		fmt.Fprintln(stdout, resp.Message)
	}
	return 0
}

// writeStatus prints a status for a person.
func writeStatus(w io.Writer, s *daemonStatus) {
	fmt.Fprintf(w, "profile: %s\n", s.Profile)
	fmt.Fprintf(w, "transport: %s\n", s.Transport)
	if s.State != "" {
		fmt.Fprintf(w, "state: %s\n", s.State)
	} else {
		fmt.Fprintln(w, "state: in memory (forgotten at exit)")
	}
	rps := ""
	if len(s.RPs) > 0 {
		rps = " (" + strings.Join(s.RPs, ", ") + ")"
	}
	fmt.Fprintf(w, "resident credentials: %d on %d %s%s\n", s.Credentials, len(s.RPs), plural(len(s.RPs), "RP", "RPs"), rps)
	if s.PINSet {
		fmt.Fprintf(w, "PIN: set, %d %s left\n", s.PINRetries, plural(s.PINRetries, "retry", "retries"))
	} else {
		fmt.Fprintln(w, "PIN: not set")
	}
	fmt.Fprintf(w, "signature counter: %d\n", s.SignCount)
	fmt.Fprintf(w, "presence: %s\n", s.Presence)
	if s.FingersQueued > 0 {
		fmt.Fprintf(w, "fingers queued: %d\n", s.FingersQueued)
	}
	fmt.Fprintln(w, describeWaiting(s.Waiting))
}

// describeWaiting is "waiting for a touch for makeCredential on
// example.com since 3s", or "waiting for nothing".
func describeWaiting(ws *waitingStatus) string {
	if ws == nil {
		return "waiting for nothing"
	}
	what := ws.Reason
	if what == "" {
		what = ws.Command
	}
	if ws.RPID != "" {
		what += " on " + ws.RPID
	}
	since := time.Duration(ws.Seconds * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("waiting for a %s for %s since %v", ws.For, what, since)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
