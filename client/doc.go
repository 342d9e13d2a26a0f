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
// The CTAP 2.2 additions (§6.4 getInfo members 0x16-0x1F, the pcmr
// permission of a persistent pinUvAuthToken, setMinPINLength's
// pinComplexityPolicy) follow python-fido2 2.2 (Yubico/python-fido2 at
// d1fd711): [Info] types every member, [Info.DecryptIdentifier] and
// [Info.DecryptCredStoreState] open encIdentifier and encCredStoreState
// (python-fido2's get_identifier and get_cred_store_state),
// [IsCredentialManagementReadOnlySupported] is is_readonly_supported and
// [Config.SetMinPINLengthParams] takes pinComplexityPolicy. Where the 2.2
// text could not be read, a doc comment names the secondary source.
//
// The rest of python-fido2's fido2.ctap2 names map as follows: the CMD,
// PARAM, RESULT and PERMISSION enums are ctap's constants
// (ctap.CmdMakeCredential, ctap.PermissionPersistentCredMgmtRO, ...);
// PinProtocolV1.IV and PinProtocolV2's HKDF_SALT, HKDF_INFO_HMAC and
// HKDF_INFO_AES are [PinProtocolV1IV], [PinProtocolV2HKDFSalt],
// [PinProtocolV2HKDFInfoHMAC] and [PinProtocolV2HKDFInfoAES];
// ClientPin.PROTOCOLS is [PinProtocols]; FPBioEnrollment.FEEDBACK and its
// strings are the Feedback constants, [FeedbackName] and [FeedbackString];
// the ctap and pin_uv members of the management classes are their Ctap,
// Protocol and Token methods.
//
// Responses are decoded with ctap.Unmarshal, the project's one strict CBOR
// mode; by default a response body that is not in CTAP2 canonical form
// (CTAP 2.1 §8) is rejected with [ErrNotCanonical]. A status other than
// CTAP2_OK is returned as an error that errors.Is matches against the
// ctap.Status value.
//
// References are to FIDO CTAP 2.1 (Proposed Standard, 2021-06-15) and W3C
// WebAuthn Level 3 unless a comment says CTAP 2.2.
package client
