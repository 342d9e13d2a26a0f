package devfuzz

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/virtkey/virtkey/ctap"
	"github.com/virtkey/virtkey/ctaphid"
	"github.com/virtkey/virtkey/testvectors"
)

// rpID is the RP of every credential the fuzzer's requests make.
const rpID = "fuzz.virtkey.test"

// Corpus returns the built-in seeds: a valid request of each command and
// of the subcommands a platform sends without a PIN, the recorded
// requests of testvectors/ctap, and CTAPHID messages (PING, WINK, MSG).
// Without destructive, seeds that may change the key's state are left out.
func Corpus(destructive bool) []Input {
	var out []Input
	add := func(origin string, cmd ctap.Command, req any) {
		b, err := ctap.Marshal(req)
		if err != nil {
			panic(err)
		}
		msg := append([]byte{byte(cmd)}, b...)
		if req == nil {
			msg = msg[:1]
		}
		if !destructive && !harmless(msg) {
			return
		}
		out = append(out, Input{Origin: origin, Frames: frames(0, ctaphid.CmdCBOR, msg)})
	}
	cdh := sha256.Sum256([]byte("devfuzz"))
	u := func(v uint64) *uint64 { return &v }
	user := &ctap.UserEntity{ID: []byte("fuzz"), Name: "fuzz@virtkey.test", DisplayName: "Fuzz"}
	es256 := []ctap.CredentialParameter{{Type: ctap.CredentialTypePublicKey, Alg: ctap.AlgES256}}
	add("getInfo", ctap.CmdGetInfo, nil)
	add("makeCredential", ctap.CmdMakeCredential, &ctap.MakeCredentialRequest{
		ClientDataHash: cdh[:], RP: &ctap.RPEntity{ID: rpID, Name: "fuzz"}, User: user, PubKeyCredParams: es256,
		Options: map[string]bool{ctap.OptionRK: false},
	})
	add("makeCredential rk", ctap.CmdMakeCredential, &ctap.MakeCredentialRequest{
		ClientDataHash: cdh[:], RP: &ctap.RPEntity{ID: rpID}, User: user, PubKeyCredParams: es256,
		Options: map[string]bool{ctap.OptionRK: true},
	})
	add("getAssertion", ctap.CmdGetAssertion, &ctap.GetAssertionRequest{RPID: rpID, ClientDataHash: cdh[:],
		AllowList: []ctap.CredentialDescriptor{{Type: ctap.CredentialTypePublicKey, ID: bytes.Repeat([]byte{7}, 64)}}})
	add("getNextAssertion", ctap.CmdGetNextAssertion, nil)
	for _, sub := range []uint64{ctap.PINGetPINRetries, ctap.PINGetKeyAgreement, ctap.PINGetUVRetries, ctap.PINGetPinToken, ctap.PINChangePIN} {
		add(fmt.Sprintf("clientPIN subcommand %d", sub), ctap.CmdClientPIN, &ctap.ClientPINRequest{PinUvAuthProtocol: u(2), SubCommand: u(sub)})
	}
	add("credentialManagement getCredsMetadata", ctap.CmdCredentialManagement, &ctap.CredentialManagementRequest{SubCommand: u(1), PinUvAuthProtocol: u(2), PinUvAuthParam: make([]byte, 32)})
	add("bioEnrollment getModality", ctap.CmdBioEnrollment, &ctap.BioEnrollmentRequest{GetModality: new(bool)})
	add("largeBlobs get", ctap.CmdLargeBlobs, &ctap.LargeBlobsRequest{Get: u(64), Offset: u(0)})
	add("authenticatorConfig toggleAlwaysUv", ctap.CmdConfig, &ctap.ConfigRequest{SubCommand: u(2)})
	add("reset", ctap.CmdReset, nil)
	add("selection", ctap.CmdSelection, nil)
	if vs, err := testvectors.Load("ctap"); err == nil {
		for _, v := range vs {
			body, err := v.Hex()
			if err != nil {
				continue
			}
			cmd, err := strconv.ParseUint(strings.TrimPrefix(v.Header["command"], "0x"), 16, 8)
			if err != nil {
				continue
			}
			msg := append([]byte{byte(cmd)}, body...)
			if !destructive && !harmless(msg) {
				continue
			}
			out = append(out, Input{Origin: "testvectors/ctap/" + v.Name, Frames: frames(0, ctaphid.CmdCBOR, msg)})
		}
	}
	out = append(out,
		Input{Origin: "PING of 100 bytes", Frames: frames(0, ctaphid.CmdPing, bytes.Repeat([]byte{0x5a}, 100))},
		Input{Origin: "WINK", Frames: frames(0, ctaphid.CmdWink, nil)},
		// U2F VERSION as an extended APDU (U2F Raw Message Formats §3.1.3).
		Input{Origin: "MSG U2F_VERSION", Frames: frames(0, ctaphid.CmdMsg, []byte{0, 3, 0, 0, 0, 0, 0})},
	)
	return out
}

// Message is an input of one well-formed CTAPHID message on the fuzzer's
// first channel: a seed, such as a request recorded while the conformance
// suite ran.
func Message(origin string, cmd ctaphid.Cmd, msg []byte) (Input, bool) {
	if len(msg) > ctaphid.MaxMessageSize {
		return Input{}, false
	}
	return Input{Origin: origin, Frames: frames(0, cmd, msg)}, true
}

// harmless reports whether a CTAP2 message leaves a shared key as it was
// (apart from non-discoverable credentials, which take no storage): no
// reset, PIN check or change, configuration, deletion, enrollment,
// large-blob write or discoverable credential. A message that does not
// decode cannot change anything and is harmless.
func harmless(msg []byte) bool {
	if len(msg) == 0 {
		return true
	}
	ms, ok := splitMap(msg[1:])
	sub := func(key byte) (uint64, bool) {
		for _, m := range ms {
			if len(m.k) == 1 && m.k[0] == key {
				v, _, ok := head(m.v, 0)
				return v, ok
			}
		}
		return 0, false
	}
	switch ctap.Command(msg[0]) {
	case ctap.CmdReset, ctap.CmdConfig, ctap.CmdBioEnrollment, ctap.CmdBioEnrollmentPre:
		return !ok && len(msg) > 1
	case ctap.CmdClientPIN:
		s, found := sub(2)
		return !ok || !found || s == ctap.PINGetPINRetries || s == ctap.PINGetKeyAgreement || s == ctap.PINGetUVRetries
	case ctap.CmdCredentialManagement, ctap.CmdCredentialManagementPre:
		s, found := sub(1)
		return !ok || !found || s < 6
	case ctap.CmdLargeBlobs:
		for _, m := range ms {
			if len(m.k) == 1 && m.k[0] == 2 {
				return false
			}
		}
	case ctap.CmdMakeCredential:
		return !bytes.Contains(msg, []byte{0x62, 'r', 'k', 0xf5})
	}
	return true
}

// mutate makes a new input from a seed: one to three mutations of the
// CBOR request (for a CTAPHID_CBOR seed) and now and then of the framing.
// Without destructive, an input that is not harmless is drawn again.
func mutate(seed Input, r *rand.Rand, destructive bool) Input {
	for {
		in := Input{Origin: seed.Origin, Frames: seed.Frames}
		msg, isCBOR := cborMessage(seed.Frames)
		if isCBOR && len(msg) > 0 && r.IntN(4) > 0 {
			body, whats := msg[1:], []string(nil)
			for range 1 + r.IntN(3) {
				var what string
				body, what = mutateMap(body, r, 0)
				whats = append(whats, what)
			}
			cmd := msg[0]
			if r.IntN(10) == 0 {
				cmd = byte(r.UintN(0x60))
				whats = append(whats, fmt.Sprintf("command 0x%02x", cmd))
			}
			m := append([]byte{cmd}, body...)
			if len(m) > ctaphid.MaxMessageSize {
				m = m[:ctaphid.MaxMessageSize]
			}
			if !destructive && !harmless(m) {
				continue
			}
			in.Frames = frames(0, ctaphid.CmdCBOR, m)
			in.Origin += ": " + strings.Join(whats, "; ")
		}
		if !isCBOR || r.IntN(3) == 0 {
			var what string
			in.Frames, what = mutateFraming(in.Frames, r)
			in.Origin += ": " + what
			if m, ok := cborMessage(in.Frames); ok && !destructive && !harmless(m) {
				continue
			}
		}
		return in
	}
}

// cborMessage reassembles a CTAPHID_CBOR message from well-formed frames.
func cborMessage(fs []Frame) ([]byte, bool) {
	reps := make([][]byte, len(fs))
	for i, f := range fs {
		reps[i] = f.Report
	}
	m, err := ctaphid.Reassemble(reps)
	if err != nil || m.Cmd != ctaphid.CmdCBOR {
		return nil, false
	}
	return m.Data, true
}
