package conformance

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// authenticatorBioEnrollment cases (CTAP 2.1 §6.7), for both command
// codes: 0x09 and the 2.1-PRE 0x40 (IDs "be-pre-..."). Cases that enroll
// script the finger on the sensor with a FingerprintControl (CapFingerprint).

// templates shows templateInfos: each templateId with its name.
func templates(infos []ctap.TemplateInfo) string {
	var b strings.Builder
	for i, ti := range infos {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%x %q", ti.TemplateID, deref(ti.TemplateFriendlyName))
	}
	return "[" + b.String() + "]"
}

// good returns n good samples of finger.
func good(finger, n int) []FingerSample {
	s := make([]FingerSample, n)
	for i := range s {
		s[i] = FingerSample{Finger: finger}
	}
	return s
}

// bioCase is a case's handle on bio enrollment with one command code.
type bioCase struct {
	t   *T
	cmd ctap.Command
	pc  *pinCase
	b   *client.FPBioEnrollment
}

// bio checks that the key announces bio enrollment under cmd (bioEnroll
// for 0x09, userVerificationMgmtPreview for the 2.1-PRE 0x40, §6.4) and
// returns a client for cmd; with pin it starts from a factory-new key, sets
// testPIN with the key's preferred protocol and gets a token with the be
// permission (getPinToken's on a key without the pinUvAuthToken option).
func (t *T) bio(cmd ctap.Command, pin bool) *bioCase {
	option := ctap.OptionBioEnroll
	if cmd == ctap.CmdBioEnrollmentPre {
		option = ctap.OptionUserVerificationMgmtPreview
	}
	if _, ok := t.Ctap2().Info().Option(option); !ok {
		t.skipFeature("the key does not list the %s option", option)
	}
	bc := &bioCase{t: t, cmd: cmd}
	var p *client.PinProtocol
	var tok []byte
	if pin {
		bc.pc = t.preferredPIN()
		bc.pc.freshKey()
		bc.pc.setPIN()
		p, tok = bc.pc.p, bc.pc.token(ctap.PermissionBioEnrollment, "")
	}
	b, err := client.NewFPBioEnrollment(t.ctx, t.Ctap2(), p, tok)
	if err != nil {
		t.Fatalf("FPBioEnrollment: %v", err)
	}
	b.SetCommand(cmd)
	bc.b = b
	return bc
}

// raw sends sub with params, authenticated when auth is set.
func (bc *bioCase) raw(sub uint64, params *ctap.BioEnrollmentParams, auth bool) (*ctap.BioEnrollmentResponse, error) {
	req, err := bc.b.Request(sub, params, auth)
	if err != nil {
		bc.t.Fatalf("request: %v", err)
	}
	var resp ctap.BioEnrollmentResponse
	err = bc.t.Ctap2().SendCBOR(bc.t.ctx, bc.cmd, req, &resp)
	return &resp, err
}

// enroll enrolls finger with good samples and returns the templateId.
func (bc *bioCase) enroll(finger int) []byte {
	bc.t.pushSamples(good(finger, bc.sampleCount())...)
	id, err := bc.b.Enroll(bc.t.ctx, 0, nil)
	if err != nil {
		bc.t.Fatalf("enroll finger %d: %v", finger, err)
	}
	return id
}

// sampleCount is maxCaptureSamplesRequiredForEnroll.
func (bc *bioCase) sampleCount() int {
	info, err := bc.b.GetFingerprintSensorInfo(bc.t.ctx)
	if err != nil || info.MaxCaptureSamplesRequiredForEnroll == nil {
		bc.t.Fatalf("getFingerprintSensorInfo: %v", err)
	}
	return int(*info.MaxCaptureSamplesRequiredForEnroll)
}

// begin starts an enrollment with a good sample of finger 1.
func (bc *bioCase) begin() []byte {
	bc.t.pushSamples(FingerSample{Finger: 1})
	id, status, _, err := bc.b.EnrollBegin(bc.t.ctx, 0)
	if err != nil || status != client.FeedbackFPGood {
		bc.t.Fatalf("enrollBegin: status %#x, %v", status, err)
	}
	return id
}

// A bioEnrollCase is a bioEnrollment case declared once: it runs as
// "be-<ID>" with command 0x09 on a key that lists bioEnroll (CTAP 2.1),
// and with AlsoPre as "be-pre-<ID>" with the 2.1-PRE command 0x40 on a key
// that lists userVerificationMgmtPreview. A Destructive case sets a PIN on
// a factory-new key and gets a token with the be permission.
type bioEnrollCase struct {
	Case
	AlsoPre bool
	Body    func(t *T, bc *bioCase)
}

func perBioCode(cases ...bioEnrollCase) []Case {
	var out []Case
	for _, bcase := range cases {
		codes := []ctap.Command{ctap.CmdBioEnrollment}
		if bcase.AlsoPre {
			codes = append(codes, ctap.CmdBioEnrollmentPre)
		}
		for _, cmd := range codes {
			c, body := bcase.Case, bcase.Body
			c.ID, c.Versions = "be-"+c.ID, CTAP21
			if cmd == ctap.CmdBioEnrollmentPre {
				c.ID, c.Title, c.Versions = "be-pre-"+c.ID[len("be-"):], "0x40: "+c.Title, CTAP21PRE
			}
			pin := c.Destructive
			c.Run = func(t *T) { body(t, t.bio(cmd, pin)) }
			out = append(out, c)
		}
	}
	return out
}

func init() {
	Register(perBioCode(
		bioEnrollCase{Case: Case{ID: "get-modality", Section: "CTAP 2.1 §6.7.2",
			Title: "getModality answers modality 1 (fingerprint)"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				m, err := bc.b.GetModality(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getModality")
				Equal(t, "modality", m, ctap.BioModalityFingerprint)
			}},
		bioEnrollCase{Case: Case{ID: "sensor-info", Section: "CTAP 2.1 §6.7.3",
			Title: "getFingerprintSensorInfo needs no token and answers fingerprintKind, maxCaptureSamplesRequiredForEnroll, maxTemplateFriendlyName"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				info, err := bc.b.GetFingerprintSensorInfo(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getFingerprintSensorInfo")
				if info.FingerprintKind == nil || (*info.FingerprintKind != 1 && *info.FingerprintKind != 2) {
					t.Errorf("fingerprintKind %v, want 1 (touch) or 2 (swipe)", deref(info.FingerprintKind))
				}
				if info.MaxCaptureSamplesRequiredForEnroll == nil || *info.MaxCaptureSamplesRequiredForEnroll == 0 {
					t.Errorf("maxCaptureSamplesRequiredForEnroll missing or 0")
				}
				if info.MaxTemplateFriendlyName == nil {
					t.Errorf("maxTemplateFriendlyName missing")
				}
			}},
		bioEnrollCase{Case: Case{ID: "enroll", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "enrollBegin and enrollCaptureNextSample count remainingSamples down to 0 with good samples; the template is enumerated"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				n := bc.sampleCount()
				t.pushSamples(good(1, n)...)
				id, status, remaining, err := bc.b.EnrollBegin(t.ctx, 0)
				t.ExpectStatus(err, ctap.StatusOK, "enrollBegin")
				Equal(t, "enrollBegin lastEnrollSampleStatus", status, client.FeedbackFPGood)
				Equal(t, "enrollBegin remainingSamples", remaining, n-1)
				for want := n - 2; want >= 0; want-- {
					status, remaining, err = bc.b.EnrollCaptureNext(t.ctx, id, 0)
					t.ExpectStatus(err, ctap.StatusOK, "enrollCaptureNextSample")
					Equal(t, "lastEnrollSampleStatus", status, client.FeedbackFPGood)
					Equal(t, "remainingSamples", remaining, want)
				}
				infos, err := bc.b.EnumerateEnrollments(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "enumerateEnrollments")
				if len(infos) != 1 || !bytes.Equal(infos[0].TemplateID, id) {
					t.Errorf("templateInfos %s, want the one template %x", templates(infos), id)
				}
			}},
		bioEnrollCase{Case: Case{ID: "too-fast-then-good", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "a too-fast sample answers FP_TOO_FAST and leaves remainingSamples; good samples then finish"},
			Body: func(t *T, bc *bioCase) {
				n := bc.sampleCount()
				t.pushSamples(append([]FingerSample{{Finger: 1, Status: client.FeedbackFPTooFast}}, good(1, n)...)...)
				var seen []client.Feedback
				_, err := bc.b.Enroll(t.ctx, 0, func(f client.Feedback) error { seen = append(seen, f); return nil })
				t.ExpectStatus(err, ctap.StatusOK, "enroll")
				if len(seen) != n+1 || seen[0] != (client.Feedback{Status: client.FeedbackFPTooFast, Remaining: n}) {
					t.Errorf("feedback %+v, want FP_TOO_FAST with %d remaining, then %d good", seen, n, n)
				}
			}},
		bioEnrollCase{Case: Case{ID: "merge-failure", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "a good sample of another finger mid-enrollment answers FP_MERGE_FAILURE and does not count"},
			Body: func(t *T, bc *bioCase) {
				n := bc.sampleCount()
				id := bc.begin()
				t.pushSamples(FingerSample{Finger: 2})
				status, remaining, err := bc.b.EnrollCaptureNext(t.ctx, id, 0)
				t.ExpectStatus(err, ctap.StatusOK, "capture of another finger")
				Equal(t, "lastEnrollSampleStatus", status, client.FeedbackFPMergeFailure)
				Equal(t, "remainingSamples", remaining, n-1)
			}},
		bioEnrollCase{Case: Case{ID: "capture-wrong-template", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "enrollCaptureNextSample with another templateId gives CTAP1_ERR_INVALID_PARAMETER"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				id := bc.begin()
				other := append([]byte{id[0] ^ 0xff}, id[1:]...)
				_, err := bc.raw(ctap.BioEnrollCaptureNextSample, &ctap.BioEnrollmentParams{TemplateID: other}, true)
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "capture for another template")
			}},
		bioEnrollCase{Case: Case{ID: "capture-without-enrollment", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "enrollCaptureNextSample with no enrollment in progress gives CTAP1_ERR_INVALID_PARAMETER"},
			Body: func(t *T, bc *bioCase) {
				_, err := bc.raw(ctap.BioEnrollCaptureNextSample, &ctap.BioEnrollmentParams{TemplateID: make([]byte, 16)}, true)
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "capture without enrollBegin")
			}},
		bioEnrollCase{Case: Case{ID: "cancel", Section: "CTAP 2.1 §6.7.5", Destructive: true,
			Title: "cancelCurrentEnrollment needs no token; the cancelled templateId then gives CTAP1_ERR_INVALID_PARAMETER"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				id := bc.begin()
				_, err := bc.raw(ctap.BioCancelCurrentEnrollment, nil, false)
				t.ExpectStatus(err, ctap.StatusOK, "cancelCurrentEnrollment")
				_, err = bc.raw(ctap.BioEnrollCaptureNextSample, &ctap.BioEnrollmentParams{TemplateID: id}, true)
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "capture after cancel")
			}},
		bioEnrollCase{Case: Case{ID: "timeout", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "no finger within timeoutMilliseconds gives CTAP2_ERR_USER_ACTION_TIMEOUT"},
			Body: func(t *T, bc *bioCase) {
				t.pushSamples(FingerSample{NoFinger: true})
				_, _, _, err := bc.b.EnrollBegin(t.ctx, 100*time.Millisecond)
				t.ExpectStatus(err, ctap.StatusUserActionTimeout, "enrollBegin without a finger")
			}},
		bioEnrollCase{Case: Case{ID: "database-full", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "enrollBegin with every template slot taken gives CTAP2_ERR_FP_DATABASE_FULL"},
			Body: func(t *T, bc *bioCase) {
				for f := 1; ; f++ {
					if f > 32 {
						t.Fatalf("32 fingers enrolled and no CTAP2_ERR_FP_DATABASE_FULL")
					}
					t.pushSamples(good(f, bc.sampleCount())...)
					_, err := bc.b.Enroll(t.ctx, 0, nil)
					if err != nil {
						t.ExpectStatus(err, ctap.StatusFPDatabaseFull, Sprintf("enrolling finger %d", f))
						return
					}
				}
			}},
		bioEnrollCase{Case: Case{ID: "enumerate-empty", Section: "CTAP 2.1 §6.7.6", Destructive: true,
			Title: "enumerateEnrollments without templates gives CTAP2_ERR_INVALID_OPTION"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				_, err := bc.raw(ctap.BioEnumerateEnrollments, nil, true)
				t.ExpectStatus(err, ctap.StatusInvalidOption, "enumerateEnrollments")
			}},
		bioEnrollCase{Case: Case{ID: "set-name", Section: "CTAP 2.1 §6.7.7", Destructive: true,
			Title: "setFriendlyName renames a template; enumerateEnrollments shows the name"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				id := bc.enroll(1)
				t.ExpectStatus(bc.b.SetName(t.ctx, id, "left index"), ctap.StatusOK, "setFriendlyName")
				infos, err := bc.b.EnumerateEnrollments(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "enumerateEnrollments")
				if len(infos) != 1 || infos[0].TemplateFriendlyName == nil || *infos[0].TemplateFriendlyName != "left index" {
					t.Errorf("templateInfos %s, want the name \"left index\"", templates(infos))
				}
			}},
		bioEnrollCase{Case: Case{ID: "set-name-unknown", Section: "CTAP 2.1 §6.7.7", Destructive: true,
			Title: "setFriendlyName of an unknown templateId gives CTAP2_ERR_INVALID_OPTION"},
			Body: func(t *T, bc *bioCase) {
				id := bc.enroll(1)
				name := "x"
				_, err := bc.raw(ctap.BioSetFriendlyName, &ctap.BioEnrollmentParams{TemplateID: append(id, 0), TemplateFriendlyName: &name}, true)
				t.ExpectStatus(err, ctap.StatusInvalidOption, "setFriendlyName of an unknown template")
			}},
		bioEnrollCase{Case: Case{ID: "remove", Section: "CTAP 2.1 §6.7.8, §6.4", Destructive: true,
			Title: "removeEnrollment deletes the template; without templates bioEnroll and uv go back to false"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				id := bc.enroll(1)
				t.ExpectStatus(bc.b.RemoveEnrollment(t.ctx, id), ctap.StatusOK, "removeEnrollment")
				_, err := bc.raw(ctap.BioEnumerateEnrollments, nil, true)
				t.ExpectStatus(err, ctap.StatusInvalidOption, "enumerateEnrollments after removing the only template")
				info, err := t.Ctap2().GetInfo(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getInfo")
				Equal(t, "bioEnroll", info.Options[ctap.OptionBioEnroll], false)
				Equal(t, "uv", info.Options[ctap.OptionUV], false)
			}},
		bioEnrollCase{Case: Case{ID: "remove-unknown", Section: "CTAP 2.1 §6.7.8", Destructive: true,
			Title: "removeEnrollment of an unknown templateId gives CTAP2_ERR_INVALID_OPTION"},
			Body: func(t *T, bc *bioCase) {
				_, err := bc.raw(ctap.BioRemoveEnrollment, &ctap.BioEnrollmentParams{TemplateID: make([]byte, 16)}, true)
				t.ExpectStatus(err, ctap.StatusInvalidOption, "removeEnrollment")
			}},
		bioEnrollCase{Case: Case{ID: "getinfo-options", Section: "CTAP 2.1 §6.4", Destructive: true,
			Title: "bioEnroll, userVerificationMgmtPreview and uv are false before the first enrollment and true after"},
			Body: func(t *T, bc *bioCase) {
				opts := t.Ctap2().Info().Options
				for _, o := range []string{ctap.OptionBioEnroll, ctap.OptionUserVerificationMgmtPreview, ctap.OptionUV} {
					v, ok := opts[o]
					Equal(t, o+" listed before enrollment", ok, true)
					Equal(t, o+" before enrollment", v, false)
				}
				bc.enroll(1)
				info, err := t.Ctap2().GetInfo(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "getInfo")
				for _, o := range []string{ctap.OptionBioEnroll, ctap.OptionUserVerificationMgmtPreview, ctap.OptionUV} {
					Equal(t, o+" after enrollment", info.Options[o], true)
				}
			}},
		bioEnrollCase{Case: Case{ID: "token-without-be", Section: "CTAP 2.1 §6.7.6, §6.5.5.7", Destructive: true,
			Title: "a pinUvAuthToken without the be permission gives CTAP2_ERR_PIN_AUTH_INVALID"}, AlsoPre: true,
			Body: func(t *T, bc *bioCase) {
				t.needTokenOption()
				tok := bc.pc.token(ctap.PermissionMakeCredential, "")
				b, err := client.NewFPBioEnrollment(t.ctx, t.Ctap2(), bc.pc.p, tok)
				if err != nil {
					t.Fatalf("FPBioEnrollment: %v", err)
				}
				b.SetCommand(bc.cmd)
				_, err = b.EnumerateEnrollments(t.ctx)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "enumerateEnrollments with an mc token")
			}},
		bioEnrollCase{Case: Case{ID: "bad-auth", Section: "CTAP 2.1 §6.7.6", Destructive: true,
			Title: "a pinUvAuthParam over other bytes gives CTAP2_ERR_PIN_AUTH_INVALID"},
			Body: func(t *T, bc *bioCase) {
				req, _ := bc.b.Request(ctap.BioEnumerateEnrollments, nil, true)
				req.PinUvAuthParam[0] ^= 1
				err := t.Ctap2().SendCBOR(t.ctx, bc.cmd, req, nil)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "enumerateEnrollments with a wrong pinUvAuthParam")
			}},
		bioEnrollCase{Case: Case{ID: "missing-auth", Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: "enrollBegin without pinUvAuthParam gives CTAP2_ERR_PUAT_REQUIRED"},
			Body: func(t *T, bc *bioCase) {
				_, err := bc.raw(ctap.BioEnrollBegin, nil, false)
				t.ExpectStatus(err, ctap.StatusPUATRequired, "enrollBegin without pinUvAuthParam")
			}},
		bioEnrollCase{Case: Case{ID: "unknown-subcommand", Section: "CTAP 2.1 §6.7",
			Title: "an unknown subCommand gives CTAP2_ERR_INVALID_SUBCOMMAND"},
			Body: func(t *T, bc *bioCase) {
				_, err := bc.raw(0x7f, nil, false)
				t.ExpectStatus21(err, ctap.StatusInvalidSubcommand, "subCommand 0x7f")
			}},
		bioEnrollCase{Case: Case{ID: "uv-not-configured", Section: "CTAP 2.1 §6.5.5.7.3 step 5", Destructive: true,
			Title: "getPinUvAuthTokenUsingUvWithPermissions before any enrollment gives CTAP2_ERR_NOT_ALLOWED"},
			Body: func(t *T, bc *bioCase) {
				t.needTokenOption()
				_, err := bc.pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusNotAllowed, "UV token without enrollments")
			}},
		bioEnrollCase{Case: Case{ID: "uv-enrolled-finger", Section: "CTAP 2.1 §6.5.5.7.3; §6.7", Destructive: true,
			Title: "an enrolled finger passes built-in UV: a UV token with be works and uvRetries stays 8"},
			Body: func(t *T, bc *bioCase) {
				t.needTokenOption()
				bc.enroll(3)
				t.pushSamples(FingerSample{Finger: 3})
				tok, err := bc.pc.uvToken(ctap.PermissionBioEnrollment, "")
				t.ExpectStatus(err, ctap.StatusOK, "UV token with be (uvBioEnroll)")
				Equal(t, "uvRetries", bc.pc.uvRetries(), 8)
				b, err := client.NewFPBioEnrollment(t.ctx, t.Ctap2(), bc.pc.p, tok)
				if err != nil {
					t.Fatalf("FPBioEnrollment: %v", err)
				}
				infos, err := b.EnumerateEnrollments(t.ctx)
				t.ExpectStatus(err, ctap.StatusOK, "enumerateEnrollments with the UV token")
				Equal(t, "templates", len(infos), 1)
			}},
		bioEnrollCase{Case: Case{ID: "uv-unknown-finger", Section: "CTAP 2.1 §6.5.5.7.3 step 10, §6.5.2.2", Destructive: true,
			Title: "a finger that is not enrolled gives CTAP2_ERR_UV_INVALID and costs a uvRetry"},
			Body: func(t *T, bc *bioCase) {
				t.needTokenOption()
				bc.enroll(1)
				t.pushSamples(FingerSample{Finger: 2})
				_, err := bc.pc.uvToken(ctap.PermissionGetAssertion, "")
				t.ExpectStatus(err, ctap.StatusUVInvalid, "UV token with an unknown finger")
				Equal(t, "uvRetries", bc.pc.uvRetries(), 7)
			}},
	)...)
	for _, st := range []uint64{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x0E} {
		Register(perBioCode(bioEnrollCase{Case: Case{ID: Sprintf("feedback-0x%02x", st), Section: "CTAP 2.1 §6.7.4", Destructive: true,
			Title: Sprintf("a sample with lastEnrollSampleStatus 0x%02x is reported and leaves remainingSamples", st)},
			Body: func(t *T, bc *bioCase) {
				n := bc.sampleCount()
				id := bc.begin()
				t.pushSamples(FingerSample{Finger: 1, Status: st})
				status, remaining, err := bc.b.EnrollCaptureNext(t.ctx, id, 0)
				t.ExpectStatus(err, ctap.StatusOK, "enrollCaptureNextSample")
				Equal(t, "lastEnrollSampleStatus", status, st)
				Equal(t, "remainingSamples", remaining, n-1)
			}})...)
	}
}
