package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/conformance"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/virtkeytest"
)

func newBio(t *testing.T) (*virtkeytest.Key, *client.FPBioEnrollment) {
	t.Helper()
	ctx := context.Background()
	k := virtkeytest.New(t, authenticator.Config{BuiltInUV: true, BioEnrollment: true})
	cp, err := client.NewClientPin(k.Ctap2, client.PinProtocolV2())
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.SetPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	tok, err := cp.GetPinToken(ctx, "1234", ctap.PermissionBioEnrollment, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.NewFPBioEnrollment(ctx, k.Ctap2, client.PinProtocolV2(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return k, b
}

func TestFPBioEnrollment(t *testing.T) {
	ctx := context.Background()
	k, b := newBio(t)
	if b.Command() != ctap.CmdBioEnrollment || b.Modality != ctap.BioModalityFingerprint {
		t.Errorf("command %v modality %d", b.Command(), b.Modality)
	}
	if infos, err := b.EnumerateEnrollments(ctx); err != nil || len(infos) != 0 {
		t.Errorf("EnumerateEnrollments on a new key: %v, %v; want none", infos, err)
	}
	k.Presence().PushSamples(conformance.FingerSample{Finger: 1, Status: client.FeedbackFPTooLow},
		conformance.FingerSample{Finger: 1}, conformance.FingerSample{Finger: 1}, conformance.FingerSample{Finger: 1}, conformance.FingerSample{Finger: 1})
	var seen []client.Feedback
	id, err := b.Enroll(ctx, 0, func(f client.Feedback) error { seen = append(seen, f); return nil })
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	want := []client.Feedback{{client.FeedbackFPTooLow, 4}, {0, 3}, {0, 2}, {0, 1}, {0, 0}}
	if len(seen) != len(want) {
		t.Fatalf("feedback %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("feedback %d: %v, want %v", i, seen[i], want[i])
		}
	}
	if err := b.SetName(ctx, id, "index"); err != nil {
		t.Errorf("SetName: %v", err)
	}
	infos, err := b.EnumerateEnrollments(ctx)
	if err != nil || len(infos) != 1 || *infos[0].TemplateFriendlyName != "index" {
		t.Errorf("EnumerateEnrollments: %+v, %v", infos, err)
	}
	if err := b.RemoveEnrollment(ctx, id); err != nil {
		t.Errorf("RemoveEnrollment: %v", err)
	}
	if err := b.RemoveEnrollment(ctx, id); !errors.Is(err, ctap.StatusInvalidOption) {
		t.Errorf("RemoveEnrollment again: %v, want CTAP2_ERR_INVALID_OPTION", err)
	}
}

// TestFPBioEnrollmentCaptureError: without a callback a bad sample ends
// the enrollment with a *CaptureError and cancels it.
func TestFPBioEnrollmentCaptureError(t *testing.T) {
	ctx := context.Background()
	k, b := newBio(t)
	k.Presence().PushSamples(conformance.FingerSample{Finger: 1}, conformance.FingerSample{Finger: 1, Status: client.FeedbackFPPoorQuality})
	_, err := b.Enroll(ctx, 0, nil)
	var ce *client.CaptureError
	if !errors.As(err, &ce) || ce.Code != client.FeedbackFPPoorQuality {
		t.Fatalf("Enroll: %v, want CaptureError 0x07", err)
	}
	if _, _, err := b.EnrollCaptureNext(ctx, []byte("x"), 0); !errors.Is(err, ctap.StatusInvalidParameter) {
		t.Errorf("capture after the cancel: %v, want CTAP1_ERR_INVALID_PARAMETER", err)
	}
	info, err := b.GetFingerprintSensorInfo(ctx)
	if err != nil || *info.FingerprintKind != 1 || *info.MaxCaptureSamplesRequiredForEnroll != 4 {
		t.Errorf("GetFingerprintSensorInfo: %+v, %v", info, err)
	}
}

// TestFPBioEnrollmentPreviewCode: a key that lists only
// userVerificationMgmtPreview gets the 2.1-PRE code, as python-fido2 picks.
func TestFPBioEnrollmentPreviewCode(t *testing.T) {
	info, err := client.ParseInfo(ctap.MustMarshal(&ctap.InfoResponse{Versions: []string{"FIDO_2_1_PRE"}, AAGUID: make([]byte, 16),
		Options: map[string]bool{ctap.OptionUserVerificationMgmtPreview: false}}))
	if err != nil {
		t.Fatal(err)
	}
	if !client.IsBioEnrollmentSupported(info) {
		t.Errorf("userVerificationMgmtPreview not recognised")
	}
	_, b := newBio(t)
	b.SetCommand(ctap.CmdBioEnrollmentPre)
	if _, err := b.GetFingerprintSensorInfo(context.Background()); err != nil {
		t.Errorf("0x40 getFingerprintSensorInfo: %v", err)
	}
}

// TestFeedbackStrings checks the names and strings of lastEnrollSampleStatus
// (CTAP 2.1 §6.7.4) against python-fido2's FEEDBACK enum and its __str__.
func TestFeedbackStrings(t *testing.T) {
	t.Parallel()
	want := []string{"FP_GOOD", "FP_TOO_HIGH", "FP_TOO_LOW", "FP_TOO_LEFT", "FP_TOO_RIGHT", "FP_TOO_FAST",
		"FP_TOO_SLOW", "FP_POOR_QUALITY", "FP_TOO_SKEWED", "FP_TOO_SHORT", "FP_MERGE_FAILURE", "FP_EXISTS",
		"FP_DATABASE_FULL", "NO_USER_ACTIVITY", "NO_UP_TRANSITION"}
	for code, name := range want {
		if got := client.FeedbackName(uint64(code)); got != name {
			t.Errorf("client.FeedbackName(%d) = %q, want %q", code, got, name)
		}
	}
	for _, tt := range []struct {
		code uint64
		want string
	}{
		{client.FeedbackFPGood, "0x00 - FP_GOOD"},
		{client.FeedbackFPMergeFailure, "0x0A - FP_MERGE_FAILURE"},
		{client.FeedbackNoUPTransition, "0x0E - NO_UP_TRANSITION"},
		{0x0F, "0x0F - UNKNOWN"},
		{0x1234, "0x1234 - UNKNOWN"},
	} {
		if got := client.FeedbackString(tt.code); got != tt.want {
			t.Errorf("client.FeedbackString(%#x) = %q, want %q", tt.code, got, tt.want)
		}
	}
	if client.FeedbackName(0x0F) != "" {
		t.Error("client.FeedbackName of an undefined code is not empty")
	}
	if got, want := (&client.CaptureError{Code: client.FeedbackFPTooFast}).Error(), "client: fingerprint capture error: 0x05 - FP_TOO_FAST"; got != want {
		t.Errorf("client.CaptureError = %q, want %q", got, want)
	}
	if got, want := (client.Feedback{Status: client.FeedbackFPPoorQuality, Remaining: 2}).String(), "0x07 - FP_POOR_QUALITY, 2 remaining"; got != want {
		t.Errorf("Feedback.String = %q, want %q", got, want)
	}
}
