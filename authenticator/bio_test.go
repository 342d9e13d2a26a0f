package authenticator

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

func withBio() keyOption {
	return func(c *Config) { c.BuiltInUV, c.BioEnrollment = true, true }
}

// bioPlatform drives authenticatorBioEnrollment with a be token.
type bioPlatform struct {
	*platform
	tok []byte
	cmd ctap.Command
}

func newBioPlatform(t *testing.T, k *testKey, cmd ctap.Command) *bioPlatform {
	p := newPlatform(k, 2)
	if s := p.setPIN("1234"); s != ctap.StatusOK {
		t.Fatalf("setPIN: %v", s)
	}
	return &bioPlatform{platform: p, tok: p.mustToken("1234", ctap.PermissionBioEnrollment, ""), cmd: cmd}
}

// req builds a request for sub, authenticated with tok when tok is set.
func (b *bioPlatform) req(sub uint64, params *ctap.BioEnrollmentParams, tok []byte) *ctap.BioEnrollmentRequest {
	m := ctap.BioModalityFingerprint
	r := &ctap.BioEnrollmentRequest{Modality: &m, SubCommand: &sub}
	if params != nil {
		r.SubCommandParams = ctap.MustMarshal(params)
	}
	if tok != nil {
		v := uint64(2)
		r.PinUvAuthProtocol = &v
		r.PinUvAuthParam = b.proto.Authenticate(tok, append([]byte{byte(m), byte(sub)}, r.SubCommandParams...))
	}
	return r
}

func (b *bioPlatform) send(req any) (*ctap.BioEnrollmentResponse, ctap.Status) {
	var resp ctap.BioEnrollmentResponse
	s := b.k.do(b.cmd, req, &resp)
	return &resp, s
}

func (b *bioPlatform) begin() *ctap.BioEnrollmentResponse {
	resp, s := b.send(b.req(ctap.BioEnrollBegin, nil, b.tok))
	if s != ctap.StatusOK {
		b.k.t.Fatalf("enrollBegin: %v", s)
	}
	return resp
}

func (b *bioPlatform) next(id []byte) (*ctap.BioEnrollmentResponse, ctap.Status) {
	return b.send(b.req(ctap.BioEnrollCaptureNextSample, &ctap.BioEnrollmentParams{TemplateID: id}, b.tok))
}

// enroll enrolls finger with good samples.
func (b *bioPlatform) enroll(finger int) []byte {
	for range MaxCaptureSamplesRequiredForEnroll {
		b.k.presence.PushSample(Sample{Finger: finger})
	}
	id := b.begin().TemplateID
	for range MaxCaptureSamplesRequiredForEnroll - 1 {
		if _, s := b.next(id); s != ctap.StatusOK {
			b.k.t.Fatalf("enrollCaptureNextSample: %v", s)
		}
	}
	return id
}

func TestBioDisabled(t *testing.T) {
	for _, opt := range []keyOption{func(*Config) {}, withBuiltInUV()} {
		k := newTestKey(t, opt)
		for _, cmd := range []ctap.Command{ctap.CmdBioEnrollment, ctap.CmdBioEnrollmentPre} {
			if s := k.do(cmd, &ctap.BioEnrollmentRequest{GetModality: ptr(true)}, nil); s != ctap.StatusInvalidCommand {
				t.Errorf("%v without BioEnrollment: %v, want CTAP1_ERR_INVALID_COMMAND", cmd, s)
			}
		}
	}
}

// TestBioEnrollScripted: "too fast, good, good, good, good" gives each
// lastEnrollSampleStatus and remainingSamples, and saves the template.
func TestBioEnrollScripted(t *testing.T) {
	for _, cmd := range []ctap.Command{ctap.CmdBioEnrollment, ctap.CmdBioEnrollmentPre} {
		t.Run(cmd.String(), func(t *testing.T) {
			sp := NewScriptedPresence()
			k := newTestKey(t, withBio(), withPresence(sp))
			b := newBioPlatform(t, k, cmd)
			sp.PushSample(Sample{Finger: 1, Status: SampleTooFast}, Sample{Finger: 1}, Sample{Finger: 1}, Sample{Finger: 1}, Sample{Finger: 1})
			first := b.begin()
			if len(first.TemplateID) != templateIDSize {
				t.Fatalf("templateId %x", first.TemplateID)
			}
			type fb struct{ Status, Remaining uint64 }
			got := []fb{{*first.LastEnrollSampleStatus, *first.RemainingSamples}}
			for range 4 {
				resp, s := b.next(first.TemplateID)
				if s != ctap.StatusOK {
					t.Fatalf("enrollCaptureNextSample: %v", s)
				}
				got = append(got, fb{*resp.LastEnrollSampleStatus, *resp.RemainingSamples})
			}
			want := []fb{{0x05, 4}, {0, 3}, {0, 2}, {0, 1}, {0, 0}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("feedback (-want +got):\n%s", diff)
			}
			st := k.store.State()
			if len(st.Fingerprints) != 1 || !bytes.Equal(st.Fingerprints[0].ID, first.TemplateID) || st.Fingerprints[0].Finger != 1 {
				t.Errorf("saved templates %+v", st.Fingerprints)
			}
			if _, s := b.next(first.TemplateID); s != ctap.StatusInvalidParameter {
				t.Errorf("capture after completion: %v, want CTAP1_ERR_INVALID_PARAMETER", s)
			}
			if n := len(sp.Captures()); n != 5 {
				t.Errorf("%d captures, want 5", n)
			}
		})
	}
}

func TestBioStatuses(t *testing.T) {
	sp := NewScriptedPresence()
	k := newTestKey(t, withBio(), withPresence(sp))
	b := newBioPlatform(t, k, ctap.CmdBioEnrollment)
	id := b.enroll(1)
	sp.PushSample(Sample{Finger: 2})
	inProgress := b.begin().TemplateID
	mcTok := b.mustToken("1234", ctap.PermissionMakeCredential, "")
	// The mc token replaced the be token.
	beTok := func() []byte { return b.mustToken("1234", ctap.PermissionBioEnrollment, "") }
	name := "thumb"
	long := string(bytes.Repeat([]byte("n"), MaxTemplateFriendlyName+1))
	tests := []struct {
		name string
		req  func() any
		want ctap.Status
	}{
		{"no subCommand", func() any { return &ctap.BioEnrollmentRequest{Modality: ptr(uint64(1))} }, ctap.StatusMissingParameter},
		{"no modality", func() any { return &ctap.BioEnrollmentRequest{SubCommand: ptr(ctap.BioGetFingerprintSensorInfo)} }, ctap.StatusMissingParameter},
		{"modality 2", func() any {
			return &ctap.BioEnrollmentRequest{Modality: ptr(uint64(2)), SubCommand: ptr(ctap.BioGetFingerprintSensorInfo)}
		}, ctap.StatusInvalidParameter},
		{"unknown subCommand", func() any { return b.req(0x20, nil, nil) }, ctap.StatusInvalidSubcommand},
		{"params not a map", func() any {
			r := b.req(ctap.BioEnumerateEnrollments, nil, nil)
			r.SubCommandParams = ctap.MustMarshal(5)
			return r
		}, ctap.StatusCBORUnexpectedType},
		{"no pinUvAuthParam", func() any { return b.req(ctap.BioEnumerateEnrollments, nil, nil) }, ctap.StatusPUATRequired},
		{"no protocol", func() any {
			r := b.req(ctap.BioEnumerateEnrollments, nil, beTok())
			r.PinUvAuthProtocol = nil
			return r
		}, ctap.StatusMissingParameter},
		{"protocol 3", func() any {
			r := b.req(ctap.BioEnumerateEnrollments, nil, beTok())
			r.PinUvAuthProtocol = ptr(uint64(3))
			return r
		}, ctap.StatusInvalidParameter},
		{"token without be", func() any { return b.req(ctap.BioEnumerateEnrollments, nil, mcTok) }, ctap.StatusPINAuthInvalid},
		{"wrong MAC", func() any {
			r := b.req(ctap.BioEnumerateEnrollments, nil, beTok())
			r.PinUvAuthParam[0] ^= 1
			return r
		}, ctap.StatusPINAuthInvalid},
		{"capture, other template", func() any {
			return b.req(ctap.BioEnrollCaptureNextSample, &ctap.BioEnrollmentParams{TemplateID: id}, beTok())
		}, ctap.StatusInvalidParameter},
		{"capture, no templateId", func() any { return b.req(ctap.BioEnrollCaptureNextSample, &ctap.BioEnrollmentParams{}, beTok()) }, ctap.StatusMissingParameter},
		{"rename unknown", func() any {
			return b.req(ctap.BioSetFriendlyName, &ctap.BioEnrollmentParams{TemplateID: inProgress, TemplateFriendlyName: &name}, beTok())
		}, ctap.StatusInvalidOption},
		{"rename without name", func() any { return b.req(ctap.BioSetFriendlyName, &ctap.BioEnrollmentParams{TemplateID: id}, beTok()) }, ctap.StatusMissingParameter},
		{"rename too long", func() any {
			return b.req(ctap.BioSetFriendlyName, &ctap.BioEnrollmentParams{TemplateID: id, TemplateFriendlyName: &long}, beTok())
		}, ctap.StatusInvalidLength},
		{"remove unknown", func() any {
			return b.req(ctap.BioRemoveEnrollment, &ctap.BioEnrollmentParams{TemplateID: []byte{1}}, beTok())
		}, ctap.StatusInvalidOption},
		{"remove without templateId", func() any { return b.req(ctap.BioRemoveEnrollment, nil, beTok()) }, ctap.StatusMissingParameter},
		{"rename", func() any {
			return b.req(ctap.BioSetFriendlyName, &ctap.BioEnrollmentParams{TemplateID: id, TemplateFriendlyName: &name}, beTok())
		}, ctap.StatusOK},
		{"cancel without token", func() any { return b.req(ctap.BioCancelCurrentEnrollment, nil, nil) }, ctap.StatusOK},
		{"capture after cancel", func() any {
			return b.req(ctap.BioEnrollCaptureNextSample, &ctap.BioEnrollmentParams{TemplateID: inProgress}, beTok())
		}, ctap.StatusInvalidParameter},
	}
	for _, tt := range tests {
		if _, s := b.send(tt.req()); s != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, s, tt.want)
		}
	}
	b.tok = beTok()
	resp, s := b.send(b.req(ctap.BioEnumerateEnrollments, nil, b.tok))
	want := []ctap.TemplateInfo{{TemplateID: id, TemplateFriendlyName: &name}}
	if s != ctap.StatusOK || !cmp.Equal(resp.TemplateInfos, want) {
		t.Errorf("enumerate: %v %+v", s, resp.TemplateInfos)
	}
	if _, s := b.send(b.req(ctap.BioRemoveEnrollment, &ctap.BioEnrollmentParams{TemplateID: id}, b.tok)); s != ctap.StatusOK {
		t.Errorf("remove: %v", s)
	}
	if _, s := b.send(b.req(ctap.BioEnumerateEnrollments, nil, b.tok)); s != ctap.StatusInvalidOption {
		t.Errorf("enumerate none: %v, want CTAP2_ERR_INVALID_OPTION", s)
	}
	if n := len(k.store.State().Fingerprints); n != 0 {
		t.Errorf("%d templates saved after remove", n)
	}
}

func TestBioCaptureErrors(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(sp *ScriptedPresence)
		timeout *uint64
		want    ctap.Status
	}{
		{"timeout", func(sp *ScriptedPresence) {}, ptr(uint64(20)), ctap.StatusUserActionTimeout},
		{"sensor timeout", func(sp *ScriptedPresence) { sp.PushCaptureError(ctap.StatusUserActionTimeout) }, nil, ctap.StatusUserActionTimeout},
		{"denied", func(sp *ScriptedPresence) { sp.PushCaptureError(ctap.StatusOperationDenied) }, nil, ctap.StatusOperationDenied},
		{"status 0x0f", func(sp *ScriptedPresence) { sp.PushSample(Sample{Finger: 1, Status: 0x0f}) }, nil, ctap.StatusOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := NewScriptedPresence()
			k := newTestKey(t, withBio(), withPresence(sp))
			b := newBioPlatform(t, k, ctap.CmdBioEnrollment)
			tt.answer(sp)
			if _, s := b.send(b.req(ctap.BioEnrollBegin, &ctap.BioEnrollmentParams{TimeoutMilliseconds: tt.timeout}, b.tok)); s != tt.want {
				t.Errorf("enrollBegin: %v, want %v", s, tt.want)
			}
			if got := sp.Captures(); len(got) != 1 || !got[0].Enroll || got[0].RemainingSamples != MaxCaptureSamplesRequiredForEnroll {
				t.Errorf("captures %+v", got)
			}
		})
	}
}

func TestBioDatabaseFull(t *testing.T) {
	k := newTestKey(t, withBio(), withPresence(NewScriptedPresence()))
	b := newBioPlatform(t, k, ctap.CmdBioEnrollmentPre)
	for f := 1; f <= MaxFingerprints; f++ {
		b.enroll(f)
	}
	if _, s := b.send(b.req(ctap.BioEnrollBegin, nil, b.tok)); s != ctap.StatusFPDatabaseFull {
		t.Errorf("enrollBegin with %d templates: %v, want CTAP2_ERR_FP_DATABASE_FULL", MaxFingerprints, s)
	}
}

// TestBioUV: before enrollment UV is not configured; an enrolled finger
// passes and grants be; an unknown finger costs a retry; reset forgets
// the templates.
func TestBioUV(t *testing.T) {
	sp := NewScriptedPresence()
	k := newTestKey(t, withBio(), withPresence(sp))
	opts := func() map[string]bool {
		var info ctap.InfoResponse
		k.do(ctap.CmdGetInfo, nil, &info)
		return info.Options
	}
	wantOpts := func(v bool) map[string]bool {
		return map[string]bool{ctap.OptionUV: v, ctap.OptionBioEnroll: v, ctap.OptionUserVerificationMgmtPreview: v, ctap.OptionUVBioEnroll: true}
	}
	pick := func(m map[string]bool) map[string]bool {
		out := map[string]bool{}
		for o := range wantOpts(false) {
			out[o] = m[o]
		}
		return out
	}
	if diff := cmp.Diff(wantOpts(false), pick(opts())); diff != "" {
		t.Errorf("options before enrollment (-want +got):\n%s", diff)
	}
	b := newBioPlatform(t, k, ctap.CmdBioEnrollment)
	uvToken := func(perms uint64) ctap.Status {
		key, _ := b.encapsulate()
		_, s := b.clientPIN(&ctap.ClientPINRequest{PinUvAuthProtocol: ptr(uint64(2)), SubCommand: ptr(ctap.PINGetPinUvAuthTokenUsingUvWithPermissions),
			KeyAgreement: &key, Permissions: &perms})
		return s
	}
	if s := uvToken(ctap.PermissionGetAssertion); s != ctap.StatusNotAllowed {
		t.Errorf("UV token before enrollment: %v, want CTAP2_ERR_NOT_ALLOWED", s)
	}
	b.enroll(3)
	if diff := cmp.Diff(wantOpts(true), pick(opts())); diff != "" {
		t.Errorf("options after enrollment (-want +got):\n%s", diff)
	}
	sp.PushSample(Sample{Finger: 3})
	if s := uvToken(ctap.PermissionBioEnrollment | ctap.PermissionGetAssertion); s != ctap.StatusOK {
		t.Errorf("UV token with be, enrolled finger: %v", s)
	}
	sp.PushSample(Sample{Finger: 4})
	if s := uvToken(ctap.PermissionGetAssertion); s != ctap.StatusUVInvalid {
		t.Errorf("UV token, unknown finger: %v, want CTAP2_ERR_UV_INVALID", s)
	}
	sp.PushSample(Sample{Finger: 3, Status: SampleTooHigh})
	if s := uvToken(ctap.PermissionGetAssertion); s != ctap.StatusUVInvalid {
		t.Errorf("UV token, bad sample: %v, want CTAP2_ERR_UV_INVALID", s)
	}
	if got := k.store.State().UVFailures; got != 2 {
		t.Errorf("UVFailures %d, want 2", got)
	}
	sp.Push(nil) // the reset's touch
	if s := k.do(ctap.CmdReset, nil, nil); s != ctap.StatusOK {
		t.Fatalf("reset: %v", s)
	}
	if n := len(k.store.State().Fingerprints); n != 0 {
		t.Errorf("%d templates after reset", n)
	}
}

func TestBioNoTokenCommands(t *testing.T) {
	k := newTestKey(t, withBio())
	for _, cmd := range []ctap.Command{ctap.CmdBioEnrollment, ctap.CmdBioEnrollmentPre} {
		var resp ctap.BioEnrollmentResponse
		if s := k.do(cmd, &ctap.BioEnrollmentRequest{GetModality: ptr(true)}, &resp); s != ctap.StatusOK || resp.Modality == nil || *resp.Modality != 1 {
			t.Errorf("%v getModality: %v %+v", cmd, s, resp)
		}
		resp = ctap.BioEnrollmentResponse{}
		m := uint64(1)
		want := ctap.BioEnrollmentResponse{Modality: &m, FingerprintKind: ptr(uint64(1)),
			MaxCaptureSamplesRequiredForEnroll: ptr(uint64(MaxCaptureSamplesRequiredForEnroll)), MaxTemplateFriendlyName: ptr(uint64(MaxTemplateFriendlyName))}
		if s := k.do(cmd, &ctap.BioEnrollmentRequest{Modality: &m, SubCommand: ptr(ctap.BioGetFingerprintSensorInfo)}, &resp); s != ctap.StatusOK {
			t.Errorf("%v getFingerprintSensorInfo: %v", cmd, s)
		}
		if diff := cmp.Diff(want, resp); diff != "" {
			t.Errorf("%v sensor info (-want +got):\n%s", cmd, diff)
		}
	}
	// AutoPresence: good samples of finger 1 enroll without a script.
	b := newBioPlatform(t, k, ctap.CmdBioEnrollment)
	id := b.begin().TemplateID
	for range MaxCaptureSamplesRequiredForEnroll - 1 {
		b.next(id)
	}
	if st := k.store.State(); len(st.Fingerprints) != 1 || st.Fingerprints[0].Finger != 1 {
		t.Errorf("templates %+v", st.Fingerprints)
	}
}
