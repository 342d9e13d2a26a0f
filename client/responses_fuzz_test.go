package client

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/virtkey/virtkey/authenticator"
	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/testvectors"
)

// recordingTransport passes calls on to t and keeps every response.
type recordingTransport struct {
	t  Transport
	mu sync.Mutex
	rs [][]byte
}

func (r *recordingTransport) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, onKeepalive func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	resp, err := r.t.Call(ctx, cmd, payload, onKeepalive)
	if err == nil {
		r.mu.Lock()
		r.rs = append(r.rs, slices.Clone(resp))
		r.mu.Unlock()
	}
	return resp, err
}

// keyResponses runs every client operation against the virtual key (with a
// PIN, a fingerprint sensor, credentials and a large blob) and returns what
// the key answered: real responses of every type, to seed the fuzzers.
func keyResponses(tb testing.TB) [][]byte {
	tb.Helper()
	ctx := context.Background()
	key, err := authenticator.New(authenticator.Config{BioEnrollment: true, BuiltInUV: true, Rand: seeded(1)})
	if err != nil {
		tb.Fatal(err)
	}
	dev, err := OpenInProcess(ctx, key, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer dev.Close()
	rec := &recordingTransport{t: dev}
	c, err := New(ctx, rec)
	if err != nil {
		tb.Fatal(err)
	}
	step := 0
	must := func(err error) {
		tb.Helper()
		step++
		if err != nil {
			tb.Fatalf("step %d: %v", step, err)
		}
	}
	for _, user := range []string{"u1", "u2"} {
		_, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{
			ClientDataHash: cdh(user), RP: &ctap.RPEntity{ID: "example.com"},
			User:             &ctap.UserEntity{ID: []byte(user), Name: user},
			PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
			Options:          map[string]bool{ctap.OptionRK: true},
			Extensions:       map[string]ctap.RawMessage{"largeBlobKey": ctap.MustMarshal(true)},
		})
		must(err)
	}
	_, err = c.GetAssertions(ctx, &ctap.GetAssertionRequest{RPID: "example.com", ClientDataHash: cdh("ga")})
	must(err)
	cp, err := NewClientPin(c, PinProtocolV2())
	must(err)
	cp.Rand = seeded(2)
	must(cp.SetPIN(ctx, "1234"))
	_, _, err = cp.GetPinRetries(ctx)
	must(err)
	_, err = cp.GetUVRetries(ctx)
	must(err)
	tok, err := cp.GetPinToken(ctx, "1234", ctap.PermissionCredentialManagement|ctap.PermissionBioEnrollment|
		ctap.PermissionLargeBlobWrite|ctap.PermissionAuthenticatorConfig, "")
	must(err)
	cm, err := NewCredentialManagement(c, PinProtocolV2(), tok)
	must(err)
	_, err = cm.GetMetadata(ctx)
	must(err)
	_, err = cm.EnumerateRPs(ctx)
	must(err)
	_, err = cm.EnumerateCreds(ctx, cdh("example.com"))
	must(err)
	bio, err := NewFPBioEnrollment(ctx, c, PinProtocolV2(), tok)
	must(err)
	_, err = bio.GetFingerprintSensorInfo(ctx)
	must(err)
	id, err := bio.Enroll(ctx, time.Second, nil)
	must(err)
	_, err = bio.EnumerateEnrollments(ctx)
	must(err)
	must(bio.SetName(ctx, id, "thumb"))
	lb, err := NewLargeBlobs(c, PinProtocolV2(), tok)
	must(err)
	lb.Rand = seeded(3)
	must(lb.PutBlob(ctx, bytes.Repeat([]byte{7}, 32), []byte("a blob")))
	_, err = lb.ReadBlobArray(ctx)
	must(err)
	cf, err := NewConfig(c, PinProtocolV2(), tok)
	must(err)
	must(cf.SetMinPINLength(ctx, 4, []string{"example.com"}, false))
	return rec.rs
}

// echoTransport answers getInfo with info and every other CTAPHID_CBOR or
// CTAPHID_MSG call with resp.
type echoTransport struct {
	info []byte
	resp []byte
}

func (e *echoTransport) Call(ctx context.Context, cmd ctaphid.Cmd, payload []byte, _ func(ctaphid.KeepaliveStatus)) ([]byte, error) {
	if cmd == ctaphid.CmdCBOR && len(payload) > 0 && ctap.Command(payload[0]) == ctap.CmdGetInfo {
		return e.info, nil
	}
	return slices.Clone(e.resp), nil
}

// fuzzInfo is a getInfo response with every feature the client drives.
var fuzzInfo = ctap.InfoResponse{
	Versions: []string{ctap.VersionFIDO20, ctap.VersionFIDO21}, AAGUID: testAAGUID[:],
	Options: map[string]bool{ctap.OptionClientPIN: true, ctap.OptionPinUvAuthToken: true, ctap.OptionCredMgmt: true,
		ctap.OptionBioEnroll: true, ctap.OptionLargeBlobs: true, ctap.OptionAuthnrCfg: true, ctap.OptionRK: true},
	MaxMsgSize: 1024, PinUvAuthProtocols: []uint64{2, 1}, MaxSerializedLargeBlobArray: 2048,
	PinComplexityPolicy: new(bool), MaxPINLength: 63,
}

// FuzzClientResponses answers every client operation with the same
// arbitrary response (status byte and body): getInfo's features are all on,
// so clientPIN, credentialManagement, bioEnrollment, largeBlobs,
// authenticatorConfig, makeCredential, getAssertion, the hmac-secret
// extension and CTAP1/U2F all parse it. None may panic or loop, and an
// operation that fails returns no value. Seeds are the virtual key's own
// answers to the same operations and the request vectors of testvectors/ctap.
func FuzzClientResponses(f *testing.F) {
	for _, r := range keyResponses(f) {
		f.Add(r)
	}
	for _, b := range requestVectors(f) {
		f.Add(append([]byte{0}, b...))
	}
	f.Add([]byte{0x90, 0x00})
	f.Add([]byte{byte(ctap.StatusPINInvalid)})
	info := ok(ctap.MustMarshal(&fuzzInfo))

	f.Fuzz(func(t *testing.T, resp []byte) { fuzzClientResponse(t, info, resp) })
}

// fuzzClientResponse is one input of FuzzClientResponses.
func fuzzClientResponse(t *testing.T, info, resp []byte) {
	{
		ctx := context.Background()
		et := &echoTransport{info: info, resp: resp}
		c, err := New(ctx, et, WithMaxCredentials(4))
		if err != nil {
			t.Fatal(err)
		}
		noValue := func(op string, v any, err error) {
			t.Helper()
			if err != nil && !isNil(v) {
				t.Fatalf("%s returned %v with error %v", op, v, err)
			}
			if err == nil && isNil(v) {
				t.Fatalf("%s returned no value and no error", op)
			}
		}
		tok := bytes.Repeat([]byte{9}, 32)

		// authenticatorClientPIN (§6.5).
		for _, p := range []*PinProtocol{PinProtocolV1(), PinProtocolV2()} {
			cp, err := NewClientPin(c, p)
			if err != nil {
				t.Fatal(err)
			}
			cp.Rand = seeded(4)
			if n, _, err := cp.GetPinRetries(ctx); err == nil && n < 0 {
				t.Fatalf("GetPinRetries = %d", n)
			}
			if n, err := cp.GetUVRetries(ctx); err == nil && n < 0 {
				t.Fatalf("GetUVRetries = %d", n)
			}
			_, shared, err := cp.KeyAgreement(ctx)
			noValue("KeyAgreement", shared, err)
			pt, err := cp.GetPinToken(ctx, "1234", ctap.PermissionCredentialManagement, "")
			noValue("GetPinToken", pt, err)
			ut, err := cp.GetUVToken(ctx, ctap.PermissionGetAssertion, "example.com")
			noValue("GetUVToken", ut, err)
			_ = cp.SetPIN(ctx, "1234")
			_ = cp.ChangePIN(ctx, "1234", "5678")
			hs := NewHmacSecret(cp)
			exts, err := hs.GetAssertionExtensions(ctx, bytes.Repeat([]byte{1}, 32), nil)
			noValue("GetAssertionExtensions", exts, err)
		}

		// authenticatorMakeCredential, authenticatorGetAssertion (§6.1-§6.3).
		att, err := c.MakeCredential(ctx, &ctap.MakeCredentialRequest{ClientDataHash: cdh("mc"), RP: &ctap.RPEntity{ID: "example.com"},
			User: &ctap.UserEntity{ID: []byte("u")}, PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}}})
		noValue("MakeCredential", att, err)
		if att != nil {
			_, _ = att.CredentialExtensions()
		}
		asns, err := c.GetAssertions(ctx, testGARequest())
		noValue("GetAssertions", asns, err)
		if len(asns) > 4 {
			t.Fatalf("GetAssertions collected %d assertions, past the ceiling of 4", len(asns))
		}
		for _, a := range asns {
			if a == nil || a.AuthData == nil {
				t.Fatal("GetAssertions returned an assertion without authData")
			}
			_, _ = a.AssertionExtensions()
		}
		_ = c.Reset(ctx)
		_ = c.Selection(ctx)

		// authenticatorCredentialManagement (§6.8).
		cm, err := NewCredentialManagement(c, PinProtocolV2(), tok)
		if err != nil {
			t.Fatal(err)
		}
		md, err := cm.GetMetadata(ctx)
		noValue("GetMetadata", md, err)
		rps, err := cm.EnumerateRPs(ctx)
		if err == nil {
			for _, r := range rps {
				if r == nil || r.RP == nil || r.RPIDHash == nil {
					t.Fatalf("EnumerateRPs returned %+v", r)
				}
			}
		}
		creds, err := cm.EnumerateCreds(ctx, cdh("example.com"))
		if err == nil {
			for _, r := range creds {
				if r == nil || r.User == nil || r.CredentialID == nil || r.PublicKey == nil {
					t.Fatalf("EnumerateCreds returned %+v", r)
				}
			}
		}
		if len(rps) > 4 || len(creds) > 4 {
			t.Fatalf("%d RPs and %d credentials, past the ceiling of 4", len(rps), len(creds))
		}
		_ = cm.DeleteCred(ctx, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: []byte("c")})
		_ = cm.UpdateUserInfo(ctx, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: []byte("c")}, ctap.UserEntity{ID: []byte("u")})

		// authenticatorBioEnrollment (§6.7).
		if bio, err := NewFPBioEnrollment(ctx, c, PinProtocolV2(), tok); err == nil {
			si, err := bio.GetFingerprintSensorInfo(ctx)
			noValue("GetFingerprintSensorInfo", si, err)
			id, _, _, err := bio.EnrollBegin(ctx, time.Second)
			noValue("EnrollBegin", id, err)
			_, _, _ = bio.EnrollCaptureNext(ctx, []byte{1}, time.Second)
			id, err = bio.Enroll(ctx, time.Second, func(Feedback) error { return nil })
			noValue("Enroll", id, err)
			_, _ = bio.EnumerateEnrollments(ctx)
			_ = bio.SetName(ctx, []byte{1}, "x")
			_ = bio.RemoveEnrollment(ctx, []byte{1})
		}

		// authenticatorLargeBlobs (§6.10).
		lb, err := NewLargeBlobs(c, PinProtocolV2(), tok)
		if err != nil {
			t.Fatal(err)
		}
		lb.Rand = seeded(5)
		ser, err := lb.ReadSerialized(ctx)
		if err == nil && len(ser) > 2048 {
			t.Fatalf("ReadSerialized read %d bytes, past maxSerializedLargeBlobArray 2048", len(ser))
		}
		_, _ = lb.ReadBlobArray(ctx)
		_, _ = lb.GetBlob(ctx, tok)
		_ = lb.PutBlob(ctx, tok, []byte("blob"))
		_ = lb.DeleteBlob(ctx, tok)

		// authenticatorConfig (§6.11).
		cf, err := NewConfig(c, PinProtocolV2(), tok)
		if err != nil {
			t.Fatal(err)
		}
		_ = cf.EnableEnterpriseAttestation(ctx)
		_ = cf.ToggleAlwaysUV(ctx)
		_ = cf.SetMinPINLength(ctx, 6, []string{"example.com"}, true)
		_ = cf.SetMinPINLengthParams(ctx, MinPINLengthParams{MinPINLength: 8, PINComplexityPolicy: true})

		// CTAP1/U2F (§11.2.9.1.1 and the U2F raw messages).
		u2f := NewCtap1(et)
		if v, err := u2f.GetVersion(ctx); err != nil && v != "" {
			t.Fatalf("GetVersion returned %q with %v", v, err)
		}
		reg, err := u2f.Register(ctx, cdh("c"), cdh("a"))
		noValue("Register", reg, err)
		sig, err := u2f.Authenticate(ctx, cdh("c"), cdh("a"), []byte("handle"), false)
		noValue("Authenticate", sig, err)
	}
}

// isNil reports whether v is nil or a nil pointer, slice or map.
func isNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []byte:
		return x == nil
	case []*AssertionResponse:
		return x == nil
	case map[string]ctap.RawMessage:
		return x == nil
	case *AttestationResponse:
		return x == nil
	case *ctap.CredentialManagementResponse:
		return x == nil
	case *ctap.BioEnrollmentResponse:
		return x == nil
	case *RegistrationData:
		return x == nil
	case *SignatureData:
		return x == nil
	}
	panic(errors.New("isNil: unexpected type"))
}

// requestVectors is the body of every request vector in testvectors/ctap:
// the command byte, then the parameters.
func requestVectors(tb testing.TB) [][]byte {
	vs, err := testvectors.Load("ctap")
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, v := range vs {
		b, err := v.Hex()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
