package authenticator

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/virtkey/virtkey/ctap"
)

// CTAP1/U2F (FIDO U2F Raw Message Formats v1.2), reached through
// CTAPHID_MSG (CTAP 2.1 §11.2.9.1.1): HandleMsg takes a request APDU and
// returns a response APDU, data followed by a status word. Every outcome,
// malformed input included, is a status word; HandleMsg never fails at the
// CTAPHID level.
//
// Status words, checked in this order:
//
//   - 0x6700 SW_WRONG_LENGTH: the APDU does not parse in any ISO 7816-4
//     short or extended encoding, or its data has the wrong length for
//     the instruction (REGISTER: 64 bytes; AUTHENTICATE: 65 + L; VERSION:
//     none).
//   - 0x6E00 SW_CLA_NOT_SUPPORTED: CLA is not 0x00.
//   - 0x6D00 SW_INS_NOT_SUPPORTED: INS is not REGISTER, AUTHENTICATE or
//     VERSION.
//   - 0x6A80 SW_WRONG_DATA: AUTHENTICATE with a key handle this key did not
//     make for the application parameter (another appId, another key, a
//     reset since, a CTAP2 EdDSA credential), or with a control byte other
//     than 0x03, 0x07 and 0x08 (the spec names no status for those; a
//     control byte is request data).
//   - 0x6985 SW_CONDITIONS_NOT_SATISFIED: check-only with a key handle of
//     ours (U2F Raw Message Formats §5.1), or no user presence (§4.3,
//     §5.4).
//   - 0x6F00 SW_UNKNOWN: the signature counter could not be saved.
//   - 0x9000 SW_NO_ERROR.
//
// User presence. A U2F key does not block: it answers 0x6985 when nobody
// touched it, and the host polls (U2F Raw Message Formats §4.3, "test of
// user presence required"). The virtual key asks its Presence with a
// context bounded by U2FPresenceWait, the stand-in for "touched in the last
// few moments": a touch within that time goes on, a decline, a timeout, the
// end of the wait or a CTAPHID_CANCEL answers 0x6985. The TouchRequest has
// Command 0 (no CTAP2 command), no RPID (U2F sees only the appId hash) and
// Reason ReasonU2FRegister or ReasonU2FAuthenticate.
//
// Credentials. The key handle of a U2F registration is a non-discoverable
// credential ID (credential.go) sealed for the application parameter as
// rpIdHash, with an ES256 key. CTAP2 getAssertion therefore finds it when
// SHA-256(rpId) equals the appId hash (CTAP 2.1 §10.3), and U2F
// AUTHENTICATE accepts the ES256 non-discoverable credentials CTAP2
// makeCredential made for an rpId whose hash is the application parameter.
// Authentication uses and saves the global signature counter.
//
// Attestation. REGISTER signs with the attestation leaf of packed
// attestation, whatever Config.Attestation says: U2F has no other
// attestation. Its key is P-256 and it is an X.509 v3 certificate, as the
// fido-u2f format wants (WebAuthn §8.6).

// U2FPresenceWait is how long a U2F request that needs user presence
// waits for a touch before it is answered SW_CONDITIONS_NOT_SATISFIED.
const U2FPresenceWait = 2 * time.Second

// Reasons for a touch asked by CTAP1/U2F.
const (
	ReasonU2FRegister     TouchReason = "u2fRegister"     // U2F Raw Message Formats §4
	ReasonU2FAuthenticate TouchReason = "u2fAuthenticate" // U2F Raw Message Formats §5, control byte 0x03
)

// u2fVersionString is the VERSION response (U2F Raw Message Formats §6.1).
const u2fVersionString = "U2F_V2"

// apdu is a parsed command APDU (ISO 7816-4 §5.1).
type apdu struct {
	cla, ins, p1, p2 byte
	data             []byte
	// le is the expected response length: -1 when absent, 65536 for an
	// extended 0x0000, 256 for a short 0x00. It is accepted and ignored:
	// responses are sent in full, as U2F HID keys do.
	le       int
	extended bool
}

// parseAPDU decodes the ISO 7816-4 encodings U2F Raw Message Formats §3.1
// allows, short and extended:
//
//	case 1:  CLA INS P1 P2
//	case 2S: CLA INS P1 P2 Le
//	case 3S: CLA INS P1 P2 Lc(1..255) data
//	case 4S: CLA INS P1 P2 Lc(1..255) data Le
//	case 2E: CLA INS P1 P2 00 Le(2)
//	case 3E: CLA INS P1 P2 00 Lc(2, 1..65535) data
//	case 4E: CLA INS P1 P2 00 Lc(2, 1..65535) data Le(2)
//
// and, as hosts send it for requests without data (python-fido2,
// libu2f-host), CLA INS P1 P2 00 0000 Le(2): an extended Lc of zero
// followed by Le. ok is false for anything else.
func parseAPDU(b []byte) (c apdu, ok bool) {
	if len(b) < 4 {
		return apdu{}, false
	}
	c = apdu{cla: b[0], ins: b[1], p1: b[2], p2: b[3], le: -1}
	body := b[4:]
	shortLe := func(v byte) int {
		if v == 0 {
			return 256
		}
		return int(v)
	}
	extLe := func(v []byte) int {
		if n := int(binary.BigEndian.Uint16(v)); n != 0 {
			return n
		}
		return 65536
	}
	switch {
	case len(body) == 0: // case 1
		return c, true
	case len(body) == 1: // case 2S
		c.le = shortLe(body[0])
		return c, true
	case body[0] != 0: // cases 3S, 4S
		n := int(body[0])
		switch len(body) {
		case 1 + n:
			c.data = body[1:]
			return c, true
		case 2 + n:
			c.data = body[1 : 1+n]
			c.le = shortLe(body[1+n])
			return c, true
		}
		return apdu{}, false
	case len(body) == 3: // case 2E
		c.extended = true
		c.le = extLe(body[1:3])
		return c, true
	case len(body) < 3:
		return apdu{}, false
	}
	c.extended = true
	n := int(binary.BigEndian.Uint16(body[1:3]))
	if n == 0 { // Lc 0000 then Le: no data
		if len(body) != 5 {
			return apdu{}, false
		}
		c.le = extLe(body[3:5])
		return c, true
	}
	switch len(body) {
	case 3 + n: // case 3E
		c.data = body[3:]
		return c, true
	case 5 + n: // case 4E
		c.data = body[3 : 3+n]
		c.le = extLe(body[3+n:])
		return c, true
	}
	return apdu{}, false
}

// handleMsg answers one CTAPHID_MSG request APDU (see the top of this
// file). The response is data || SW1 SW2.
func (a *Authenticator) handleMsg(ctx context.Context, req []byte) []byte {
	data, sw := a.u2f(ctx, req)
	return append(data, sw.Bytes()...)
}

func (a *Authenticator) u2f(ctx context.Context, req []byte) ([]byte, ctap.StatusWord) {
	c, ok := parseAPDU(req)
	if !ok {
		return nil, ctap.SWWrongLength
	}
	if c.cla != 0 {
		return nil, ctap.SWClaNotSupported
	}
	if !a.implements(ctap.VersionU2FV2) {
		// A key whose Config.Versions leave out U2F_V2 has no CTAP1/U2F
		// instruction at all; over CTAPHID it also sets CAPABILITY_NMSG
		// (ctaphid.ServerConfig.NoMsg) and no APDU reaches it.
		return nil, ctap.SWInsNotSupported
	}
	switch c.ins {
	case ctap.U2FVersion: // §6.1: no data
		if len(c.data) != 0 {
			return nil, ctap.SWWrongLength
		}
		return []byte(u2fVersionString), ctap.SWNoError
	case ctap.U2FRegister:
		if len(c.data) != 64 { // §4.1: challenge (32) || application (32)
			return nil, ctap.SWWrongLength
		}
		return a.u2fExclusive(ctx, func(ctx context.Context) ([]byte, ctap.StatusWord) {
			return a.u2fRegister(ctx, c.data)
		})
	case ctap.U2FAuthenticate:
		// §5.1: challenge (32) || application (32) || L || key handle (L).
		if len(c.data) < 65 || len(c.data) != 65+int(c.data[64]) {
			return nil, ctap.SWWrongLength
		}
		return a.u2fExclusive(ctx, func(ctx context.Context) ([]byte, ctap.StatusWord) {
			return a.u2fAuthenticate(ctx, c.p1, c.data)
		})
	}
	return nil, ctap.SWInsNotSupported
}

// u2fExclusive runs f as a command of its own, as handle does for CTAP2:
// one at a time, cancellable by PowerCycle. Like any command other than
// getNextAssertion it discards the getAssertion state (CTAP 2.1 §6.3).
// When ctx ends while another command runs, the answer is
// SW_CONDITIONS_NOT_SATISFIED: the host tries again.
func (a *Authenticator) u2fExclusive(ctx context.Context, f func(context.Context) ([]byte, ctap.StatusWord)) ([]byte, ctap.StatusWord) {
	ctx, release, ok := a.exclusive(ctx)
	if !ok {
		return nil, ctap.SWConditionsNotSatisfied
	}
	defer release()
	a.rt.pending = nil
	if a.alwaysUV() && !a.faulty(FaultAlwaysUVKeepsU2F) {
		// CTAP 2.1 §7.2: U2F has no user verification, so a key that
		// always requires it does not register or sign over U2F; getInfo
		// drops U2F_V2 to match (listedVersions, ctap22.go).
		return nil, ctap.SWCommandNotAllowed
	}
	return f(ctx)
}

// u2fPresence asks for a touch, waiting at most U2FPresenceWait. Anything
// but a touch is SW_CONDITIONS_NOT_SATISFIED.
func (a *Authenticator) u2fPresence(ctx context.Context, reason TouchReason) ctap.StatusWord {
	ctx, cancel := context.WithTimeout(ctx, U2FPresenceWait)
	defer cancel()
	if err := a.touch(ctx, TouchRequest{Reason: reason}); err != nil {
		return ctap.SWConditionsNotSatisfied
	}
	return ctap.SWNoError
}

// u2fRegister is U2F_REGISTER (U2F Raw Message Formats §4): after a
// touch, a new P-256 key whose handle is sealed for the application
// parameter, and the response
//
//	0x05 || public key (65, uncompressed) || L || key handle (L) ||
//	attestation certificate (DER) || signature
//
// where the signature is ECDSA P-256 SHA-256 by the attestation key over
// 0x00 || application || challenge || key handle || public key (§4.3).
func (a *Authenticator) u2fRegister(ctx context.Context, data []byte) ([]byte, ctap.StatusWord) {
	challenge, app := data[:32], [32]byte(data[32:64])
	if sw := a.u2fPresence(ctx, ReasonU2FRegister); sw != ctap.SWNoError && !a.faulty(FaultU2FRegisterWithoutPresence) {
		return nil, sw
	}
	k, err := generateKey(a.rand, ctap.AlgES256)
	if err != nil {
		return nil, ctap.SWUnknown
	}
	kh, err := sealCredentialID(a.sealer, a.rand, app, k)
	if err != nil || len(kh) > 255 {
		return nil, ctap.SWUnknown
	}
	priv, err := k.ecdsaKey()
	if err != nil {
		return nil, ctap.SWUnknown
	}
	pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, ctap.SWUnknown
	}
	msg := make([]byte, 0, 1+32+32+len(kh)+len(pub))
	msg = append(msg, 0x00)
	msg = append(msg, app[:]...)
	msg = append(msg, challenge...)
	msg = append(msg, kh...)
	msg = append(msg, pub...)
	h := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(a.rand, a.att.key, h[:])
	if err != nil {
		return nil, ctap.SWUnknown
	}
	resp := make([]byte, 0, 1+len(pub)+1+len(kh)+len(a.att.leafDER)+len(sig))
	resp = append(resp, ctap.U2FRegisterReserved)
	resp = append(resp, pub...)
	resp = append(resp, byte(len(kh)))
	resp = append(resp, kh...)
	resp = append(resp, a.att.leafDER...)
	resp = append(resp, sig...)
	return resp, ctap.SWNoError
}

// u2fAuthenticate is U2F_AUTHENTICATE (U2F Raw Message Formats §5). The
// key handle is checked first, before any touch. The response is
//
//	user presence (1) || counter (4, big-endian) || signature
//
// where the signature is ECDSA P-256 SHA-256 by the credential key over
// application || user presence || counter || challenge (§5.4).
func (a *Authenticator) u2fAuthenticate(ctx context.Context, control byte, data []byte) ([]byte, ctap.StatusWord) {
	challenge, app, kh := data[:32], [32]byte(data[32:64]), data[65:]
	switch control {
	case ctap.U2FEnforceUserPresence, ctap.U2FCheckOnly, ctap.U2FDontEnforceUserPresence:
	default:
		return nil, ctap.SWWrongData
	}
	k, ok := openCredentialID(a.sealer, app, kh)
	if !ok || k.alg != ctap.AlgES256 || !k.usableWithoutUV() { // credProtect (ext_credprotect.go)
		return nil, ctap.SWWrongData
	}
	var flags byte
	switch control {
	case ctap.U2FCheckOnly: // §5.1: "the key handle was created by this U2F token"
		if !a.faulty(FaultU2FCheckOnlySigns) {
			return nil, ctap.SWConditionsNotSatisfied
		}
	case ctap.U2FEnforceUserPresence:
		if sw := a.u2fPresence(ctx, ReasonU2FAuthenticate); sw != ctap.SWNoError {
			return nil, sw
		}
		flags = ctap.U2FUserPresent
	case ctap.U2FDontEnforceUserPresence:
		if a.faulty(FaultU2FDontEnforceSetsUP) {
			flags = ctap.U2FUserPresent
		}
	}
	counter := a.nextSignCount()
	msg := make([]byte, 0, 32+1+4+32)
	msg = append(msg, app[:]...)
	msg = append(msg, flags)
	msg = binary.BigEndian.AppendUint32(msg, counter)
	msg = append(msg, challenge...)
	sig, err := k.sign(a.rand, msg)
	if err != nil {
		return nil, ctap.SWUnknown
	}
	if err := a.save(); err != nil {
		return nil, ctap.SWUnknown
	}
	resp := make([]byte, 0, 5+len(sig))
	resp = append(resp, flags)
	resp = binary.BigEndian.AppendUint32(resp, counter)
	resp = append(resp, sig...)
	return resp, ctap.SWNoError
}
