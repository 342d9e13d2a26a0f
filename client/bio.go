package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// Fingerprint enrollment feedback, lastEnrollSampleStatus (CTAP 2.1
// §6.7.4), as python-fido2's FPBioEnrollment.FEEDBACK names it.
const (
	FeedbackFPGood         uint64 = 0x00
	FeedbackFPTooHigh      uint64 = 0x01
	FeedbackFPTooLow       uint64 = 0x02
	FeedbackFPTooLeft      uint64 = 0x03
	FeedbackFPTooRight     uint64 = 0x04
	FeedbackFPTooFast      uint64 = 0x05
	FeedbackFPTooSlow      uint64 = 0x06
	FeedbackFPPoorQuality  uint64 = 0x07
	FeedbackFPTooSkewed    uint64 = 0x08
	FeedbackFPTooShort     uint64 = 0x09
	FeedbackFPMergeFailure uint64 = 0x0A
	FeedbackFPExists       uint64 = 0x0B
	FeedbackFPDatabaseFull uint64 = 0x0C // 2.1-PRE only
	FeedbackNoUserActivity uint64 = 0x0D
	FeedbackNoUPTransition uint64 = 0x0E
)

// feedbackNames are the FEEDBACK member names of python-fido2's
// FPBioEnrollment, indexed by lastEnrollSampleStatus.
var feedbackNames = [...]string{
	FeedbackFPGood:         "FP_GOOD",
	FeedbackFPTooHigh:      "FP_TOO_HIGH",
	FeedbackFPTooLow:       "FP_TOO_LOW",
	FeedbackFPTooLeft:      "FP_TOO_LEFT",
	FeedbackFPTooRight:     "FP_TOO_RIGHT",
	FeedbackFPTooFast:      "FP_TOO_FAST",
	FeedbackFPTooSlow:      "FP_TOO_SLOW",
	FeedbackFPPoorQuality:  "FP_POOR_QUALITY",
	FeedbackFPTooSkewed:    "FP_TOO_SKEWED",
	FeedbackFPTooShort:     "FP_TOO_SHORT",
	FeedbackFPMergeFailure: "FP_MERGE_FAILURE",
	FeedbackFPExists:       "FP_EXISTS",
	FeedbackFPDatabaseFull: "FP_DATABASE_FULL",
	FeedbackNoUserActivity: "NO_USER_ACTIVITY",
	FeedbackNoUPTransition: "NO_UP_TRANSITION",
}

// FeedbackName returns the name python-fido2 gives lastEnrollSampleStatus
// code ("FP_GOOD", "FP_TOO_FAST", ...; CTAP 2.1 §6.7.4), or "" for a code
// CTAP 2.1 does not define.
func FeedbackName(code uint64) string {
	if code < uint64(len(feedbackNames)) {
		return feedbackNames[code]
	}
	return ""
}

// FeedbackString returns code as python-fido2's FEEDBACK.__str__ prints it,
// "0x05 - FP_TOO_FAST"; a code CTAP 2.1 does not define prints as
// "0x42 - UNKNOWN".
func FeedbackString(code uint64) string {
	name := FeedbackName(code)
	if name == "" {
		name = "UNKNOWN"
	}
	return fmt.Sprintf("0x%02X - %s", code, name)
}

// CaptureError is a fingerprint sample the sensor did not accept: Code is
// its lastEnrollSampleStatus. It is python-fido2's CaptureError.
type CaptureError struct {
	Code uint64
}

func (e *CaptureError) Error() string {
	return "client: fingerprint capture error: " + FeedbackString(e.Code)
}

// IsBioEnrollmentSupported reports whether getInfo lists bio enrollment:
// the bioEnroll option (either value) or its 2.1-PRE name
// userVerificationMgmtPreview (CTAP 2.1 §6.4, §6.7.1).
func IsBioEnrollmentSupported(info *Info) bool {
	_, ok := info.Options[ctap.OptionBioEnroll]
	_, pre := info.Options[ctap.OptionUserVerificationMgmtPreview]
	return ok || pre
}

// bioCommand is the command code python-fido2 picks: authenticatorBioEnrollment
// (0x09) when getInfo lists bioEnroll, the 2.1-PRE code 0x40 when it lists
// only userVerificationMgmtPreview.
func bioCommand(info *Info) ctap.Command {
	if _, ok := info.Options[ctap.OptionBioEnroll]; ok {
		return ctap.CmdBioEnrollment
	}
	return ctap.CmdBioEnrollmentPre
}

// FPBioEnrollment is authenticatorBioEnrollment for fingerprints (CTAP 2.1
// §6.7), python-fido2's FPBioEnrollment. Protocol and Token authenticate
// the subcommands that need a pinUvAuthToken with the be permission;
// GetFingerprintSensorInfo and EnrollCancel work without (nil).
type FPBioEnrollment struct {
	ctap     *Ctap2
	cmd      ctap.Command
	protocol *PinProtocol
	token    []byte
	// Modality is the key's bio modality, ctap.BioModalityFingerprint.
	Modality uint64
}

// NewFPBioEnrollment checks that the key supports bio enrollment of
// fingerprints (getModality) and returns the client.
func NewFPBioEnrollment(ctx context.Context, c *Ctap2, protocol *PinProtocol, token []byte) (*FPBioEnrollment, error) {
	info := c.Info()
	if !IsBioEnrollmentSupported(info) {
		return nil, errors.New("client: authenticator does not support bio enrollment")
	}
	b := &FPBioEnrollment{ctap: c, cmd: bioCommand(info), protocol: protocol, token: token}
	m, err := b.GetModality(ctx)
	if err != nil {
		return nil, err
	}
	if m != ctap.BioModalityFingerprint {
		return nil, fmt.Errorf("client: authenticator bio modality %d is not fingerprint", m)
	}
	b.Modality = m
	return b, nil
}

// Ctap returns the Ctap2 b sends through (python-fido2's
// BioEnrollment.ctap).
func (b *FPBioEnrollment) Ctap() *Ctap2 { return b.ctap }

// Protocol returns the PIN/UV auth protocol b authenticates with
// (python-fido2's FPBioEnrollment.pin_uv_protocol), nil without one.
func (b *FPBioEnrollment) Protocol() *PinProtocol { return b.protocol }

// Token returns a copy of b's pinUvAuthToken (python-fido2's
// FPBioEnrollment.pin_uv_token), nil without one.
func (b *FPBioEnrollment) Token() []byte { return bytes.Clone(b.token) }

// Command returns the command code the client sends (0x09 or 0x40).
func (b *FPBioEnrollment) Command() ctap.Command { return b.cmd }

// SetCommand makes the client send cmd, ctap.CmdBioEnrollment or
// ctap.CmdBioEnrollmentPre, whatever getInfo lists.
func (b *FPBioEnrollment) SetCommand(cmd ctap.Command) { b.cmd = cmd }

// GetModality is §6.7.2.
func (b *FPBioEnrollment) GetModality(ctx context.Context) (uint64, error) {
	t := true
	var resp ctap.BioEnrollmentResponse
	if err := b.ctap.SendCBOR(ctx, b.cmd, &ctap.BioEnrollmentRequest{GetModality: &t}, &resp); err != nil {
		return 0, err
	}
	if resp.Modality == nil {
		return 0, fmt.Errorf("%w: getModality without modality", ErrBadResponse)
	}
	return *resp.Modality, nil
}

// Request builds a request for sub with params, authenticated with
// authenticate(token, modality || subCommand || subCommandParams) when
// auth is set (§6.7).
func (b *FPBioEnrollment) Request(sub uint64, params *ctap.BioEnrollmentParams, auth bool) (*ctap.BioEnrollmentRequest, error) {
	m := b.Modality
	if m == 0 {
		m = ctap.BioModalityFingerprint
	}
	req := &ctap.BioEnrollmentRequest{Modality: &m, SubCommand: &sub}
	if params != nil {
		raw, err := ctap.Marshal(params)
		if err != nil {
			return nil, err
		}
		req.SubCommandParams = raw
	}
	if auth {
		if b.protocol == nil || b.token == nil {
			return nil, errors.New("client: bio enrollment subcommand needs a pinUvAuthToken")
		}
		v := b.protocol.Version()
		msg := append([]byte{byte(m), byte(sub)}, req.SubCommandParams...)
		req.PinUvAuthProtocol = &v
		req.PinUvAuthParam = b.protocol.Authenticate(b.token, msg)
	}
	return req, nil
}

func (b *FPBioEnrollment) call(ctx context.Context, sub uint64, params *ctap.BioEnrollmentParams, auth bool, opts ...CallOption) (*ctap.BioEnrollmentResponse, error) {
	req, err := b.Request(sub, params, auth)
	if err != nil {
		return nil, err
	}
	var resp ctap.BioEnrollmentResponse
	if err := b.ctap.SendCBOR(ctx, b.cmd, req, &resp, opts...); err != nil {
		return nil, err
	}
	return &resp, nil
}

// GetFingerprintSensorInfo is §6.7.3: fingerprintKind,
// maxCaptureSamplesRequiredForEnroll and maxTemplateFriendlyName.
func (b *FPBioEnrollment) GetFingerprintSensorInfo(ctx context.Context) (*ctap.BioEnrollmentResponse, error) {
	return b.call(ctx, ctap.BioGetFingerprintSensorInfo, nil, false)
}

func timeoutParam(timeout time.Duration) *uint64 {
	if timeout <= 0 {
		return nil
	}
	ms := uint64(timeout / time.Millisecond)
	return &ms
}

// maxEnrollCaptures bounds an enrollment: the samples a device may say
// it still needs, and the enrollCaptureNextSample commands Enroll sends.
// The spec leaves both to the device (maxCaptureSamplesRequiredForEnroll,
// §6.7.3); real sensors ask for 5 to 20.
const maxEnrollCaptures = 64

func enrollResult(resp *ctap.BioEnrollmentResponse) (status uint64, remaining int, err error) {
	if resp.LastEnrollSampleStatus == nil || resp.RemainingSamples == nil {
		return 0, 0, fmt.Errorf("%w: enrollment response without lastEnrollSampleStatus or remainingSamples", ErrBadResponse)
	}
	if *resp.RemainingSamples > maxEnrollCaptures {
		return 0, 0, fmt.Errorf("%w: bioEnrollment: remainingSamples %d, more than %d", ErrTooMany, *resp.RemainingSamples, maxEnrollCaptures)
	}
	return *resp.LastEnrollSampleStatus, int(*resp.RemainingSamples), nil
}

// EnrollBegin is §6.7.4 enrollBegin: it starts an enrollment and waits up
// to timeout (zero: the key's default) for the first sample.
func (b *FPBioEnrollment) EnrollBegin(ctx context.Context, timeout time.Duration, opts ...CallOption) (templateID []byte, status uint64, remaining int, err error) {
	resp, err := b.call(ctx, ctap.BioEnrollBegin, &ctap.BioEnrollmentParams{TimeoutMilliseconds: timeoutParam(timeout)}, true, opts...)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(resp.TemplateID) == 0 {
		return nil, 0, 0, fmt.Errorf("%w: enrollBegin without templateId", ErrBadResponse)
	}
	status, remaining, err = enrollResult(resp)
	if err != nil {
		return nil, 0, 0, err
	}
	return resp.TemplateID, status, remaining, nil
}

// EnrollCaptureNext is §6.7.4 enrollCaptureNextSample.
func (b *FPBioEnrollment) EnrollCaptureNext(ctx context.Context, templateID []byte, timeout time.Duration, opts ...CallOption) (status uint64, remaining int, err error) {
	resp, err := b.call(ctx, ctap.BioEnrollCaptureNextSample,
		&ctap.BioEnrollmentParams{TemplateID: templateID, TimeoutMilliseconds: timeoutParam(timeout)}, true, opts...)
	if err != nil {
		return 0, 0, err
	}
	return enrollResult(resp)
}

// EnrollCancel is §6.7.5 cancelCurrentEnrollment.
func (b *FPBioEnrollment) EnrollCancel(ctx context.Context) error {
	_, err := b.call(ctx, ctap.BioCancelCurrentEnrollment, nil, false)
	return err
}

// Feedback is one enrollment sample as Enroll reports it.
type Feedback struct {
	Status    uint64 // lastEnrollSampleStatus
	Remaining int    // remainingSamples
}

// String prints the sample as "0x00 - FP_GOOD, 3 remaining".
func (f Feedback) String() string {
	return fmt.Sprintf("%s, %d remaining", FeedbackString(f.Status), f.Remaining)
}

// Enroll runs an enrollment to completion: enrollBegin, then
// enrollCaptureNextSample until remainingSamples is 0, each capture
// waiting up to timeout. onSample, if set, sees every sample's feedback;
// an error from it cancels the enrollment and is returned. Without
// onSample, a sample that is not FP_GOOD cancels the enrollment and
// returns a *CaptureError, as python-fido2's FPEnrollmentContext does.
// Any other error cancels the enrollment too. A device that still wants
// samples after maxEnrollCaptures captures gets ErrTooMany (and a cancel).
func (b *FPBioEnrollment) Enroll(ctx context.Context, timeout time.Duration, onSample func(Feedback) error) ([]byte, error) {
	id, status, remaining, err := b.EnrollBegin(ctx, timeout)
	if err != nil {
		return nil, err
	}
	for captures := 0; ; captures++ {
		if err == nil && remaining > 0 && captures == maxEnrollCaptures {
			err = fmt.Errorf("%w: bioEnrollment: still %d samples to go after %d captures", ErrTooMany, remaining, captures)
		}
		if err == nil {
			err = b.feedback(Feedback{status, remaining}, onSample)
		}
		if err != nil {
			if cerr := b.EnrollCancel(context.WithoutCancel(ctx)); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return nil, err
		}
		if remaining == 0 {
			return id, nil
		}
		status, remaining, err = b.EnrollCaptureNext(ctx, id, timeout)
	}
}

func (b *FPBioEnrollment) feedback(f Feedback, onSample func(Feedback) error) error {
	if onSample != nil {
		return onSample(f)
	}
	if f.Status != FeedbackFPGood {
		return &CaptureError{Code: f.Status}
	}
	return nil
}

// EnumerateEnrollments is §6.7.6: the enrolled templates. A key without
// any answers CTAP2_ERR_INVALID_OPTION, returned here as an empty list,
// as python-fido2 does.
func (b *FPBioEnrollment) EnumerateEnrollments(ctx context.Context) ([]ctap.TemplateInfo, error) {
	resp, err := b.call(ctx, ctap.BioEnumerateEnrollments, nil, true)
	if errors.Is(err, ctap.StatusInvalidOption) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return resp.TemplateInfos, nil
}

// SetName is §6.7.7 setFriendlyName.
func (b *FPBioEnrollment) SetName(ctx context.Context, templateID []byte, name string) error {
	_, err := b.call(ctx, ctap.BioSetFriendlyName, &ctap.BioEnrollmentParams{TemplateID: templateID, TemplateFriendlyName: &name}, true)
	return err
}

// RemoveEnrollment is §6.7.8 removeEnrollment.
func (b *FPBioEnrollment) RemoveEnrollment(ctx context.Context, templateID []byte) error {
	_, err := b.call(ctx, ctap.BioRemoveEnrollment, &ctap.BioEnrollmentParams{TemplateID: templateID}, true)
	return err
}
