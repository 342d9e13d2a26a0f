package client

import (
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// Typed inputs and outputs of the credProtect, credBlob, largeBlobKey,
// minPinLength (CTAP 2.1 §12.1 to §12.4) and thirdPartyPayment (CTAP 2.2
// §12) extensions, in the manner of python-fido2's fido2.ctap2.extensions
// but at the CTAP level: the inputs build a request's extensions map, the
// outputs parse the authenticator data's extension outputs. largeBlobKey
// has no authData output: it is AttestationResponse.LargeBlobKey (0x05)
// and AssertionResponse.LargeBlobKey (0x07).

// CredProtectPolicy is a credProtect level (CTAP 2.1 §12.1).
type CredProtectPolicy uint64

// credProtect levels.
const (
	// UserVerificationOptional is level 1, the default.
	UserVerificationOptional CredProtectPolicy = 1
	// UserVerificationOptionalWithCredentialIDList is level 2: without
	// user verification the credential is used only when an allow list
	// names it.
	UserVerificationOptionalWithCredentialIDList CredProtectPolicy = 2
	// UserVerificationRequired is level 3: without user verification the
	// credential is not used at all.
	UserVerificationRequired CredProtectPolicy = 3
)

func (p CredProtectPolicy) String() string {
	switch p {
	case UserVerificationOptional:
		return "userVerificationOptional"
	case UserVerificationOptionalWithCredentialIDList:
		return "userVerificationOptionalWithCredentialIDList"
	case UserVerificationRequired:
		return "userVerificationRequired"
	}
	return fmt.Sprintf("CredProtectPolicy(%d)", uint64(p))
}

// MakeCredentialExtensions are makeCredential extension inputs. A zero
// field is not sent.
type MakeCredentialExtensions struct {
	CredProtect       CredProtectPolicy // credProtect (§12.1)
	CredBlob          []byte            // credBlob (§12.2); nil: not sent, empty: sent empty
	LargeBlobKey      bool              // largeBlobKey: true (§12.3)
	MinPinLength      bool              // minPinLength: true (§12.4)
	ThirdPartyPayment bool              // thirdPartyPayment: true (CTAP 2.2)
	// PinComplexityPolicy is pinComplexityPolicy: true (CTAP 2.2 §12): an
	// RP among minPinLengthRPIDs learns whether the key enforces its PIN
	// complexity policy.
	PinComplexityPolicy bool
}

// Apply adds the inputs to req.Extensions, keeping the other extensions
// there.
func (e MakeCredentialExtensions) Apply(req *ctap.MakeCredentialRequest) {
	m := req.Extensions
	if e.CredProtect != 0 {
		m = setInput(m, ctap.ExtCredProtect, uint64(e.CredProtect))
	}
	if e.CredBlob != nil {
		m = setInput(m, ctap.ExtCredBlob, e.CredBlob)
	}
	if e.LargeBlobKey {
		m = setInput(m, ctap.ExtLargeBlobKey, true)
	}
	if e.MinPinLength {
		m = setInput(m, ctap.ExtMinPinLength, true)
	}
	if e.ThirdPartyPayment {
		m = setInput(m, ctap.ExtThirdPartyPayment, true)
	}
	if e.PinComplexityPolicy {
		m = setInput(m, ctap.ExtPinComplexityPolicy, true)
	}
	req.Extensions = m
}

// GetAssertionExtensions are getAssertion extension inputs. A false field
// is not sent.
type GetAssertionExtensions struct {
	CredBlob          bool // credBlob: true (§12.2)
	LargeBlobKey      bool // largeBlobKey: true (§12.3)
	ThirdPartyPayment bool // thirdPartyPayment: true (CTAP 2.2)
}

// Apply adds the inputs to req.Extensions, keeping the other extensions
// there.
func (e GetAssertionExtensions) Apply(req *ctap.GetAssertionRequest) {
	m := req.Extensions
	if e.CredBlob {
		m = setInput(m, ctap.ExtCredBlob, true)
	}
	if e.LargeBlobKey {
		m = setInput(m, ctap.ExtLargeBlobKey, true)
	}
	if e.ThirdPartyPayment {
		m = setInput(m, ctap.ExtThirdPartyPayment, true)
	}
	req.Extensions = m
}

func setInput(m map[string]ctap.RawMessage, id string, v any) map[string]ctap.RawMessage {
	if m == nil {
		m = make(map[string]ctap.RawMessage)
	}
	m[id] = ctap.MustMarshal(v)
	return m
}

// CredentialExtensionOutputs are the makeCredential authenticator
// extension outputs of these extensions; a nil or zero field was not
// returned.
type CredentialExtensionOutputs struct {
	CredProtect       CredProtectPolicy // the level applied (§12.1)
	CredBlob          *bool             // whether the blob was stored (§12.2)
	MinPinLength      *uint64           // the current minimum PIN length (§12.4)
	ThirdPartyPayment *bool             // CTAP 2.2
	// PinComplexityPolicy is whether the key enforces its PIN complexity
	// policy (CTAP 2.2 §12), returned only to an RP among
	// minPinLengthRPIDs.
	PinComplexityPolicy *bool
}

// AssertionExtensionOutputs are the getAssertion authenticator extension
// outputs of these extensions; a nil field was not returned.
type AssertionExtensionOutputs struct {
	CredBlob          []byte // the stored blob, empty when none (§12.2)
	ThirdPartyPayment *bool  // CTAP 2.2
}

// CredentialExtensions parses the credential's extension outputs from its
// authenticator data. A known output of the wrong type is ErrBadResponse.
func (r *AttestationResponse) CredentialExtensions() (*CredentialExtensionOutputs, error) {
	m, err := extensionOutputs(r.AuthData)
	if err != nil {
		return nil, err
	}
	var out CredentialExtensionOutputs
	if raw, ok := m[ctap.ExtCredProtect]; ok {
		var l uint64
		if err := decodeOutput(ctap.ExtCredProtect, raw, &l); err != nil {
			return nil, err
		}
		out.CredProtect = CredProtectPolicy(l)
	}
	if err := decodeOptional(m, ctap.ExtCredBlob, &out.CredBlob); err != nil {
		return nil, err
	}
	if err := decodeOptional(m, ctap.ExtMinPinLength, &out.MinPinLength); err != nil {
		return nil, err
	}
	if err := decodeOptional(m, ctap.ExtThirdPartyPayment, &out.ThirdPartyPayment); err != nil {
		return nil, err
	}
	if err := decodeOptional(m, ctap.ExtPinComplexityPolicy, &out.PinComplexityPolicy); err != nil {
		return nil, err
	}
	return &out, nil
}

// AssertionExtensions parses the assertion's extension outputs from its
// authenticator data. A known output of the wrong type is ErrBadResponse.
func (r *AssertionResponse) AssertionExtensions() (*AssertionExtensionOutputs, error) {
	m, err := extensionOutputs(r.AuthData)
	if err != nil {
		return nil, err
	}
	var out AssertionExtensionOutputs
	if raw, ok := m[ctap.ExtCredBlob]; ok {
		out.CredBlob = []byte{}
		if err := decodeOutput(ctap.ExtCredBlob, raw, &out.CredBlob); err != nil {
			return nil, err
		}
		if out.CredBlob == nil {
			return nil, fmt.Errorf("%w: extension output %s is null", ErrBadResponse, ctap.ExtCredBlob)
		}
	}
	if err := decodeOptional(m, ctap.ExtThirdPartyPayment, &out.ThirdPartyPayment); err != nil {
		return nil, err
	}
	return &out, nil
}

func extensionOutputs(ad *ctap.AuthData) (map[string]ctap.RawMessage, error) {
	if ad == nil {
		return nil, nil
	}
	m, err := ad.ExtensionOutputs()
	if err != nil {
		return nil, fmt.Errorf("%w: extension outputs: %v", ErrBadResponse, err)
	}
	return m, nil
}

// decodeOptional decodes output id, when present, into a new *T at *p.
func decodeOptional[T any](m map[string]ctap.RawMessage, id string, p **T) error {
	raw, ok := m[id]
	if !ok {
		return nil
	}
	v := new(T)
	if err := decodeOutput(id, raw, v); err != nil {
		return err
	}
	*p = v
	return nil
}

func decodeOutput(id string, raw ctap.RawMessage, v any) error {
	if len(raw) == 1 && (raw[0] == 0xf6 || raw[0] == 0xf7) {
		return fmt.Errorf("%w: extension output %s is null", ErrBadResponse, id)
	}
	if err := ctap.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: extension output %s: %v", ErrBadResponse, id, err)
	}
	return nil
}
