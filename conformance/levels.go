package conformance

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
)

// Level is how strongly the specification states what a case checks, in
// the words of RFC 2119 as CTAP 2.1 §1 (Notation) uses them.
//
// A case that fails at Must is a failure. A case that fails at Should is a
// warning (the key departs from a recommendation; WARN, counted apart). A
// case that fails at May is an observation: the key chose not to do what
// the spec allows, and the run records it without judging.
type Level int

const (
	Must Level = iota
	Should
	May
)

func (l Level) String() string {
	switch l {
	case Must:
		return "MUST"
	case Should:
		return "SHOULD"
	case May:
		return "MAY"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Version is a protocol version as getInfo's versions member lists it
// (CTAP 2.1 §6.4), or AnyVersion for what every FIDO key must do whatever
// it lists (CTAPHID framing, CTAP 2.1 §11.2).
type Version string

const (
	U2FV2     Version = ctap.VersionU2FV2
	FIDO20    Version = ctap.VersionFIDO20
	FIDO21PRE Version = ctap.VersionFIDO21Pre
	FIDO21    Version = ctap.VersionFIDO21
	FIDO22    Version = ctap.VersionFIDO22
	// AnyVersion: the case applies to every key, whatever it lists.
	AnyVersion Version = "any"
)

// Version sets for Case.Versions. A case runs on a key that lists at least
// one of its versions; inside a case, T.Lists tells which variant applies.
var (
	// CTAP2 is every CTAP2 version: what CTAP 2.0 already required and
	// later versions kept.
	CTAP2 = []Version{FIDO20, FIDO21PRE, FIDO21, FIDO22}
	// CTAP21 is CTAP 2.1 and later, and the 2.1 pre-release where the
	// feature existed there already.
	CTAP21PRE = []Version{FIDO21PRE, FIDO21, FIDO22}
	// CTAP21 is CTAP 2.1 (Proposed Standard) and later only.
	CTAP21 = []Version{FIDO21, FIDO22}
	// CTAP22 is CTAP 2.2 and later.
	CTAP22 = []Version{FIDO22}
	// U2F is CTAP1/U2F (U2F_V2).
	U2F = []Version{U2FV2}
	// Any is every key.
	Any = []Version{AnyVersion}
)

// versions returns what the key lists in getInfo's versions member; a key
// without CTAPHID_CBOR (a U2F-only key) lists U2F_V2 alone.
func (t *T) versions() []string {
	if t.keyVersions == nil {
		if t.Device().Conn().Info().Capabilities&ctaphid.CapCBOR == 0 {
			t.keyVersions = []string{ctap.VersionU2FV2}
		} else {
			t.keyVersions = t.Ctap2().Info().Versions
		}
	}
	return t.keyVersions
}

// Lists reports whether the key lists version v in getInfo (CTAP 2.1 §6.4).
// A case uses it to pick the variant of an expectation that applies to the
// key it meets: CTAP 2.0 semantics on a key that does not list FIDO_2_1.
func (t *T) Lists(v Version) bool {
	return v == AnyVersion || slices.Contains(t.versions(), string(v))
}

// ListsAny reports whether the key lists at least one of vs.
func (t *T) ListsAny(vs ...Version) bool {
	return slices.ContainsFunc(vs, t.Lists)
}

// requireVersions skips the case on a key that lists none of the case's
// versions, with a reason shared by every case skipped for it.
func (t *T) requireVersions() {
	vs := t.c.Versions
	if len(vs) == 0 || t.ListsAny(vs...) {
		return
	}
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = string(v)
	}
	t.mu.Lock()
	t.skipReason = "not this version: the key lists none of " + strings.Join(names, ", ")
	t.mu.Unlock()
	t.Skipf("the case applies to %s; the key lists %s", strings.Join(names, ", "), strings.Join(t.versions(), ", "))
}

// Warnf records that the key departs from a SHOULD of the spec and goes on.
// The case ends as WARN unless it also fails.
func (t *T) Warnf(format string, args ...any) {
	t.mu.Lock()
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
	t.mu.Unlock()
	t.logf("WARN: "+format, args...)
}

// Observef records what the key chose where the spec leaves it a choice
// (a MAY, or a status the spec does not name). Observations never fail a
// case; reports list them.
func (t *T) Observef(format string, args ...any) {
	t.mu.Lock()
	t.observations = append(t.observations, fmt.Sprintf(format, args...))
	t.mu.Unlock()
	t.logf("observed: "+format, args...)
}

// ExpectStatusAt checks err against want at level: at Must a mismatch fails
// the case, at Should it is a warning, at May an observation; at Should and
// May the case ends there, since what follows assumed the expected answer.
func (t *T) ExpectStatusAt(level Level, err error, want ctap.Status, what string) {
	if want == ctap.StatusOK && err == nil || want != ctap.StatusOK && errors.Is(err, want) {
		return
	}
	msg := fmt.Sprintf("%s: got %v, want %v (%s)", what, describe(err), want, level)
	switch level {
	case Must:
		t.Fatalf("%s", msg)
	case Should:
		t.Warnf("%s", msg)
	default:
		t.Observef("%s", msg)
	}
	runtime.Goexit()
}

// ExpectError checks that err is a CTAP error status where the spec
// requires a refusal but names no status: any error status passes and the
// one the key chose is recorded. It returns that status.
func (t *T) ExpectError(err error, what string) ctap.Status {
	var st ctap.Status
	if !errors.As(err, &st) || st == ctap.StatusOK {
		t.Fatalf("%s: got %v, want an error status (the spec names none)", what, describe(err))
	}
	t.Observef("%s: the key answered %v", what, st)
	return st
}

// ExpectOneOf checks err against the statuses a spec text allows when it
// can be read more than one way; the one the key chose is recorded.
func (t *T) ExpectOneOf(err error, what string, allowed ...ctap.Status) ctap.Status {
	for _, want := range allowed {
		if want == ctap.StatusOK && err == nil || want != ctap.StatusOK && errors.Is(err, want) {
			if len(allowed) > 1 {
				t.Observef("%s: the key answered %v (the spec allows %v)", what, want, allowed)
			}
			return want
		}
	}
	t.Fatalf("%s: got %v, want one of %v", what, describe(err), allowed)
	return 0
}

// ExpectStatus21 checks err against want where CTAP 2.1 names the status
// but CTAP 2.0 (and the 2.1 pre-release) only say the request fails: on a
// key that lists FIDO_2_1 a mismatch fails the case; on an older key any
// error status passes and the one the key chose is recorded.
func (t *T) ExpectStatus21(err error, want ctap.Status, what string) {
	if t.Lists(FIDO21) || want == ctap.StatusOK {
		t.ExpectStatus(err, want, what)
		return
	}
	if errors.Is(err, want) {
		return
	}
	t.ExpectError(err, what+" (CTAP 2.0 names no status; 2.1 says "+want.String()+")")
}

// ExpectRaw21 sends raw parameters and checks the status as ExpectStatus21
// does.
func (t *T) ExpectRaw21(cmd ctap.Command, params []byte, want ctap.Status) {
	st, _ := t.Raw(cmd, params)
	t.ExpectStatus21(statusErr(st), want, Sprintf("%v with %x", cmd, params))
}
