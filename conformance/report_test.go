package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/virtkeytest"
)

// reportCases end in each outcome; rp-fail fails after a real exchange
// with the key, so that its report carries request and response bytes.
var reportCases = []conformance.Case{
	{ID: "rp-pass", Section: "§0", Title: "passes", Versions: conformance.Any, Run: func(t *conformance.T) {}},
	{ID: "rp-fail", Section: "CTAP 2.1 §6.4", Title: "fails after getInfo", Versions: conformance.CTAP2, Run: func(t *conformance.T) {
		t.ExpectRaw(ctap.CmdGetInfo, nil, ctap.StatusInvalidCBOR)
	}},
	{ID: "rp-warn", Section: "§0", Title: "warns", Versions: conformance.Any, Level: conformance.Should, Run: func(t *conformance.T) {
		t.Fatalf("deliberate")
	}},
	{ID: "xx-skip", Section: "§0", Title: "skips", Versions: conformance.Any, Run: func(t *conformance.T) { t.Skipf("deliberate") }},
}

func runReportCases(t *testing.T) (conformance.Device, []conformance.Result) {
	target := virtkeytest.NewTarget(authenticator.Config{}, true)
	dev, err := conformance.DescribeDevice(context.Background(), target, conformance.Device{Transport: "in-process"})
	if err != nil {
		t.Fatal(err)
	}
	return dev, conformance.Run(context.Background(), target, conformance.Options{Cases: reportCases})
}

func TestJSONReport(t *testing.T) {
	dev, rs := runReportCases(t)
	var buf bytes.Buffer
	if err := conformance.NewJSONReport(dev, time.Unix(0, 0), rs).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Device struct {
			Transport string
			AAGUID    string
			CTAPHID   struct{ Capabilities uint8 }
			GetInfo   struct{ Versions []string }
		}
		Summary struct{ Passed, Failed, Warned, Skipped, Total int }
		Cases   []struct {
			ID, Title, Section, Level, Outcome string
			Versions                           []string
			DurationMS                         float64
			Messages, Warnings                 []string
			Exchanges                          []struct {
				Request                     string
				RequestBytes, ResponseBytes string
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if rep.Device.Transport != "in-process" || len(rep.Device.AAGUID) != 36 || len(rep.Device.GetInfo.Versions) == 0 || rep.Device.CTAPHID.Capabilities == 0 {
		t.Errorf("device %+v", rep.Device)
	}
	if s := rep.Summary; s.Passed != 1 || s.Failed != 1 || s.Warned != 1 || s.Skipped != 1 || s.Total != 4 {
		t.Errorf("summary %+v", s)
	}
	byID := map[string]int{}
	for i, c := range rep.Cases {
		byID[c.ID] = i
	}
	fail := rep.Cases[byID["rp-fail"]]
	if fail.Outcome != "FAIL" || fail.Title != "fails after getInfo" || fail.Section != "CTAP 2.1 §6.4" || fail.Level != "MUST" ||
		len(fail.Versions) != 4 || len(fail.Messages) == 0 {
		t.Errorf("failed case %+v", fail)
	}
	if len(fail.Exchanges) == 0 {
		t.Fatalf("failed case has no exchanges")
	}
	x := fail.Exchanges[len(fail.Exchanges)-1]
	if x.Request != "CTAPHID_CBOR "+ctap.CmdGetInfo.String() || x.RequestBytes != "04" || !strings.HasPrefix(x.ResponseBytes, "00") {
		t.Errorf("last exchange %+v, want getInfo 04 answered 00...", x)
	}
	if w := rep.Cases[byID["rp-warn"]]; w.Outcome != "WARN" || w.Level != "SHOULD" || len(w.Warnings) == 0 {
		t.Errorf("warned case %+v", w)
	}
	if p := rep.Cases[byID["rp-pass"]]; len(p.Exchanges) != 0 {
		t.Errorf("passed case carries exchanges %+v", p.Exchanges)
	}
}

func TestByArea(t *testing.T) {
	_, rs := runReportCases(t)
	got := conformance.ByArea(rs)
	want := []conformance.AreaCount{
		{Area: "rp", Pass: 1, Fail: 1, Warn: 1, Total: 3},
		{Area: "xx", Skip: 1, Total: 1},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ByArea = %+v, want %+v", got, want)
	}
	for _, c := range conformance.Cases() {
		found := false
		for _, a := range conformance.Areas {
			found = found || a.Prefix == conformance.AreaOf(c.ID)
		}
		if !found {
			t.Errorf("case %s: prefix %q is not in Areas", c.ID, conformance.AreaOf(c.ID))
		}
	}
}
