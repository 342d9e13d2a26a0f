// Command profiletable reads the ctaptest --json reports of one suite run
// per device profile and prints the table profile × passed / warned /
// failed / skipped / not run, with every skip reason classified as "not
// this version", "not this feature" or other (interop/skip-classes.txt).
//
//	profiletable [-classes FILE] [-expected FILE] [-o TABLE] [-partial] PROFILE=REPORT.json...
//
// It exits 1 when a case failed that interop/expected-failures.txt does
// not list, when a listed case did not fail, when a skip is of class
// other, or when a case was skipped or not run on every profile although
// one of them lists a version the case checks; 2 for a usage error or an
// unreadable input. A case for versions that no profile lists (a CTAP 2.2
// case before there is a CTAP 2.2 profile) is named in the output.
// interop/profiles.sh runs it.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/virtkey/virtkey/conformance"
)

// Skip classes.
const (
	classVersion = "version"
	classFeature = "feature"
	classOther   = "other"
)

// classRule is one line of the classes file.
type classRule struct {
	class string
	re    *regexp.Regexp
}

// parseClasses reads the classes file: CLASS <TAB> REGEXP per line, '#'
// comments and blank lines ignored. Each regexp matches a whole reason.
func parseClasses(r io.Reader) ([]classRule, error) {
	var rules []classRule
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		class, expr, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: want CLASS<TAB>REGEXP", n)
		}
		if class != classVersion && class != classFeature {
			return nil, fmt.Errorf("line %d: class %q is neither %s nor %s", n, class, classVersion, classFeature)
		}
		re, err := regexp.Compile("^(?:" + expr + ")$")
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		rules = append(rules, classRule{class, re})
	}
	return rules, sc.Err()
}

// classify gives the class of a skip reason: the first rule that matches
// it, else other.
func classify(rules []classRule, reason string) string {
	for _, r := range rules {
		if r.re.MatchString(reason) {
			return r.class
		}
	}
	return classOther
}

// expectation is one line of the expected-failures file.
type expectation struct {
	profile, id, reason string
}

// parseExpected reads the expected-failures file: PROFILE <TAB> CASE-ID
// <TAB> REASON per line; the reason is required. Lines whose CASE-ID
// starts with py: (python-fido2's checks) or vm: (the VM test's steps) are
// left out.
func parseExpected(r io.Reader) (map[[2]string]expectation, error) {
	out := map[[2]string]expectation{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 3 || strings.TrimSpace(f[2]) == "" {
			return nil, fmt.Errorf("line %d: want PROFILE<TAB>CASE-ID<TAB>REASON, with a reason", n)
		}
		if strings.HasPrefix(f[1], "py:") || strings.HasPrefix(f[1], "vm:") {
			continue // a check of python_fido2_udp.py or a step of vm/run.sh, which read their own
		}
		e := expectation{f[0], f[1], strings.TrimSpace(f[2])}
		out[[2]string{e.profile, e.id}] = e
	}
	return out, sc.Err()
}

// row is one profile's line of the table.
type row struct {
	Profile                                    string
	Passed, Warned, Failed, Expected           int
	SkipVersion, SkipFeature, SkipOther        int
	NotRun, Total                              int
	failures, otherSkips, notRun, unexpectPass []string
	// reasons counts the skips by class and reason.
	reasons map[[2]string]int
}

// report is one profile's JSON report.
type report struct {
	profile string
	rep     *conformance.JSONReport
}

// tally builds the rows, and the IDs of the cases no profile ran.
func tally(reports []report, rules []classRule, expected map[[2]string]expectation) ([]row, []string) {
	ran := map[string]bool{}
	var order []string
	var rows []row
	for _, r := range reports {
		w := row{Profile: r.profile, reasons: map[[2]string]int{}}
		for _, c := range r.rep.Cases {
			if _, seen := ran[c.ID]; !seen {
				ran[c.ID] = false
				order = append(order, c.ID)
			}
			w.Total++
			exp, isExpected := expected[[2]string{r.profile, c.ID}]
			switch c.Outcome {
			case "PASS", "WARN":
				ran[c.ID] = true
				if c.Outcome == "PASS" {
					w.Passed++
				} else {
					w.Warned++
				}
				if isExpected {
					w.unexpectPass = append(w.unexpectPass, fmt.Sprintf("%s (listed: %s)", c.ID, exp.reason))
				}
			case "FAIL":
				ran[c.ID] = true
				if isExpected {
					w.Expected++
					break
				}
				w.Failed++
				w.failures = append(w.failures, c.ID+": "+strings.Join(c.Messages, "; "))
			case "SKIP":
				class := classify(rules, c.SkipReason)
				w.reasons[[2]string{class, c.SkipReason}]++
				switch class {
				case classVersion:
					w.SkipVersion++
				case classFeature:
					w.SkipFeature++
				default:
					w.SkipOther++
					w.otherSkips = append(w.otherSkips, c.ID+": "+c.SkipReason)
				}
			default: // NOT RUN
				w.NotRun++
				w.notRun = append(w.notRun, c.ID+": "+c.SkipReason)
			}
		}
		for k, e := range expected {
			if k[0] != r.profile {
				continue
			}
			found := false
			for _, c := range r.rep.Cases {
				found = found || c.ID == k[1]
			}
			if !found {
				w.unexpectPass = append(w.unexpectPass, fmt.Sprintf("%s (listed: %s): no such case", k[1], e.reason))
			}
		}
		sort.Strings(w.unexpectPass)
		rows = append(rows, w)
	}
	var nowhere []string
	for _, id := range order {
		if !ran[id] {
			nowhere = append(nowhere, id)
		}
	}
	return rows, nowhere
}

// keyVersions are the versions a report's key lists: getInfo's versions,
// or U2F_V2 alone for a key without getInfo (a U2F-only key).
func keyVersions(rep *conformance.JSONReport) []string {
	info, _ := rep.Device.GetInfo.(map[string]any)
	if info == nil {
		return []string{"U2F_V2"}
	}
	vs, _ := info["Versions"].([]any)
	var out []string
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// unserved splits the cases no profile ran into those for a version that
// some profile lists (a failure: a profile should have run them) and those
// for versions no profile lists (a notice: no profile is that key yet),
// with the versions they need.
func unserved(reports []report, nowhere []string) (missed []string, noProfile map[string][]string) {
	listed := map[string]bool{}
	for _, r := range reports {
		for _, v := range keyVersions(r.rep) {
			listed[v] = true
		}
	}
	versions := map[string][]string{}
	for _, r := range reports {
		for _, c := range r.rep.Cases {
			if _, ok := versions[c.ID]; !ok {
				versions[c.ID] = []string{}
				for _, v := range c.Versions {
					versions[c.ID] = append(versions[c.ID], string(v))
				}
			}
		}
	}
	noProfile = map[string][]string{}
	for _, id := range nowhere {
		vs := versions[id]
		served := len(vs) == 0
		for _, v := range vs {
			served = served || listed[v]
		}
		if served {
			missed = append(missed, id)
		} else {
			noProfile[id] = vs
		}
	}
	return missed, noProfile
}

// writeTable writes the rows as a Markdown table.
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| profile | passed | warned | failed | expected failures | skipped: not this version | skipped: not this feature | skipped: other | not run | total |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", r.Profile,
			r.Passed, r.Warned, r.Failed, r.Expected, r.SkipVersion, r.SkipFeature, r.SkipOther, r.NotRun, r.Total)
	}
}

// writeReasons writes each profile's skip reasons with their classes and
// counts, most frequent first.
func writeReasons(w io.Writer, rows []row) {
	for _, r := range rows {
		if len(r.reasons) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s, skipped:\n", r.Profile)
		keys := make([][2]string, 0, len(r.reasons))
		for k := range r.reasons {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if a, b := r.reasons[keys[i]], r.reasons[keys[j]]; a != b {
				return a > b
			}
			return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1]
		})
		for _, k := range keys {
			fmt.Fprintf(w, "  %4d  %-7s  %s\n", r.reasons[k], k[0], k[1])
		}
	}
}

// noProfileID is the PROFILE of an expected-failures line for a case that
// no profile runs yet (a feature no profile has).
const noProfileID = "-"

// listedNowhere takes out of missed the cases the expected failures list
// under noProfileID, printing each with its reason, and returns the rest
// and the listed cases that some profile ran (stale lines).
func listedNowhere(missed, nowhere []string, expected map[[2]string]expectation, w io.Writer) (rest, stale []string) {
	for _, id := range missed {
		if e, ok := expected[[2]string{noProfileID, id}]; ok {
			fmt.Fprintf(w, "expected: no profile ran %s (listed: %s)\n", id, e.reason)
			continue
		}
		rest = append(rest, id)
	}
	for k, e := range expected {
		if k[0] == noProfileID && !slices.Contains(nowhere, k[1]) {
			stale = append(stale, fmt.Sprintf("listed as run by no profile, but a profile ran it or it is gone: %s (listed: %s)", k[1], e.reason))
		}
	}
	sort.Strings(stale)
	return rest, stale
}

// problems lists what makes the run fail, one line each.
func problems(rows []row, nowhere []string) []string {
	var out []string
	for _, r := range rows {
		for _, f := range r.failures {
			out = append(out, r.Profile+": FAIL "+f)
		}
		for _, s := range r.otherSkips {
			out = append(out, r.Profile+": SKIP of class other: "+s)
		}
		for _, s := range r.notRun {
			out = append(out, r.Profile+": NOT RUN "+s)
		}
		for _, s := range r.unexpectPass {
			out = append(out, r.Profile+": listed in the expected failures but did not fail: "+s)
		}
	}
	for _, id := range nowhere {
		out = append(out, "no profile ran "+id)
	}
	return out
}

func readReport(path string) (*conformance.JSONReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep conformance.JSONReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rep.Tool != "ctaptest" {
		return nil, fmt.Errorf("%s: not a ctaptest report", path)
	}
	return &rep, nil
}

func readRules(classes, expectedPath string) ([]classRule, map[[2]string]expectation, error) {
	f, err := os.Open(classes)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rules, err := parseClasses(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", classes, err)
	}
	expected := map[[2]string]expectation{}
	if expectedPath != "" {
		g, err := os.Open(expectedPath)
		if err != nil {
			return nil, nil, err
		}
		defer g.Close()
		if expected, err = parseExpected(g); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", expectedPath, err)
		}
	}
	return rules, expected, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("profiletable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	classes := fs.String("classes", "interop/skip-classes.txt", "the skip reasons' classes")
	expectedPath := fs.String("expected", "interop/expected-failures.txt", "the expected failures, each with its reason")
	out := fs.String("o", "", "also write the table to this file")
	partial := fs.Bool("partial", false, "the reports are of some profiles only: do not check that every case ran on one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: profiletable [-classes FILE] [-expected FILE] [-o TABLE] [-partial] PROFILE=REPORT.json...")
		return 2
	}
	rules, expected, err := readRules(*classes, *expectedPath)
	if err != nil {
		fmt.Fprintln(stderr, "profiletable:", err)
		return 2
	}
	var reports []report
	for _, a := range fs.Args() {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(stderr, "profiletable: %q is not PROFILE=REPORT.json\n", a)
			return 2
		}
		rep, err := readReport(path)
		if err != nil {
			fmt.Fprintln(stderr, "profiletable:", err)
			return 2
		}
		reports = append(reports, report{name, rep})
	}
	rows, nowhere := tally(reports, rules, expected)
	if *partial {
		nowhere = nil
		for k := range expected {
			if k[0] == noProfileID {
				delete(expected, k)
			}
		}
	}
	writeTable(stdout, rows)
	writeReasons(stdout, rows)
	if *out != "" {
		f, err := os.Create(*out)
		if err == nil {
			writeTable(f, rows)
			writeReasons(f, rows)
			err = f.Close()
		}
		if err != nil {
			fmt.Fprintln(stderr, "profiletable:", err)
			return 2
		}
	}
	missed, noProfile := unserved(reports, nowhere)
	for _, id := range nowhere {
		if vs, ok := noProfile[id]; ok {
			fmt.Fprintf(stdout, "not run on any profile: %s, for %s, which no profile lists\n", id, strings.Join(vs, " or "))
		}
	}
	missed, stale := listedNowhere(missed, nowhere, expected, stdout)
	bad := append(problems(rows, missed), stale...)
	for _, p := range bad {
		fmt.Fprintln(stdout, p)
	}
	if len(bad) > 0 {
		return 1
	}
	return 0
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
