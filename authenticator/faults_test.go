package authenticator

import (
	"slices"
	"strings"
	"testing"
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
