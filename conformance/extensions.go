package conformance

import (
	"bytes"
	"errors"
	"slices"
	"sort"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// Cases for the credProtect, credBlob, largeBlobKey and minPinLength
// extensions (CTAP 2.1 §12.1 to §12.4) and thirdPartyPayment (CTAP 2.2
// §12). Cases that need user verification or discoverable credentials
// set a PIN on a factory-new key and pass pinUvAuthTokens (protocol 2, or
// 1 on a key that lists only 1);
// the others make non-discoverable credentials on the shared key.

// extCase is a case's handle on the key for extension requests; pc is nil
// when the case set no PIN.
type extCase struct {
	t  *T
	pc *pinCase
}

// needExtensions skips the case unless getInfo lists every extension.
func (t *T) needExtensions(exts ...string) {
	info := t.Ctap2().Info()
	for _, e := range exts {
		if !info.HasExtension(e) {
			t.Skipf("key does not list the %s extension", e)
		}
	}
}

// extShared is an extCase on the shared key, without a PIN.
func (t *T) extShared(exts ...string) *extCase {
	t.needExtensions(exts...)
	return &extCase{t: t}
}

// extWithPIN is an extCase on a factory-new key with testPIN set.
func (t *T) extWithPIN(exts ...string) *extCase {
	t.needFreshKey()
	t.needExtensions(exts...)
	pc := t.pinProtocol(t.listedPinProtocol())
	pc.setPIN()
	return &extCase{t: t, pc: pc}
}

// inputs builds a raw extensions map from name, value pairs.
func inputs(t *T, kv ...any) map[string]ctap.RawMessage {
	m := make(map[string]ctap.RawMessage)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = t.Encode(kv[i+1])
	}
	return m
}

// mcReq is a makeCredential request for label with ext; with uv it
// carries a pinUvAuthParam from a fresh mc token.
func (e *extCase) mcReq(label string, rk, uv bool, ext map[string]ctap.RawMessage) *ctap.MakeCredentialRequest {
	req := e.t.MakeCredentialRequest(label, rk)
	req.Extensions = ext
	if uv {
		e.authorize(ctap.PermissionMakeCredential, req.ClientDataHash, &req.PinUvAuthParam, &req.PinUvAuthProtocol)
	}
	return req
}

func (e *extCase) authorize(perm uint64, cdh []byte, param *[]byte, protocol **uint64) {
	if e.pc == nil {
		e.t.Fatalf("case error: user verification without a PIN")
	}
	tok := e.pc.token(perm, e.t.RPID())
	*param = e.pc.p.AuthParam(tok, cdh)
	*protocol = e.pc.protocol()
}

// mc sends makeCredential.
func (e *extCase) mc(label string, rk, uv bool, ext map[string]ctap.RawMessage) (*client.AttestationResponse, error) {
	return e.t.Ctap2().MakeCredential(e.t.ctx, e.mcReq(label, rk, uv, ext))
}

// mustMC makes a credential (discoverable ones with uv) and returns it.
func (e *extCase) mustMC(label string, rk bool, ext map[string]ctap.RawMessage) *Credential {
	return e.t.MustMakeCredential(e.mcReq(label, rk, rk && e.pc != nil, ext))
}

// gaReq is a getAssertion request with ext and allow; with uv it carries
// a pinUvAuthParam from a fresh ga token.
func (e *extCase) gaReq(label string, uv bool, ext map[string]ctap.RawMessage, allow ...*Credential) *ctap.GetAssertionRequest {
	req := e.t.GetAssertionRequest(label, allow...)
	req.Extensions = ext
	if uv {
		e.authorize(ctap.PermissionGetAssertion, req.ClientDataHash, &req.PinUvAuthParam, &req.PinUvAuthProtocol)
	}
	return req
}

// ga sends getAssertion.
func (e *extCase) ga(label string, uv bool, ext map[string]ctap.RawMessage, allow ...*Credential) (*client.AssertionResponse, error) {
	return e.t.Ctap2().GetAssertion(e.t.ctx, e.gaReq(label, uv, ext, allow...))
}

// mustGA gets an assertion and fails the case unless it is OK and names
// want.
func (e *extCase) mustGA(label string, uv bool, ext map[string]ctap.RawMessage, want *Credential, allow ...*Credential) *client.AssertionResponse {
	resp, err := e.ga(label, uv, ext, allow...)
	if err != nil {
		e.t.Fatalf("getAssertion (%s): %v", label, err)
	}
	if len(allow) == 1 {
		e.t.fillCredential(resp, []ctap.CredentialDescriptor{allow[0].Descriptor()})
	}
	if want != nil && (resp.Credential == nil || !bytes.Equal(resp.Credential.ID, want.ID)) {
		e.t.Fatalf("getAssertion (%s) returned credential %s, want %x", label, credString(resp.Credential), want.ID)
	}
	return resp
}

// outputKeys are the names of the extension outputs in authData, sorted;
// the ED flag must agree with their presence (WebAuthn §6.1).
func outputKeys(t *T, ad *ctap.AuthData) []string {
	m, err := ad.ExtensionOutputs()
	if err != nil {
		t.Fatalf("extension outputs: %v", err)
	}
	if (ad.Flags&ctap.FlagED != 0) != (m != nil) {
		t.Fatalf("ED flag %v with extension outputs %v", ad.Flags&ctap.FlagED != 0, m)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expectKeys fails unless authData's outputs are exactly want.
func expectKeys(t *T, what string, ad *ctap.AuthData, want ...string) {
	sort.Strings(want)
	if got := outputKeys(t, ad); !slices.Equal(got, want) {
		t.Fatalf("%s: extension outputs %v, want %v", what, got, want)
	}
}

func credOutputs(t *T, r *client.AttestationResponse) *client.CredentialExtensionOutputs {
	o, err := r.CredentialExtensions()
	if err != nil {
		t.Fatalf("makeCredential extension outputs: %v", err)
	}
	return o
}

func assertionOutputs(t *T, r *client.AssertionResponse) *client.AssertionExtensionOutputs {
	o, err := r.AssertionExtensions()
	if err != nil {
		t.Fatalf("getAssertion extension outputs: %v", err)
	}
	return o
}

// credProtectInput is the credProtect input for level.
func credProtectInput(level client.CredProtectPolicy) map[string]ctap.RawMessage {
	req := &ctap.MakeCredentialRequest{}
	client.MakeCredentialExtensions{CredProtect: level}.Apply(req)
	return req.Extensions
}

// credProtected makes a credential with credProtect level and checks the
// output.
func (e *extCase) credProtected(label string, rk bool, level client.CredProtectPolicy) *Credential {
	c := e.mustMC(label, rk, credProtectInput(level))
	expectKeys(e.t, "credProtect output", c.Response.AuthData, ctap.ExtCredProtect)
	Equal(e.t, "credProtect output", credOutputs(e.t, c.Response).CredProtect, level)
	return c
}

// enumerate lists the case RP's discoverable credentials with
// credentialManagement.
func (e *extCase) enumerate() []*ctap.CredentialManagementResponse {
	if !client.IsCredentialManagementSupported(e.t.Ctap2().Info()) {
		e.t.Skipf("key has no credential management")
	}
	tok := e.pc.token(ctap.PermissionCredentialManagement, "")
	cm, err := client.NewCredentialManagement(e.t.Ctap2(), e.pc.p, tok)
	if err != nil {
		e.t.Fatalf("CredentialManagement: %v", err)
	}
	h := e.t.RPIDHash()
	creds, err := cm.EnumerateCreds(e.t.ctx, h[:])
	if err != nil {
		e.t.Fatalf("enumerateCredentials: %v", err)
	}
	return creds
}

func init() {
	Register(extCases...)
	Register(credProtectCases...)
	Register(credBlobCases...)
	Register(largeBlobKeyCases...)
	Register(minPinLengthCases...)
	Register(thirdPartyPaymentCases...)
}

var extCases = []Case{
	{ID: "ext-getinfo", Section: "CTAP 2.1 §6.4 extensions (0x02), maxCredBlobLength (0x0F); §12.2",
		Title:    "getInfo extensions are distinct strings; with credBlob listed, maxCredBlobLength is at least 32",
		Versions: CTAP2,
		Run: func(t *T) {
			// Every extension is optional: the list is recorded, not
			// judged (§6.4: "List of supported extensions").
			info := t.info()
			seen := map[string]bool{}
			for _, e := range info.Extensions {
				if e == "" || seen[e] {
					t.Fatalf("extensions %q: empty or repeated %q", info.Extensions, e)
				}
				seen[e] = true
			}
			t.Observef("extensions %q", info.Extensions)
			if info.HasExtension(ctap.ExtCredBlob) && info.MaxCredBlobLength < 32 {
				t.Fatalf("credBlob listed with maxCredBlobLength %d, want at least 32", info.MaxCredBlobLength)
			}
		}},
	{ID: "ext-unknown-ignored", Section: "CTAP 2.1 §6.1.1, §6.2.1 (extensions)",
		Title:    "an unknown extension is ignored: makeCredential and getAssertion succeed without its output",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared()
			in := inputs(t, "example.com:unknown", map[string]int{"a": 1})
			c := e.mustMC("u", false, in)
			expectKeys(t, "makeCredential", c.Response.AuthData)
			r := e.mustGA("u", false, in, c, c)
			expectKeys(t, "getAssertion", r.AuthData)
		}},
	{ID: "ext-outputs-subset", Section: "CTAP 2.1 §6.1.2 step 15.2; WebAuthn §6.1 (ED flag)",
		Title:    "makeCredential with several extensions returns outputs only for inputs sent, with the ED flag",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredProtect, ctap.ExtThirdPartyPayment, ctap.ExtMinPinLength)
			c := e.mustMC("s", false, inputs(t, ctap.ExtCredProtect, 2, ctap.ExtThirdPartyPayment, true))
			expectKeys(t, "outputs", c.Response.AuthData, ctap.ExtCredProtect, ctap.ExtThirdPartyPayment)
		}},
}

var credProtectCases = []Case{
	{ID: "ext-credprotect-output", Section: "CTAP 2.1 §12.1",
		Title:    "credProtect 1, 2 and 3 on non-discoverable credentials: the output is the level applied",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredProtect)
			for _, l := range []client.CredProtectPolicy{1, 2, 3} {
				e.credProtected(Sprintf("l%d", l), false, l)
			}
		}},
	{ID: "ext-credprotect-type", Section: "CTAP 2.1 §12.1 (input: unsigned integer), §8 (CBOR types)",
		Title:    "credProtect as a text string or a negative integer should give CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
		Versions: CTAP2, Level: Should,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredProtect)
			for _, v := range []any{"3", -1} {
				_, err := e.mc("t", false, false, inputs(t, ctap.ExtCredProtect, v))
				t.ExpectStatus(err, ctap.StatusCBORUnexpectedType, Sprintf("credProtect %#v", v))
			}
		}},
	{ID: "ext-credprotect-invalid-level", Section: "CTAP 2.1 §12.1 (levels 1 to 3; no status given for others)",
		Title:    "credProtect 0 and 4: CTAP1_ERR_INVALID_PARAMETER, or a credential whose output is a valid level (never the invalid one)",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredProtect)
			for _, v := range []uint64{0, 4} {
				r, err := e.mc(Sprintf("i%d", v), false, false, inputs(t, ctap.ExtCredProtect, v))
				if errors.Is(err, ctap.StatusInvalidParameter) {
					continue
				}
				t.ExpectStatus(err, ctap.StatusOK, Sprintf("credProtect %d", v))
				if l := credOutputs(t, r).CredProtect; l != 0 && (l < 1 || l > 3) {
					t.Fatalf("credProtect %d: output %d", v, l)
				}
			}
		}},
	{ID: "ext-credprotect-l2-discoverable-no-uv", Section: "CTAP 2.1 §6.2.2 step 7.5, §12.1",
		Title:       "a discoverable userVerificationOptionalWithCredentialIDList credential is not found without allowList and without uv",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			e.credProtected("a", true, client.UserVerificationOptionalWithCredentialIDList)
			_, err := e.ga("no-list", false, nil)
			t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion without allowList and uv")
		}},
	{ID: "ext-credprotect-l2-allowlist-no-uv", Section: "CTAP 2.1 §6.2.2 step 7.5, §12.1",
		Title:       "a userVerificationOptionalWithCredentialIDList credential is used without uv when the allowList names it",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			c := e.credProtected("a", true, client.UserVerificationOptionalWithCredentialIDList)
			r := e.mustGA("list", false, nil, c, c)
			if r.AuthData.Flags&ctap.FlagUV != 0 {
				t.Fatalf("uv bit set without user verification")
			}
			n := e.credProtected("b", false, client.UserVerificationOptionalWithCredentialIDList)
			e.mustGA("list-nonrk", false, nil, n, n)
		}},
	{ID: "ext-credprotect-l2-uv", Section: "CTAP 2.1 §6.2.2 steps 7.4, 7.5, §12.1",
		Title:       "with a pinUvAuthToken, a userVerificationOptionalWithCredentialIDList credential is found without allowList",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			c := e.credProtected("a", true, client.UserVerificationOptionalWithCredentialIDList)
			r := e.mustGA("uv", true, nil, c)
			if r.AuthData.Flags&ctap.FlagUV == 0 {
				t.Fatalf("uv bit not set")
			}
		}},
	{ID: "ext-credprotect-l3-no-uv", Section: "CTAP 2.1 §6.2.2 step 7.4, §12.1",
		Title:       "without uv a userVerificationRequired credential is not found, with or without allowList",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			c := e.credProtected("a", true, client.UserVerificationRequired)
			_, err := e.ga("list", false, nil, c)
			t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion with allowList, no uv")
			_, err = e.ga("no-list", false, nil)
			t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion without allowList, no uv")
		}},
	{ID: "ext-credprotect-l3-nonrk-no-uv", Section: "CTAP 2.1 §6.2.2 step 7.4, §12.1",
		Title:    "a non-discoverable userVerificationRequired credential in the allowList is not found without uv",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredProtect)
			c := e.credProtected("a", false, client.UserVerificationRequired)
			_, err := e.ga("list", false, nil, c)
			t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion with allowList, no uv")
			_, err = e.t.Ctap2().GetAssertion(t.ctx, &ctap.GetAssertionRequest{RPID: t.RPID(), ClientDataHash: t.Hash("silent"),
				AllowList: []ctap.CredentialDescriptor{c.Descriptor()}, Options: map[string]bool{ctap.OptionUP: false}})
			t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion with up=false, no uv")
		}},
	{ID: "ext-credprotect-l3-uv", Section: "CTAP 2.1 §6.2.2 step 7.4, §12.1",
		Title:       "with a pinUvAuthToken a userVerificationRequired credential is found, with and without allowList, of both kinds",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			c := e.credProtected("a", true, client.UserVerificationRequired)
			n := e.credProtected("b", false, client.UserVerificationRequired)
			e.mustGA("no-list", true, nil, c)
			e.mustGA("list", true, nil, c, c)
			e.mustGA("nonrk", true, nil, n, n)
		}},
	{ID: "ext-credprotect-mixed", Section: "CTAP 2.1 §6.2.2 steps 7.4, 7.5; §12.1",
		Title:       "of levels 1, 2, 3 without allowList only level 1 is found without uv; all three with uv (numberOfCredentials 3)",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			c1 := e.credProtected("l1", true, client.UserVerificationOptional)
			e.credProtected("l2", true, client.UserVerificationOptionalWithCredentialIDList)
			e.credProtected("l3", true, client.UserVerificationRequired)
			r := e.mustGA("no-uv", false, nil, c1)
			if r.NumberOfCredentials != nil {
				t.Fatalf("numberOfCredentials %d without uv, want absent (one credential)", *r.NumberOfCredentials)
			}
			r = e.mustGA("uv", true, nil, nil)
			if r.NumberOfCredentials == nil || *r.NumberOfCredentials != 3 {
				t.Fatalf("numberOfCredentials %s with uv, want 3", deref(r.NumberOfCredentials))
			}
		}},
	{ID: "ext-credprotect-exclude-l3-no-uv", Section: "CTAP 2.1 §6.1.2 step 12.2",
		Title:    "a userVerificationRequired credential in the excludeList does not exclude without uv",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredProtect)
			c := e.credProtected("a", false, client.UserVerificationRequired)
			req := e.mcReq("b", false, false, nil)
			req.ExcludeList = []ctap.CredentialDescriptor{c.Descriptor()}
			t.MustMakeCredential(req)
		}},
	{ID: "ext-credprotect-exclude-l3-uv", Section: "CTAP 2.1 §6.1.2 step 12.2",
		Title:       "with a pinUvAuthToken a userVerificationRequired credential in the excludeList gives CTAP2_ERR_CREDENTIAL_EXCLUDED",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			c := e.credProtected("a", false, client.UserVerificationRequired)
			req := e.mcReq("b", false, true, nil)
			req.ExcludeList = []ctap.CredentialDescriptor{c.Descriptor()}
			_, err := t.Ctap2().MakeCredential(t.ctx, req)
			t.ExpectStatus(err, ctap.StatusCredentialExcluded, "makeCredential with uv")
		}},
	{ID: "ext-credprotect-exclude-l2", Section: "CTAP 2.1 §6.1.2 step 12.1",
		Title:    "a userVerificationOptionalWithCredentialIDList credential in the excludeList excludes without uv",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredProtect)
			c := e.credProtected("a", false, client.UserVerificationOptionalWithCredentialIDList)
			req := e.mcReq("b", false, false, nil)
			req.ExcludeList = []ctap.CredentialDescriptor{c.Descriptor()}
			_, err := t.Ctap2().MakeCredential(t.ctx, req)
			t.ExpectStatus(err, ctap.StatusCredentialExcluded, "makeCredential")
		}},
	{ID: "ext-credprotect-credman", Section: "CTAP 2.1 §6.8.4 (credProtect 0x0A), §12.1",
		Title:       "enumerateCredentials reports each discoverable credential's level, 1 without the extension",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredProtect)
			want := map[string]uint64{}
			for i, l := range []client.CredProtectPolicy{0, 2, 3} {
				label := Sprintf("u%d", i)
				var in map[string]ctap.RawMessage
				if l != 0 {
					in = credProtectInput(l)
				}
				e.mustMC(label, true, in)
				want["user:"+label] = max(uint64(l), 1)
			}
			creds := e.enumerate()
			Equal(t, "credentials", len(creds), 3)
			for _, c := range creds {
				if c.CredProtect == nil {
					t.Fatalf("credential %q without credProtect", c.User.ID)
				}
				Equal(t, Sprintf("credProtect of %q", c.User.ID), *c.CredProtect, want[string(c.User.ID)])
			}
		}},
}

var credBlobCases = []Case{
	{ID: "ext-credblob-rk", Section: "CTAP 2.1 §12.2",
		Title:       "a discoverable credential stores a credBlob of maxCredBlobLength bytes (output true) and getAssertion returns it",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredBlob)
			blob := bytes.Repeat([]byte{0xB1}, int(t.Ctap2().Info().MaxCredBlobLength))
			req := &ctap.MakeCredentialRequest{}
			client.MakeCredentialExtensions{CredBlob: blob}.Apply(req)
			c := e.mustMC("a", true, req.Extensions)
			expectKeys(t, "makeCredential", c.Response.AuthData, ctap.ExtCredBlob)
			if o := credOutputs(t, c.Response).CredBlob; o == nil || !*o {
				t.Fatalf("credBlob output %s, want true", deref(o))
			}
			ga := &ctap.GetAssertionRequest{}
			client.GetAssertionExtensions{CredBlob: true}.Apply(ga)
			for _, allow := range [][]*Credential{{c}, nil} {
				r := e.mustGA("b", false, ga.Extensions, c, allow...)
				expectKeys(t, "getAssertion", r.AuthData, ctap.ExtCredBlob)
				if got := assertionOutputs(t, r).CredBlob; !bytes.Equal(got, blob) {
					t.Fatalf("credBlob %x, want %x", got, blob)
				}
			}
		}},
	{ID: "ext-credblob-too-long", Section: "CTAP 2.1 §12.2",
		Title:       "a credBlob longer than maxCredBlobLength is not stored: output false, and getAssertion returns an empty byte string",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredBlob)
			blob := bytes.Repeat([]byte{0xB2}, int(t.Ctap2().Info().MaxCredBlobLength)+1)
			c := e.mustMC("a", true, inputs(t, ctap.ExtCredBlob, blob))
			if o := credOutputs(t, c.Response).CredBlob; o == nil || *o {
				t.Fatalf("credBlob output %s, want false", deref(o))
			}
			r := e.mustGA("b", false, inputs(t, ctap.ExtCredBlob, true), c, c)
			if got := assertionOutputs(t, r).CredBlob; got == nil || len(got) != 0 {
				t.Fatalf("credBlob %x, want an empty byte string", got)
			}
		}},
	{ID: "ext-credblob-none", Section: "CTAP 2.1 §12.2",
		Title:       "getAssertion credBlob true for a credential made without credBlob returns an empty byte string",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredBlob)
			c := e.mustMC("a", true, nil)
			r := e.mustGA("b", false, inputs(t, ctap.ExtCredBlob, true), c, c)
			expectKeys(t, "getAssertion", r.AuthData, ctap.ExtCredBlob)
			if got := assertionOutputs(t, r).CredBlob; got == nil || len(got) != 0 {
				t.Fatalf("credBlob %x, want an empty byte string", got)
			}
			r = e.mustGA("c", false, inputs(t, ctap.ExtCredBlob, false), c, c)
			expectKeys(t, "getAssertion with credBlob false", r.AuthData)
		}},
	{ID: "ext-credblob-nonrk", Section: "CTAP 2.1 §12.2",
		Title:    "credBlob on a non-discoverable credential: getAssertion returns the blob when the output was true, an empty byte string when false",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredBlob)
			blob := []byte("non-discoverable")
			c := e.mustMC("a", false, inputs(t, ctap.ExtCredBlob, blob))
			o := credOutputs(t, c.Response).CredBlob
			if o == nil {
				t.Fatalf("no credBlob output")
			}
			r := e.mustGA("b", false, inputs(t, ctap.ExtCredBlob, true), c, c)
			want := []byte{}
			if *o {
				want = blob
			}
			if got := assertionOutputs(t, r).CredBlob; !bytes.Equal(got, want) || got == nil {
				t.Fatalf("credBlob %x (stored: %v), want %x", got, *o, want)
			}
		}},
	{ID: "ext-credblob-type", Section: "CTAP 2.1 §12.2 (inputs: byte string, boolean), §8",
		Title:    "credBlob as a text string in makeCredential, or a byte string in getAssertion, should give CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
		Versions: CTAP2, Level: Should,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtCredBlob)
			_, err := e.mc("a", false, false, inputs(t, ctap.ExtCredBlob, "blob"))
			t.ExpectStatus(err, ctap.StatusCBORUnexpectedType, "makeCredential credBlob text")
			c := e.mustMC("b", false, nil)
			_, err = e.ga("c", false, inputs(t, ctap.ExtCredBlob, []byte{1}), c)
			t.ExpectStatus(err, ctap.StatusCBORUnexpectedType, "getAssertion credBlob bytes")
		}},
	{ID: "ext-credblob-getnext", Section: "CTAP 2.1 §6.3, §12.2",
		Title:       "getNextAssertion returns each credential's own credBlob",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtCredBlob)
			e.mustMC("old", true, inputs(t, ctap.ExtCredBlob, []byte("old")))
			e.mustMC("new", true, inputs(t, ctap.ExtCredBlob, []byte("new")))
			r := e.mustGA("a", false, inputs(t, ctap.ExtCredBlob, true), nil)
			got := map[string]string{string(r.User.ID): string(assertionOutputs(t, r).CredBlob)}
			n, err := t.Ctap2().GetNextAssertion(t.ctx)
			if err != nil {
				t.Fatalf("getNextAssertion: %v", err)
			}
			got[string(n.User.ID)] = string(assertionOutputs(t, n).CredBlob)
			Equal(t, "credBlob of user:old", got["user:old"], "old")
			Equal(t, "credBlob of user:new", got["user:new"], "new")
		}},
}

var largeBlobKeyCases = []Case{
	{ID: "ext-largeblobkey-rk", Section: "CTAP 2.1 §12.3, §6.1.2 (0x05), §6.2.2 (0x07), §6.8.4 (0x0B)",
		Title:       "largeBlobKey on a discoverable credential: a 32-byte key in member 0x05, not in authData; the same in getAssertion's 0x07 and enumerateCredentials",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtLargeBlobKey)
			req := &ctap.MakeCredentialRequest{}
			client.MakeCredentialExtensions{LargeBlobKey: true}.Apply(req)
			c := e.mustMC("a", true, req.Extensions)
			key := c.Response.LargeBlobKey
			Equal(t, "largeBlobKey length", len(key), 32)
			expectKeys(t, "makeCredential", c.Response.AuthData)
			ga := &ctap.GetAssertionRequest{}
			client.GetAssertionExtensions{LargeBlobKey: true}.Apply(ga)
			r := e.mustGA("b", false, ga.Extensions, c, c)
			if !bytes.Equal(r.LargeBlobKey, key) {
				t.Fatalf("getAssertion largeBlobKey %x, want %x", r.LargeBlobKey, key)
			}
			expectKeys(t, "getAssertion", r.AuthData)
			r = e.mustGA("c", false, nil, c, c)
			if r.LargeBlobKey != nil {
				t.Fatalf("largeBlobKey %x without the extension", r.LargeBlobKey)
			}
			creds := e.enumerate()
			Equal(t, "credentials", len(creds), 1)
			if !bytes.Equal(creds[0].LargeBlobKey, key) {
				t.Fatalf("enumerateCredentials largeBlobKey %x, want %x", creds[0].LargeBlobKey, key)
			}
		}},
	{ID: "ext-largeblobkey-nonrk", Section: "CTAP 2.1 §12.3",
		Title:    "largeBlobKey true for a non-discoverable credential gives CTAP2_ERR_INVALID_OPTION",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtLargeBlobKey)
			_, err := e.mc("a", false, false, inputs(t, ctap.ExtLargeBlobKey, true))
			t.ExpectStatus(err, ctap.StatusInvalidOption, "largeBlobKey with rk false")
		}},
	{ID: "ext-largeblobkey-false", Section: "CTAP 2.1 §12.3",
		Title:       "largeBlobKey false gives CTAP2_ERR_INVALID_OPTION in makeCredential and getAssertion",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtLargeBlobKey)
			_, err := e.mc("a", true, true, inputs(t, ctap.ExtLargeBlobKey, false))
			t.ExpectStatus(err, ctap.StatusInvalidOption, "makeCredential largeBlobKey false")
			c := e.mustMC("b", true, nil)
			_, err = e.ga("c", false, inputs(t, ctap.ExtLargeBlobKey, false), c)
			t.ExpectStatus(err, ctap.StatusInvalidOption, "getAssertion largeBlobKey false")
		}},
	{ID: "ext-largeblobkey-type", Section: "CTAP 2.1 §12.3 (input: boolean), §8",
		Title:       "largeBlobKey as an integer should give CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtLargeBlobKey)
			_, err := e.mc("a", true, true, inputs(t, ctap.ExtLargeBlobKey, 1))
			t.ExpectStatus(err, ctap.StatusCBORUnexpectedType, "largeBlobKey 1")
		}},
	{ID: "ext-largeblobkey-absent", Section: "CTAP 2.1 §12.3, §6.2.2 (0x07)",
		Title:       "getAssertion largeBlobKey true for a credential without a key leaves member 0x07 out",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtLargeBlobKey)
			c := e.mustMC("a", true, nil)
			r := e.mustGA("b", false, inputs(t, ctap.ExtLargeBlobKey, true), c, c)
			if r.LargeBlobKey != nil {
				t.Fatalf("largeBlobKey %x for a credential made without one", r.LargeBlobKey)
			}
		}},
}

var minPinLengthCases = []Case{
	{ID: "ext-minpinlength-rpid", Section: "CTAP 2.1 §12.4, §6.11.4",
		Title:       "after setMinPINLength with minPinLengthRPIDs naming the RP, minPinLength true returns the minimum PIN length; another RP gets no output",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtMinPinLength)
			if !client.IsConfigSupported(t.Ctap2().Info()) {
				t.Skipf("key has no authnrCfg option")
			}
			cf, err := client.NewConfig(t.Ctap2(), e.pc.p, e.pc.token(ctap.PermissionAuthenticatorConfig, ""))
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			t.ExpectStatus(cf.SetMinPINLength(t.ctx, 4, []string{t.RPID()}, false), ctap.StatusOK, "setMinPINLength")
			req := &ctap.MakeCredentialRequest{}
			client.MakeCredentialExtensions{MinPinLength: true}.Apply(req)
			c := e.mustMC("a", false, req.Extensions)
			expectKeys(t, "listed RP", c.Response.AuthData, ctap.ExtMinPinLength)
			o := credOutputs(t, c.Response).MinPinLength
			if o == nil || *o != t.info().MinPINLength {
				t.Fatalf("minPinLength output %s, want %d", deref(o), t.info().MinPINLength)
			}
			other := e.mcReq("b", false, false, req.Extensions)
			other.RP.ID = "other." + t.RPID()
			oc := t.MustMakeCredential(other)
			expectKeys(t, "unlisted RP", oc.Response.AuthData)
		}},
	{ID: "ext-minpinlength-unlisted", Section: "CTAP 2.1 §12.4",
		Title:    "minPinLength true for an RP not in minPinLengthRPIDs, or false, gives no output",
		Versions: CTAP2, Level: Should,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtMinPinLength)
			for _, v := range []bool{true, false} {
				c := e.mustMC(Sprintf("%v", v), false, inputs(t, ctap.ExtMinPinLength, v))
				expectKeys(t, Sprintf("minPinLength %v", v), c.Response.AuthData)
			}
		}},
	{ID: "ext-minpinlength-type", Section: "CTAP 2.1 §12.4 (input: boolean), §8",
		Title:    "minPinLength as a byte string should give CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
		Versions: CTAP2, Level: Should,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtMinPinLength)
			_, err := e.mc("a", false, false, inputs(t, ctap.ExtMinPinLength, []byte{1}))
			t.ExpectStatus(err, ctap.StatusCBORUnexpectedType, "minPinLength bytes")
		}},
}

var thirdPartyPaymentCases = []Case{
	{ID: "ext-thirdpartypayment-nonrk", Section: "CTAP 2.2 §12 (thirdPartyPayment)",
		Title:    "thirdPartyPayment true: output true in makeCredential, and getAssertion thirdPartyPayment true returns true",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtThirdPartyPayment)
			req := &ctap.MakeCredentialRequest{}
			client.MakeCredentialExtensions{ThirdPartyPayment: true}.Apply(req)
			c := e.mustMC("a", false, req.Extensions)
			if o := credOutputs(t, c.Response).ThirdPartyPayment; o == nil || !*o {
				t.Fatalf("thirdPartyPayment output %s, want true", deref(o))
			}
			ga := &ctap.GetAssertionRequest{}
			client.GetAssertionExtensions{ThirdPartyPayment: true}.Apply(ga)
			r := e.mustGA("b", false, ga.Extensions, c, c)
			if o := assertionOutputs(t, r).ThirdPartyPayment; o == nil || !*o {
				t.Fatalf("getAssertion thirdPartyPayment %s, want true", deref(o))
			}
			r = e.mustGA("c", false, nil, c, c)
			expectKeys(t, "getAssertion without the extension", r.AuthData)
		}},
	{ID: "ext-thirdpartypayment-unset", Section: "CTAP 2.2 §12 (thirdPartyPayment)",
		Title:    "getAssertion thirdPartyPayment true for a credential made without it returns false",
		Versions: CTAP2,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtThirdPartyPayment)
			c := e.mustMC("a", false, nil)
			r := e.mustGA("b", false, inputs(t, ctap.ExtThirdPartyPayment, true), c, c)
			if o := assertionOutputs(t, r).ThirdPartyPayment; o == nil || *o {
				t.Fatalf("thirdPartyPayment %s, want false", deref(o))
			}
		}},
	{ID: "ext-thirdpartypayment-type", Section: "CTAP 2.2 §12 (thirdPartyPayment input: boolean), CTAP 2.1 §8",
		Title:    "thirdPartyPayment as a text string should give CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
		Versions: CTAP2, Level: Should,
		Run: func(t *T) {
			e := t.extShared(ctap.ExtThirdPartyPayment)
			_, err := e.mc("a", false, false, inputs(t, ctap.ExtThirdPartyPayment, "true"))
			t.ExpectStatus(err, ctap.StatusCBORUnexpectedType, "thirdPartyPayment text")
		}},
	{ID: "ext-thirdpartypayment-credman", Section: "CTAP 2.2 §6.8.4 (thirdPartyPayment 0x0C), §12",
		Title:       "enumerateCredentials reports thirdPartyPayment true for a discoverable credential made with it",
		Destructive: true,
		Versions:    CTAP2,
		Run: func(t *T) {
			e := t.extWithPIN(ctap.ExtThirdPartyPayment)
			c := e.mustMC("a", true, inputs(t, ctap.ExtThirdPartyPayment, true))
			if o := credOutputs(t, c.Response).ThirdPartyPayment; o == nil || !*o {
				t.Fatalf("thirdPartyPayment output %s, want true", deref(o))
			}
			r := e.mustGA("b", false, inputs(t, ctap.ExtThirdPartyPayment, true), c)
			if o := assertionOutputs(t, r).ThirdPartyPayment; o == nil || !*o {
				t.Fatalf("getAssertion thirdPartyPayment %s, want true", deref(o))
			}
			creds := e.enumerate()
			Equal(t, "credentials", len(creds), 1)
			if p := creds[0].ThirdPartyPayment; p == nil || !*p {
				t.Fatalf("enumerateCredentials thirdPartyPayment %s, want true", deref(p))
			}
		}},
}
