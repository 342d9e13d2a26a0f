package conformance

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctaphid"
)

// Area is a group of cases that share an ID prefix.
type Area struct {
	Prefix string // the ID's first dash-separated word, such as "mc"
	Title  string // what the area covers, with its spec section
}

// Areas are the ID prefixes of the suite, in the order --list explains
// them.
var Areas = []Area{
	{"gi", "authenticatorGetInfo (CTAP 2.1 §6.4)"},
	{"cmd", "command dispatch (CTAP 2.1 §8.2)"},
	{"mc", "authenticatorMakeCredential (CTAP 2.1 §6.1)"},
	{"ga", "authenticatorGetAssertion (CTAP 2.1 §6.2)"},
	{"gna", "authenticatorGetNextAssertion (CTAP 2.1 §6.3)"},
	{"alg", "credential algorithms: ES256, ES384, EdDSA, RS256 (CTAP 2.1 §6.1.2 step 3)"},
	{"ext", "extensions credProtect, credBlob, largeBlobKey, minPinLength, thirdPartyPayment (CTAP 2.1 §12)"},
	{"hs", "hmac-secret and hmac-secret-mc (CTAP 2.1 §12.5, CTAP 2.2 §12.8)"},
	{"cp", "authenticatorClientPIN and pinUvAuthParam (CTAP 2.1 §6.5)"},
	{"uv", "built-in user verification (CTAP 2.1 §6.5.5.7.1)"},
	{"cm", "authenticatorCredentialManagement (CTAP 2.1 §6.8)"},
	{"be", "authenticatorBioEnrollment (CTAP 2.1 §6.7)"},
	{"lb", "authenticatorLargeBlobs (CTAP 2.1 §6.10)"},
	{"cfg", "authenticatorConfig (CTAP 2.1 §6.11)"},
	{"ep", "enterprise attestation (CTAP 2.1 §7.1)"},
	{"rst", "authenticatorReset (CTAP 2.1 §6.6)"},
	{"sel", "authenticatorSelection (CTAP 2.1 §6.9)"},
	{"cbor", "strict CBOR decoding of requests (CTAP 2.1 §8)"},
	{"hid", "CTAPHID framing, channels, keepalive, cancel, lock (CTAP 2.1 §11.2)"},
	{"u2f", "CTAP1/U2F over CTAPHID_MSG (FIDO U2F v1.2, CTAP 2.1 §10, §11.2.9.1.1)"},
	{"ctap22", "CTAP 2.2: the pcmr token, encIdentifier and encCredStoreState, attestationFormatsPreference, pinComplexityPolicy (CTAP 2.2 §6.1, §6.4, §6.5.5.7, §6.11.4)"},
	{"ver", "what a key's version and features leave out: 2.1 commands on a 2.0 key, unlisted PIN protocols (CTAP 2.0 §5, CTAP 2.1 §6)"},
}

// AreaOf is the area prefix of a case ID: the part before the first dash.
func AreaOf(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	return prefix
}

// AreaCount is the outcomes of one area in a run.
type AreaCount struct {
	Area                                  string
	Pass, Fail, Warn, Skip, NotRun, Total int
}

// ByArea counts outcomes per area, in the order of Areas, then any other
// prefix in alphabetical order.
func ByArea(rs []Result) []AreaCount {
	counts := map[string]*AreaCount{}
	for _, r := range rs {
		a := AreaOf(r.Case.ID)
		c := counts[a]
		if c == nil {
			c = &AreaCount{Area: a}
			counts[a] = c
		}
		c.Total++
		switch r.Outcome {
		case Pass:
			c.Pass++
		case Fail:
			c.Fail++
		case Warn:
			c.Warn++
		case Skip:
			c.Skip++
		case NotRun:
			c.NotRun++
		}
	}
	var out []AreaCount
	for _, a := range Areas {
		if c := counts[a.Prefix]; c != nil {
			out = append(out, *c)
			delete(counts, a.Prefix)
		}
	}
	var rest []string
	for a := range counts {
		rest = append(rest, a)
	}
	sort.Strings(rest)
	for _, a := range rest {
		out = append(out, *counts[a])
	}
	return out
}

// Device describes the key a run tested, for reports.
type Device struct {
	// Transport is how the suite reached the key: "in-process",
	// "udp 127.0.0.1:8111", "hidraw /dev/hidraw0".
	Transport string `json:"transport"`
	// VendorID, ProductID and Product come from hidraw (zero otherwise).
	VendorID  uint16 `json:"vendorId,omitempty"`
	ProductID uint16 `json:"productId,omitempty"`
	Product   string `json:"product,omitempty"`
	// CTAPHID is what the key's INIT response says: protocol version,
	// device version and capability flags (CTAP 2.1 §11.2.9.1.3).
	CTAPHID *CTAPHIDInfo `json:"ctaphid,omitempty"`
	// AAGUID in its usual text form; Firmware is getInfo's
	// firmwareVersion (0x0E) when the key sends it.
	AAGUID   string  `json:"aaguid,omitempty"`
	Firmware *uint64 `json:"firmwareVersion,omitempty"`
	// GetInfo is the decoded authenticatorGetInfo response, nil for a
	// U2F-only key.
	GetInfo any `json:"getInfo,omitempty"`
}

// CTAPHIDInfo is the INIT response's description of a key.
type CTAPHIDInfo struct {
	ProtocolVersion uint8  `json:"protocolVersion"`
	DeviceVersion   string `json:"deviceVersion"`
	Capabilities    uint8  `json:"capabilities"`
}

// JSONReport is what ctaptest --json writes.
type JSONReport struct {
	Tool     string       `json:"tool"`
	Started  time.Time    `json:"started"`
	Device   Device       `json:"device"`
	Summary  JSONSummary  `json:"summary"`
	Areas    []AreaCount  `json:"areas"`
	Cases    []JSONResult `json:"cases"`
	Warnings int          `json:"warnings"`
}

// JSONSummary counts a run's outcomes.
type JSONSummary struct {
	Passed, Failed, Warned, Skipped, NotRun, Total int
}

// JSONResult is one case's entry in the JSON report.
type JSONResult struct {
	ID           string     `json:"id"`
	Title        string     `json:"title"`
	Section      string     `json:"section"`
	Level        string     `json:"level"`
	Versions     []Version  `json:"versions"`
	Outcome      string     `json:"outcome"`
	DurationMS   float64    `json:"durationMs"`
	Messages     []string   `json:"messages,omitempty"`
	Warnings     []string   `json:"warnings,omitempty"`
	Observations []string   `json:"observations,omitempty"`
	SkipReason   string     `json:"skipReason,omitempty"`
	KeyStopped   bool       `json:"keyStopped,omitempty"`
	Exchanges    []Exchange `json:"exchanges,omitempty"`
}

// NewJSONReport builds the JSON report of a run.
func NewJSONReport(dev Device, started time.Time, rs []Result) *JSONReport {
	rep := &JSONReport{Tool: "ctaptest", Started: started.UTC(), Device: dev, Areas: ByArea(rs), Cases: []JSONResult{}}
	for _, r := range rs {
		rep.Summary.Total++
		switch r.Outcome {
		case Pass:
			rep.Summary.Passed++
		case Fail:
			rep.Summary.Failed++
		case Warn:
			rep.Summary.Warned++
		case Skip:
			rep.Summary.Skipped++
		case NotRun:
			rep.Summary.NotRun++
		}
		rep.Cases = append(rep.Cases, JSONResult{
			ID: r.Case.ID, Title: r.Case.Title, Section: r.Case.Section,
			Level: r.Case.Level.String(), Versions: r.Case.Versions,
			Outcome: r.Outcome.String(), DurationMS: float64(r.Duration.Microseconds()) / 1000,
			Messages: r.Messages, Warnings: r.Warnings, Observations: r.Observations,
			SkipReason: r.SkipReason, KeyStopped: r.KeyStopped, Exchanges: r.Exchanges,
		})
	}
	rep.Warnings = rep.Summary.Warned
	return rep
}

// WriteJSON writes the report, indented.
func (rep *JSONReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// JUnit XML, in the form Jenkins, GitLab and most CI systems read: one
// <testsuite> per area, one <testcase> per case; FAIL is a <failure>,
// SKIP and NOT RUN are <skipped>, and a WARN passes with its warnings in
// <system-out>.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string           `xml:"name,attr"`
	Tests     int              `xml:"tests,attr"`
	Failures  int              `xml:"failures,attr"`
	Errors    int              `xml:"errors,attr"`
	Skipped   int              `xml:"skipped,attr"`
	Time      string           `xml:"time,attr"`
	Timestamp string           `xml:"timestamp,attr"`
	Props     *junitProperties `xml:"properties,omitempty"`
	Cases     []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the results as JUnit XML.
func WriteJUnit(w io.Writer, dev Device, started time.Time, rs []Result) error {
	top := junitSuites{Name: "ctaptest"}
	index := map[string]int{}
	var total time.Duration
	for _, r := range rs {
		a := AreaOf(r.Case.ID)
		i, ok := index[a]
		if !ok {
			i = len(top.Suites)
			index[a] = i
			top.Suites = append(top.Suites, junitSuite{Name: "ctaptest." + a, Timestamp: started.UTC().Format("2006-01-02T15:04:05")})
			if i == 0 {
				props := []junitProp{{"transport", dev.Transport}}
				if dev.AAGUID != "" {
					props = append(props, junitProp{"aaguid", dev.AAGUID})
				}
				if dev.Product != "" {
					props = append(props, junitProp{"product", dev.Product})
				}
				top.Suites[i].Props = &junitProperties{Props: props}
			}
		}
		s := &top.Suites[i]
		jc := junitCase{Name: r.Case.ID, Classname: "ctaptest." + a, Time: seconds(r.Duration)}
		var out []string
		switch r.Outcome {
		case Fail:
			body := append([]string{r.Case.Section + " (" + r.Case.Level.String() + ")"}, r.Messages...)
			for _, x := range r.Exchanges {
				body = append(body, fmt.Sprintf(">>> %s %x", x.Request, []byte(x.RequestBytes)), fmt.Sprintf("<<< %x %s", []byte(x.ResponseBytes), x.Error))
			}
			jc.Failure = &junitFailure{Message: r.Case.Title, Type: "FAIL", Body: strings.Join(body, "\n")}
			s.Failures++
			top.Failures++
		case Skip, NotRun:
			jc.Skipped = &junitSkipped{Message: r.SkipReason}
			s.Skipped++
			top.Skipped++
		case Warn:
			for _, m := range r.Warnings {
				out = append(out, "WARN: "+m)
			}
		}
		for _, m := range r.Observations {
			out = append(out, "observed: "+m)
		}
		jc.SystemOut = strings.Join(out, "\n")
		s.Cases = append(s.Cases, jc)
		s.Tests++
		top.Tests++
		total += r.Duration
	}
	for i := range top.Suites {
		var d time.Duration
		for _, r := range rs {
			if "ctaptest."+AreaOf(r.Case.ID) == top.Suites[i].Name {
				d += r.Duration
			}
		}
		top.Suites[i].Time = seconds(d)
	}
	top.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(top); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// DescribeDevice fills in what the key tells about itself: the CTAPHID
// INIT response, getInfo (decoded leniently, as the cases do) with its
// AAGUID and firmware version. dev carries what the caller knows (the
// transport, hidraw's IDs); an error reaching the key is returned with
// dev as far as it got.
func DescribeDevice(ctx context.Context, target Target, dev Device) (Device, error) {
	d, err := target.Open(ctx)
	if err != nil {
		return dev, err
	}
	defer d.Close()
	hi := d.Conn().Info()
	dev.CTAPHID = &CTAPHIDInfo{
		ProtocolVersion: hi.ProtocolVersion,
		DeviceVersion:   fmt.Sprintf("%d.%d.%d", hi.Version[0], hi.Version[1], hi.Version[2]),
		Capabilities:    hi.Capabilities,
	}
	if hi.Capabilities&ctaphid.CapCBOR == 0 {
		return dev, nil
	}
	c, err := client.New(ctx, d, client.WithStrictCBOR(false))
	if err != nil {
		return dev, err
	}
	info := c.Info()
	a := info.AAGUID
	dev.AAGUID = fmt.Sprintf("%x-%x-%x-%x-%x", a[0:4], a[4:6], a[6:8], a[8:10], a[10:16])
	if info.HasMember(0x0E) {
		fw := info.FirmwareVersion
		dev.Firmware = &fw
	}
	dev.GetInfo = info.Raw
	return dev, nil
}
