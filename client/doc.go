// Package client is the host side of a FIDO2 link: the CTAP2 commands of
// CTAP 2.1 §6 sent over CTAPHID (ctaphid.Conn), the getInfo, makeCredential
// and getAssertion responses parsed strictly, and the verification of
// attestation statements (WebAuthn Level 3 §8.2 packed, §8.6 fido-u2f, §8.7
// none) and assertion signatures (WebAuthn §6.3.3).
//
// Its API follows python-fido2's fido2.ctap2 module: [Ctap2] sends commands
// and caches [Info]; [AttestationResponse] and [AssertionResponse] hold the
// decoded outputs. Devices are opened with [OpenDevice] (any
// ctaphid.ReportDevice), [OpenUDP] (the SoloKeys simulator convention) or
// [OpenInProcess] (a ctaphid.Handler behind real CTAPHID framing).
//
// Responses are decoded with ctap.Unmarshal, the project's one strict CBOR
// mode; by default a response body that is not in CTAP2 canonical form
// (CTAP 2.1 §8) is rejected with [ErrNotCanonical]. A status other than
// CTAP2_OK is returned as an error that errors.Is matches against the
// ctap.Status value.
//
// References are to FIDO CTAP 2.1 (Proposed Standard, 2021-06-15) and W3C
// WebAuthn Level 3 unless a comment says otherwise.
package client
