package client

import "errors"

// Sentinel errors. Errors returned by this package wrap them with %w.
var (
	// ErrBadResponse is a response that does not parse: an empty CTAPHID
	// message, malformed CBOR, a body of the wrong shape, a missing required
	// member, or malformed authenticator data.
	ErrBadResponse = errors.New("client: malformed response")
	// ErrNotCanonical is a well-formed response body that is not in CTAP2
	// canonical CBOR form (CTAP 2.1 §8), returned while strict CBOR checking
	// is on (the default; see WithStrictCBOR).
	ErrNotCanonical = errors.New("client: response is not canonical CBOR")
	// ErrAttestation is an attestation statement that does not verify.
	ErrAttestation = errors.New("client: attestation does not verify")
	// ErrAssertion is an assertion signature that does not verify.
	ErrAssertion = errors.New("client: assertion does not verify")
	// ErrTooMany is a device that announces more items than the spec or
	// the client's ceiling allows: more assertions to fetch with
	// getNextAssertion, more RPs or credentials to enumerate, or a larger
	// large-blob array. The client stops before asking for them.
	ErrTooMany = errors.New("client: the device announces more than the client accepts")
)
