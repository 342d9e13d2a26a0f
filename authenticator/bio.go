package authenticator

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// authenticatorBioEnrollment (CTAP 2.1 §6.7): a key with Config.BuiltInUV
// and Config.BioEnrollment has an enrollable fingerprint sensor. The
// sensor is simulated: a Presence that implements FingerprintSensor gives
// the samples (AutoPresence: good samples of finger 1). The templates are
// State.Fingerprints; an enrollment in progress is volatile (bioState).
//
// With the sensor, built-in user verification is configured only while a
// finger is enrolled (getInfo "uv", "bioEnroll" and
// "userVerificationMgmtPreview" false before), and a verification attempt
// is a capture that matches when it is a good sample of an enrolled
// finger. A key with BuiltInUV and no BioEnrollment keeps the sensor
// without enrollment of uv.go: always configured, answered by a Verifier.
const (
	// FingerprintKindTouch is getFingerprintSensorInfo's fingerprintKind
	// for a touch sensor (§6.7.3; 2 is a swipe sensor).
	FingerprintKindTouch = 1
	// MaxCaptureSamplesRequiredForEnroll is how many good samples make an
	// enrollment (§6.7.3).
	MaxCaptureSamplesRequiredForEnroll = 4
	// MaxTemplateFriendlyName is the longest templateFriendlyName in bytes
	// (§6.7.3); setFriendlyName answers CTAP1_ERR_INVALID_LENGTH beyond.
	MaxTemplateFriendlyName = 64
	// MaxFingerprints is how many templates the key holds; enrollBegin
	// answers CTAP2_ERR_FP_DATABASE_FULL when they are all taken.
	MaxFingerprints = 5
	// DefaultCaptureTimeout bounds a capture when the platform sends no
	// timeoutMilliseconds and Config.TouchTimeout is negative; otherwise
	// the touch timeout bounds it (captureTimeout).
	DefaultCaptureTimeout = 30 * time.Second
	// templateIDSize is the length of the random templateIds.
	templateIDSize = 16
)

// SampleStatus is lastEnrollSampleStatus, the sensor's feedback on one
// enrollment sample (CTAP 2.1 §6.7.4, CTAP2_ENROLL_FEEDBACK_*).
type SampleStatus uint64

// Sample statuses. 0x0C is unused in CTAP 2.1 (2.1-PRE called it
// FP_DATABASE_FULL; the key answers that condition with a status).
const (
	SampleGood                     SampleStatus = 0x00 // CTAP2_ENROLL_FEEDBACK_FP_GOOD
	SampleTooHigh                  SampleStatus = 0x01
	SampleTooLow                   SampleStatus = 0x02
	SampleTooLeft                  SampleStatus = 0x03
	SampleTooRight                 SampleStatus = 0x04
	SampleTooFast                  SampleStatus = 0x05
	SampleTooSlow                  SampleStatus = 0x06
	SamplePoorQuality              SampleStatus = 0x07
	SampleTooSkewed                SampleStatus = 0x08
	SampleTooShort                 SampleStatus = 0x09
	SampleMergeFailure             SampleStatus = 0x0A
	SampleExists                   SampleStatus = 0x0B
	SampleNoUserActivity           SampleStatus = 0x0D
	SampleNoUserPresenceTransition SampleStatus = 0x0E
)

var sampleStatusNames = map[SampleStatus]string{
	SampleGood: "FP_GOOD", SampleTooHigh: "FP_TOO_HIGH", SampleTooLow: "FP_TOO_LOW",
	SampleTooLeft: "FP_TOO_LEFT", SampleTooRight: "FP_TOO_RIGHT", SampleTooFast: "FP_TOO_FAST",
	SampleTooSlow: "FP_TOO_SLOW", SamplePoorQuality: "FP_POOR_QUALITY", SampleTooSkewed: "FP_TOO_SKEWED",
	SampleTooShort: "FP_TOO_SHORT", SampleMergeFailure: "FP_MERGE_FAILURE", SampleExists: "FP_EXISTS",
	SampleNoUserActivity: "NO_USER_ACTIVITY", SampleNoUserPresenceTransition: "NO_USER_PRESENCE_TRANSITION",
}

func (s SampleStatus) String() string {
	if n, ok := sampleStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("SampleStatus(%#x)", uint64(s))
}

// Sample is one fingerprint capture: which finger (a positive number; any
// other value is a finger the key cannot tell) and the sensor's feedback.
// Only a SampleGood sample counts towards an enrollment or matches.
type Sample struct {
	Finger int
	Status SampleStatus
}

// CaptureRequest describes one fingerprint capture.
type CaptureRequest struct {
	// Command is bioEnrollment (either code) for an enrollment sample, or
	// the command that asks for built-in user verification.
	Command ctap.Command
	// Enroll is true for an enrollment sample, false for verification.
	Enroll bool
	// RemainingSamples is how many good samples the enrollment still
	// needs (enrollment only).
	RemainingSamples int
	// Timeout is how long the key waits for the finger; ctx carries the
	// same deadline.
	Timeout time.Duration
	// UV is the verification attempt (verification only).
	UV UVRequest
}

// FingerprintSensor is an optional interface of a Presence: the user's
// finger on the key's sensor, for a key with Config.BioEnrollment.
type FingerprintSensor interface {
	// Capture waits for one sample. It returns the sample;
	// ctap.StatusOperationDenied when the user cancelled on the key;
	// ctap.StatusUserActionTimeout, or ctx.Err() with a deadline, when no
	// finger came in time; and ctx.Err() when the request was cancelled.
	Capture(ctx context.Context, req CaptureRequest) (Sample, error)
}

// Capture implements FingerprintSensor: a good sample of finger 1.
func (AutoPresence) Capture(ctx context.Context, req CaptureRequest) (Sample, error) {
	return Sample{Finger: 1, Status: SampleGood}, nil
}

// Capture implements FingerprintSensor: the user cancels on the key.
func (DenyPresence) Capture(ctx context.Context, req CaptureRequest) (Sample, error) {
	return Sample{}, ctap.StatusOperationDenied
}

var (
	_ FingerprintSensor = AutoPresence{}
	_ FingerprintSensor = DenyPresence{}
)

// FingerprintTemplate is one enrolled finger (State.Fingerprints).
type FingerprintTemplate struct {
	// ID is the random templateId.
	ID []byte `json:"id"`
	// Name is templateFriendlyName; empty until setFriendlyName.
	Name string `json:"name,omitempty"`
	// Finger is the simulated finger the template matches.
	Finger int `json:"finger"`
}

// bioState is the fingerprint sensor, fixed by New.
type bioState struct {
	enabled bool // Config.BuiltInUV and Config.BioEnrollment
	sensor  FingerprintSensor
}

// enrollment is the enrollment in progress (runtime.enroll), forgotten at
// power-up, by reset and by cancelCurrentEnrollment. The zero value is
// none.
type enrollment struct {
	templID   []byte // templateId of the enrollment in progress; nil when none
	finger    int    // the finger of its first good sample; 0 before one
	remaining int    // good samples it still needs
}

// initBio sets up the sensor from cfg (called by New).
func (a *Authenticator) initBio(cfg Config) {
	if !cfg.BuiltInUV || !cfg.BioEnrollment {
		return
	}
	a.bio.enabled = true
	a.bio.sensor = AutoPresence{}
	if s, ok := a.presence.(FingerprintSensor); ok {
		a.bio.sensor = s
	}
	a.verifier = sensorVerifier{a}
}

// bioConfigured reports whether the sensor's user verification is
// configured: a key without enrollment is always; one with enrollment
// once a finger is enrolled.
func (a *Authenticator) bioConfigured() bool {
	return !a.bio.enabled || len(a.state.Fingerprints) > 0
}

// bioPermissions is the be permission when the key has bio enrollment:
// getPinUvAuthTokenUsingPinWithPermissions and (uvBioEnroll)
// getPinUvAuthTokenUsingUvWithPermissions grant it (§6.5.5.7.2 step 4,
// §6.5.5.7.3 step 4).
func (a *Authenticator) bioPermissions() uint64 {
	if a.bio.enabled {
		return ctap.PermissionBioEnrollment
	}
	return 0
}

// bioOptions adds the getInfo options of §6.4: bioEnroll and its 2.1-PRE
// name userVerificationMgmtPreview, true once a finger is enrolled and
// false before, and uvBioEnroll true (built-in UV grants be).
func (a *Authenticator) bioOptions(opts map[string]bool) {
	if !a.bio.enabled {
		return
	}
	enrolled := len(a.state.Fingerprints) > 0
	opts[ctap.OptionBioEnroll] = enrolled
	opts[ctap.OptionUserVerificationMgmtPreview] = enrolled
	opts[ctap.OptionUVBioEnroll] = true
}

// captureTimeout is how long a fingerprint capture waits for a finger:
// Config.TouchTimeout, or DefaultCaptureTimeout on a key that waits for
// touches without end (a capture always has a deadline to report in
// CaptureRequest.Timeout).
func (a *Authenticator) captureTimeout() time.Duration {
	if a.touchTO > 0 {
		return a.touchTO
	}
	return DefaultCaptureTimeout
}

// sensorVerifier is the Verifier of a key with bio enrollment: one
// capture that matches a good sample of an enrolled finger. Any other
// sample is CTAP2_ERR_UV_INVALID, which costs a uvRetry.
type sensorVerifier struct{ a *Authenticator }

// VerifyUser implements Verifier.
func (v sensorVerifier) VerifyUser(ctx context.Context, req UVRequest) error {
	timeout := v.a.captureTimeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := v.a.bio.sensor.Capture(ctx, CaptureRequest{Command: req.Command, Timeout: timeout, UV: req})
	if err != nil {
		return err
	}
	if s.Status == SampleGood && v.a.fingerEnrolled(s.Finger) {
		return nil
	}
	return fmt.Errorf("%w: finger %d (%v) does not match", ctap.StatusUVInvalid, s.Finger, s.Status)
}

func (a *Authenticator) fingerEnrolled(finger int) bool {
	for _, t := range a.state.Fingerprints {
		if finger > 0 && t.Finger == finger {
			return true
		}
	}
	return false
}

// bioState's command: one authenticatorBioEnrollment (§6.7), in the
// manner of clientPINState.
type bioEnrollmentState struct {
	a      *Authenticator
	ctx    context.Context
	cmd    ctap.Command
	req    ctap.BioEnrollmentRequest
	params ctap.BioEnrollmentParams
	resp   ctap.BioEnrollmentResponse
	empty  bool // the subcommand answers CTAP2_OK alone
}

// bioEnrollment is authenticatorBioEnrollment, 0x09 and its 2.1-PRE code
// 0x40 alike. A key without the sensor answers CTAP1_ERR_INVALID_COMMAND.
func (a *Authenticator) bioEnrollment(ctx context.Context, cmd ctap.Command, params []byte) ([]byte, error) {
	if !a.bio.enabled {
		return nil, ctap.StatusInvalidCommand
	}
	hs := &bioEnrollmentState{a: a, ctx: ctx, cmd: cmd}
	if err := ctap.UnmarshalRequest(params, &hs.req); err != nil {
		return nil, err
	}
	if err := hs.handle(); err != nil {
		return nil, err
	}
	if hs.empty {
		return nil, nil
	}
	return ctap.Marshal(&hs.resp)
}

// handle dispatches (§6.7): getModality true answers the modality
// (§6.7.2); otherwise subCommand is required (CTAP2_ERR_MISSING_PARAMETER),
// with modality (missing: CTAP2_ERR_MISSING_PARAMETER; not fingerprint:
// CTAP1_ERR_INVALID_PARAMETER). An unknown subCommand is
// CTAP2_ERR_INVALID_SUBCOMMAND. subCommandParams that are not a map of the
// right members are CTAP2_ERR_CBOR_UNEXPECTED_TYPE or
// CTAP2_ERR_INVALID_CBOR.
func (hs *bioEnrollmentState) handle() error {
	r := &hs.req
	if r.GetModality != nil && *r.GetModality {
		m := ctap.BioModalityFingerprint
		hs.resp.Modality = &m
		return nil
	}
	if r.SubCommand == nil {
		return fmt.Errorf("%w: subCommand", ctap.StatusMissingParameter)
	}
	if r.Modality == nil {
		return fmt.Errorf("%w: modality", ctap.StatusMissingParameter)
	}
	if *r.Modality != ctap.BioModalityFingerprint {
		return fmt.Errorf("%w: modality %d", ctap.StatusInvalidParameter, *r.Modality)
	}
	if len(r.SubCommandParams) != 0 {
		if err := ctap.UnmarshalRequest(r.SubCommandParams, &hs.params); err != nil {
			return err
		}
	}
	switch *r.SubCommand {
	case ctap.BioGetFingerprintSensorInfo:
		return hs.getFingerprintSensorInfo()
	case ctap.BioEnrollBegin:
		return hs.enrollBegin()
	case ctap.BioEnrollCaptureNextSample:
		return hs.enrollCaptureNextSample()
	case ctap.BioCancelCurrentEnrollment:
		return hs.cancelCurrentEnrollment()
	case ctap.BioEnumerateEnrollments:
		return hs.enumerateEnrollments()
	case ctap.BioSetFriendlyName:
		return hs.setFriendlyName()
	case ctap.BioRemoveEnrollment:
		return hs.removeEnrollment()
	}
	return fmt.Errorf("%w: subCommand %d", ctap.StatusInvalidSubcommand, *r.SubCommand)
}

// verifyAuth is the check of every subcommand that changes or reveals
// templates (§6.7.4 to §6.7.8): pinUvAuthParam must be
// authenticate(pinUvAuthToken, modality || subCommand || subCommandParams)
// under the token in use, of the protocol that issued it, with the be
// permission. A missing pinUvAuthParam is CTAP2_ERR_PUAT_REQUIRED and a
// missing pinUvAuthProtocol CTAP2_ERR_MISSING_PARAMETER (as
// credentialManagement answers, §6.8.2); an unsupported protocol is
// CTAP1_ERR_INVALID_PARAMETER; a wrong MAC, no token or a token without be
// is CTAP2_ERR_PIN_AUTH_INVALID.
func (hs *bioEnrollmentState) verifyAuth() error {
	r := &hs.req
	msg := append([]byte{byte(*r.Modality), byte(*r.SubCommand)}, r.SubCommandParams...)
	return hs.a.verifyToken(r.PinUvAuthProtocol, r.PinUvAuthParam, msg, tokenUse{perm: ctap.PermissionBioEnrollment})
}

// getFingerprintSensorInfo is §6.7.3; it needs no token.
func (hs *bioEnrollmentState) getFingerprintSensorInfo() error {
	m, kind := ctap.BioModalityFingerprint, uint64(FingerprintKindTouch)
	samples, name := uint64(MaxCaptureSamplesRequiredForEnroll), uint64(MaxTemplateFriendlyName)
	hs.resp.Modality = &m
	hs.resp.FingerprintKind = &kind
	hs.resp.MaxCaptureSamplesRequiredForEnroll = &samples
	hs.resp.MaxTemplateFriendlyName = &name
	return nil
}

// enrollBegin is §6.7.4: after the auth check, a full template database
// is CTAP2_ERR_FP_DATABASE_FULL; an unfinished enrollment is cancelled; a
// new random templateId is made and the first sample captured at once.
func (hs *bioEnrollmentState) enrollBegin() error {
	a := hs.a
	if err := hs.verifyAuth(); err != nil {
		return err
	}
	if len(a.state.Fingerprints) >= MaxFingerprints {
		return fmt.Errorf("%w: %d templates", ctap.StatusFPDatabaseFull, len(a.state.Fingerprints))
	}
	a.rt.enroll = enrollment{}
	id, err := a.randomBytes(templateIDSize)
	if err != nil {
		return err
	}
	if err := hs.capture(MaxCaptureSamplesRequiredForEnroll); err != nil {
		return err
	}
	// The enrollment exists once its first capture ended, good or not.
	if a.rt.enroll.templID == nil {
		a.rt.enroll.templID = id
	}
	hs.resp.TemplateID = id
	return hs.finish(id)
}

// enrollCaptureNextSample is §6.7.4: templateId is required
// (CTAP2_ERR_MISSING_PARAMETER) and must be the enrollment in progress
// (CTAP1_ERR_INVALID_PARAMETER, also when none is); then one capture.
func (hs *bioEnrollmentState) enrollCaptureNextSample() error {
	a := hs.a
	if err := hs.verifyAuth(); err != nil {
		return err
	}
	if hs.params.TemplateID == nil {
		return fmt.Errorf("%w: templateId", ctap.StatusMissingParameter)
	}
	if a.rt.enroll.templID == nil || subtle.ConstantTimeCompare(a.rt.enroll.templID, hs.params.TemplateID) != 1 {
		return fmt.Errorf("%w: templateId is not the enrollment in progress", ctap.StatusInvalidParameter)
	}
	if err := hs.capture(a.rt.enroll.remaining); err != nil {
		return err
	}
	return hs.finish(a.rt.enroll.templID)
}

// capture takes one enrollment sample, with timeoutMilliseconds (or
// DefaultCaptureTimeout) as its deadline. A good sample counts; a good
// sample of another finger than the enrollment's first is
// FP_MERGE_FAILURE; other feedback is passed on and counts nothing. No
// finger in time is CTAP2_ERR_USER_ACTION_TIMEOUT, a cancel on the key
// CTAP2_ERR_OPERATION_DENIED, CTAPHID_CANCEL CTAP2_ERR_KEEPALIVE_CANCEL; the
// enrollment in progress, if any, stays.
func (hs *bioEnrollmentState) capture(remaining int) error {
	a := hs.a
	timeout := a.captureTimeout()
	if ms := hs.params.TimeoutMilliseconds; ms != nil && *ms > 0 && *ms < uint64(timeout/time.Millisecond) {
		timeout = time.Duration(*ms) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(hs.ctx, timeout)
	defer cancel()
	s, err := a.bio.sensor.Capture(ctx, CaptureRequest{Command: hs.cmd, Enroll: true, RemainingSamples: remaining, Timeout: timeout})
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) && hs.ctx.Err() == nil, errors.Is(err, ctap.StatusUserActionTimeout):
		return fmt.Errorf("%w: no finger in %v", ctap.StatusUserActionTimeout, timeout)
	case errors.Is(err, context.Canceled), hs.ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ctap.StatusKeepaliveCancel, err)
	case errors.Is(err, ctap.StatusOperationDenied):
		return err
	default:
		return fmt.Errorf("authenticator: fingerprint capture: %w", err)
	}
	if s.Status > SampleNoUserPresenceTransition {
		return fmt.Errorf("authenticator: fingerprint sensor gave status %#x", uint64(s.Status))
	}
	if a.rt.enroll.templID == nil { // enrollBegin
		a.rt.enroll.remaining = remaining
	}
	status := s.Status
	if status == SampleGood {
		switch {
		case s.Finger <= 0:
			status = SamplePoorQuality
		case a.rt.enroll.finger != 0 && s.Finger != a.rt.enroll.finger:
			status = SampleMergeFailure
		default:
			a.rt.enroll.finger = s.Finger
			a.rt.enroll.remaining--
		}
	}
	st := uint64(status)
	hs.resp.LastEnrollSampleStatus = &st
	return nil
}

// finish answers remainingSamples and, when it reaches 0, stores the
// template (saved before the response) and ends the enrollment.
func (hs *bioEnrollmentState) finish(id []byte) error {
	a := hs.a
	n := uint64(a.rt.enroll.remaining)
	hs.resp.RemainingSamples = &n
	if a.rt.enroll.remaining > 0 {
		return nil
	}
	a.state.Fingerprints = append(a.state.Fingerprints, FingerprintTemplate{ID: id, Finger: a.rt.enroll.finger})
	a.rt.enroll = enrollment{}
	return a.save()
}

// cancelCurrentEnrollment is §6.7.5: it needs no token and answers
// CTAP2_OK, with or without an enrollment in progress.
func (hs *bioEnrollmentState) cancelCurrentEnrollment() error {
	hs.a.rt.enroll = enrollment{}
	hs.empty = true
	return nil
}

// enumerateEnrollments is §6.7.6: every templateId with its
// templateFriendlyName (empty when none was set, so that platforms that
// expect the member find it); no templates is CTAP2_ERR_INVALID_OPTION.
func (hs *bioEnrollmentState) enumerateEnrollments() error {
	if err := hs.verifyAuth(); err != nil {
		return err
	}
	fps := hs.a.state.Fingerprints
	if len(fps) == 0 {
		return fmt.Errorf("%w: no enrollments", ctap.StatusInvalidOption)
	}
	for _, t := range fps {
		name := t.Name
		hs.resp.TemplateInfos = append(hs.resp.TemplateInfos, ctap.TemplateInfo{TemplateID: t.ID, TemplateFriendlyName: &name})
	}
	return nil
}

// template returns the index of the template params name: templateId
// missing is CTAP2_ERR_MISSING_PARAMETER, unknown CTAP2_ERR_INVALID_OPTION.
func (hs *bioEnrollmentState) template() (int, error) {
	if hs.params.TemplateID == nil {
		return 0, fmt.Errorf("%w: templateId", ctap.StatusMissingParameter)
	}
	for i, t := range hs.a.state.Fingerprints {
		if bytes.Equal(t.ID, hs.params.TemplateID) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: no template with this templateId", ctap.StatusInvalidOption)
}

// setFriendlyName is §6.7.7: templateFriendlyName is required
// (CTAP2_ERR_MISSING_PARAMETER) and at most MaxTemplateFriendlyName bytes
// (CTAP1_ERR_INVALID_LENGTH); the name is saved before the response.
func (hs *bioEnrollmentState) setFriendlyName() error {
	a := hs.a
	if err := hs.verifyAuth(); err != nil {
		return err
	}
	i, err := hs.template()
	if err != nil {
		return err
	}
	name := hs.params.TemplateFriendlyName
	if name == nil {
		return fmt.Errorf("%w: templateFriendlyName", ctap.StatusMissingParameter)
	}
	if len(*name) > MaxTemplateFriendlyName {
		return fmt.Errorf("%w: templateFriendlyName of %d bytes", ctap.StatusInvalidLength, len(*name))
	}
	a.state.Fingerprints[i].Name = *name
	hs.empty = true
	return a.save()
}

// removeEnrollment is §6.7.8: the template goes, saved before the
// response. Without templates left, built-in UV is no longer configured.
func (hs *bioEnrollmentState) removeEnrollment() error {
	a := hs.a
	if err := hs.verifyAuth(); err != nil {
		return err
	}
	i, err := hs.template()
	if err != nil {
		return err
	}
	a.state.Fingerprints = append(a.state.Fingerprints[:i:i], a.state.Fingerprints[i+1:]...)
	hs.empty = true
	return a.save()
}
