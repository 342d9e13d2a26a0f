// Package ctap holds the Client to Authenticator Protocol as both sides of a
// FIDO2 link speak it: command and status codes, the one CBOR encoding and
// decoding mode, request and response messages, COSE keys and the
// authenticator data codec.
//
// References are to FIDO CTAP 2.1 (Proposed Standard, 2021-06-15) unless a
// comment names CTAP 2.2 or W3C WebAuthn Level 3.
package ctap
