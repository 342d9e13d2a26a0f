package conformance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/profile"
	"github.com/virtkey/virtkey/virtkeytest"
)

// TestSuiteEveryProfile runs the whole suite against a fresh in-process
// key of each profile (profile.All), as `ctaptest` does against `virtkey
// serve --profile NAME`: no case may fail, and a case may be skipped only
// because the key is of another version or lacks the feature, never
// because the suite could not drive it. The table it logs (go test -v) is
// the profile × passed/failed/skipped table of the project's notes.
//
// With -short only the CTAP 2.0 and U2F profiles run, the ones least like
// the default (TestSuiteInProcess runs the default's Config).
func TestSuiteEveryProfile(t *testing.T) {
	t.Parallel() // beside TestEveryFaultCaught, the other long one
	var profiles []profile.Profile
	for _, p := range profile.All() {
		if testing.Short() && p.Name != "fido20-pin" && p.Name != "u2f" {
			continue
		}
		profiles = append(profiles, p)
	}
	// The runs are independent: all at once, so that their waits (touch
	// and keepalive cases, hid-msg-timeout) overlap.
	results := make([][]conformance.Result, len(profiles))
	var wg sync.WaitGroup
	for i, p := range profiles {
		wg.Go(func() {
			results[i] = conformance.Run(context.Background(), quick(virtkeytest.NewProfileTarget(p, true)), conformance.Options{})
		})
	}
	wg.Wait()
	var table []string
	for i, p := range profiles {
		t.Run(p.Name, func(t *testing.T) {
			results := results[i]
			passed, failed, skipped := conformance.Summary(results)
			table = append(table, fmt.Sprintf("%-14s %4d %4d %4d %4d", p.Name, passed, conformance.Warnings(results), failed, skipped))
			for _, r := range results {
				switch r.Outcome {
				case conformance.Fail:
					t.Errorf("%s (%s): %s", r.Case.ID, r.Case.Section, strings.Join(r.Messages, "; "))
				case conformance.Skip:
					why := r.SkipReason
					if testing.Verbose() {
						t.Logf("SKIP %s: %s", r.Case.ID, why)
					}
					if !allowedSkip(why) {
						t.Errorf("%s skipped for a reason that is not \"not this version / feature\": %s", r.Case.ID, why)
					}
				}
			}
		})
	}
	// pass counts the warned cases too (conformance.Summary).
	t.Logf("profile         pass warn fail skip\n%s", strings.Join(table, "\n"))
}

// allowedSkip reports whether a skip's reason (Result.SkipReason) says
// the key is of another version or lacks (or has) a feature: the classes
// "version" and "feature" of interop/skip-classes.txt, the file
// interop/profiles.sh classifies ctaptest's skips with. A skip for a
// missing capability of the target (control, power cycles, a fresh key),
// a PIN the run does not know or anything else matches none of them.
func allowedSkip(why string) bool {
	for _, re := range allowedSkips() {
		if re.MatchString(why) {
			return true
		}
	}
	return false
}

// allowedSkips reads the version and feature lines of
// interop/skip-classes.txt ("CLASS <TAB> REGEXP", matched against the
// whole reason).
var allowedSkips = sync.OnceValue(func() []*regexp.Regexp {
	b, err := os.ReadFile(filepath.Join("..", "interop", "skip-classes.txt"))
	if err != nil {
		panic(err)
	}
	var out []*regexp.Regexp
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		class, expr, ok := strings.Cut(line, "\t")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if class == "version" || class == "feature" {
			out = append(out, regexp.MustCompile("^(?:"+expr+")$"))
		}
	}
	if len(out) == 0 {
		panic("interop/skip-classes.txt has no version or feature line")
	}
	return out
})

// TestAllowedSkip checks the skip filter both ways.
func TestAllowedSkip(t *testing.T) {
	for why, want := range map[string]bool{
		"not this version: the key lists none of FIDO_2_2":                    true,
		"not this feature: the key does not list the credMgmt option":         true,
		"key does not list the credBlob extension":                            true,
		"needs capability power-cycle: the target cannot power-cycle the key": false,
		"no PIN: the run knows no PIN for this key":                           false,
	} {
		if got := allowedSkip(why); got != want {
			t.Errorf("allowedSkip(%q) = %v, want %v", why, got, want)
		}
	}
}

// filteredKey is the daemon's old fido20-pin: a CTAP 2.1 key whose getInfo
// is rewritten to say CTAP 2.0 with PIN protocol 1 and nothing else. The
// version cases must catch it.
type filteredKey struct{ *virtkeytest.Target }

func (k filteredKey) HandleCBOR(ctx context.Context, req []byte) []byte {
	key, err := k.Target.Controlled()
	if err != nil {
		return []byte{byte(ctap.StatusOther)}
	}
	resp := key.HandleCBOR(ctx, req)
	if len(req) == 0 || ctap.Command(req[0]) != ctap.CmdGetInfo || len(resp) == 0 || resp[0] != 0 {
		return resp
	}
	var info ctap.InfoResponse
	if err := ctap.Unmarshal(resp[1:], &info); err != nil {
		return resp
	}
	out := ctap.InfoResponse{
		Versions: []string{ctap.VersionU2FV2, ctap.VersionFIDO20}, Extensions: []string{ctap.ExtHMACSecret},
		AAGUID: info.AAGUID, MaxMsgSize: info.MaxMsgSize, PinUvAuthProtocols: []uint64{1},
		Options: map[string]bool{"rk": true, "up": true, "plat": false, "clientPin": info.Options["clientPin"]},
	}
	return append([]byte{0}, ctap.MustMarshal(&out)...)
}

func (k filteredKey) HandleMsg(ctx context.Context, req []byte) ([]byte, error) {
	key, err := k.Target.Controlled()
	if err != nil {
		return nil, err
	}
	return key.HandleMsg(ctx, req)
}

func (k filteredKey) Open(ctx context.Context) (*client.Device, error) {
	return client.OpenInProcess(ctx, k, nil)
}

// TestVersionCasesCatchAFilter runs the version cases against a key that
// only hides its CTAP 2.1 commands and protocol 2 from getInfo: each must
// fail (a warning counts for the SHOULD ones).
func TestVersionCasesCatchAFilter(t *testing.T) {
	target := filteredKey{virtkeytest.NewTarget(authenticator.Config{}, true)}
	results := conformance.Run(context.Background(), target, conformance.Options{
		Filter: regexp.MustCompile(`^ver-(20-no-21-commands|20-no-21-clientpin-subcommands|pin-protocol-unlisted)$`)})
	if len(results) != 3 {
		t.Fatalf("%d results, want 3", len(results))
	}
	for _, r := range results {
		t.Logf("%s: %v %v %v", r.Case.ID, r.Outcome, r.Messages, r.Warnings)
		if r.Outcome == conformance.Pass && len(r.Warnings) == 0 {
			t.Errorf("%s passed against a key that only filters getInfo: %v", r.Case.ID, r.Messages)
		}
	}
}

// TestSuiteStrippedConfigs runs the suite against keys that no profile
// names, with features switched off through authenticator.Config alone: a
// key whose only user verification is built in (no PIN), and one with
// neither, no discoverable credentials, no 2.1 management commands, no
// extension, no CTAP1/U2F, ES256 only and the smallest maxMsgSize. No case
// may fail.
func TestSuiteStrippedConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("two more runs of the whole suite")
	}
	t.Parallel()
	for name, cfg := range map[string]authenticator.Config{
		"uv-without-pin": {NoClientPIN: true, BuiltInUV: true},
		"minimal": {Versions: []string{ctap.VersionFIDO20, ctap.VersionFIDO21}, NoClientPIN: true, NoResidentKeys: true, NoCredentialManagement: true, NoLargeBlobs: true,
			NoAuthenticatorConfig: true, Extensions: []string{}, Algorithms: []int64{ctap.AlgES256}, MaxMsgSize: 1024},
	} {
		results := conformance.Run(context.Background(), quick(virtkeytest.NewTarget(cfg, true)), conformance.Options{})
		p, f, s := conformance.Summary(results)
		t.Logf("%s: %d passed, %d failed, %d skipped", name, p, f, s)
		for _, r := range results {
			if r.Outcome == conformance.Fail {
				t.Errorf("%s: %s (%s): %s", name, r.Case.ID, r.Case.Section, strings.Join(r.Messages, "; "))
			}
		}
	}
}
