package authenticator

import (
	"slices"
	"strings"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// TestFaultCatalogue: every fault has a family Faults orders by, a
// description and a section, and its name is unique and usable in a
// comma-separated --fault list.
func TestFaultCatalogue(t *testing.T) {
	seen := map[Fault]bool{}
	for _, f := range Faults() {
		switch {
		case seen[f.Name]:
			t.Errorf("%s listed twice", f.Name)
		case f.Name == "" || strings.ContainsAny(string(f.Name), ", "):
			t.Errorf("fault name %q", f.Name)
		case !slices.Contains(faultFamilies, f.Family):
			t.Errorf("%s: family %q not in faultFamilies", f.Name, f.Family)
		case f.Description == "" || !strings.Contains(f.Section, "§"):
			t.Errorf("%s: description %q, section %q", f.Name, f.Description, f.Section)
		}
		seen[f.Name] = true
	}
	if len(seen) != len(faultCatalogue) {
		t.Errorf("Faults gives %d, the catalogue has %d", len(seen), len(faultCatalogue))
	}
}

// TestFaultReached: Config.FaultReached hears of a fault's place when a
// command comes to it on a correct key. getInfo comes to its own faults'
// places; makeCredential to the signature counter's; getNextAssertion's
// state is dropped by the next command only when there is one
// (FaultGNASurvivesOtherCommand), so a getInfo comes to that place after
// a getAssertion that found two credentials, and not otherwise.
func TestFaultReached(t *testing.T) {
	var reached []Fault
	k := newTestKey(t, func(c *Config) { c.FaultReached = func(f Fault) { reached = append(reached, f) } })
	step := func(what string, do func(), want []Fault, not ...Fault) {
		t.Helper()
		reached = nil
		do()
		for _, f := range want {
			if !slices.Contains(reached, f) {
				t.Errorf("%s: FaultReached heard %v, not %s", what, reached, f)
			}
		}
		for _, f := range not {
			if slices.Contains(reached, f) {
				t.Errorf("%s: FaultReached heard %s", what, f)
			}
		}
	}
	info := []Fault{FaultInfoAAGUIDDiffers, FaultInfoRemainingWrong}
	getInfo := func() {
		if st := k.do(ctap.CmdGetInfo, nil, nil); st != ctap.StatusOK {
			t.Fatalf("getInfo: %v", st)
		}
	}
	step("getInfo", getInfo, info, FaultGNASurvivesOtherCommand, FaultCounterZero)
	step("makeCredential", func() {
		for _, user := range []string{"a", "b"} {
			if _, st := k.makeCredential(mcReq("fr.example", []byte(user), true)); st != ctap.StatusOK {
				t.Fatalf("makeCredential: %v", st)
			}
		}
	}, []Fault{FaultCounterZero, FaultCounterRepeat}, FaultGNASurvivesOtherCommand)
	step("getInfo after makeCredential", getInfo, info, FaultGNASurvivesOtherCommand)
	step("getAssertion", func() {
		if resp, st := k.getAssertion(gaReq("fr.example")); st != ctap.StatusOK || resp.NumberOfCredentials == nil || *resp.NumberOfCredentials != 2 {
			t.Fatalf("getAssertion: %v, %+v", st, resp)
		}
	}, []Fault{FaultCounterZero})
	step("getInfo after getAssertion", getInfo, append(info, FaultGNASurvivesOtherCommand))
	step("getInfo after that", getInfo, info, FaultGNASurvivesOtherCommand)
}
