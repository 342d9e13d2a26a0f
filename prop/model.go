// Package prop checks a FIDO2 key against a reference model: random
// sequences of commands, generated from a seed, run against any key a
// client.Device reaches (the in-process key, the virtkey daemon over UDP, a
// token on hidraw), and every answer is compared with what the model of a
// CTAP 2.1 key says it must be. A failing sequence is shrunk to the fewest
// steps that still fail and printed as a transcript a person can read; it
// replays from a file against any target.
//
// The model covers what CTAP 2.1 makes observable from outside: discoverable
// and non-discoverable credentials per RP and their user entities (§6.1.2,
// §6.2.2), the overwrite of a discoverable credential of the same user
// (§6.1.2 step 17), reverse creation order and numberOfCredentials with
// getNextAssertion (§6.2.2, §6.3), user identifiable information only after
// user verification (§6.2.2 step 12), the signature counter (strictly
// increasing per credential, or always zero: WebAuthn L3 §6.1.1), the PIN,
// its retries and the three-mismatches-per-power-up limit (§6.5.2.1,
// §6.5.5.5 to §6.5.5.7), pinUvAuthTokens and what invalidates them (§6.5.2.2:
// a new token, changePIN, a power cycle), credential management metadata,
// enumeration and deletion (§6.8), and getInfo's
// remainingDiscoverableCredentials (§6.4). A power cycle, where the target
// can do one, is a real restart: what the key acknowledged must survive it.
//
// The package does not use a property-testing library: it links into the
// ctaptest binary, which must not link package testing.
package prop

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/virtkey/virtkey/ctap"
)

// The model's universe: a few RPs and users, so that sequences revisit
// them (overwrites, several accounts per RP, deletions that matter).
const (
	numRPs   = 3
	numUsers = 3
	// pinRetries is what a fresh key and a correct PIN set the retries to
	// (CTAP 2.1 §6.5.2.1: maximum of 8).
	pinRetries = 8
	// mismatchesPerPowerUp is the number of consecutive wrong PINs after
	// which the key refuses PIN checks until a power cycle (CTAP 2.1
	// §6.5.5.5 step 6, PIN_AUTH_BLOCKED).
	mismatchesPerPowerUp = 3
)

func rpID(i int) string     { return fmt.Sprintf("rp%d.prop.virtkey.test", i) }
func userID(i int) []byte   { return []byte(fmt.Sprintf("prop-user-%d", i)) }
func userName(i int) string { return fmt.Sprintf("user%d@prop.virtkey.test", i) }

// pins the sequences choose from; each is at least 4 code points (CTAP 2.1
// §6.5.1 minimum) and at most 63 bytes.
var pins = []string{"1234", "48151623", "correct horse"}

// Op names an action.
type Op string

const (
	OpMakeCredential Op = "makeCredential"
	OpGetAssertion   Op = "getAssertion"
	OpSetPIN         Op = "setPIN"
	OpChangePIN      Op = "changePIN"
	OpGetToken       Op = "getPinToken"
	OpGetRetries     Op = "getPINRetries"
	OpMetadata       Op = "getCredsMetadata"
	OpEnumerateRPs   Op = "enumerateRPs"
	OpEnumerateCreds Op = "enumerateCredentials"
	OpDelete         Op = "deleteCredential"
	OpGetInfo        Op = "getInfo"
	OpPowerCycle     Op = "powerCycle"
)

// Action is one step of a sequence, with every parameter it needs, so that
// a sequence written to a file replays exactly.
type Action struct {
	Op Op `json:"op"`
	// RP and User index the model's RPs and users.
	RP   int `json:"rp,omitempty"`
	User int `json:"user,omitempty"`
	// RK asks for a discoverable credential (makeCredential).
	RK bool `json:"rk,omitempty"`
	// UV authorizes the command with a fresh pinUvAuthToken (PIN set).
	UV bool `json:"uv,omitempty"`
	// Stale authorizes it with the last token obtained instead.
	Stale bool `json:"stale,omitempty"`
	// Exclude lists the RP's known credentials in excludeList.
	Exclude bool `json:"exclude,omitempty"`
	// Allow is getAssertion's allowList: "" (none), "known" (the RP's
	// credentials the model knows, deleted ones included), "foreign" (an
	// ID this key never made).
	Allow string `json:"allow,omitempty"`
	// Cred picks a credential the model knows (modulo their number).
	Cred int `json:"cred,omitempty"`
	// PIN is the PIN to set or the new PIN; Wrong sends a wrong PIN.
	PIN   string `json:"pin,omitempty"`
	Wrong bool   `json:"wrong,omitempty"`
}

func (a Action) String() string {
	s := string(a.Op)
	add := func(f string, args ...any) { s += " " + fmt.Sprintf(f, args...) }
	switch a.Op {
	case OpMakeCredential:
		add("rp=%s user=%d rk=%v", rpID(a.RP), a.User, a.RK)
		if a.Exclude {
			add("excludeList=known")
		}
	case OpGetAssertion:
		add("rp=%s", rpID(a.RP))
		if a.Allow != "" {
			add("allowList=%s", a.Allow)
		}
	case OpSetPIN:
		add("pin=%q", a.PIN)
	case OpChangePIN:
		add("new=%q wrongCurrent=%v", a.PIN, a.Wrong)
	case OpGetToken:
		add("permissions=mc rp=%s wrong=%v", rpID(a.RP), a.Wrong)
	case OpEnumerateCreds:
		add("rp=%s", rpID(a.RP))
	case OpDelete:
		add("credential=pick(%d)", a.Cred)
	}
	switch {
	case a.Stale:
		add("token=last")
	case a.UV:
		add("token=fresh")
	}
	return s
}

// credential is what the model knows of a credential the key made.
type credential struct {
	n       int // creation number: later credentials have larger numbers
	id      []byte
	pub     ctap.COSEKey
	rp      int
	user    int
	rk      bool
	deleted bool // deleted, or overwritten by a newer one of the same user
	count   uint32
}

// token is the model's pinUvAuthToken: the last one the key gave.
type token struct {
	value       []byte
	permissions uint64
	rp          string
	valid       bool // not replaced, not cleared by changePIN or a power cycle
	used        bool // used once: a use may clear its permissions (§6.5.5.7)
}

// model is the reference state of the key.
type model struct {
	creds      []*credential
	made       int
	pin        string // "" without a PIN
	retries    int
	mismatches int // consecutive wrong PINs since power-up
	tok        *token
	// remainingSum is remainingDiscoverableCredentials plus the number of
	// discoverable credentials, constant for a key (0 until first seen).
	remainingSum uint64
	// metaSum is the same for credential management metadata.
	metaSum uint64
}

func newModel() *model { return &model{retries: pinRetries} }

// active returns the live credentials of rp (any rp for rp < 0) that
// match rk (discoverable only when rkOnly).
func (m *model) active(rp int, rkOnly bool) []*credential {
	var out []*credential
	for _, c := range m.creds {
		if c.deleted || rkOnly && !c.rk || rp >= 0 && c.rp != rp {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (m *model) byID(id []byte) *credential {
	for _, c := range m.creds {
		if bytes.Equal(c.id, id) {
			return c
		}
	}
	return nil
}

// pinBlocked reports why the key refuses PIN checks now, as a status, or
// StatusOK.
func (m *model) pinBlocked() ctap.Status {
	switch {
	case m.retries == 0:
		return ctap.StatusPINBlocked
	case m.mismatches >= mismatchesPerPowerUp:
		return ctap.StatusPINAuthBlocked
	}
	return ctap.StatusOK
}

// wrongPIN is the model's answer to a wrong PIN: one retry less, one more
// consecutive mismatch (CTAP 2.1 §6.5.5.5 steps 5-6). At the third
// mismatch the key answers PIN_AUTH_BLOCKED, and PIN_BLOCKED at zero
// retries; when both happen at once the text allows either.
func (m *model) wrongPIN() []ctap.Status {
	m.retries--
	m.mismatches++
	var want []ctap.Status
	if m.retries == 0 {
		want = append(want, ctap.StatusPINBlocked)
	}
	if m.mismatches >= mismatchesPerPowerUp {
		want = append(want, ctap.StatusPINAuthBlocked)
	}
	if len(want) == 0 {
		want = []ctap.Status{ctap.StatusPINInvalid}
	}
	return want
}

// rightPIN is the model after a correct PIN: retries back to the maximum,
// mismatches cleared (CTAP 2.1 §6.5.5.7.2 step 9).
func (m *model) rightPIN() {
	m.retries = pinRetries
	m.mismatches = 0
}

// powerCycle clears what lives only until power-down: the token and the
// mismatch count (CTAP 2.1 §6.5.2.2, §6.5.5.5).
func (m *model) powerCycle() {
	m.mismatches = 0
	if m.tok != nil {
		m.tok.valid = false
	}
}

// generate draws the next action for the model's state from r. Only
// actions whose expected outcome the model knows are drawn.
func (m *model) generate(r *rand.Rand, canPowerCycle, pinSupported bool) Action {
	type choice struct {
		w int
		f func() Action
	}
	pinSet := m.pin != ""
	usable := m.pinBlocked() == ctap.StatusOK
	cs := []choice{
		{6, func() Action {
			return Action{Op: OpMakeCredential, RP: r.IntN(numRPs), User: r.IntN(numUsers), RK: r.IntN(3) > 0,
				Exclude: r.IntN(5) == 0, UV: pinSet}
		}},
		{6, func() Action {
			allow := []string{"", "", "known", "foreign"}[r.IntN(4)]
			return Action{Op: OpGetAssertion, RP: r.IntN(numRPs), Allow: allow, UV: pinSet && usable && r.IntN(2) == 0}
		}},
		{1, func() Action { return Action{Op: OpGetInfo} }},
		{1, func() Action { return Action{Op: OpGetRetries} }},
	}
	switch {
	case !pinSupported:
	case !pinSet:
		cs = append(cs, choice{2, func() Action { return Action{Op: OpSetPIN, PIN: pins[r.IntN(len(pins))]} }})
	default:
		cs = append(cs,
			choice{2, func() Action { return Action{Op: OpGetToken, RP: r.IntN(numRPs), Wrong: r.IntN(2) == 0} }},
			choice{1, func() Action {
				return Action{Op: OpChangePIN, PIN: pins[r.IntN(len(pins))], Wrong: r.IntN(3) == 0}
			}},
			choice{2, func() Action { return Action{Op: OpMetadata} }},
			choice{2, func() Action { return Action{Op: OpEnumerateRPs} }},
			choice{2, func() Action { return Action{Op: OpEnumerateCreds, RP: r.IntN(numRPs)} }},
			choice{2, func() Action { return Action{Op: OpDelete, Cred: r.IntN(1 << 16)} }},
		)
		if t := m.tok; t != nil && !t.used && t.permissions&ctap.PermissionMakeCredential != 0 && t.rp != "" {
			cs = append(cs, choice{2, func() Action {
				// The last token was for makeCredential on t.rp.
				return Action{Op: OpMakeCredential, RP: rpIndex(t.rp), User: r.IntN(numUsers), RK: true, Stale: true}
			}})
		}
	}
	if canPowerCycle {
		cs = append(cs, choice{1, func() Action { return Action{Op: OpPowerCycle} }})
	}
	total := 0
	for _, c := range cs {
		total += c.w
	}
	n := r.IntN(total)
	for _, c := range cs {
		if n < c.w {
			return c.f()
		}
		n -= c.w
	}
	panic("unreachable")
}

func rpIndex(id string) int {
	for i := range numRPs {
		if rpID(i) == id {
			return i
		}
	}
	return 0
}
