package conformance

import (
	"errors"
	"fmt"
	"strings"

	"github.com/virtkey/virtkey/ctap"
)

// Cases for hostile or malformed requests: a host must not be able to use
// up PIN retries faster than wrong PINs would (CTAP 2.1 §6.5.5), and the
// key must refuse CBOR that §8 rules out.

// pinHashEncSub is a clientPIN subcommand that checks a PIN hash.
type pinHashEncSub struct {
	id       string
	sub      uint64
	section  string
	versions []Version
}

var pinHashEncSubs = []pinHashEncSub{
	{"token", ctap.PINGetPinToken, "CTAP 2.1 §6.5.5.7.1", CTAP2},
	{"perms", ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, "CTAP 2.1 §6.5.5.7.2 steps 7-8", CTAP21PRE},
	{"change", ctap.PINChangePIN, "CTAP 2.1 §6.5.5.6 steps 6-7", CTAP2},
}

// sendPinHashEnc sends sub with a fresh key agreement and pinHashEnc as
// given, everything else well formed (a changePIN has a valid newPinEnc
// and pinUvAuthParam over both).
func (pc *pinCase) sendPinHashEnc(sub uint64, pinHashEnc []byte) error {
	key, shared, err := pc.cp.KeyAgreement(pc.t.ctx)
	if err != nil {
		pc.t.Fatalf("key agreement: %v", err)
	}
	req := pc.cp.Request(sub)
	req.KeyAgreement, req.PinHashEnc = &key, pinHashEnc
	switch sub {
	case ctap.PINGetPinUvAuthTokenUsingPinWithPermissions:
		req.Permissions = u64(ctap.PermissionGetAssertion)
	case ctap.PINChangePIN:
		newEnc, err := pc.p.Encrypt(nil, shared, padded([]byte("87654321")))
		if err != nil {
			pc.t.Fatalf("encrypt: %v", err)
		}
		req.NewPinEnc = newEnc
		req.PinUvAuthParam = pc.p.Authenticate(shared, append(append([]byte{}, newEnc...), pinHashEnc...))
	}
	_, err = pc.send(req)
	return err
}

// burnAttempts is how many malformed PIN hashes a burn case sends: as many
// as pinRetries starts with, enough to block the PIN if each cost a retry.
const burnAttempts = 8

func init() {
	for _, v := range []uint64{1, 2} {
		for _, s := range pinHashEncSubs {
			v, s := v, s
			Register(Case{
				ID:      fmt.Sprintf("cp-v%d-burn-pinhashenc-%s", v, s.id),
				Section: s.section + ", §6.5.2.2",
				Title: fmt.Sprintf("protocol %d: %d requests whose pinHashEnc is 5 bytes cost at most 3 retries per power-up, and the PIN still works",
					v, burnAttempts),
				Versions:    s.versions,
				Destructive: true,
				Run: func(t *T) {
					t.needFreshKey()
					pc := t.pinProtocol(v)
					pc.setPIN()
					runPinHashEncBurn(t, pc, s.sub, make([]byte, 5))
				},
			})
		}
	}
}

// runPinHashEncBurn sends burnAttempts requests with pinHashEnc bad and
// checks that they did not use up the PIN. A key may refuse such a
// pinHashEnc before pinRetries moves (CTAP1_ERR_INVALID_PARAMETER, retries
// unchanged) or count it as a mismatch, since the retry is spent before
// the comparison (§6.5.5.6 step 6, §6.5.5.7.2 step 7): then the third in a
// row answers CTAP2_ERR_PIN_AUTH_BLOCKED and the rest are refused before
// the counter moves, so pinRetries ends at 5 with powerCycleState true.
// Either way the right PIN gives a token afterwards (after a power cycle).
func runPinHashEncBurn(t *T, pc *pinCase, sub uint64, bad []byte) {
	var got []ctap.Status
	for i := range burnAttempts {
		err := pc.sendPinHashEnc(sub, bad)
		var st ctap.Status
		if !errors.As(err, &st) {
			t.Fatalf("attempt %d: %v, want a CTAP error status", i+1, describe(err))
		}
		got = append(got, st)
	}
	retries, pcs, err := pc.cp.GetPinRetries(t.ctx)
	if err != nil {
		t.Fatalf("getPINRetries: %v", err)
	}
	t.Logf("statuses %v, pinRetries %d", got, retries)
	counted := false
	for i, st := range got {
		switch st {
		case ctap.StatusInvalidParameter:
		case ctap.StatusPINInvalid, ctap.StatusPINAuthBlocked:
			counted = true
		default:
			t.Fatalf("attempt %d: %v, want CTAP1_ERR_INVALID_PARAMETER (refused) or CTAP2_ERR_PIN_INVALID/PIN_AUTH_BLOCKED (a mismatch)", i+1, st)
		}
	}
	if !counted {
		Equal(t, "pinRetries after refused requests", retries, burnAttempts)
	} else {
		want := []ctap.Status{ctap.StatusPINInvalid, ctap.StatusPINInvalid}
		for len(want) < burnAttempts {
			want = append(want, ctap.StatusPINAuthBlocked)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("attempt %d: %v, want %v: three mismatches per power-up, then CTAP2_ERR_PIN_AUTH_BLOCKED (§6.5.5.7.2 step 8)", i+1, got[i], want[i])
			}
		}
		Equal(t, "pinRetries after three mismatches", retries, burnAttempts-maxPINMismatchesPerBoot)
		if pcs == nil || !*pcs {
			t.Fatalf("powerCycleState %v after three mismatches, want true", pcs)
		}
		t.PowerCycle()
		pc.refresh()
	}
	if _, err := pc.cp.GetPinToken(t.ctx, testPIN, ctap.PermissionGetAssertion, ""); err != nil {
		t.Fatalf("the right PIN afterwards: %v", err)
	}
	Equal(t, "pinRetries after the right PIN", pc.retries(), burnAttempts)
}

// maxPINMismatchesPerBoot is how many consecutive wrong PINs a key takes
// per power-up before it answers CTAP2_ERR_PIN_AUTH_BLOCKED (CTAP 2.1
// §6.5.5.7.2 step 8).
const maxPINMismatchesPerBoot = 3

// Strict CBOR (CTAP 2.1 §8). The request cases start from a valid
// request, encoded as a map of its members, and change one thing.

// members is req's canonical encoding as a map of its members.
func (t *T) members(req any) map[int]any {
	var m map[int]ctap.RawMessage
	if err := ctap.Unmarshal(t.Encode(req), &m); err != nil {
		t.Fatalf("re-reading a request: %v", err)
	}
	out := make(map[int]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// with is req's members with set applied (a nil value is CBOR null).
func (t *T) with(req any, set map[int]any) []byte {
	m := t.members(req)
	for k, v := range set {
		m[k] = v
	}
	return t.Encode(m)
}

// byteArray is b as a CBOR array of small integers: what a careless
// encoder sends for a byte string.
func byteArray(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// reorder encodes a request's members in the order of keys, whatever
// canonical order says. Every key of these requests is a small integer.
func (t *T) reorder(req any, keys ...int) []byte {
	m := t.members(req)
	if len(keys) != len(m) {
		t.Fatalf("reorder: %d keys for %d members", len(keys), len(m))
	}
	out := []byte{0xa0 | byte(len(keys))}
	for _, k := range keys {
		out = append(out, t.Encode(k)...)
		out = append(out, m[k].(ctap.RawMessage)...)
	}
	return out
}

// status is the error a raw status stands for (nil for CTAP2_OK).
func status(s ctap.Status) error {
	if s == ctap.StatusOK {
		return nil
	}
	return s
}

// expectLengthError checks a request whose clientDataHash is not 32 bytes.
// Neither CTAP 2.0 §5.1 nor CTAP 2.1 §6.1.1 makes the key check its length,
// so accepting it is a departure from what the key SHOULD do (WARN);
// CTAP1_ERR_INVALID_LENGTH, "invalid message or item length" (§8.2), is the
// status to refuse it with, and another error is recorded.
func (t *T) expectLengthError(cmd ctap.Command, params []byte, what string) {
	st, _ := t.Raw(cmd, params)
	switch st {
	case ctap.StatusInvalidLength:
	case ctap.StatusOK:
		t.Warnf("%s: accepted, want CTAP1_ERR_INVALID_LENGTH", what)
	default:
		t.Observef("%s: refused with %v (CTAP1_ERR_INVALID_LENGTH names a wrong item length)", what, st)
	}
}

// expectTypeError checks a request with a member of the wrong CBOR type.
// The key MUST refuse it. CTAP 2.1 names CTAP2_ERR_CBOR_UNEXPECTED_TYPE
// for it ("return an error, for example CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
// §6.1.2 step 3; the status table, §8.2): a key that lists FIDO_2_1 and
// answers another error departs from a SHOULD. CTAP 2.0 names no status:
// there any error passes and is recorded.
func (t *T) expectTypeError(cmd ctap.Command, params []byte, what string) {
	st, _ := t.Raw(cmd, params)
	switch {
	case st == ctap.StatusOK:
		t.Fatalf("%v with %s: accepted, want an error (CTAP2_ERR_CBOR_UNEXPECTED_TYPE)", cmd, what)
	case st == ctap.StatusCBORUnexpectedType:
	case t.ListsAny(CTAP21...):
		t.Warnf("%v with %s: %v, want CTAP2_ERR_CBOR_UNEXPECTED_TYPE", cmd, what, st)
	default:
		t.Observef("%v with %s: %v (CTAP 2.0 names no status)", cmd, what, st)
	}
}

type cborCase struct {
	id, section, title string
	level              Level
	versions           []Version
	run                func(t *T)
}

func init() {
	mc := func(t *T) *ctap.MakeCredentialRequest { return t.MakeCredentialRequest("cbor", false) }
	ga := func(t *T) *ctap.GetAssertionRequest {
		r := t.GetAssertionRequest("cbor")
		r.AllowList = []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: make([]byte, 32)}}
		return r
	}
	const mcSec, gaSec = "CTAP 2.1 §8, §6.1.1", "CTAP 2.1 §8, §6.2.1"
	cases := []cborCase{
		{"cbor-mc-keys-out-of-order", "CTAP 2.1 §8.1", "makeCredential with map keys 2, 1, 3, 4 gives CTAP2_ERR_INVALID_CBOR", Should, CTAP2,
			func(t *T) {
				st, _ := t.Raw(ctap.CmdMakeCredential, t.reorder(mc(t), 2, 1, 3, 4))
				t.ExpectStatusAt(Should, status(st), ctap.StatusInvalidCBOR, "keys out of canonical order")
			}},
		{"cbor-mc-key-not-shortest", "CTAP 2.1 §8.1", "makeCredential whose key 1 is encoded in two bytes gives CTAP2_ERR_INVALID_CBOR", Should, CTAP2,
			func(t *T) {
				canon := t.reorder(mc(t), 1, 2, 3, 4)
				params := append([]byte{canon[0], 0x18, 0x01}, canon[2:]...)
				st, _ := t.Raw(ctap.CmdMakeCredential, params)
				t.ExpectStatusAt(Should, status(st), ctap.StatusInvalidCBOR, "integer key not in its shortest form")
			}},
		{"cbor-mc-length-not-shortest", "CTAP 2.1 §8.1", "makeCredential whose clientDataHash length is encoded in two bytes gives CTAP2_ERR_INVALID_CBOR", Should, CTAP2,
			func(t *T) {
				canon := t.reorder(mc(t), 1, 2, 3, 4)
				// canon: a4 01 58 20 <32 bytes> ...: length 32 as 59 00 20.
				params := append([]byte{canon[0], 0x01, 0x59, 0x00, 0x20}, canon[4:]...)
				st, _ := t.Raw(ctap.CmdMakeCredential, params)
				t.ExpectStatusAt(Should, status(st), ctap.StatusInvalidCBOR, "length not in its shortest form")
			}},
		{"cbor-mc-cdh-array", mcSec, "makeCredential with clientDataHash as an array of integers is refused (CTAP 2.1: CTAP2_ERR_CBOR_UNEXPECTED_TYPE)", Must, CTAP2,
			func(t *T) {
				r := mc(t)
				t.expectTypeError(ctap.CmdMakeCredential, t.with(r, map[int]any{1: byteArray(r.ClientDataHash)}), "clientDataHash as an array")
			}},
		{"cbor-mc-user-id-array", mcSec, "makeCredential with user.id as an array is refused (CTAP 2.1: CTAP2_ERR_CBOR_UNEXPECTED_TYPE)", Must, CTAP2,
			func(t *T) {
				r := mc(t)
				user := map[string]any{"id": byteArray(r.User.ID), "name": r.User.Name}
				t.expectTypeError(ctap.CmdMakeCredential, t.with(r, map[int]any{3: user}), "user.id as an array")
			}},
		{"cbor-mc-exclude-id-array", mcSec, "makeCredential with an excludeList id as an array is refused (CTAP 2.1: CTAP2_ERR_CBOR_UNEXPECTED_TYPE)", Must, CTAP2,
			func(t *T) {
				ex := []any{map[string]any{"id": byteArray(make([]byte, 16)), "type": ctap.CredentialTypePublicKey}}
				t.expectTypeError(ctap.CmdMakeCredential, t.with(mc(t), map[int]any{5: ex}), "an excludeList id as an array")
			}},
		{"cbor-mc-credblob-array", "CTAP 2.1 §8, §12.2", "makeCredential with a credBlob input as an array is refused (CTAP 2.1: CTAP2_ERR_CBOR_UNEXPECTED_TYPE)", Must, CTAP21,
			func(t *T) {
				if !slicesContains(t.Ctap2().Info().Extensions, "credBlob") {
					t.Skipf("key does not list the credBlob extension")
				}
				exts := map[string]any{"credBlob": []int{1, 2, 3}}
				t.expectTypeError(ctap.CmdMakeCredential, t.with(mc(t), map[int]any{6: exts}), "credBlob as an array")
			}},
		{"cbor-mc-rk-null", mcSec, "makeCredential with options {rk: null} gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE", Should, CTAP2,
			func(t *T) {
				st, _ := t.Raw(ctap.CmdMakeCredential, t.with(mc(t), map[int]any{7: map[string]any{"rk": nil}}))
				t.ExpectStatusAt(Should, status(st), ctap.StatusCBORUnexpectedType, "options.rk null")
			}},
		{"cbor-mc-options-undefined", mcSec, "makeCredential with options undefined gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE", Should, CTAP2,
			func(t *T) {
				m := t.members(mc(t))
				m[7] = ctap.RawMessage{0xf7}
				st, _ := t.Raw(ctap.CmdMakeCredential, t.Encode(m))
				t.ExpectStatusAt(Should, status(st), ctap.StatusCBORUnexpectedType, "options undefined")
			}},
		{"cbor-mc-cdh-empty", mcSec, "makeCredential with a 0-byte clientDataHash is refused with CTAP1_ERR_INVALID_LENGTH", Should, CTAP2,
			func(t *T) {
				t.expectLengthError(ctap.CmdMakeCredential, t.with(mc(t), map[int]any{1: []byte{}}), "0-byte clientDataHash")
			}},
		{"cbor-mc-cdh-1024", mcSec, "makeCredential with a 1024-byte clientDataHash is refused with CTAP1_ERR_INVALID_LENGTH", Should, CTAP2,
			func(t *T) {
				t.expectLengthError(ctap.CmdMakeCredential, t.with(mc(t), map[int]any{1: make([]byte, 1024)}), "1024-byte clientDataHash")
			}},
		{"cbor-ga-cdh-array", gaSec, "getAssertion with clientDataHash as an array is refused (CTAP 2.1: CTAP2_ERR_CBOR_UNEXPECTED_TYPE)", Must, CTAP2,
			func(t *T) {
				r := ga(t)
				t.expectTypeError(ctap.CmdGetAssertion, t.with(r, map[int]any{2: byteArray(r.ClientDataHash)}), "clientDataHash as an array")
			}},
		{"cbor-ga-allow-id-array", gaSec, "getAssertion with an allowList id as an array is refused (CTAP 2.1: CTAP2_ERR_CBOR_UNEXPECTED_TYPE)", Must, CTAP2,
			func(t *T) {
				al := []any{map[string]any{"id": byteArray(make([]byte, 32)), "type": ctap.CredentialTypePublicKey}}
				t.expectTypeError(ctap.CmdGetAssertion, t.with(ga(t), map[int]any{3: al}), "an allowList id as an array")
			}},
		{"cbor-ga-up-null", gaSec, "getAssertion with options {up: null} gives CTAP2_ERR_CBOR_UNEXPECTED_TYPE", Should, CTAP2,
			func(t *T) {
				st, _ := t.Raw(ctap.CmdGetAssertion, t.with(ga(t), map[int]any{5: map[string]any{"up": nil}}))
				t.ExpectStatusAt(Should, status(st), ctap.StatusCBORUnexpectedType, "options.up null")
			}},
		{"cbor-ga-cdh-short", gaSec, "getAssertion with a 31-byte clientDataHash is refused with CTAP1_ERR_INVALID_LENGTH", Should, CTAP2,
			func(t *T) {
				t.expectLengthError(ctap.CmdGetAssertion, t.with(ga(t), map[int]any{2: make([]byte, 31)}), "31-byte clientDataHash")
			}},
	}
	for _, c := range cases {
		Register(Case{ID: c.id, Section: c.section, Title: c.title, Level: c.level, Versions: c.versions, Run: c.run})
	}
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// clientPIN members by key (CTAP 2.1 §6.5.5.1) and a value of the wrong
// type for each: a text string for an integer, an array of integers for
// a byte string, a byte string for the keyAgreement map, an integer for
// the rpId text string.
var clientPINMembers = []struct {
	key   int
	name  string
	wrong any
}{
	{1, "pinUvAuthProtocol", "2"},
	{2, "subCommand", "1"},
	{3, "keyAgreement", make([]byte, 65)},
	{4, "pinUvAuthParam", byteArray(make([]byte, 32))},
	{5, "newPinEnc", byteArray(make([]byte, 80))},
	{6, "pinHashEnc", byteArray(make([]byte, 32))},
	{9, "permissions", "2"},
	{10, "rpId", 7},
}

// clientPINSub is a subcommand, its members and how to build a valid
// request for it.
type clientPINSub struct {
	id      string
	section string
	members []int
	needUV  bool
	build   func(pc *pinCase) *ctap.ClientPINRequest
}

var clientPINSubs = []clientPINSub{
	{"get-retries", "§6.5.5.2", []int{1, 2}, false, func(pc *pinCase) *ctap.ClientPINRequest {
		return pc.cp.Request(ctap.PINGetPINRetries)
	}},
	{"get-key-agreement", "§6.5.5.4", []int{1, 2}, false, func(pc *pinCase) *ctap.ClientPINRequest {
		return pc.cp.Request(ctap.PINGetKeyAgreement)
	}},
	{"set-pin", "§6.5.5.5", []int{1, 2, 3, 4, 5}, false, func(pc *pinCase) *ctap.ClientPINRequest {
		return pc.setPINRequest(padded([]byte(testPIN)))
	}},
	{"change-pin", "§6.5.5.6", []int{1, 2, 3, 4, 5, 6}, false, func(pc *pinCase) *ctap.ClientPINRequest {
		pc.setPIN()
		key, shared, err := pc.cp.KeyAgreement(pc.t.ctx)
		if err != nil {
			pc.t.Fatalf("key agreement: %v", err)
		}
		newEnc, _ := pc.p.Encrypt(nil, shared, padded([]byte("87654321")))
		hashEnc, _ := pc.p.Encrypt(nil, shared, ctap.PINHash(testPIN))
		req := pc.cp.Request(ctap.PINChangePIN)
		req.KeyAgreement, req.NewPinEnc, req.PinHashEnc = &key, newEnc, hashEnc
		req.PinUvAuthParam = pc.p.Authenticate(shared, append(append([]byte{}, newEnc...), hashEnc...))
		return req
	}},
	{"get-pin-token", "§6.5.5.7.1", []int{1, 2, 3, 6}, false, func(pc *pinCase) *ctap.ClientPINRequest {
		pc.setPIN()
		return pc.tokenRequest(ctap.PINGetPinToken, testPIN, nil, nil)
	}},
	{"token-pin-perms", "§6.5.5.7.2", []int{1, 2, 3, 6, 9, 10}, false, func(pc *pinCase) *ctap.ClientPINRequest {
		pc.setPIN()
		rp := pc.t.RPID()
		return pc.tokenRequest(ctap.PINGetPinUvAuthTokenUsingPinWithPermissions, testPIN, u64(ctap.PermissionGetAssertion), &rp)
	}},
	{"token-uv-perms", "§6.5.5.7.3", []int{1, 2, 3, 9, 10}, true, func(pc *pinCase) *ctap.ClientPINRequest {
		rp := pc.t.RPID()
		return pc.uvTokenRequest(u64(ctap.PermissionGetAssertion), &rp)
	}},
	{"get-uv-retries", "§6.5.5.3", []int{2}, true, func(pc *pinCase) *ctap.ClientPINRequest {
		return pc.cp.Request(ctap.PINGetUVRetries)
	}},
}

func init() {
	for _, s := range clientPINSubs {
		for _, key := range s.members {
			var mem = clientPINMembers[0]
			for _, m := range clientPINMembers {
				if m.key == key {
					mem = m
				}
			}
			s := s
			versions := CTAP2
			if s.needUV || s.id == "token-pin-perms" {
				versions = CTAP21PRE
			}
			Register(Case{
				ID:      fmt.Sprintf("cp-type-%s-%s", s.id, strings.ToLower(mem.name)),
				Section: "CTAP 2.1 §8, " + s.section,
				Title: fmt.Sprintf("clientPIN %s with %s of the wrong CBOR type is refused (CTAP 2.1: CTAP2_ERR_CBOR_UNEXPECTED_TYPE)",
					s.id, mem.name),
				Versions:    versions,
				Destructive: true,
				Run: func(t *T) {
					t.needFreshKey()
					if s.needUV {
						t.needUV()
					}
					pc := t.pinProtocol(t.firstPINProtocol())
					params := t.with(s.build(pc), map[int]any{mem.key: mem.wrong})
					t.expectTypeError(ctap.CmdClientPIN, params, mem.name+" of the wrong type")
				},
			})
		}
	}
}

// firstPINProtocol is the first PIN/UV auth protocol the key lists, the
// one it prefers (CTAP 2.1 §6.4 pinUvAuthProtocols).
func (t *T) firstPINProtocol() uint64 {
	ps := t.Ctap2().Info().PinUvProtocols
	if len(ps) == 0 {
		t.Skipf("key lists no PIN/UV auth protocol")
	}
	return ps[0]
}
