package client

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/virtkey/virtkey/ctap"
)

// FuzzParseResponses feeds arbitrary bytes to ParseInfo,
// ParseAttestationResponse and ParseAssertionResponse: none may panic, an
// error comes with a nil value, and a parsed attestation can be verified
// without panicking.
func FuzzParseResponses(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Add(fixedInfo)
	f.Add(minimalInfoBody(f))
	f.Add(assertionBody(f, "cred", u64(2)))
	key := newP256(f)
	authData := credentialAuthData(f, testAAGUID, ctap.AlgES256, key.Public())
	f.Add(attestationBody(f, ctap.FormatNone, authData, nil))
	f.Add(attestationBody(f, ctap.FormatPacked, authData, map[string]any{"alg": ctap.AlgES256, "sig": []byte{0x30, 0x00}}))
	f.Add(attestationBody(f, ctap.FormatPacked, authData, map[string]any{"alg": ctap.AlgES256, "sig": []byte{1}, "x5c": [][]byte{{0x30, 0x03, 0x02, 0x01, 0x01}}}))
	f.Add(attestationBody(f, ctap.FormatFIDOU2F, authData, map[string]any{"sig": []byte{1}, "x5c": [][]byte{{0x30}}}))
	// CTAP 2.2 getInfo bodies (members 0x16-0x1F) from python-fido2's encoder.
	for _, v := range getinfo22Vectors(f) {
		if b, err := v.Hex(); err == nil && len(b) > 0 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h := sha256.Sum256(b)
		info, err := ParseInfo(b)
		if (err == nil) == (info == nil) {
			t.Fatalf("ParseInfo = %v, %v", info, err)
		}
		if info != nil {
			_ = info.Supports(ctap.VersionFIDO21)
			_, _ = info.Option(ctap.OptionRK)
			_, _ = info.SupportsConfigCommand(ctap.ConfigSetMinPINLength)
			for _, f := range []func([]byte) ([]byte, error){info.DecryptIdentifier, info.DecryptCredStoreState} {
				if v, err := f(h[:]); (err == nil) == (v == nil) {
					t.Fatalf("decrypting a getInfo member = %x, %v", v, err)
				}
			}
		}
		att, err := ParseAttestationResponse(b)
		if (err == nil) == (att == nil) {
			t.Fatalf("ParseAttestationResponse = %v, %v", att, err)
		}
		if att != nil {
			if att.AuthData == nil || att.AuthData.AttestedCredential == nil {
				t.Fatal("parsed attestation without attested credential data")
			}
			_ = att.Verify(h[:], nil)
		}
		asn, err := ParseAssertionResponse(b)
		if (err == nil) == (asn == nil) {
			t.Fatalf("ParseAssertionResponse = %v, %v", asn, err)
		}
		var item any
		if ctap.Unmarshal(b, &item) == nil {
			one, oneErr := parseAssertion(b, topKeysOf(item))
			if diff := cmp.Diff(asn, one); diff != "" || fmt.Sprint(err) != fmt.Sprint(oneErr) {
				t.Fatalf("parseAssertion = %v, %v; ParseAssertionResponse = %v, %v", one, oneErr, asn, err)
			}
		}
		if asn != nil {
			if asn.AuthData == nil {
				t.Fatal("parsed assertion without authData")
			}
			if ac := asn.AuthData.AttestedCredential; ac != nil {
				_ = asn.Verify(h[:], ac.PublicKey)
			}
		}
	})
}
