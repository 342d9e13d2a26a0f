package authenticator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/virtkey/virtkey/ctap"
)

// u2fAPDU encodes a short APDU (no Le), or an extended one with Le 0000.
func u2fAPDU(ins, p1 byte, data []byte, extended bool) []byte {
	b := []byte{0, ins, p1, 0}
	if extended {
		b = append(b, 0, byte(len(data)>>8), byte(len(data)))
		b = append(b, data...)
		return append(b, 0, 0)
	}
	if len(data) > 0 {
		b = append(b, byte(len(data)))
		b = append(b, data...)
	}
	return b
}

// msg sends an APDU and splits the answer into data and status word.
func (k *testKey) msg(apdu []byte) ([]byte, ctap.StatusWord) {
	k.t.Helper()
	resp, err := k.a.HandleMsg(context.Background(), apdu)
	if err != nil {
		k.t.Fatalf("HandleMsg: %v", err)
	}
	if len(resp) < 2 {
		k.t.Fatalf("HandleMsg: %d bytes", len(resp))
	}
	n := len(resp) - 2
	return resp[:n], ctap.StatusWord(binary.BigEndian.Uint16(resp[n:]))
}

type u2fReg struct {
	pub  *ecdsa.PublicKey
	raw  []byte
	kh   []byte
	cert *x509.Certificate
	sig  []byte
}

func (k *testKey) u2fRegister(challenge, app [32]byte) u2fReg {
	k.t.Helper()
	data, sw := k.msg(u2fAPDU(ctap.U2FRegister, 0, append(challenge[:], app[:]...), false))
	if sw != ctap.SWNoError {
		k.t.Fatalf("register: %v", sw)
	}
	if data[0] != 0x05 {
		k.t.Fatalf("reserved byte %#x", data[0])
	}
	var r u2fReg
	r.raw = data[1:66]
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), r.raw)
	if err != nil {
		k.t.Fatalf("public key: %v", err)
	}
	r.pub = pub
	n := int(data[66])
	r.kh = data[67 : 67+n]
	rest := data[67+n:]
	// The certificate is one DER SEQUENCE; the signature follows.
	var certLen int
	switch {
	case rest[1] < 0x80:
		certLen = 2 + int(rest[1])
	case rest[1] == 0x82:
		certLen = 4 + int(binary.BigEndian.Uint16(rest[2:4]))
	default:
		k.t.Fatalf("certificate length %x", rest[:4])
	}
	if r.cert, err = x509.ParseCertificate(rest[:certLen]); err != nil {
		k.t.Fatalf("certificate: %v", err)
	}
	r.sig = rest[certLen:]
	msg := append([]byte{0}, app[:]...)
	msg = append(msg, challenge[:]...)
	msg = append(msg, r.kh...)
	msg = append(msg, r.raw...)
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(r.cert.PublicKey.(*ecdsa.PublicKey), h[:], r.sig) {
		k.t.Fatalf("registration signature does not verify")
	}
	return r
}

func authData(challenge, app [32]byte, kh []byte) []byte {
	d := append(append(challenge[:0:0], challenge[:]...), app[:]...)
	d = append(d, byte(len(kh)))
	return append(d, kh...)
}

// checkU2FSig verifies an authentication response and returns its flags and counter.
func checkU2FSig(t *testing.T, pub *ecdsa.PublicKey, challenge, app [32]byte, data []byte) (byte, uint32) {
	t.Helper()
	if len(data) < 6 {
		t.Fatalf("authentication response of %d bytes", len(data))
	}
	msg := append(app[:0:0], app[:]...)
	msg = append(msg, data[:5]...)
	msg = append(msg, challenge[:]...)
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub, h[:], data[5:]) {
		t.Fatalf("authentication signature does not verify")
	}
	return data[0], binary.BigEndian.Uint32(data[1:5])
}

func TestU2FVersion(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	for _, apdu := range [][]byte{
		{0, 3, 0, 0},
		{0, 3, 0, 0, 0},             // short Le
		{0, 3, 0, 0, 0, 0, 0},       // extended Le 0000
		{0, 3, 0, 0, 0, 0, 0, 0, 0}, // python-fido2: Lc 0000, Le 0000
	} {
		data, sw := k.msg(apdu)
		if sw != ctap.SWNoError || string(data) != "U2F_V2" {
			t.Errorf("VERSION %x: %q %v", apdu, data, sw)
		}
	}
	if _, sw := k.msg(u2fAPDU(ctap.U2FVersion, 0, []byte{1}, false)); sw != ctap.SWWrongLength {
		t.Errorf("VERSION with data: %v", sw)
	}
}

func TestU2FStatusWords(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	app := sha256.Sum256([]byte("https://u2f.example"))
	reg := k.u2fRegister([32]byte{1}, app)
	for _, tc := range []struct {
		name string
		apdu []byte
		want ctap.StatusWord
	}{
		{"empty", nil, ctap.SWWrongLength},
		{"three bytes", []byte{0, 3, 0}, ctap.SWWrongLength},
		{"short Lc too long", []byte{0, 1, 0, 0, 5, 1, 2}, ctap.SWWrongLength},
		{"extended Lc too long", []byte{0, 1, 0, 0, 0, 0, 5, 1, 2}, ctap.SWWrongLength},
		{"extended truncated", []byte{0, 1, 0, 0, 0, 1}, ctap.SWWrongLength},
		{"CLA", []byte{0x80, 3, 0, 0}, ctap.SWClaNotSupported},
		{"INS", []byte{0, 0x44, 0, 0}, ctap.SWInsNotSupported},
		{"register 63 bytes", u2fAPDU(ctap.U2FRegister, 0, make([]byte, 63), false), ctap.SWWrongLength},
		{"authenticate L mismatch", u2fAPDU(ctap.U2FAuthenticate, 3, append(authData([32]byte{}, app, reg.kh), 0), false), ctap.SWWrongLength},
		{"check-only ours", u2fAPDU(ctap.U2FAuthenticate, 7, authData([32]byte{}, app, reg.kh), false), ctap.SWConditionsNotSatisfied},
		{"check-only ours extended", u2fAPDU(ctap.U2FAuthenticate, 7, authData([32]byte{}, app, reg.kh), true), ctap.SWConditionsNotSatisfied},
		{"check-only other app", u2fAPDU(ctap.U2FAuthenticate, 7, authData([32]byte{}, [32]byte{9}, reg.kh), false), ctap.SWWrongData},
		{"sign other app", u2fAPDU(ctap.U2FAuthenticate, 3, authData([32]byte{}, [32]byte{9}, reg.kh), false), ctap.SWWrongData},
		{"foreign handle", u2fAPDU(ctap.U2FAuthenticate, 3, authData([32]byte{}, app, bytes.Repeat([]byte{7}, 63)), false), ctap.SWWrongData},
		{"bad control", u2fAPDU(ctap.U2FAuthenticate, 5, authData([32]byte{}, app, reg.kh), false), ctap.SWWrongData},
	} {
		if _, sw := k.msg(tc.apdu); sw != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, sw, tc.want)
		}
	}
}

func TestU2FRegisterAuthenticate(t *testing.T) {
	t.Parallel()
	p := NewScriptedPresence()
	k := newTestKey(t, withPresence(p))
	app := sha256.Sum256([]byte("https://u2f.example"))
	p.Push(nil)
	reg := k.u2fRegister([32]byte{1}, app)
	if !bytes.Equal(reg.cert.Raw, k.a.att.leafDER) {
		t.Errorf("attestation certificate is not the leaf")
	}
	if got := p.Requests(); len(got) != 1 || got[0].Reason != ReasonU2FRegister {
		t.Errorf("touch requests %+v", got)
	}
	var last uint32
	for i, tc := range []struct {
		control byte
		touch   bool
		flags   byte
	}{{ctap.U2FEnforceUserPresence, true, 1}, {ctap.U2FDontEnforceUserPresence, false, 0}, {ctap.U2FEnforceUserPresence, true, 1}} {
		if tc.touch {
			p.Push(nil)
		}
		ch := [32]byte{byte(i), 2}
		data, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, tc.control, authData(ch, app, reg.kh), i == 1))
		if sw != ctap.SWNoError {
			t.Fatalf("authenticate %#x: %v", tc.control, sw)
		}
		flags, counter := checkU2FSig(t, reg.pub, ch, app, data)
		if flags != tc.flags || counter <= last {
			t.Errorf("authenticate %#x: flags %#x counter %d after %d", tc.control, flags, counter, last)
		}
		last = counter
		if st, _ := k.store.Load(); st.SignCount != counter {
			t.Errorf("saved counter %d, want %d", st.SignCount, counter)
		}
	}
	if p.Pending() != 0 {
		t.Errorf("%d touches not used", p.Pending())
	}
	// Declined presence: 6985 for both instructions.
	p.Push(ctap.StatusOperationDenied, ctap.StatusOperationDenied)
	if _, sw := k.msg(u2fAPDU(ctap.U2FRegister, 0, make([]byte, 64), false)); sw != ctap.SWConditionsNotSatisfied {
		t.Errorf("declined register: %v", sw)
	}
	if _, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, 3, authData([32]byte{}, app, reg.kh), false)); sw != ctap.SWConditionsNotSatisfied {
		t.Errorf("declined authenticate: %v", sw)
	}
}

// TestU2FCredentialInCTAP2 uses a U2F registration with CTAP2 getAssertion
// (CTAP 2.1 §10.3): the appId hash is SHA-256 of the rpId.
func TestU2FCredentialInCTAP2(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	app := sha256.Sum256([]byte("example.com"))
	reg := k.u2fRegister([32]byte{1}, app)
	resp, s := k.getAssertion(gaReq("example.com", reg.kh))
	if s != ctap.StatusOK {
		t.Fatalf("getAssertion: %v", s)
	}
	ad, err := ctap.ParseAuthData(resp.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	if ad.RPIDHash != app || !ad.Flags.Has(ctap.FlagUP) {
		t.Errorf("authData %+v", ad)
	}
	req := gaReq("example.com")
	h := sha256.Sum256(append(resp.AuthData, req.ClientDataHash...))
	if !ecdsa.VerifyASN1(reg.pub, h[:], resp.Signature) {
		t.Error("assertion does not verify with the U2F public key")
	}
	// Another rpId does not find it.
	if _, s := k.getAssertion(gaReq("other.example", reg.kh)); s != ctap.StatusNoCredentials {
		t.Errorf("getAssertion for another rpId: %v", s)
	}
	// And a CTAP2 ES256 non-discoverable credential works with U2F.
	id, _ := k.mustRegister(mcReq("example.com", []byte{1}, false))
	if _, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, 7, authData([32]byte{}, app, id), false)); sw != ctap.SWConditionsNotSatisfied {
		t.Errorf("check-only with a CTAP2 credential: %v", sw)
	}
}

func TestU2FPresenceWaitEnds(t *testing.T) {
	t.Parallel()
	p := NewScriptedPresence() // nothing queued: Touch waits
	k := newTestKey(t, withPresence(p))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []byte)
	go func() {
		resp, _ := k.a.HandleMsg(ctx, u2fAPDU(ctap.U2FRegister, 0, make([]byte, 64), false))
		done <- resp
	}()
	if err := p.WaitRequests(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel() // CTAPHID_CANCEL
	resp := <-done
	if !bytes.Equal(resp, []byte{0x69, 0x85}) {
		t.Errorf("cancelled register: %x", resp)
	}
}

func TestU2FSaveFails(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	app := sha256.Sum256([]byte("x"))
	reg := k.u2fRegister([32]byte{}, app)
	k.store.FailSaves(errors.New("disk full"))
	if _, sw := k.msg(u2fAPDU(ctap.U2FAuthenticate, 8, authData([32]byte{}, app, reg.kh), false)); sw != ctap.SWUnknown {
		t.Errorf("authenticate with a failing store: %v", sw)
	}
}

func TestParseAPDU(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       []byte
		ok       bool
		data     int
		le       int
		extended bool
	}{
		{[]byte{0, 1, 2, 3}, true, 0, -1, false},
		{[]byte{0, 1, 2, 3, 0}, true, 0, 256, false},
		{[]byte{0, 1, 2, 3, 2, 9, 9}, true, 2, -1, false},
		{[]byte{0, 1, 2, 3, 2, 9, 9, 4}, true, 2, 4, false},
		{[]byte{0, 1, 2, 3, 0, 1, 0}, true, 0, 256, true},
		{[]byte{0, 1, 2, 3, 0, 0, 2, 9, 9}, true, 2, -1, true},
		{[]byte{0, 1, 2, 3, 0, 0, 2, 9, 9, 0, 0}, true, 2, 65536, true},
		{[]byte{0, 1, 2, 3, 0, 0, 0, 0, 0}, true, 0, 65536, true},
		{[]byte{0, 1, 2, 3, 0, 0}, false, 0, 0, false},
		{[]byte{0, 1, 2, 3, 0, 0, 0, 0}, false, 0, 0, false},
		{[]byte{0, 1, 2, 3, 0, 0, 2, 9, 9, 0}, false, 0, 0, false},
		{[]byte{0, 1, 2, 3, 2, 9}, false, 0, 0, false},
	} {
		c, ok := parseAPDU(tc.in)
		if ok != tc.ok || ok && (len(c.data) != tc.data || c.le != tc.le || c.extended != tc.extended) {
			t.Errorf("parseAPDU(%x) = %+v, %t", tc.in, c, ok)
		}
	}
}

// FuzzHandleMsg feeds APDUs to a key holding a U2F registration: no panic,
// never a CTAPHID error, and always a known status word at the end.
func FuzzHandleMsg(f *testing.F) {
	app := sha256.Sum256([]byte("example.com"))
	f.Add([]byte{0, 3, 0, 0})
	f.Add(u2fAPDU(ctap.U2FRegister, 0, make([]byte, 64), true))
	f.Add(u2fAPDU(ctap.U2FAuthenticate, 3, authData([32]byte{}, app, make([]byte, 63)), false))
	f.Add(u2fAPDU(ctap.U2FAuthenticate, 7, authData([32]byte{}, app, make([]byte, 63)), true))
	known := map[ctap.StatusWord]bool{
		ctap.SWNoError: true, ctap.SWConditionsNotSatisfied: true, ctap.SWWrongData: true,
		ctap.SWWrongLength: true, ctap.SWClaNotSupported: true, ctap.SWInsNotSupported: true,
	}
	f.Fuzz(func(t *testing.T, apdu []byte) {
		k := newTestKey(t)
		k.u2fRegister([32]byte{}, app)
		resp, err := k.a.HandleMsg(context.Background(), apdu)
		if err != nil || len(resp) < 2 {
			t.Fatalf("HandleMsg: %x, %v", resp, err)
		}
		sw := ctap.StatusWord(binary.BigEndian.Uint16(resp[len(resp)-2:]))
		if !known[sw] {
			t.Fatalf("status word %v", sw)
		}
		if sw != ctap.SWNoError && len(resp) != 2 {
			t.Fatalf("%v with data", sw)
		}
	})
}

// TestNoU2F: a key whose Config.Versions leave out U2F_V2 answers every
// APDU with SW_INS_NOT_SUPPORTED and its getInfo does not list U2F_V2.
func TestNoU2F(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, withVersions(ctap.VersionFIDO20, ctap.VersionFIDO21))
	var challenge, app [32]byte
	for _, apdu := range [][]byte{
		u2fAPDU(ctap.U2FVersion, 0, nil, true),
		u2fAPDU(ctap.U2FRegister, 0, append(challenge[:], app[:]...), true),
		u2fAPDU(ctap.U2FAuthenticate, 0x07, append(append(challenge[:], app[:]...), 1, 0), true),
	} {
		if data, sw := k.msg(apdu); sw != ctap.SWInsNotSupported || len(data) != 0 {
			t.Errorf("APDU %x: %x %v, want SW_INS_NOT_SUPPORTED", apdu, data, sw)
		}
	}
	if info := k.info(); slices.Contains(info.Versions, ctap.VersionU2FV2) {
		t.Errorf("getInfo versions %v", info.Versions)
	}
	cfg := Config{Versions: []string{ctap.VersionFIDO20}}
	if cfg.Implements(ctap.VersionU2FV2) || !(&Config{}).Implements(ctap.VersionU2FV2) {
		t.Error("Config.Implements")
	}
}
