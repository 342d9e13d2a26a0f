#!/usr/bin/python3
"""Writes testvectors/ctap/*.txt: CTAP2 request messages encoded by an
encoder this project did not write (python-fido2's fido2.cbor, as Debian
packages it), with the decoding and the status an authenticator must give.

Run from the repository root with Debian's interpreter:
    /usr/bin/python3 testvectors/gen/ctap_requests.py
"""
import os
from fido2 import cbor

OUT = os.path.join(os.path.dirname(__file__), "..", "ctap")
SRC = "python-fido2 0.9.1 fido2.cbor.encode (Debian python3-fido2), testvectors/gen/ctap_requests.py"

cdh = bytes(range(32))
rp = {"id": "example.com", "name": "Example"}
user = {"id": b"\x01\x02\x03\x04", "name": "alice", "displayName": "Alice"}
es256 = {"type": "public-key", "alg": -7}

def vec(name, command, body, expect, status, comment, **fields):
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write("source: %s\n" % SRC)
        f.write("comment: %s\n" % comment)
        f.write("command: 0x%02x\n" % command)
        f.write("expect: %s\n" % expect)
        f.write("status: %s\n" % status)
        for k, v in sorted(fields.items()):
            f.write("%s: %s\n" % (k.replace("_", "-"), v))
        f.write("\n")
        h = body.hex()
        for i in range(0, len(h), 64):
            f.write(h[i:i+64] + "\n")

def enc(m):
    return cbor.encode(m)

# authenticatorMakeCredential, CTAP 2.1 §6.1.1
vec("mc-minimal", 0x01, enc({1: cdh, 2: rp, 3: user, 4: [es256]}), "ok", "CTAP2_OK",
    "makeCredential with the four required members (§6.1.1)",
    rp_id="example.com", user_id="01020304", alg="-7")
vec("mc-resident", 0x01, enc({1: cdh, 2: rp, 3: user, 4: [{"type": "public-key", "alg": -8}, es256],
                              7: {"rk": True}}), "ok", "CTAP2_OK",
    "makeCredential rk=true, EdDSA preferred over ES256 (§6.1.1)",
    rp_id="example.com", user_id="01020304", alg="-8", options="rk=true")
vec("mc-rk-false", 0x01, enc({1: cdh, 2: rp, 3: user, 4: [es256], 7: {"rk": False, "up": True}}),
    "ok", "CTAP2_OK", "an explicit rk=false must survive decoding (§6.1.1)",
    rp_id="example.com", user_id="01020304", alg="-7", options="rk=false,up=true")
vec("mc-exclude", 0x01, enc({1: cdh, 2: rp, 3: user, 4: [es256],
                             5: [{"type": "public-key", "id": b"\xaa" * 16}]}), "ok", "CTAP2_OK",
    "makeCredential with an excludeList of one descriptor (§6.1.1)",
    rp_id="example.com", user_id="01020304", alg="-7", exclude="1")
vec("mc-unknown-entity-members", 0x01, enc({1: cdh, 2: dict(rp, extra="x"), 3: dict(user, extra=1), 4: [es256]}),
    "ok", "CTAP2_OK", "unknown members of rp and user are ignored (§6.1.2 step 1)",
    rp_id="example.com", user_id="01020304", alg="-7")
vec("mc-missing-cdh", 0x01, enc({2: rp, 3: user, 4: [es256]}), "ok", "CTAP2_ERR_MISSING_PARAMETER",
    "clientDataHash absent: decodes, and the key answers MISSING_PARAMETER (§6.1.2 step 1)",
    rp_id="example.com", user_id="01020304", alg="-7")
vec("mc-missing-user", 0x01, enc({1: cdh, 2: rp, 4: [es256]}), "ok", "CTAP2_ERR_MISSING_PARAMETER",
    "user absent (§6.1.2 step 1)", rp_id="example.com", alg="-7")
vec("mc-cdh-text", 0x01, enc({1: "not bytes", 2: rp, 3: user, 4: [es256]}), "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
    "CTAP2_ERR_CBOR_UNEXPECTED_TYPE", "clientDataHash as a text string (§8.2)")
vec("mc-params-not-array", 0x01, enc({1: cdh, 2: rp, 3: user, 4: es256}), "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
    "CTAP2_ERR_CBOR_UNEXPECTED_TYPE", "pubKeyCredParams as a map, not an array (§6.1.1)")
vec("mc-option-not-bool", 0x01, enc({1: cdh, 2: rp, 3: user, 4: [es256], 7: {"rk": 1}}),
    "CTAP2_ERR_CBOR_UNEXPECTED_TYPE", "CTAP2_ERR_CBOR_UNEXPECTED_TYPE", "option value 1 instead of true (§6.1.1)")
vec("mc-unsupported-alg", 0x01, enc({1: cdh, 2: rp, 3: user, 4: [{"type": "public-key", "alg": -65535}]}),
    "ok", "CTAP2_ERR_UNSUPPORTED_ALGORITHM", "no supported algorithm in pubKeyCredParams (§6.1.2 step 3)",
    rp_id="example.com", user_id="01020304", alg="-65535")
full = enc({1: cdh, 2: rp, 3: user, 4: [es256]})
vec("mc-truncated", 0x01, full[:-3], "CTAP2_ERR_INVALID_CBOR", "CTAP2_ERR_INVALID_CBOR",
    "a makeCredential message cut short (§8)")
vec("mc-trailing", 0x01, full + b"\x00", "CTAP2_ERR_INVALID_CBOR", "CTAP2_ERR_INVALID_CBOR",
    "a byte after the request map (§8)")
# A map with key 1 twice, built by hand: a2 01 58 20 <cdh> 01 58 20 <cdh>.
vec("mc-duplicate-key", 0x01, b"\xa2\x01\x58\x20" + cdh + b"\x01\x58\x20" + cdh, "CTAP2_ERR_INVALID_CBOR",
    "CTAP2_ERR_INVALID_CBOR", "duplicate map key (§8: canonical CBOR has unique keys)")
vec("mc-indefinite-map", 0x01, b"\xbf\x01\x58\x20" + cdh + b"\xff", "CTAP2_ERR_INVALID_CBOR",
    "CTAP2_ERR_INVALID_CBOR", "indefinite-length map (§8: definite lengths only)")
vec("mc-not-map", 0x01, enc([1, 2, 3]), "CTAP2_ERR_CBOR_UNEXPECTED_TYPE", "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
    "the request is an array, not a map (§6)")

# authenticatorGetAssertion, CTAP 2.1 §6.2.1
vec("ga-minimal", 0x02, enc({1: "example.com", 2: cdh}), "ok", "CTAP2_ERR_NO_CREDENTIALS",
    "getAssertion with rpId and clientDataHash only, on a key with no credentials (§6.2.2 step 12)",
    rp_id="example.com")
vec("ga-allow-list", 0x02, enc({1: "example.com", 2: cdh, 3: [{"type": "public-key", "id": b"\x01" * 32,
                                                                "transports": ["usb"]}],
                               5: {"up": False}}), "ok", "CTAP2_ERR_NO_CREDENTIALS",
    "getAssertion with a foreign credential ID and up=false (§6.2.2)",
    rp_id="example.com", allow="1", options="up=false")
vec("ga-missing-rpid", 0x02, enc({2: cdh}), "ok", "CTAP2_ERR_MISSING_PARAMETER",
    "rpId absent (§6.2.2 step 1)")
vec("ga-rpid-bytes", 0x02, enc({1: b"example.com", 2: cdh}), "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
    "CTAP2_ERR_CBOR_UNEXPECTED_TYPE", "rpId as a byte string (§6.2.1)")
vec("ga-bad-utf8", 0x02, b"\xa2\x01\x62\xc3\x28\x02\x58\x20" + cdh, "CTAP2_ERR_INVALID_CBOR",
    "CTAP2_ERR_INVALID_CBOR", "rpId text string with invalid UTF-8 (RFC 8949 §3.1)")

# authenticatorClientPIN, CTAP 2.1 §6.5.5
vec("cp-get-retries", 0x06, enc({1: 1, 2: 1}), "ok", "CTAP2_OK",
    "getPINRetries with protocol 1 (§6.5.5.2)", subcommand="1")
vec("cp-get-key-agreement-v2", 0x06, enc({1: 2, 2: 2}), "ok", "CTAP2_OK",
    "getKeyAgreement with protocol 2 (§6.5.5.3)", subcommand="2")
vec("cp-missing-subcommand", 0x06, enc({1: 2}), "ok", "CTAP2_ERR_MISSING_PARAMETER",
    "subCommand absent (§6.5.5)")

# authenticatorCredentialManagement, CTAP 2.1 §6.8
vec("cm-metadata", 0x0a, enc({1: 1, 3: 2, 4: b"\x00" * 32}), "ok", "CTAP2_ERR_PIN_AUTH_INVALID",
    "getCredsMetadata with a wrong pinUvAuthParam (§6.8.2)", subcommand="1")
vec("cm-enumerate-creds", 0x0a, enc({1: 4, 2: {1: b"\x11" * 32}, 3: 2, 4: b"\x00" * 32}), "ok",
    "CTAP2_ERR_PIN_AUTH_INVALID", "enumerateCredentialsBegin with subCommandParams (§6.8.4)",
    subcommand="4")

# authenticatorLargeBlobs, CTAP 2.1 §6.10
vec("lb-get", 0x0c, enc({1: 64, 3: 0}), "ok", "CTAP2_OK", "read the first 64 bytes of the large-blob array (§6.10.2)")

# authenticatorConfig, CTAP 2.1 §6.11
vec("cfg-set-min-pin", 0x0d, enc({1: 3, 2: {1: 6, 2: ["example.com"], 3: True}, 3: 2, 4: b"\x00" * 32}),
    "ok", "CTAP2_ERR_PIN_NOT_SET",
    "setMinPINLength with all parameters on a key without PIN or UV: the MAC is not checked (§6.11), and forceChangePin without a PIN is refused (§6.11.4)",
    subcommand="3")

# authenticatorBioEnrollment, CTAP 2.1 §6.7
vec("be-get-modality", 0x09, enc({6: True}), "ok", "CTAP2_OK",
    "getModality on a key with a fingerprint sensor (§6.7.2)")
