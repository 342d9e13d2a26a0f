// Command ctaptest runs the CTAP 2.1 conformance suite against a key: a
// fresh in-process virtual key by default, or a key over UDP.
//
//	ctaptest                      # every case against an in-process virtkey
//	ctaptest --list               # the cases with their spec sections
//	ctaptest --run '^mc-'         # cases whose ID matches
//	ctaptest --udp 127.0.0.1:8111 # a key served by `virtkey serve --udp`
//
// It prints a line per case and a closing "N passed, N failed, N skipped"
// line, and exits 1 when a case fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/virtkeytest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ctaptest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		list        = fs.Bool("list", false, "list the cases with their spec sections and exit")
		runRE       = fs.String("run", "", "run only cases whose ID matches this regular expression")
		udpAddr     = fs.String("udp", "", "test a key over UDP at this address (SoloKeys simulator convention)")
		wait        = fs.Duration("wait", 0, "with --udp, keep retrying the first connection this long")
		destructive = fs.Bool("allow-destructive", false, "run cases that erase the key (always allowed on the in-process key)")
		verbose     = fs.Bool("v", false, "print the messages of passing cases too")
		timeout     = fs.Duration("case-timeout", 30*time.Second, "time limit of one case")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ctaptest [--list] [--run REGEXP] [--udp ADDR] [--allow-destructive]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			fmt.Fprintf(stderr, "ctaptest: --run: %v\n", err)
			return 2
		}
		filter = re
	}
	if *list {
		for _, c := range conformance.Cases() {
			if filter != nil && !filter.MatchString(c.ID) {
				continue
			}
			flags := ""
			if c.Destructive {
				flags = " [destructive]"
			}
			fmt.Fprintf(stdout, "%-40s %-32s %s%s\n", c.ID, c.Section, c.Title, flags)
		}
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var target conformance.Target
	switch {
	case *udpAddr != "":
		target = &udpTarget{addr: *udpAddr}
		if *wait > 0 {
			if err := waitForUDP(ctx, *udpAddr, *wait); err != nil {
				fmt.Fprintf(stderr, "ctaptest: %v\n", err)
				return 1
			}
		}
		fmt.Fprintf(stdout, "target: UDP %s\n", *udpAddr)
	default:
		target = virtkeytest.NewTarget(authenticator.Config{}, true)
		fmt.Fprintln(stdout, "target: in-process virtkey (a fresh key per case)")
	}

	results := conformance.Run(ctx, target, conformance.Options{
		Filter:           filter,
		AllowDestructive: *destructive,
		CaseTimeout:      *timeout,
		Report: func(r conformance.Result) {
			fmt.Fprintf(stdout, "%s %-40s %-32s %s\n", r.Outcome, r.Case.ID, r.Case.Section, r.Duration.Round(time.Millisecond))
			if r.Outcome != conformance.Pass || *verbose {
				for _, m := range r.Messages {
					fmt.Fprintf(stdout, "    %s\n", strings.ReplaceAll(m, "\n", "\n    "))
				}
			}
		},
	})
	passed, failed, skipped := conformance.Summary(results)
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || (passed == 0 && len(results) > 0) {
		return 1
	}
	return 0
}

// udpTarget is a key served over UDP. It shares one key across cases and
// has no controller.
type udpTarget struct{ addr string }

func (u *udpTarget) Open(ctx context.Context) (*client.Device, error) {
	return client.OpenUDP(ctx, u.addr)
}
func (u *udpTarget) Capabilities() []conformance.Capability { return nil }
func (u *udpTarget) Controller() conformance.Controller     { return nil }

func waitForUDP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		actx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		d, err := client.OpenUDP(actx, addr)
		cancel()
		if err == nil {
			return d.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no key answers at %s: %w", addr, err)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
