// Command ctaptest runs the CTAP 2.1 conformance suite against a key: a
// fresh in-process virtual key by default, a key over UDP, or a hardware
// key through Linux hidraw.
//
//	ctaptest                      # every case against an in-process virtkey
//	ctaptest --list               # the cases with their spec sections
//	ctaptest --run '^mc-'         # cases whose ID matches
//	ctaptest --udp 127.0.0.1:8111 # a key served by `virtkey serve --udp`
//	ctaptest --list-devices       # the FIDO hidraw devices of this machine
//	ctaptest --device /dev/hidraw0
//
// A hardware key shares one state across cases and has no controller: cases
// that power-cycle the key or script touches are skipped, and destructive
// cases (reset, PIN changes, exhausting retries) run only with
// --allow-destructive. When the key waits for a touch, ctaptest says so.
//
// It prints a line per case, a closing "N passed, N failed, N skipped" line
// and the skip reasons, and exits 1 when a case fails.
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
	"sort"
	"strings"
	"sync"
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
	if len(args) > 0 && args[0] == "prop" {
		return runProp(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ctaptest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		list        = fs.Bool("list", false, "list the cases with their spec sections and exit")
		runRE       = fs.String("run", "", "run only cases whose ID matches this regular expression")
		udpAddr     = fs.String("udp", "", "test a key over UDP at this address (SoloKeys simulator convention)")
		device      = fs.String("device", "", "test a hardware key at this hidraw node, such as /dev/hidraw0")
		listDevs    = fs.Bool("list-devices", false, "list the FIDO hidraw devices and exit")
		wait        = fs.Duration("wait", 0, "with --udp, keep retrying the first connection this long")
		destructive = fs.Bool("allow-destructive", false, "run cases that erase the key (always allowed on the in-process key)")
		verbose     = fs.Bool("v", false, "print the messages of passing cases too")
		timeout     = fs.Duration("case-timeout", 30*time.Second, "time limit of one case")
		control     = fs.String("control", "", "with --udp or --device, a virtkey daemon's control socket: lets destructive cases power-cycle and reset the key")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ctaptest [--list | --list-devices] [--run REGEXP] [--udp ADDR | --device /dev/hidrawN] [--allow-destructive]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *udpAddr != "" && *device != "" {
		fmt.Fprintln(stderr, "ctaptest: --udp and --device exclude each other")
		return 2
	}
	if *listDevs {
		return listDevices(stdout, stderr)
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

	stdout = &lockedWriter{w: stdout} // the touch prompt writes from the transport
	var target conformance.Target
	var ctl *socketController
	if *control != "" {
		ctl = &socketController{path: *control}
		if err := ctl.check(ctx, *wait); err != nil {
			fmt.Fprintf(stderr, "ctaptest: %v\n", err)
			return 1
		}
	}
	switch {
	case *device != "":
		path := *device
		target = &sharedTarget{ctl: ctl, open: func(ctx context.Context) (*client.Device, error) {
			return client.OpenHID(ctx, path)
		}}
		if err := checkDevice(ctx, *device); err != nil {
			fmt.Fprintf(stderr, "ctaptest: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "target: hidraw %s%s\n", *device, describeDevice(*device))
		if *destructive {
			fmt.Fprintln(stdout, "destructive cases: ON, they may reset the key and erase its credentials and PIN")
		} else {
			fmt.Fprintln(stdout, "destructive cases: skipped (--allow-destructive runs them)")
		}
	case *udpAddr != "":
		addr := *udpAddr
		target = &sharedTarget{ctl: ctl, open: func(ctx context.Context) (*client.Device, error) {
			return client.OpenUDP(ctx, addr)
		}}
		if *wait > 0 {
			if err := waitForUDP(ctx, *udpAddr, *wait); err != nil {
				fmt.Fprintf(stderr, "ctaptest: %v\n", err)
				return 1
			}
		}
		fmt.Fprintf(stdout, "target: UDP %s\n", *udpAddr)
	default:
		fmt.Fprintln(stdout, "target: in-process virtkey (a fresh key per case; "+
			"fingerprint sensor, then built-in UV alone, then no UV, for cases the first cannot run)")
	}

	report := func(r conformance.Result) {
		fmt.Fprintf(stdout, "%s %-40s %-32s %s\n", r.Outcome, r.Case.ID, r.Case.Section, r.Duration.Round(time.Millisecond))
		if r.Outcome != conformance.Pass || *verbose {
			for _, m := range r.Messages {
				fmt.Fprintf(stdout, "    %s\n", strings.ReplaceAll(m, "\n", "\n    "))
			}
		}
	}
	opts := conformance.Options{
		Filter:           filter,
		AllowDestructive: *destructive,
		CaseTimeout:      *timeout,
		Prompt:           prompter(stdout),
	}
	var results []conformance.Result
	if target != nil {
		opts.Report = report
		results = conformance.Run(ctx, target, opts)
	} else {
		results = runInProcess(ctx, opts)
		for _, r := range results {
			report(r)
		}
	}
	passed, failed, skipped := conformance.Summary(results)
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if skipped > 0 {
		fmt.Fprintln(stdout, skipSummary(results, *verbose))
	}
	if failed > 0 || (passed == 0 && len(results) > 0) {
		return 1
	}
	return 0
}

// inProcessKeys are the in-process key's configurations, most capable
// first: a key with a fingerprint sensor, a key whose built-in UV is always
// configured (scriptable matches), and a key with no built-in UV at all.
var inProcessKeys = []authenticator.Config{
	{BuiltInUV: true, BioEnrollment: true},
	{BuiltInUV: true},
	{},
}

// runInProcess runs each case on the first in-process key configuration
// that can run it: a case skipped on one configuration is tried on the
// next, and the last outcome counts.
func runInProcess(ctx context.Context, opts conformance.Options) []conformance.Result {
	var cases []conformance.Case
	for _, c := range conformance.Cases() {
		if opts.Filter == nil || opts.Filter.MatchString(c.ID) {
			cases = append(cases, c)
		}
	}
	opts.Filter = nil
	final := map[string]conformance.Result{}
	for _, cfg := range inProcessKeys {
		if len(cases) == 0 {
			break
		}
		opts.Cases = cases
		var skipped []conformance.Case
		for _, r := range conformance.Run(ctx, virtkeytest.NewTarget(cfg, true), opts) {
			final[r.Case.ID] = r
			if r.Outcome == conformance.Skip {
				skipped = append(skipped, r.Case)
			}
		}
		cases = skipped
	}
	results := make([]conformance.Result, 0, len(final))
	for _, c := range conformance.Cases() {
		if r, ok := final[c.ID]; ok {
			results = append(results, r)
		}
	}
	return results
}

// sharedTarget is one key that all cases share: a key over UDP, a
// hardware token over hidraw, or a virtkey daemon whose control socket
// (--control) can power-cycle it.
type sharedTarget struct {
	open func(context.Context) (*client.Device, error)
	ctl  *socketController // nil without --control
}

// Open implements conformance.Target: a new CTAPHID channel on the key.
func (s *sharedTarget) Open(ctx context.Context) (*client.Device, error) { return s.open(ctx) }

// Capabilities implements conformance.Target.
func (s *sharedTarget) Capabilities() []conformance.Capability {
	if s.ctl != nil {
		return s.ctl.Capabilities()
	}
	return nil
}

// Controller implements conformance.Target.
func (s *sharedTarget) Controller() conformance.Controller {
	if s.ctl == nil {
		return nil
	}
	return s.ctl
}

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

// listHIDDevices lists the FIDO hidraw devices; tests replace it.
var listHIDDevices = client.ListHIDDevices

// listDevices prints the FIDO hidraw devices, one a line.
func listDevices(stdout, stderr io.Writer) int {
	devs, err := listHIDDevices()
	if err != nil {
		fmt.Fprintf(stderr, "ctaptest: listing devices: %v\n", err)
		return 1
	}
	if len(devs) == 0 {
		fmt.Fprintln(stdout, "no FIDO devices found")
		return 0
	}
	for _, d := range devs {
		fmt.Fprintf(stdout, "%-14s %04x:%04x  %-40q reports: %d bytes in, %d bytes out\n",
			d.Path, d.VendorID, d.ProductID, d.Product, d.InputReportSize, d.OutputReportSize)
	}
	return 0
}

// describeDevice is " (vid:pid product)" for a listed device, or "".
func describeDevice(path string) string {
	devs, err := listHIDDevices()
	if err != nil {
		return ""
	}
	for _, d := range devs {
		if d.Path == path {
			return fmt.Sprintf(" (%04x:%04x %s)", d.VendorID, d.ProductID, d.Product)
		}
	}
	return ""
}

// checkDevice opens the key once, so that a wrong path fails before the
// first case.
func checkDevice(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d, err := client.OpenHID(ctx, path)
	if err != nil {
		return err
	}
	return d.Close()
}

// prompter returns the conformance.Options.Prompt that asks the person at
// the key for a touch.
func prompter(w io.Writer) func(msg string) {
	return func(msg string) { fmt.Fprintf(w, ">>> %s\n", msg) }
}

// skipSummary is "N skipped: n1 reason1, n2 reason2", the largest group
// first; with verbose, each group's case IDs follow on their own lines.
func skipSummary(rs []conformance.Result, verbose bool) string {
	var (
		order []string
		ids   = map[string][]string{}
	)
	for _, r := range rs {
		if r.Outcome != conformance.Skip {
			continue
		}
		reason := r.SkipReason
		if reason == "" {
			reason = "no reason given"
		}
		if _, ok := ids[reason]; !ok {
			order = append(order, reason)
		}
		ids[reason] = append(ids[reason], r.Case.ID)
	}
	sort.SliceStable(order, func(i, j int) bool { return len(ids[order[i]]) > len(ids[order[j]]) })
	n := 0
	parts := make([]string, len(order))
	for i, reason := range order {
		n += len(ids[reason])
		parts[i] = fmt.Sprintf("%d %s", len(ids[reason]), reason)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d skipped: %s", n, strings.Join(parts, ", "))
	if verbose {
		for _, reason := range order {
			fmt.Fprintf(&b, "\n    %s: %s", reason, strings.Join(ids[reason], " "))
		}
	}
	return b.String()
}

// lockedWriter serialises writes from the runner and the touch prompt.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
