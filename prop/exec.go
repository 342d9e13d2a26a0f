package prop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/virtkey/virtkey/client"
	"github.com/virtkey/virtkey/ctap"
)

// maxEnumerated bounds what the client collects of an enumeration or a
// getAssertion's numberOfCredentials.
const maxEnumerated = 1000

// executor runs actions against the key and the model side by side.
type executor struct {
	cfg   *Config
	m     *model
	rand  *rand.ChaCha8
	dev   *client.Device
	c     *client.Ctap2
	proto *client.PinProtocol
	// pinSupported: the key has clientPIN (getInfo option clientPin
	// present); lists21: it lists FIDO_2_1, whose order rules apply.
	pinSupported, lists21 bool
	n                     int // step number, for distinct clientDataHashes
}

// open connects (again, after a power cycle) and reads getInfo.
func (ex *executor) open(ctx context.Context) error {
	if ex.dev != nil {
		ex.dev.Close()
	}
	dev, err := ex.cfg.Open(ctx)
	if err != nil {
		return errTarget{fmt.Errorf("opening the key: %w", err)}
	}
	// The model's universe is a few RPs and users: a key that announces
	// more than maxEnumerated credentials or RPs is wrong already.
	c, err := client.New(ctx, dev, client.WithMaxCredentials(maxEnumerated))
	if err != nil {
		dev.Close()
		return errTarget{fmt.Errorf("getInfo: %w", err)}
	}
	ex.dev, ex.c = dev, c
	info := c.Info()
	_, ex.pinSupported = info.Option(ctap.OptionClientPIN)
	ex.lists21 = info.Supports(ctap.VersionFIDO21)
	ex.proto = client.PinProtocolV1()
	if slices.Contains(info.PinUvProtocols, 2) {
		ex.proto = client.PinProtocolV2()
	}
	return nil
}

func (ex *executor) clientPin() (*client.ClientPin, error) {
	cp, err := client.NewClientPin(ex.c, ex.proto)
	if err != nil {
		return nil, err
	}
	cp.Rand = ex.rand
	return cp, nil
}

func (ex *executor) hash() []byte {
	ex.n++
	h := sha256.Sum256(fmt.Appendf(nil, "prop/clientDataHash/%d", ex.n))
	return h[:]
}

// outcome is what a command came back with: a status, or a failure to
// get one (a transport error, an answer that does not parse).
type outcome struct {
	st  ctap.Status
	err error // not a CTAP status
}

func outcomeOf(err error) outcome {
	if err == nil {
		return outcome{st: ctap.StatusOK}
	}
	var st ctap.Status
	if errors.As(err, &st) {
		return outcome{st: st}
	}
	return outcome{err: err}
}

func (o outcome) String() string {
	if o.err != nil {
		return "no status: " + o.err.Error()
	}
	return o.st.String()
}

// stepper collects one step's expectation and verdict.
type stepper struct {
	s Step
}

func (sp *stepper) want(format string, args ...any) { sp.s.Want = fmt.Sprintf(format, args...) }
func (sp *stepper) got(format string, args ...any)  { sp.s.Got = fmt.Sprintf(format, args...) }

// fail marks the step failed with what the key did.
func (sp *stepper) fail(format string, args ...any) {
	sp.s.Failed = true
	sp.s.Got = fmt.Sprintf(format, args...)
}

// expect compares an outcome with the statuses the model allows; it
// reports whether the outcome was OK and expected.
func (sp *stepper) expect(o outcome, allowed ...ctap.Status) bool {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = a.String()
	}
	if sp.s.Want == "" {
		sp.s.Want = strings.Join(names, " or ")
	}
	sp.s.Got = o.String()
	if o.err != nil || !slices.Contains(allowed, o.st) {
		sp.s.Failed = true
		return false
	}
	return o.st == ctap.StatusOK
}

// step runs action a as step n.
func (ex *executor) step(ctx context.Context, n int, a Action) (Step, error) {
	if a.UV && ex.m.pin == "" {
		a.UV = false // no PIN (shrinking removed setPIN): no token to get
	}
	sp := &stepper{s: Step{N: n, Action: a}}
	var err error
	if why := ex.precondition(a); why != "" {
		sp.s.Skipped, sp.s.Got = true, why
		return sp.s, nil
	}
	switch a.Op {
	case OpMakeCredential:
		ex.makeCredential(ctx, sp, a)
	case OpGetAssertion:
		ex.getAssertion(ctx, sp, a)
	case OpSetPIN, OpChangePIN, OpGetToken, OpGetRetries:
		ex.pinStep(ctx, sp, a)
	case OpMetadata, OpEnumerateRPs, OpEnumerateCreds, OpDelete:
		ex.credMan(ctx, sp, a)
	case OpGetInfo:
		ex.getInfo(ctx, sp)
	case OpPowerCycle:
		sp.want("the key back, with what it stored")
		if err = ex.cfg.PowerCycle(ctx); err != nil {
			return sp.s, errTarget{fmt.Errorf("power cycle: %w", err)}
		}
		ex.m.powerCycle()
		err = ex.open(ctx)
		sp.got("the key back")
	default:
		return sp.s, errTarget{fmt.Errorf("unknown action %q", a.Op)}
	}
	return sp.s, err
}

// precondition says why a replayed action cannot run in the model's state
// (shrinking removed what it needed), or "".
func (ex *executor) precondition(a Action) string {
	m := ex.m
	pinOps := []Op{OpSetPIN, OpChangePIN, OpGetToken, OpGetRetries, OpMetadata, OpEnumerateRPs, OpEnumerateCreds, OpDelete}
	switch {
	case slices.Contains(pinOps, a.Op) && !ex.pinSupported:
		return "the key has no clientPIN"
	case a.Op == OpSetPIN && m.pin != "":
		return "a PIN is set"
	case a.Op != OpSetPIN && a.Op != OpGetRetries && slices.Contains(pinOps, a.Op) && m.pin == "":
		return "no PIN is set"
	case a.Op == OpChangePIN && a.PIN == m.pin:
		return "the new PIN is the current one"
	case a.Op == OpDelete && len(m.creds) == 0:
		return "no credential to delete"
	case a.Op == OpPowerCycle && ex.cfg.PowerCycle == nil:
		return "the target cannot power-cycle"
	case a.Stale && (m.tok == nil || m.tok.used || m.tok.rp != rpID(a.RP) || m.tok.permissions&ctap.PermissionMakeCredential == 0):
		return "no unused makeCredential token for this RP"
	case a.Op == OpMakeCredential && m.pin != "" && !a.UV && !a.Stale:
		return "a PIN is set and the action has no token"
	}
	return ""
}

// freshToken gets a pinUvAuthToken with permissions (bound to rp unless
// ""), as the model says it must go. It returns nil when the key refused
// as expected or departed from the model (sp says which).
func (ex *executor) freshToken(ctx context.Context, sp *stepper, permissions uint64, rp string) []byte {
	cp, err := ex.clientPin()
	if err != nil {
		sp.fail("clientPIN: %v", err)
		return nil
	}
	if st := ex.m.pinBlocked(); st != ctap.StatusOK {
		sp.want("the token request refused with %v", st)
		_, err := cp.GetPinToken(ctx, ex.m.pin, permissions, rp)
		sp.expect(outcomeOf(err), st)
		return nil
	}
	tok, err := cp.GetPinToken(ctx, ex.m.pin, permissions, rp)
	if err != nil {
		sp.want("a pinUvAuthToken for the correct PIN")
		sp.fail("token request: %v", outcomeOf(err))
		return nil
	}
	ex.m.rightPIN()
	if ex.m.tok != nil {
		ex.m.tok.valid = false
	}
	ex.m.tok = &token{value: tok, permissions: permissions, rp: rp, valid: true}
	return tok
}

func (ex *executor) makeCredential(ctx context.Context, sp *stepper, a Action) {
	m := ex.m
	req := &ctap.MakeCredentialRequest{
		ClientDataHash:   ex.hash(),
		RP:               &ctap.RPEntity{ID: rpID(a.RP), Name: "prop"},
		User:             &ctap.UserEntity{ID: userID(a.User), Name: userName(a.User), DisplayName: fmt.Sprintf("User %d", a.User)},
		PubKeyCredParams: []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}},
	}
	if a.RK {
		req.Options = map[string]bool{ctap.OptionRK: true}
	}
	var tok *token
	switch {
	case a.Stale:
		tok = m.tok
	case a.UV && m.pin != "":
		if ex.freshToken(ctx, sp, ctap.PermissionMakeCredential, rpID(a.RP)) == nil {
			return
		}
		tok = m.tok
	}
	if tok != nil {
		v := ex.proto.Version()
		req.PinUvAuthProtocol, req.PinUvAuthParam = &v, ex.proto.AuthParam(tok.value, req.ClientDataHash)
	}
	var excluded bool
	if a.Exclude {
		for _, c := range m.creds {
			if c.rp == a.RP {
				req.ExcludeList = append(req.ExcludeList, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: c.id})
				excluded = excluded || !c.deleted
			}
		}
	}
	resp, err := ex.c.MakeCredential(ctx, req)
	o := outcomeOf(err)
	switch {
	case tok != nil && !tok.valid:
		// CTAP 2.1 §6.1.2 step 11: a pinUvAuthParam that does not verify.
		sp.want("PIN_AUTH_INVALID (the token was invalidated)")
		sp.expect(o, ctap.StatusPINAuthInvalid)
		return
	case excluded:
		// §6.1.2 step 12 (CTAP 2.0 §5.1 step 3): a credential in the
		// excludeList is on the key.
		sp.want("CREDENTIAL_EXCLUDED")
		sp.expect(o, ctap.StatusCredentialExcluded)
		if tok != nil {
			tok.used = true
		}
		return
	}
	sp.want("OK, a new credential")
	if !sp.expect(o, ctap.StatusOK) {
		return
	}
	if tok != nil {
		tok.used = true
	}
	if err := resp.Verify(req.ClientDataHash, nil); err != nil {
		sp.fail("the attestation does not verify: %v", err)
		return
	}
	ac := resp.AuthData.AttestedCredential
	if ac == nil {
		sp.fail("no attested credential data")
		return
	}
	if c := m.byID(ac.CredentialID); c != nil {
		sp.fail("the credential ID of credential #%d again", c.n)
		return
	}
	if f := resp.AuthData.Flags; f&ctap.FlagUP == 0 || (f&ctap.FlagUV != 0) != (tok != nil) {
		sp.fail("flags %v: UP must be set, UV exactly when a token authorized the request", f)
		return
	}
	if a.RK {
		for _, c := range m.active(a.RP, true) {
			if c.user == a.User {
				c.deleted = true // §6.1.2 step 17: overwritten
			}
		}
	}
	m.made++
	c := &credential{n: m.made, id: ac.CredentialID, pub: ac.PublicKey, rp: a.RP, user: a.User, rk: a.RK, count: resp.AuthData.SignCount}
	m.creds = append(m.creds, c)
	sp.got("OK, credential #%d (%d bytes), signCount %d", c.n, len(c.id), c.count)
}

func (ex *executor) getAssertion(ctx context.Context, sp *stepper, a Action) {
	m := ex.m
	req := &ctap.GetAssertionRequest{RPID: rpID(a.RP), ClientDataHash: ex.hash()}
	uv := a.UV && m.pin != ""
	if uv {
		tok := ex.freshToken(ctx, sp, ctap.PermissionGetAssertion, rpID(a.RP))
		if tok == nil {
			return
		}
		v := ex.proto.Version()
		req.PinUvAuthProtocol, req.PinUvAuthParam = &v, ex.proto.AuthParam(tok, req.ClientDataHash)
		m.tok.used = true
	}
	var candidates []*credential
	switch a.Allow {
	case "known":
		for _, c := range m.creds {
			if c.rp == a.RP {
				req.AllowList = append(req.AllowList, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: c.id})
				if !c.deleted {
					candidates = append(candidates, c)
				}
			}
		}
		if len(req.AllowList) > 0 {
			break
		}
		fallthrough
	case "foreign":
		id := make([]byte, 64)
		ex.rand.Read(id)
		req.AllowList = append(req.AllowList, ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: id})
	default:
		candidates = m.active(a.RP, true)
		// §6.2.2 step 10: the most recently created first.
		sort.Slice(candidates, func(i, j int) bool { return candidates[i].n > candidates[j].n })
	}
	resp, err := ex.c.GetAssertion(ctx, req)
	o := outcomeOf(err)
	if len(candidates) == 0 {
		// §6.2.2 step 7 (CTAP 2.0 §5.2 step 1): no applicable credential.
		sp.want("NO_CREDENTIALS")
		sp.expect(o, ctap.StatusNoCredentials)
		return
	}
	ids := make([]string, len(candidates))
	for i, c := range candidates {
		ids[i] = fmt.Sprintf("#%d", c.n)
	}
	sp.want("OK, credential %s", strings.Join(ids, " then "))
	if !sp.expect(o, ctap.StatusOK) {
		return
	}
	got := []*client.AssertionResponse{resp}
	if req.AllowList == nil && len(candidates) > 1 {
		if resp.NumberOfCredentials == nil || *resp.NumberOfCredentials != uint64(len(candidates)) {
			sp.fail("numberOfCredentials %s, want %d (§6.2.2 response member 0x05)", ptr(resp.NumberOfCredentials), len(candidates))
			return
		}
		for range len(candidates) - 1 {
			next, err := ex.c.GetNextAssertion(ctx)
			if err != nil {
				sp.fail("getNextAssertion: %v", outcomeOf(err))
				return
			}
			got = append(got, next)
		}
	}
	var seen []string
	for i, r := range got {
		var id []byte
		switch {
		case r.Credential != nil:
			id = r.Credential.ID
		case len(req.AllowList) == 1:
			id = req.AllowList[0].ID // §6.2.2 member 0x01 may be omitted then
		default:
			sp.fail("assertion %d has no credential member", i+1)
			return
		}
		c := m.byID(id)
		if c == nil || !slices.Contains(candidates, c) {
			sp.fail("assertion %d for a credential not applicable: %s", i+1, describe(m, id))
			return
		}
		seen = append(seen, fmt.Sprintf("#%d", c.n))
		if err := r.Verify(req.ClientDataHash, c.pub); err != nil {
			sp.fail("assertion %d (#%d) does not verify: %v", i+1, c.n, err)
			return
		}
		if f := r.AuthData.Flags; f&ctap.FlagUP == 0 || (f&ctap.FlagUV != 0) != uv {
			sp.fail("assertion %d: flags %v, want UP and UV=%v", i+1, f, uv)
			return
		}
		// WebAuthn L3 §6.1.1: a counter that is in use only grows.
		if cnt := r.AuthData.SignCount; (c.count != 0 || cnt != 0) && cnt <= c.count {
			sp.fail("assertion %d (#%d): signCount %d after %d", i+1, c.n, cnt, c.count)
			return
		} else {
			c.count = cnt
		}
		if c.rk && req.AllowList == nil {
			if r.User == nil || !bytes.Equal(r.User.ID, userID(c.user)) {
				sp.fail("assertion %d (#%d): user %s, want id %q", i+1, c.n, describeUser(r.User), userID(c.user))
				return
			}
			// §6.2.2 step 12 (CTAP 2.0 §5.2 member 0x04): no user
			// identifiable information without user verification.
			if !uv && (r.User.Name != "" || r.User.DisplayName != "") {
				sp.fail("assertion %d (#%d): user name fields %s without user verification", i+1, c.n, describeUser(r.User))
				return
			}
		}
	}
	if req.AllowList == nil && ex.lists21 {
		if strings.Join(seen, " then ") != strings.Join(ids, " then ") {
			sp.fail("OK, credentials %s (§6.2.2 step 10: most recent first)", strings.Join(seen, " then "))
			return
		}
	} else if len(req.AllowList) == 0 {
		a, b := slices.Clone(seen), slices.Clone(ids)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			sp.fail("OK, credentials %s", strings.Join(seen, ", "))
			return
		}
	}
	sp.got("OK, credential %s", strings.Join(seen, " then "))
}

func (ex *executor) pinStep(ctx context.Context, sp *stepper, a Action) {
	m := ex.m
	cp, err := ex.clientPin()
	if err != nil {
		sp.fail("clientPIN: %v", err)
		return
	}
	switch a.Op {
	case OpSetPIN:
		sp.want("OK")
		if sp.expect(outcomeOf(cp.SetPIN(ctx, a.PIN)), ctap.StatusOK) {
			m.pin = a.PIN
			m.rightPIN()
		}
	case OpGetRetries:
		retries, _, err := cp.GetPinRetries(ctx)
		sp.want("OK, pinRetries %d", m.retries)
		if sp.expect(outcomeOf(err), ctap.StatusOK) {
			sp.got("OK, pinRetries %d", retries)
			if retries != m.retries {
				sp.s.Failed = true
			}
		}
	case OpChangePIN, OpGetToken:
		current := m.pin
		if a.Wrong {
			current = "wrong" + m.pin
		}
		do := func() error {
			if a.Op == OpChangePIN {
				return cp.ChangePIN(ctx, current, a.PIN)
			}
			tok, err := cp.GetPinToken(ctx, current, ctap.PermissionMakeCredential, rpID(a.RP))
			if err == nil && !a.Wrong {
				if m.tok != nil {
					m.tok.valid = false
				}
				m.tok = &token{value: tok, permissions: ctap.PermissionMakeCredential, rp: rpID(a.RP), valid: true}
			}
			return err
		}
		if st := m.pinBlocked(); st != ctap.StatusOK {
			sp.want("%v", st)
			sp.expect(outcomeOf(do()), st)
			return
		}
		if a.Wrong {
			// §6.5.5.5 to §6.5.5.7: each wrong PIN costs a retry; the
			// third in a row since power-up blocks PIN checks.
			want := m.wrongPIN()
			sp.expect(outcomeOf(do()), want...)
			return
		}
		sp.want("OK")
		if sp.expect(outcomeOf(do()), ctap.StatusOK) {
			m.rightPIN()
			if a.Op == OpChangePIN {
				m.pin = a.PIN
				// §6.5.5.6 changePIN step 11: resetPinUvAuthToken.
				if m.tok != nil {
					m.tok.valid = false
				}
			}
		}
	}
}

func (ex *executor) credMan(ctx context.Context, sp *stepper, a Action) {
	m := ex.m
	tok := ex.freshToken(ctx, sp, ctap.PermissionCredentialManagement, "")
	if tok == nil {
		return
	}
	m.tok.used = true
	cm, err := client.NewCredentialManagement(ex.c, ex.proto, tok)
	if err != nil {
		sp.fail("credentialManagement: %v", err)
		return
	}
	rks := m.active(-1, true)
	switch a.Op {
	case OpMetadata:
		r, err := cm.GetMetadata(ctx)
		sp.want("OK, %d discoverable credentials", len(rks))
		if !sp.expect(outcomeOf(err), ctap.StatusOK) {
			return
		}
		existing, remaining := derefU(r.ExistingResidentCredentialsCount), derefU(r.MaxPossibleRemainingResidentCredentialsCount)
		sp.got("OK, %d discoverable credentials, %d more possible", existing, remaining)
		if existing != uint64(len(rks)) {
			sp.s.Failed = true
			return
		}
		if m.metaSum == 0 {
			m.metaSum = existing + remaining
		} else if existing+remaining != m.metaSum {
			sp.fail("OK, %d discoverable credentials and %d more possible: capacity %d, before %d", existing, remaining, existing+remaining, m.metaSum)
		}
	case OpEnumerateRPs:
		want := map[string]bool{}
		for _, c := range rks {
			want[rpID(c.rp)] = true
		}
		sp.want("RPs %s", keys(want))
		rs, err := cm.EnumerateRPs(ctx)
		if !enumerated(sp, len(want) == 0, rs, err) {
			return
		}
		got := map[string]bool{}
		for _, r := range rs {
			if r.RP != nil {
				got[r.RP.ID] = true
				if h := sha256.Sum256([]byte(r.RP.ID)); !bytes.Equal(r.RPIDHash, h[:]) {
					sp.fail("rpIDHash of %s is not its SHA-256", r.RP.ID)
					return
				}
			}
		}
		sp.got("RPs %s", keys(got))
		if keys(got) != keys(want) || len(rs) != len(want) {
			sp.s.Failed = true
		}
	case OpEnumerateCreds:
		want := map[string]bool{}
		for _, c := range m.active(a.RP, true) {
			want[fmt.Sprintf("#%d(user %d)", c.n, c.user)] = true
		}
		sp.want("credentials %s", keys(want))
		h := sha256.Sum256([]byte(rpID(a.RP)))
		rs, err := cm.EnumerateCreds(ctx, h[:])
		if !enumerated(sp, len(want) == 0, rs, err) {
			return
		}
		got := map[string]bool{}
		for _, r := range rs {
			if r.CredentialID == nil {
				sp.fail("a credential without its ID")
				return
			}
			c := m.byID(r.CredentialID.ID)
			if c == nil {
				got[describe(m, r.CredentialID.ID)] = true
				continue
			}
			user := -1
			if r.User != nil {
				for u := range numUsers {
					if bytes.Equal(r.User.ID, userID(u)) {
						user = u
					}
				}
			}
			got[fmt.Sprintf("#%d(user %d)", c.n, user)] = true
		}
		sp.got("credentials %s", keys(got))
		if keys(got) != keys(want) || len(rs) != len(want) {
			sp.s.Failed = true
		}
	case OpDelete:
		c := m.creds[a.Cred%len(m.creds)]
		d := ctap.CredentialDescriptor{Type: ctap.CredentialTypePublicKey, ID: c.id}
		err := cm.DeleteCred(ctx, d)
		if c.rk && !c.deleted {
			sp.want("OK (deleting #%d)", c.n)
			if sp.expect(outcomeOf(err), ctap.StatusOK) {
				c.deleted = true
			}
			return
		}
		// §6.8.5 step 3: not a discoverable credential on the key.
		sp.want("NO_CREDENTIALS (#%d is %s)", c.n, map[bool]string{true: "deleted", false: "not discoverable"}[c.rk])
		sp.expect(outcomeOf(err), ctap.StatusNoCredentials)
	}
}

func (ex *executor) getInfo(ctx context.Context, sp *stepper) {
	info, err := ex.c.GetInfo(ctx)
	sp.want("OK")
	if !sp.expect(outcomeOf(err), ctap.StatusOK) {
		return
	}
	if info.RemainingDiscCreds == nil {
		return
	}
	rem := *info.RemainingDiscCreds
	n := uint64(len(ex.m.active(-1, true)))
	sp.got("OK, remainingDiscoverableCredentials %d with %d stored", rem, n)
	if ex.m.remainingSum == 0 {
		ex.m.remainingSum = rem + n
	} else if rem+n != ex.m.remainingSum {
		sp.want("remainingDiscoverableCredentials %d with %d stored (§6.4 member 0x14)", ex.m.remainingSum-n, n)
		sp.s.Failed = true
	}
}

// enumerated checks the status of an enumeration (§6.8.3, §6.8.4) against
// the model: NO_CREDENTIALS when it holds none (the client's enumerations
// return nothing, and no error, for that status; an OK answer always
// brings at least its first item), OK otherwise. It reports whether there
// are answers to compare.
func enumerated(sp *stepper, none bool, rs []*ctap.CredentialManagementResponse, err error) bool {
	o := outcomeOf(err)
	if err == nil && len(rs) == 0 {
		o = outcome{st: ctap.StatusNoCredentials}
	}
	if none {
		sp.want("NO_CREDENTIALS")
		sp.expect(o, ctap.StatusNoCredentials)
		return false
	}
	return sp.expect(o, ctap.StatusOK)
}

func derefU(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func ptr(p *uint64) string {
	if p == nil {
		return "absent"
	}
	return fmt.Sprint(*p)
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	if len(ks) == 0 {
		return "none"
	}
	return strings.Join(ks, ", ")
}

func describe(m *model, id []byte) string {
	if c := m.byID(id); c != nil {
		return fmt.Sprintf("#%d", c.n)
	}
	return fmt.Sprintf("an ID the model never saw (%x…)", id[:min(len(id), 8)])
}

func describeUser(u *ctap.UserEntity) string {
	if u == nil {
		return "absent"
	}
	return fmt.Sprintf("{id %q name %q displayName %q}", u.ID, u.Name, u.DisplayName)
}
