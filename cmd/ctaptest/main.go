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
// The credentials the suite makes belong to RPs whose IDs end in
// ".virtkey.test"; the cases remove their discoverable ones afterwards
// through credentialManagement when the key allows it (built-in UV, or
// --pin on a key with a PIN).
//
// It prints a line per case as it finishes ("[n/N] OUTCOME ID SECTION
// DURATION", a failure with the case's title), a table per ID prefix, a
// closing "N passed, N failed, N skipped" line and the skip reasons, and
// exits 1 when a case fails. --json and --junit write reports.
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
	"text/tabwriter"
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
	if len(args) > 0 && args[0] == "fuzz" {
		return runFuzz(args[1:], stdout, stderr)
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
		jsonFile    = fs.String("json", "", "write a JSON report (device, and per case its outcome, messages and, for failures and warnings, the bytes exchanged) to this file")
		junitFile   = fs.String("junit", "", "write the results as JUnit XML, one test suite per ID prefix, to this file")
		pin         = fs.String("pin", "", "the PIN of a shared key that has one: discoverable credentials need it there, and the cases remove theirs with it")
		keyWait     = fs.Duration("key-wait", time.Minute, "with --udp or --device and no --control, how long to wait for a key that stopped answering to be plugged back in (0 stops the run)")
		person      = fs.Bool("person", false, "with --device or --udp and no --control, a person at the key follows prompts on this terminal: touch, do not touch, unplug and plug back in")
		canDecline  = fs.Bool("can-decline", false, "with --person, the key has a way to decline a request")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ctaptest [--list | --list-devices] [--run REGEXP] [--udp ADDR [--wait DURATION] | --device /dev/hidrawN]\n"+
			"                [--control SOCKET | --person [--can-decline]] [--allow-destructive] [--case-timeout DURATION] [--key-wait DURATION]\n"+
			"                [--pin PIN] [--json FILE] [--junit FILE] [-v]\n"+
			"       ctaptest prop [flags]   (the model-based check; ctaptest prop --help)\n\n"+
			"Runs the CTAP conformance suite against a key: a fresh in-process virtkey by default.\n"+
			"Exit status: 0 when no case failed, 1 when a case failed, the key could not be reached\n"+
			"or --run matched no case, 2 for a usage error.\n\nFlags:")
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
		fmt.Fprintln(stdout, "# Case IDs begin with the area they check:")
		for _, a := range conformance.Areas {
			fmt.Fprintf(stdout, "# %-4s %s\n", a.Prefix, a.Title)
		}
		fmt.Fprintln(stdout, "# [destructive] cases erase the key or change its PIN: on a shared key they run only with --allow-destructive.")
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

	selected := conformance.Select(conformance.Options{Filter: filter})
	if len(selected) == 0 {
		fmt.Fprintf(stderr, "ctaptest: --run %q matches no case (ctaptest --list shows them)\n", *runRE)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	stdout = &lockedWriter{w: stdout} // the touch prompt writes from the transport
	var target conformance.Target
	var ctl conformance.Controller
	switch {
	case *person && (*control != "" || (*device == "" && *udpAddr == "")):
		fmt.Fprintln(stderr, "ctaptest: --person is for a key at --device or --udp without --control")
		return 2
	case *person:
		ctl = newPerson(stdout, *device, *udpAddr, *canDecline)
	case *control != "":
		sc := &socketController{path: *control}
		ctl = sc
		if err := sc.check(ctx, *wait); err != nil {
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
		// Preflight: UDP gives no sign that nobody listens, so an INIT
		// that goes unanswered for a few seconds is the error.
		if err := waitForUDP(ctx, *udpAddr, max(*wait, udpPreflight)); err != nil {
			fmt.Fprintf(stderr, "ctaptest: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "target: UDP %s\n", *udpAddr)
	default:
		fmt.Fprintln(stdout, "target: in-process virtkey (a fresh key per case; "+
			"fingerprint sensor, then built-in UV alone, then no UV, for cases the first cannot run)")
	}

	total, n := len(selected), 0
	width := len(fmt.Sprint(total))
	report := func(r conformance.Result) {
		n++
		fmt.Fprintf(stdout, "[%*d/%d] %s %-40s %-32s %s\n", width, n, total, r.Outcome, r.Case.ID, r.Case.Section, r.Duration.Round(time.Millisecond))
		if r.Outcome == conformance.Fail {
			fmt.Fprintf(stdout, "    %s (%s)\n", r.Case.Title, r.Case.Level)
		}
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
		Report:           report,
		PIN:              *pin,
	}
	dev := conformance.Device{Transport: "in-process"}
	switch {
	case *device != "":
		dev.Transport = "hidraw " + *device
		if d, ok := findDevice(*device); ok {
			dev.VendorID, dev.ProductID, dev.Product = d.VendorID, d.ProductID, d.Product
		}
	case *udpAddr != "":
		dev.Transport = "udp " + *udpAddr
	}
	started := time.Now()
	var results []conformance.Result
	if target != nil {
		if ctl == nil && *keyWait > 0 {
			opts.WaitForKey = replugPrompt(stdout, *keyWait)
		}
		if *jsonFile != "" || *junitFile != "" {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			dev, _ = conformance.DescribeDevice(dctx, target, dev)
			cancel()
		}
		results = conformance.Run(ctx, target, opts)
		if *destructive && *control != "" {
			resetLeftovers(ctx, stdout, target, ctl, results)
		}
	} else {
		if *jsonFile != "" || *junitFile != "" {
			dev, _ = conformance.DescribeDevice(ctx, virtkeytest.NewTarget(inProcessKeys[0], true), dev)
		}
		results = runInProcess(ctx, opts)
	}
	passed, failed, skipped := conformance.Summary(results)
	fmt.Fprintln(stdout)
	writeAreaTable(stdout, results)
	if w := conformance.Warnings(results); w > 0 {
		fmt.Fprintf(stdout, "%d of the passed cases warned: the key departs from a SHOULD\n", w)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if skipped > 0 {
		fmt.Fprintln(stdout, skipSummary(results, *verbose))
	}
	code := 0
	if failed > 0 || (passed == 0 && len(results) > 0) {
		code = 1
	}
	if *jsonFile != "" {
		if err := writeFile(*jsonFile, func(w io.Writer) error {
			return conformance.NewJSONReport(dev, started, results).WriteJSON(w)
		}); err != nil {
			fmt.Fprintf(stderr, "ctaptest: --json: %v\n", err)
			code = 1
		}
	}
	if *junitFile != "" {
		if err := writeFile(*junitFile, func(w io.Writer) error {
			return conformance.WriteJUnit(w, dev, started, results)
		}); err != nil {
			fmt.Fprintf(stderr, "ctaptest: --junit: %v\n", err)
			code = 1
		}
	}
	return code
}

// resetLeftovers resets a controlled key whose cases could not remove the
// discoverable credentials they made (no PIN and no built-in UV to
// authorize credentialManagement): with --allow-destructive and a
// controller the run may erase the key, as its destructive cases already
// did, so it leaves the key as factory-new as those cases do. A reset
// must come within 10 s of power-up (CTAP 2.1 §6.6), hence the power
// cycle first.
func resetLeftovers(ctx context.Context, w io.Writer, target conformance.Target, ctl conformance.Controller, rs []conformance.Result) {
	left := 0
	for _, r := range rs {
		for _, o := range r.Observations {
			if strings.HasPrefix(o, "left ") {
				left++
			}
		}
	}
	if left == 0 || ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := ctl.PowerCycle(ctx)
	var d *client.Device
	if err == nil {
		d, err = target.Open(ctx)
	}
	if err == nil {
		defer d.Close()
		var c *client.Ctap2
		if c, err = client.New(ctx, d, client.WithStrictCBOR(false)); err == nil {
			err = c.Reset(ctx)
		}
	}
	if err != nil {
		fmt.Fprintf(w, "%d cases left discoverable credentials, and resetting the key failed: %v\n", left, err)
		return
	}
	fmt.Fprintf(w, "%d cases left discoverable credentials they could not remove (no PIN, no built-in UV): the key was reset at the end (--allow-destructive)\n", left)
}

// udpPreflight is how long the first INIT over UDP may go unanswered
// before ctaptest says nobody is there, without --wait. TestBadFlags
// shortens it.
var udpPreflight = 3 * time.Second

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeAreaTable prints the outcomes per area (ID prefix).
func writeAreaTable(w io.Writer, rs []conformance.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "area\tcases\tpass\twarn\tfail\tskip\tnot run\t")
	var sum conformance.AreaCount
	for _, a := range conformance.ByArea(rs) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", a.Area, a.Total, a.Pass, a.Warn, a.Fail, a.Skip, a.NotRun)
		sum.Total += a.Total
		sum.Pass += a.Pass
		sum.Warn += a.Warn
		sum.Fail += a.Fail
		sum.Skip += a.Skip
		sum.NotRun += a.NotRun
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\t%d\t\n", sum.Total, sum.Pass, sum.Warn, sum.Fail, sum.Skip, sum.NotRun)
	tw.Flush()
}

// replugPrompt is the Options.WaitForKey of a key nobody controls: it asks
// the person to unplug the key and plug it back in (or to restart the
// daemon serving it), and probes it until it answers or limit passes.
func replugPrompt(w io.Writer, limit time.Duration) func(ctx context.Context, probe func(context.Context) error) error {
	return func(ctx context.Context, probe func(context.Context) error) error {
		fmt.Fprintf(w, ">>> the key stopped answering: unplug it and plug it back in, or restart the daemon serving it (waiting up to %s)\n", limit)
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		for {
			err := probe(ctx)
			if err == nil {
				fmt.Fprintln(w, ">>> the key answers again")
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("no key answered within %s: %w", limit, err)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
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
//
// Each result is reported (opts.Report) as soon as it is final: when the
// case ran, or was skipped on the last configuration.
func runInProcess(ctx context.Context, opts conformance.Options) []conformance.Result {
	cases := conformance.Select(opts)
	report := opts.Report
	opts.Filter = nil
	final := map[string]conformance.Result{}
	for i, cfg := range inProcessKeys {
		if len(cases) == 0 {
			break
		}
		last := i == len(inProcessKeys)-1
		opts.Cases = cases
		var skipped []conformance.Case
		opts.Report = func(r conformance.Result) {
			final[r.Case.ID] = r
			if r.Outcome == conformance.Skip && !last {
				skipped = append(skipped, r.Case)
				return
			}
			if report != nil {
				report(r)
			}
		}
		conformance.Run(ctx, virtkeytest.NewTarget(cfg, true), opts)
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
	ctl  conformance.Controller // nil without --control or --person
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
	if d, ok := findDevice(path); ok {
		return fmt.Sprintf(" (%04x:%04x %s)", d.VendorID, d.ProductID, d.Product)
	}
	return ""
}

// findDevice is the listed FIDO hidraw device at path.
func findDevice(path string) (client.HIDInfo, bool) {
	devs, err := listHIDDevices()
	if err != nil {
		return client.HIDInfo{}, false
	}
	for _, d := range devs {
		if d.Path == path {
			return d, true
		}
	}
	return client.HIDInfo{}, false
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
