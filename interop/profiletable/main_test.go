package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/conformance"
)

// TestClassesFile classifies reasons the suite writes with the committed
// interop/skip-classes.txt.
func TestClassesFile(t *testing.T) {
	f, err := os.Open("../skip-classes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := parseClasses(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ reason, want string }{
		{"not this version: the key lists none of FIDO_2_1, FIDO_2_2", classVersion},
		{"not this feature: the key does not list PIN/UV auth protocol 2", classFeature},
		{"key does not list the credProtect extension", classFeature},
		{"key does not list the hmac-secret-mc extension", classFeature},
		{"key lists no algorithms (optional; the member came with CTAP 2.1)", classVersion},
		{"key lists no algorithms", classFeature},
		{"U2F-only key: no CTAPHID_CBOR", classVersion},
		{"key has built-in user verification, which alwaysUv would run", classFeature},
		// The harness's own shortcomings are never a class of the key.
		{"need control (power cycle, scripted touches)", classOther},
		{"destructive (erase the key or change its PIN)", classOther},
		{"uvRetries 1: too few to spend one", classOther},
		// A rule matches the whole reason, not a part of it.
		{"key does not list the credProtect extension, and more", classOther},
		{"", classOther},
	} {
		if got := classify(rules, tc.reason); got != tc.want {
			t.Errorf("classify(%q) = %s, want %s", tc.reason, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"maybe\t^x$\n", "version ^x$\n", "feature\t(\n"} {
		if _, err := parseClasses(strings.NewReader(in)); err == nil {
			t.Errorf("parseClasses(%q): no error", in)
		}
	}
	for _, in := range []string{"fido21\tmc-x\n", "fido21\tmc-x\t  \n", "fido21\n"} {
		if _, err := parseExpected(strings.NewReader(in)); err == nil {
			t.Errorf("parseExpected(%q): no error", in)
		}
	}
}

// result is a case's outcome in a fixture report.
type result struct {
	id, outcome, reason string
	versions            []conformance.Version
}

func writeReport(t *testing.T, dir, name string, rs []result) string {
	t.Helper()
	rep := conformance.JSONReport{Tool: "ctaptest",
		Device: conformance.Device{GetInfo: map[string]any{"Versions": []string{"FIDO_2_0", "FIDO_2_1"}}}}
	for _, r := range rs {
		rep.Cases = append(rep.Cases, conformance.JSONResult{ID: r.id, Outcome: r.outcome, SkipReason: r.reason,
			Messages: []string{"message of " + r.id}, Versions: r.versions})
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name + "=" + path
}

func TestRun(t *testing.T) {
	const classes = "version\t^not this version.*\nfeature\t^not this feature.*\n"
	for _, tc := range []struct {
		name     string
		a, b     []result
		expected string
		want     int
		out      []string // lines the output must hold
	}{{
		name: "clean",
		a:    []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this version: 2.1", nil}},
		b:    []result{{"mc-a", "WARN", "", nil}, {"mc-b", "PASS", "", nil}},
		want: 0,
		out: []string{
			"| a | 1 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 2 |",
			"| b | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 2 |",
			"     1  version  not this version: 2.1",
		},
	}, {
		name: "failure",
		a:    []result{{"mc-a", "FAIL", "", nil}},
		b:    []result{{"mc-a", "PASS", "", nil}},
		want: 1,
		out:  []string{"| a | 0 | 0 | 1 | 0 |", "a: FAIL mc-a: message of mc-a"},
	}, {
		name:     "expected failure",
		a:        []result{{"mc-a", "FAIL", "", nil}},
		b:        []result{{"mc-a", "PASS", "", nil}},
		expected: "a\tmc-a\tthe profile's Config.X is not implemented yet\n",
		want:     0,
		out:      []string{"| a | 0 | 0 | 0 | 1 |"},
	}, {
		name:     "expected failure that passes",
		a:        []result{{"mc-a", "PASS", "", nil}},
		b:        []result{{"mc-a", "PASS", "", nil}},
		expected: "a\tmc-a\tnot implemented\n",
		want:     1,
		out:      []string{"a: listed in the expected failures but did not fail: mc-a (listed: not implemented)"},
	}, {
		name:     "expected failure of a case that is gone",
		a:        []result{{"mc-a", "PASS", "", nil}},
		b:        []result{{"mc-a", "PASS", "", nil}},
		expected: "b\tmc-gone\tnot implemented\n",
		want:     1,
		out:      []string{"b: listed in the expected failures but did not fail: mc-gone (listed: not implemented): no such case"},
	}, {
		name:     "python-fido2's and the VM test's lines are not cases",
		a:        []result{{"mc-a", "PASS", "", nil}},
		b:        []result{{"mc-a", "PASS", "", nil}},
		expected: "a\tpy:21-commands\tnot implemented\nb\tvm:fido20-refused\tnot implemented\n",
		want:     0,
	}, {
		name: "other skip",
		a:    []result{{"mc-a", "SKIP", "need control", nil}},
		b:    []result{{"mc-a", "PASS", "", nil}},
		want: 1,
		out:  []string{"| a | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 0 | 1 |", "a: SKIP of class other: mc-a: need control"},
	}, {
		name: "not run",
		a:    []result{{"mc-a", "NOT RUN", "the key stopped", nil}},
		b:    []result{{"mc-a", "PASS", "", nil}},
		want: 1,
		out:  []string{"a: NOT RUN mc-a: the key stopped"},
	}, {
		name: "no profile ran a case",
		a:    []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this feature: x", nil}},
		b:    []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this version: y", nil}},
		want: 1,
		out:  []string{"no profile ran mc-b"},
	}, {
		name: "no profile ran a case of a version a profile lists",
		a:    []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this feature: x", []conformance.Version{"FIDO_2_1"}}},
		b:    []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this feature: x", []conformance.Version{"FIDO_2_1"}}},
		want: 1,
		out:  []string{"no profile ran mc-b"},
	}, {
		name:     "a case no profile runs, listed",
		a:        []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this feature: x", nil}},
		b:        []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this feature: x", nil}},
		expected: "-\tmc-b\tno profile without rk yet\n",
		want:     0,
		out:      []string{"expected: no profile ran mc-b (listed: no profile without rk yet)"},
	}, {
		name:     "a case listed as run by no profile that ran",
		a:        []result{{"mc-a", "PASS", "", nil}, {"mc-b", "PASS", "", nil}},
		b:        []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this feature: x", nil}},
		expected: "-\tmc-b\tno profile without rk yet\n",
		want:     1,
		out:      []string{"listed as run by no profile, but a profile ran it or it is gone: mc-b"},
	}, {
		name: "no profile lists the version of a case",
		a:    []result{{"mc-a", "PASS", "", nil}, {"v22-b", "SKIP", "not this version: y", []conformance.Version{"FIDO_2_2"}}},
		b:    []result{{"mc-a", "PASS", "", nil}, {"v22-b", "SKIP", "not this version: y", []conformance.Version{"FIDO_2_2"}}},
		want: 0,
		out:  []string{"not run on any profile: v22-b, for FIDO_2_2, which no profile lists"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cl := filepath.Join(dir, "classes")
			ex := filepath.Join(dir, "expected")
			table := filepath.Join(dir, "table.md")
			os.WriteFile(cl, []byte(classes), 0o644)
			os.WriteFile(ex, []byte(tc.expected), 0o644)
			var stdout, stderr bytes.Buffer
			got := run([]string{"-classes", cl, "-expected", ex, "-o", table,
				writeReport(t, dir, "a", tc.a), writeReport(t, dir, "b", tc.b)}, &stdout, &stderr)
			if got != tc.want {
				t.Errorf("exit %d, want %d\n%s%s", got, tc.want, stdout.String(), stderr.String())
			}
			for _, l := range tc.out {
				if !strings.Contains(stdout.String(), l) {
					t.Errorf("output lacks %q:\n%s", l, stdout.String())
				}
			}
			file, err := os.ReadFile(table)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stdout.String(), string(file)) {
				t.Errorf("the file is not the table printed:\n%s\n--- printed:\n%s", file, stdout.String())
			}
		})
	}
}

// TestPartial checks that -partial leaves out the checks that need every
// profile's report.
func TestPartial(t *testing.T) {
	dir := t.TempDir()
	cl := filepath.Join(dir, "classes")
	ex := filepath.Join(dir, "expected")
	os.WriteFile(cl, []byte("feature\t^not this feature.*\n"), 0o644)
	os.WriteFile(ex, []byte("-\tmc-c\tno profile has it\n"), 0o644)
	a := writeReport(t, dir, "a", []result{{"mc-a", "PASS", "", nil}, {"mc-b", "SKIP", "not this feature: x", nil}})
	var stdout, stderr bytes.Buffer
	if got := run([]string{"-classes", cl, "-expected", ex, a}, &stdout, &stderr); got != 1 {
		t.Errorf("without -partial: exit %d, want 1\n%s", got, stdout.String())
	}
	stdout.Reset()
	if got := run([]string{"-classes", cl, "-expected", ex, "-partial", a}, &stdout, &stderr); got != 0 {
		t.Errorf("with -partial: exit %d, want 0\n%s%s", got, stdout.String(), stderr.String())
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if got := run(nil, &stdout, &stderr); got != 2 {
		t.Errorf("no reports: exit %d, want 2", got)
	}
	if got := run([]string{"-classes", "../skip-classes.txt", "nofile.json"}, &stdout, &stderr); got != 2 {
		t.Errorf("an argument without PROFILE=: exit %d, want 2", got)
	}
	if got := run([]string{"-classes", "../skip-classes.txt", "-expected", "", "a=/nonexistent.json"}, &stdout, &stderr); got != 2 {
		t.Errorf("an unreadable report: exit %d, want 2", got)
	}
}
