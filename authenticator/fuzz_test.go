package authenticator

import (
	"context"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// validStatus reports whether s is a status this key may answer.
func validStatus(s ctap.Status) bool {
	_, named := statusNames[s]
	return named
}

var statusNames = func() map[ctap.Status]bool {
	m := map[ctap.Status]bool{}
	for i := range 256 {
		s := ctap.Status(i)
		if n := s.String(); len(n) > 5 && (n[:5] == "CTAP1" || n[:5] == "CTAP2") && s != ctap.StatusSpecLast {
			m[s] = true
		}
	}
	return m
}()

// FuzzHandle feeds a command byte and a payload to a fresh key: no panic,
// a known status, and for CTAP2_OK a canonical CBOR body.
func FuzzHandle(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(byte(v.cmd), v.params)
	}
	for _, cmd := range []ctap.Command{ctap.CmdGetInfo, ctap.CmdReset, ctap.CmdSelection, ctap.CmdGetNextAssertion} {
		f.Add(byte(cmd), []byte(nil))
	}
	f.Add(byte(ctap.CmdGetAssertion), ctap.MustMarshal(gaReq("example.com")))
	f.Add(byte(ctap.CmdMakeCredential), ctap.MustMarshal(mcReq("example.com", []byte{1}, true, ctap.AlgEdDSA)))
	f.Fuzz(func(t *testing.T, cmd byte, params []byte) {
		k := newTestKey(t)
		// A discoverable and a non-discoverable credential, so that
		// getAssertion inputs can reach the signing steps.
		k.mustRegister(mcReq("example.com", []byte{1}, true))
		k.mustRegister(mcReq("example.com", []byte{2}, true, ctap.AlgEdDSA))
		for range 2 { // twice: getNextAssertion after getAssertion
			status, body := k.a.Handle(context.Background(), ctap.Command(cmd), params)
			if !validStatus(status) {
				t.Fatalf("status %v", status)
			}
			if status != ctap.StatusOK {
				if len(body) != 0 {
					t.Fatalf("status %v with %d bytes of body", status, len(body))
				}
			} else if len(body) > 0 && !ctap.IsCanonical(body) {
				t.Fatalf("non-canonical response %x", body)
			}
			resp := k.a.HandleCBOR(context.Background(), append([]byte{cmd}, params...))
			if len(resp) == 0 || !validStatus(ctap.Status(resp[0])) {
				t.Fatalf("HandleCBOR: %x", resp)
			}
			cmd = byte(ctap.CmdGetNextAssertion)
			params = nil
		}
	})
}
