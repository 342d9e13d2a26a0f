package control_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rules of docs/ARCHITECTURE ("Dependency direction"), written
// down as a test in the manner of Go's src/go/build/deps_test.go, so that
// a layering rule cannot rot. Paths are relative to the module.
const module = "github.com/virtkey/virtkey"

// depRules say which of the project's packages a package must not reach.
// direct rules look at the package's own imports; linked rules at
// everything it links (go list -deps). Test files do not count.
var depRules = []struct {
	pkg       string
	mustNot   []string
	linked    bool
	rationale string
}{
	{"ctap", []string{"*"}, true, "the protocol is the bottom layer"},
	{"ctaphid", []string{"*", "!ctap"}, true, "transport knows only the protocol's codes"},
	{"authenticator", []string{"client", "control", "webauthn", "conformance", "virtkeytest", "cmd/*"}, true,
		"the key and the host side never import each other"},
	{"client", []string{"authenticator", "control", "webauthn", "conformance", "virtkeytest", "cmd/*"}, true,
		"the key and the host side never import each other"},
	{"uhid", []string{"authenticator", "client", "control", "conformance", "virtkeytest"}, true, "uhid moves reports"},
	{"profile", []string{"client", "control", "webauthn", "conformance", "virtkeytest", "cmd/*"}, true,
		"a profile is an authenticator Config, below everything that runs one"},
	{"control", []string{"conformance", "virtkeytest", "cmd/*"}, true, "control is below the suite and the binaries"},
	{"virtkeytest", []string{"conformance"}, true, "the in-process key is not part of the suite"},
	{"conformance", []string{"authenticator", "virtkeytest"}, false,
		"the suite talks to keys through client; control may link the in-memory key"},
}

type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// goList runs go list -json with args on the module's packages.
func goList(t *testing.T, args ...string) map[string]listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Skipf("go list: %v", err)
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	return pkgs
}

// matches reports whether project package dep is named by patterns: "*"
// is every package, "cmd/*" every command, "!p" excepts p.
func matches(patterns []string, dep string) bool {
	if slices.Contains(patterns, "!"+dep) {
		return false
	}
	for _, p := range patterns {
		switch {
		case p == "*", p == dep:
			return true
		case strings.HasSuffix(p, "/*") && strings.HasPrefix(dep, strings.TrimSuffix(p, "*")):
			return true
		}
	}
	return false
}

func TestImportRules(t *testing.T) {
	pkgs := goList(t, "./...")
	for _, r := range depRules {
		p, ok := pkgs[r.pkg]
		if !ok {
			continue // not written yet
		}
		deps := p.Imports
		if r.linked {
			deps = p.Deps
		}
		for _, d := range deps {
			if !strings.HasPrefix(d, module+"/") {
				continue
			}
			d = strings.TrimPrefix(d, module+"/")
			if d != r.pkg && matches(r.mustNot, d) {
				how := "imports"
				if r.linked {
					how = "links"
				}
				t.Errorf("%s %s %s: %s", r.pkg, how, d, r.rationale)
			}
		}
	}
}

// TestBinariesDoNotLinkTesting: nothing a binary links imports testing
// (a test helper in a binary's import graph would bring the testing
// flags and runtime into the product).
func TestBinariesDoNotLinkTesting(t *testing.T) {
	pkgs := goList(t, "./cmd/...")
	if len(pkgs) == 0 {
		t.Fatal("go list ./cmd/... found no commands")
	}
	for name, p := range pkgs {
		if slices.Contains(p.Deps, "testing") {
			t.Errorf("%s links testing", name)
		}
	}
}
