package conformance

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// authenticatorCredentialManagement cases (CTAP 2.1 §6.8). Each is
// declared once (credManCase) and runs under both command codes: 0x0A
// with the key's preferred PIN/UV auth protocol (IDs "cm-0a-..."), on a
// key that lists credMgmt, and 0x41, the 2.1-PRE code libfido2 1.12
// sends, with the last protocol the key lists ("cm-41-..."), on a key that
// lists credentialMgmtPreview. They set a PIN, so they are destructive and
// start from a factory-new key. On a key without the pinUvAuthToken option
// (a 2.1-PRE key) the token comes from getPinToken and the cases about
// token permissions and RP-bound tokens skip; where CTAP 2.1 names a
// status that the prototype did not, any error passes and is recorded.

// cmCase is a case's handle on credentialManagement with one command
// code and one protocol.
type cmCase struct {
	t   *T
	pc  *pinCase
	cmd ctap.Command
	cm  *client.CredentialManagement
	// creds are the discoverable credentials made before the PIN.
	creds []*Credential
}

// otherRPID is a second RP of the case's own.
func (t *T) otherRPID() string { return "other." + t.RPID() }

// newCMCase starts a case with command code k on a factory-new key: it
// makes a discoverable credential per label (a label starting with
// "other:" is for otherRPID), then sets testPIN and takes a token with the
// cm permission and no RP ID (getPinToken's, with every permission, on a
// key without the pinUvAuthToken option).
func (t *T) newCMCase(k cmCode, labels ...string) *cmCase {
	if on, _ := t.Ctap2().Info().Option(k.option); !on {
		t.skipFeature("the key does not list the %s option", k.option)
	}
	pc := t.pinProtocol(k.protocol(t))
	pc.freshKey()
	c := &cmCase{t: t, pc: pc, cmd: k.cmd}
	for _, l := range labels {
		req := t.residentRequest(l)
		if rest, ok := strings.CutPrefix(l, "other:"); ok {
			req.RP.ID = t.otherRPID()
			req.User.ID = []byte("user:" + rest)
		}
		c.creds = append(c.creds, t.MustMakeCredential(req))
	}
	pc.setPIN()
	c.useToken(ctap.PermissionCredentialManagement, "")
	return c
}

// needUpdateUser skips a case about updateUserInformation (CTAP 2.1
// §6.8.6), which the 2.1-PRE prototype lacks, on a key without credMgmt.
func (t *T) needUpdateUser() {
	if !client.IsCredentialManagementUpdateSupported(t.Ctap2().Info()) {
		t.skipFeature("updateUserInformation is CTAP 2.1's: the key has no credMgmt option")
	}
}

// useToken replaces the token with a new one of permissions and rpID.
func (c *cmCase) useToken(permissions uint64, rpID string) {
	cm, err := client.NewCredentialManagement(c.t.Ctap2(), c.pc.p, c.pc.token(permissions, rpID))
	if err != nil {
		c.t.Fatalf("CredentialManagement: %v", err)
	}
	c.cm = cm
}

// request builds subCommand with params, authenticated unless it is a
// GetNext subcommand.
func (c *cmCase) request(sub uint64, params *ctap.CredentialManagementParams) *ctap.CredentialManagementRequest {
	auth := sub != ctap.CredMgmtEnumerateRPsGetNextRP && sub != ctap.CredMgmtEnumerateCredentialsGetNextCredential
	req, err := c.cm.Request(sub, params, auth)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	return req
}

// send sends req with the case's command code.
func (c *cmCase) send(req *ctap.CredentialManagementRequest) (*ctap.CredentialManagementResponse, error) {
	var resp ctap.CredentialManagementResponse
	err := c.t.Ctap2().SendCBOR(c.t.ctx, c.cmd, req, &resp)
	return &resp, err
}

func (c *cmCase) call(sub uint64, params *ctap.CredentialManagementParams) (*ctap.CredentialManagementResponse, error) {
	return c.send(c.request(sub, params))
}

// mustCall calls sub and fails the case unless it answers CTAP2_OK.
func (c *cmCase) mustCall(what string, sub uint64, params *ctap.CredentialManagementParams) *ctap.CredentialManagementResponse {
	resp, err := c.call(sub, params)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	return resp
}

func rpIDHashParams(rpID string) *ctap.CredentialManagementParams {
	h := sha256.Sum256([]byte(rpID))
	return &ctap.CredentialManagementParams{RPIDHash: h[:]}
}

func credIDParams(cred *Credential) *ctap.CredentialManagementParams {
	d := cred.Descriptor()
	return &ctap.CredentialManagementParams{CredentialID: &d}
}

// remaining returns getInfo's remainingDiscoverableCredentials.
func (c *cmCase) remaining() uint64 {
	info, err := c.t.Ctap2().GetInfo(c.t.ctx)
	if err != nil {
		c.t.Fatalf("getInfo: %v", err)
	}
	if info.RemainingDiscCreds == nil {
		c.t.Skipf("getInfo has no remainingDiscoverableCredentials")
	}
	return *info.RemainingDiscCreds
}

func u64v(p *uint64) any {
	if p == nil {
		return "absent"
	}
	return *p
}

// removeAfter removes the discoverable credentials ids when the case
// ends, with the suite's cleanup (T.removeResidents: credentialManagement
// deleteCredential, CTAP 2.1 §6.8.5, authorized by built-in UV or the PIN
// the run knows).
func (t *T) removeAfter(ids ...[]byte) {
	for _, id := range ids {
		t.keepResident(t.RPID(), id)
	}
}

// cmCode is a command code credentialManagement runs under: 0x0A of
// CTAP 2.1 (§6.8), with the key's preferred PIN/UV auth protocol, and
// 0x41, the 2.1-PRE code libfido2 1.12 sends (§6.13), with the last
// protocol the key lists, so that a key with two protocols is checked
// with both.
type cmCode struct {
	cmd      ctap.Command
	name     string // in the case ID: "0a", "41"
	option   string // the getInfo option that announces the code
	versions []Version
	protocol func(t *T) uint64
}

var cmCodes = []cmCode{
	{ctap.CmdCredentialManagement, "0a", ctap.OptionCredMgmt, CTAP21, (*T).preferredProtocol},
	{ctap.CmdCredentialManagementPre, "41", ctap.OptionCredentialMgmtPreview, CTAP21PRE, (*T).otherProtocol},
}

// A credManCase is a credentialManagement case declared once and run
// under each command code (cmCodes), as "cm-0a-<ID>" and "cm-41-<ID>";
// the code sets the versions. Every variant is destructive: it starts
// from a factory-new key and sets a PIN.
type credManCase struct {
	Case
	Body func(t *T, k cmCode)
}

func perCommandCode(cases ...credManCase) []Case {
	var out []Case
	for _, k := range cmCodes {
		for _, cc := range cases {
			c, body := cc.Case, cc.Body
			c.ID = fmt.Sprintf("cm-%s-%s", k.name, c.ID)
			c.Title = fmt.Sprintf("%v: %s", k.cmd, c.Title)
			c.Versions = k.versions
			c.Destructive = true
			c.Run = func(t *T) { body(t, k) }
			out = append(out, c)
		}
	}
	return out
}

func init() {
	Register(Case{ID: "cm-info-options", Section: "CTAP 2.1 §6.4, §6.8, §6.13", Versions: CTAP21, Level: May,
		Title: "a key with credMgmt MAY also list credentialMgmtPreview, for platforms that send only 0x41 (libfido2 1.12)",
		Run: func(t *T) {
			info := t.Ctap2().Info()
			if v, _ := info.Option(ctap.OptionCredMgmt); !v {
				t.skipFeature("the key has no credMgmt option")
			}
			if v, _ := info.Option(ctap.OptionCredentialMgmtPreview); !v {
				t.Fatalf("credMgmt without credentialMgmtPreview: platforms that know only 0x41 (libfido2 1.12) cannot manage the key's credentials")
			}
		}})

	Register(perCommandCode(
		credManCase{Case{ID: "metadata-empty", Section: "CTAP 2.1 §6.8.2",
			Title: "getCredsMetadata on an empty key: 0 existing, remaining = getInfo remainingDiscoverableCredentials"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k)
				r := c.mustCall("getCredsMetadata", ctap.CredMgmtGetCredsMetadata, nil)
				Equal(t, "existingResidentCredentialsCount", u64v(r.ExistingResidentCredentialsCount), any(uint64(0)))
				Equal(t, "maxPossibleRemainingResidentCredentialsCount", u64v(r.MaxPossibleRemainingResidentCredentialsCount), any(c.remaining()))
			}},
		credManCase{Case{ID: "metadata-counts", Section: "CTAP 2.1 §6.8.2, §6.4",
			Title: "getCredsMetadata counts 2 credentials; remaining equals getInfo's"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "other:b")
				r := c.mustCall("getCredsMetadata", ctap.CredMgmtGetCredsMetadata, nil)
				Equal(t, "existingResidentCredentialsCount", u64v(r.ExistingResidentCredentialsCount), any(uint64(2)))
				Equal(t, "maxPossibleRemainingResidentCredentialsCount", u64v(r.MaxPossibleRemainingResidentCredentialsCount), any(c.remaining()))
			}},
		credManCase{Case{ID: "rps-empty", Section: "CTAP 2.1 §6.8.3",
			Title: "enumerateRPsBegin on an empty key gives CTAP2_ERR_NO_CREDENTIALS"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k)
				_, err := c.call(ctap.CredMgmtEnumerateRPsBegin, nil)
				t.ExpectStatus(err, ctap.StatusNoCredentials, "enumerateRPsBegin")
			}},
		credManCase{Case{ID: "creds-empty", Section: "CTAP 2.1 §6.8.4",
			Title: "enumerateCredentialsBegin for an RP without credentials gives CTAP2_ERR_NO_CREDENTIALS"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a")
				_, err := c.call(ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.otherRPID()))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "enumerateCredentialsBegin")
			}},
		credManCase{Case{ID: "enumerate-rps", Section: "CTAP 2.1 §6.8.3",
			Title: "two RPs: rp, rpIDHash and totalRPs 2, then the other RP without totalRPs, then CTAP2_ERR_NOT_ALLOWED"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "other:b", "c")
				first := c.mustCall("enumerateRPsBegin", ctap.CredMgmtEnumerateRPsBegin, nil)
				Equal(t, "totalRPs", u64v(first.TotalRPs), any(uint64(2)))
				next := c.mustCall("enumerateRPsGetNextRP", ctap.CredMgmtEnumerateRPsGetNextRP, nil)
				if next.TotalRPs != nil {
					t.Errorf("enumerateRPsGetNextRP carries totalRPs")
				}
				seen := map[string]bool{}
				for _, r := range []*ctap.CredentialManagementResponse{first, next} {
					if r.RP == nil {
						t.Fatalf("response without rp")
					}
					h := sha256.Sum256([]byte(r.RP.ID))
					if !bytes.Equal(r.RPIDHash, h[:]) {
						t.Errorf("rpIDHash of %s is not SHA-256(rp.id)", r.RP.ID)
					}
					seen[r.RP.ID] = true
				}
				if !seen[t.RPID()] || !seen[t.otherRPID()] {
					t.Errorf("RPs %v, want %s and %s", seen, t.RPID(), t.otherRPID())
				}
				_, err := c.call(ctap.CredMgmtEnumerateRPsGetNextRP, nil)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "enumerateRPsGetNextRP past the end")
			}},
		credManCase{Case{ID: "enumerate-creds", Section: "CTAP 2.1 §6.8.4",
			Title: "two credentials of an RP: user, credentialID and publicKey as made; totalCredentials in Begin only; then CTAP2_ERR_NOT_ALLOWED"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "b", "other:c")
				first := c.mustCall("enumerateCredentialsBegin", ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.RPID()))
				Equal(t, "totalCredentials", u64v(first.TotalCredentials), any(uint64(2)))
				next := c.mustCall("enumerateCredentialsGetNextCredential", ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil)
				if next.TotalCredentials != nil {
					t.Errorf("GetNextCredential carries totalCredentials")
				}
				found := 0
				for _, r := range []*ctap.CredentialManagementResponse{first, next} {
					if r.User == nil || r.CredentialID == nil || r.PublicKey == nil {
						t.Fatalf("credential without user, credentialID or publicKey: user %+v, credentialID %+v, publicKey present %t",
							deref(r.User), deref(r.CredentialID), r.PublicKey != nil)
					}
					Equal(t, "credentialID.type", r.CredentialID.Type, ctap.CredentialTypePublicKey)
					if r.CredProtect != nil && (*r.CredProtect < 1 || *r.CredProtect > 3) {
						t.Errorf("credProtect %d", *r.CredProtect)
					}
					for _, made := range c.creds[:2] {
						if bytes.Equal(made.ID, r.CredentialID.ID) {
							found++
							if !bytes.Equal(r.User.ID, made.User.ID) || r.User.Name != made.User.Name || r.User.DisplayName != made.User.DisplayName {
								t.Errorf("user %+v, want %+v", *r.User, *made.User)
							}
							if !bytes.Equal(t.Encode(*r.PublicKey), t.Encode(made.PublicKey)) {
								t.Errorf("publicKey differs from makeCredential's")
							}
						}
					}
				}
				Equal(t, "credentials matched", found, 2)
				_, err := c.call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "GetNextCredential past the end")
			}},
		credManCase{Case{ID: "getnext-without-begin", Section: "CTAP 2.1 §6.8.3, §6.8.4",
			Title: "GetNextRP and GetNextCredential without a Begin give CTAP2_ERR_NOT_ALLOWED"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a")
				_, err := c.call(ctap.CredMgmtEnumerateRPsGetNextRP, nil)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "enumerateRPsGetNextRP")
				_, err = c.call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "enumerateCredentialsGetNextCredential")
			}},
		credManCase{Case{ID: "state-cleared-by-command", Section: "CTAP 2.1 §6.8.3",
			Title: "getInfo between enumerateRPsBegin and GetNextRP ends the enumeration: CTAP2_ERR_NOT_ALLOWED"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "other:b")
				c.mustCall("enumerateRPsBegin", ctap.CredMgmtEnumerateRPsBegin, nil)
				if _, err := t.Ctap2().GetInfo(t.ctx); err != nil {
					t.Fatalf("getInfo: %v", err)
				}
				_, err := c.call(ctap.CredMgmtEnumerateRPsGetNextRP, nil)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "enumerateRPsGetNextRP after getInfo")
			}},
		credManCase{Case{ID: "state-cleared-by-subcommand", Section: "CTAP 2.1 §6.8.4",
			Title: "getCredsMetadata between enumerateCredentialsBegin and GetNextCredential ends the enumeration"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "b")
				c.mustCall("enumerateCredentialsBegin", ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.RPID()))
				c.mustCall("getCredsMetadata", ctap.CredMgmtGetCredsMetadata, nil)
				_, err := c.call(ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "GetNextCredential after getCredsMetadata")
			}},
		credManCase{Case{ID: "state-cleared-by-power-cycle", Section: "CTAP 2.1 §6.8.3", Needs: []Capability{CapPowerCycle},
			Title: "a power cycle between enumerateRPsBegin and GetNextRP ends the enumeration"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "other:b")
				c.mustCall("enumerateRPsBegin", ctap.CredMgmtEnumerateRPsBegin, nil)
				t.PowerCycle()
				_, err := c.call(ctap.CredMgmtEnumerateRPsGetNextRP, nil)
				t.ExpectStatus(err, ctap.StatusNotAllowed, "enumerateRPsGetNextRP after a power cycle")
			}},
		credManCase{Case{ID: "puat-required", Section: "CTAP 2.1 §6.8.2 step 1",
			Title: "getCredsMetadata without pinUvAuthParam gives CTAP2_ERR_PUAT_REQUIRED"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k)
				req := c.request(ctap.CredMgmtGetCredsMetadata, nil)
				req.PinUvAuthParam, req.PinUvAuthProtocol = nil, nil
				_, err := c.send(req)
				t.ExpectStatus(err, ctap.StatusPUATRequired, "getCredsMetadata without pinUvAuthParam")
			}},
		credManCase{Case{ID: "protocol-unsupported", Section: "CTAP 2.1 §6.8.2 step 2",
			Title: "pinUvAuthProtocol 99 gives CTAP1_ERR_INVALID_PARAMETER"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k)
				req := c.request(ctap.CredMgmtGetCredsMetadata, nil)
				req.PinUvAuthProtocol = u64(99)
				_, err := c.send(req)
				t.ExpectStatus21(err, ctap.StatusInvalidParameter, "pinUvAuthProtocol 99")
			}},
		credManCase{Case{ID: "bad-auth", Section: "CTAP 2.1 §6.8.2 step 3",
			Title: "a pinUvAuthParam with a flipped bit gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k)
				req := c.request(ctap.CredMgmtGetCredsMetadata, nil)
				req.PinUvAuthParam[0] ^= 1
				_, err := c.send(req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "flipped pinUvAuthParam")
			}},
		credManCase{Case{ID: "auth-covers-params", Section: "CTAP 2.1 §6.8.4 step 5",
			Title: "a pinUvAuthParam over another rpIDHash gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "other:b")
				req := c.request(ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.otherRPID()))
				req.SubCommandParams = t.Encode(rpIDHashParams(t.RPID()))
				_, err := c.send(req)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "subCommandParams changed after the MAC")
			}},
		credManCase{Case{ID: "no-cm-permission", Section: "CTAP 2.1 §6.8.2 step 4",
			Title: "a token with mc and ga but not cm gives CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, k cmCode) {
				t.needTokenOption()
				c := t.newCMCase(k, "a")
				c.useToken(ctap.PermissionMakeCredential|ctap.PermissionGetAssertion, "")
				_, err := c.call(ctap.CredMgmtGetCredsMetadata, nil)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "getCredsMetadata with an mc|ga token")
				_, err = c.call(ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.RPID()))
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "enumerateCredentialsBegin with an mc|ga token")
			}},
		credManCase{Case{ID: "rp-token-own-rp", Section: "CTAP 2.1 §6.8.4 step 6",
			Title: "a cm token bound to the RP enumerates that RP's credentials"},
			func(t *T, k cmCode) {
				t.needTokenOption()
				c := t.newCMCase(k, "a", "other:b")
				c.useToken(ctap.PermissionCredentialManagement, t.RPID())
				r := c.mustCall("enumerateCredentialsBegin with an RP-bound token", ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.RPID()))
				Equal(t, "totalCredentials", u64v(r.TotalCredentials), any(uint64(1)))
			}},
		credManCase{Case{ID: "rp-token-other-rp", Section: "CTAP 2.1 §6.8.4 step 6, §6.8.5",
			Title: "a cm token bound to one RP is refused for another RP's credentials: CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, k cmCode) {
				t.needTokenOption()
				c := t.newCMCase(k, "a", "other:b")
				c.useToken(ctap.PermissionCredentialManagement, t.RPID())
				_, err := c.call(ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.otherRPID()))
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "enumerateCredentialsBegin of another RP")
				_, err = c.call(ctap.CredMgmtDeleteCredential, credIDParams(c.creds[1]))
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "deleteCredential of another RP's credential")
			}},
		credManCase{Case{ID: "rp-token-whole-key", Section: "CTAP 2.1 §6.8.2 step 4, §6.8.3",
			Title: "a cm token bound to an RP cannot read metadata or enumerate RPs: CTAP2_ERR_PIN_AUTH_INVALID"},
			func(t *T, k cmCode) {
				t.needTokenOption()
				c := t.newCMCase(k, "a")
				c.useToken(ctap.PermissionCredentialManagement, t.RPID())
				_, err := c.call(ctap.CredMgmtGetCredsMetadata, nil)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "getCredsMetadata with an RP-bound token")
				_, err = c.call(ctap.CredMgmtEnumerateRPsBegin, nil)
				t.ExpectStatus(err, ctap.StatusPINAuthInvalid, "enumerateRPsBegin with an RP-bound token")
			}},
		credManCase{Case{ID: "delete", Section: "CTAP 2.1 §6.8.5",
			Title: "deleteCredential: getAssertion then gives CTAP2_ERR_NO_CREDENTIALS, the count drops, a second delete gives CTAP2_ERR_NO_CREDENTIALS"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a", "b")
				before := c.remaining()
				c.mustCall("deleteCredential", ctap.CredMgmtDeleteCredential, credIDParams(c.creds[0]))
				_, err := t.Ctap2().GetAssertion(t.ctx, t.GetAssertionRequest("after delete", c.creds[0]))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "getAssertion of the deleted credential")
				r := c.mustCall("getCredsMetadata", ctap.CredMgmtGetCredsMetadata, nil)
				Equal(t, "existingResidentCredentialsCount", u64v(r.ExistingResidentCredentialsCount), any(uint64(1)))
				Equal(t, "remainingDiscoverableCredentials", c.remaining(), before+1)
				_, err = c.call(ctap.CredMgmtDeleteCredential, credIDParams(c.creds[0]))
				t.ExpectStatus(err, ctap.StatusNoCredentials, "deleting it again")
				t.MustGetAssertion(t.GetAssertionRequest("other credential", c.creds[1]))
			}},
		credManCase{Case{ID: "delete-missing-id", Section: "CTAP 2.1 §6.8.5 step 2",
			Title: "deleteCredential without credentialId gives CTAP2_ERR_MISSING_PARAMETER"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k, "a")
				_, err := c.call(ctap.CredMgmtDeleteCredential, &ctap.CredentialManagementParams{})
				t.ExpectStatus(err, ctap.StatusMissingParameter, "deleteCredential without credentialId")
				_, err = c.call(ctap.CredMgmtEnumerateCredentialsBegin, nil)
				t.ExpectStatus(err, ctap.StatusMissingParameter, "enumerateCredentialsBegin without subCommandParams")
			}},
		credManCase{Case{ID: "update-user", Section: "CTAP 2.1 §6.8.6",
			Title: "updateUserInformation replaces name and removes an empty displayName"},
			func(t *T, k cmCode) {
				t.needUpdateUser()
				c := t.newCMCase(k, "a")
				p := credIDParams(c.creds[0])
				p.User = &ctap.UserEntity{ID: c.creds[0].User.ID, Name: "renamed@example.com"}
				c.mustCall("updateUserInformation", ctap.CredMgmtUpdateUserInformation, p)
				r := c.mustCall("enumerateCredentialsBegin", ctap.CredMgmtEnumerateCredentialsBegin, rpIDHashParams(t.RPID()))
				if r.User == nil || r.User.Name != "renamed@example.com" || r.User.DisplayName != "" || !bytes.Equal(r.User.ID, c.creds[0].User.ID) {
					t.Errorf("user after update %+v", deref(r.User))
				}
			}},
		credManCase{Case{ID: "update-wrong-user", Section: "CTAP 2.1 §6.8.6",
			Title: "updateUserInformation with another user.id gives CTAP1_ERR_INVALID_PARAMETER"},
			func(t *T, k cmCode) {
				t.needUpdateUser()
				c := t.newCMCase(k, "a")
				p := credIDParams(c.creds[0])
				p.User = &ctap.UserEntity{ID: []byte("someone else"), Name: "x"}
				_, err := c.call(ctap.CredMgmtUpdateUserInformation, p)
				t.ExpectStatus(err, ctap.StatusInvalidParameter, "updateUserInformation with another user.id")
			}},
		credManCase{Case{ID: "unknown-subcommand", Section: "CTAP 2.1 §6.8",
			Title: "subCommand 0x20 gives CTAP2_ERR_INVALID_SUBCOMMAND"},
			func(t *T, k cmCode) {
				c := t.newCMCase(k)
				_, err := c.call(0x20, nil)
				t.ExpectStatus21(err, ctap.StatusInvalidSubcommand, "subCommand 0x20")
			}},
	)...)
}
