#!/usr/bin/python3
"""Drives a virtkey over UDP with Debian's python3-fido2 (0.9.1), a client
this project did not write.

    virtkey serve --udp 127.0.0.1:8111 --profile fido20-pin &
    /usr/bin/python3 interop/python_fido2_udp.py 127.0.0.1:8111 fido20-pin

The UDP convention is SoloKeys' simulator: one 64-byte HID report per
datagram, no report-ID byte. Exits non-zero on the first mismatch and
prints one line per check.

The checks follow the key's getInfo as python-fido2 does: the PIN/UV auth
protocols it lists, and the management modules (credential management,
large blobs, bio enrollment, config, hmac-secret, credProtect) only where
the key lists the option or extension. What a key does not list it must
refuse: a key that lists no CTAP 2.1 version answers the 2.1 commands
CTAP1_ERR_INVALID_COMMAND and refuses the 2.1 clientPIN subcommands and a
PIN/UV auth protocol it does not list. The second argument names the
device profile (`virtkey profiles`) for the messages and for EXPECT, what
the profiles this project promises to keep working with python-fido2 must
list, so that a profile cannot pass by listing less.

A check the key is known to fail is listed, with its reason, in
interop/expected-failures.txt as PROFILE <TAB> py:NAME <TAB> REASON; such a
failure is reported and the run goes on, and a listed check that passes
fails the run (the line is stale).
"""
import hashlib
import os
import socket
import sys

from fido2.attestation import Attestation
from fido2.attestation.base import verify_x509_chain
from fido2.cose import CoseKey
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.hid import CAPABILITY, CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

REPORT = 64
PIN = "56789"

# CTAP 2.1 and 2.1-PRE commands a CTAP 2.0 key does not have (CTAP 2.1
# §6: credentialManagement 0x0A, selection 0x0B, largeBlobs 0x0C, config
# 0x0D; the prototype codes bioEnrollment 0x40 and credentialManagement
# 0x41 of FIDO_2_1_PRE, §6.7 and §6.8) and bioEnrollment 0x09.
CTAP21_COMMANDS = {0x09: "bioEnrollment", 0x0A: "credentialManagement", 0x0B: "selection",
                   0x0C: "largeBlobs", 0x0D: "config", 0x40: "bioEnrollment (2.1-PRE)",
                   0x41: "credentialManagement (2.1-PRE)"}
# clientPIN subcommands CTAP 2.1 added (§6.5.5.1): getPinUvAuthTokenUsingUv-
# WithPermissions, getUVRetries, getPinUvAuthTokenUsingPinWithPermissions.
CTAP21_PIN_SUBCOMMANDS = {0x06: "getPinUvAuthTokenUsingUvWithPermissions", 0x07: "getUVRetries",
                          0x09: "getPinUvAuthTokenUsingPinWithPermissions"}

# What the profiles named in issue 15 must list (getInfo versions,
# pinUvAuthProtocols in order, options present and absent), written down
# from the keys they model rather than read from the daemon. A profile not
# named here is checked against its own getInfo only.
EXPECT = {
    "fido21": {"versions": {"FIDO_2_0", "FIDO_2_1"}, "not_versions": set(), "protocols": [2, 1],
               "options": {"rk", "up", "clientPin", "pinUvAuthToken", "credMgmt", "largeBlobs", "authnrCfg"},
               "not_options": {"uv", "bioEnroll"}},
    "fido21-bio": {"versions": {"FIDO_2_0", "FIDO_2_1"}, "not_versions": set(), "protocols": [2, 1],
                   "options": {"rk", "up", "clientPin", "pinUvAuthToken", "credMgmt", "largeBlobs", "authnrCfg",
                               "uv", "bioEnroll"},
                   "not_options": set()},
    # A CTAP 2.0 key: FIDO_2_0 alone among the CTAP2 versions, PIN
    # protocol 1 only (CTAP 2.0 §5.5.1), the options CTAP 2.0 defines
    # (§5.4: plat, rk, clientPin, up, uv).
    "fido20-pin": {"versions": {"FIDO_2_0"}, "not_versions": {"FIDO_2_1", "FIDO_2_1_PRE", "FIDO_2_2"},
                   "protocols": [1], "options": {"rk", "up", "clientPin"},
                   "not_options": {"pinUvAuthToken", "credMgmt", "credentialMgmtPreview", "largeBlobs",
                                   "authnrCfg", "bioEnroll", "userVerificationMgmtPreview", "setMinPINLength",
                                   "alwaysUv", "ep", "makeCredUvNotRqd", "uv"}},
    # The profiles issue 15 added. Optional members: false_options (absent
    # or false), algorithms (getInfo 0x0A, exactly), flags (authData bits
    # every new credential has: BE 0x08, BS 0x10, WebAuthn L3 §6.1), fmt
    # (the attestation format).
    "fido21-nork": {"versions": {"FIDO_2_0", "FIDO_2_1"}, "not_versions": set(), "protocols": [2, 1],
                    "options": {"up", "clientPin", "pinUvAuthToken"}, "not_options": {"credMgmt", "largeBlobs"},
                    "false_options": {"rk"}},
    "fido21-es256": {"versions": {"FIDO_2_0", "FIDO_2_1"}, "not_versions": set(), "protocols": [2, 1],
                     "options": {"rk", "up", "clientPin", "credMgmt"}, "not_options": set(), "algorithms": [-7]},
    "passkey": {"versions": {"FIDO_2_0", "FIDO_2_1"}, "not_versions": set(), "protocols": [2, 1],
                "options": {"rk", "up", "uv", "clientPin", "credMgmt"}, "not_options": set(), "algorithms": [-7],
                "flags": 0x18, "fmt": "none"},
    "fido22": {"versions": {"FIDO_2_0", "FIDO_2_1", "FIDO_2_2"}, "not_versions": set(), "protocols": [2, 1],
               "options": {"rk", "up", "clientPin", "pinUvAuthToken", "credMgmt", "largeBlobs", "authnrCfg"},
               "not_options": set()},
    # A CTAP 2.2 key without CTAP1/U2F (CAPABILITY_NMSG, no U2F_V2).
    "fido22-uv": {"versions": {"FIDO_2_0", "FIDO_2_1", "FIDO_2_2"}, "not_versions": {"U2F_V2"}, "protocols": [2, 1],
                  "options": {"rk", "up", "uv", "clientPin", "pinUvAuthToken", "credMgmt", "largeBlobs", "authnrCfg"},
                  "not_options": {"bioEnroll"}},
}


class UdpConnection(CtapHidConnection):
    """A CtapHidConnection over a UDP socket."""

    def __init__(self, host, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(10)
        self.sock.connect((host, port))

    def write_packet(self, data):
        if len(data) != REPORT:
            raise ValueError("report of %d bytes" % len(data))
        self.sock.send(data)

    def read_packet(self):
        data = self.sock.recv(REPORT)
        if len(data) != REPORT:
            raise ValueError("datagram of %d bytes" % len(data))
        return data

    def close(self):
        self.sock.close()


checks = 0
# The checks interop/expected-failures.txt lists for this profile:
# {name: reason}; set by main.
expected = {}
# Listed checks that failed, and those that passed.
known_failures, stale = [], []


def check(cond, what):
    global checks
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    checks += 1
    print("ok:", what)


def known(name, cond, what):
    """A check that interop/expected-failures.txt may list for the profile
    as py:NAME: a listed failure is reported and the run goes on."""
    if name not in expected:
        check(cond, what)
        return
    if cond:
        print("PASS of a listed failure: py:%s: %s" % (name, what))
        stale.append(name)
    else:
        print("expected FAIL: py:%s: %s (listed: %s)" % (name, what, expected[name]))
        known_failures.append(name)


def read_expected(profile):
    """The py:NAME checks interop/expected-failures.txt lists for profile."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected-failures.txt")
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t", 2)
            if len(fields) == 3 and fields[0] == profile and fields[1].startswith("py:"):
                out[fields[1][3:]] = fields[2].strip()
    return out


def status_of(f):
    """Runs f and returns the CTAP status it ends with, 0 for success."""
    try:
        f()
    except CtapError as e:
        return int(e.code)
    return 0


def expect_profile(info, profile):
    """Checks getInfo against EXPECT for a profile named there."""
    want = EXPECT.get(profile)
    if want is None:
        print("note: profile %s is checked against its own getInfo" % profile)
        return
    check(want["versions"] <= set(info.versions) and not want["not_versions"] & set(info.versions),
          "%s: getInfo versions %s" % (profile, info.versions))
    check(list(info.pin_uv_protocols) == want["protocols"],
          "%s: pinUvAuthProtocols %s, want %s" % (profile, info.pin_uv_protocols, want["protocols"]))
    check(want["options"] <= set(info.options), "%s: getInfo options %s list %s" % (
        profile, sorted(info.options), sorted(want["options"])))
    extra = want["not_options"] & set(info.options)
    check(not extra, "%s: getInfo options list none of %s" % (profile, sorted(want["not_options"])))
    true = {o for o in want.get("false_options", ()) if info.options.get(o)}
    check(not true, "%s: getInfo options %s absent or false" % (profile, sorted(want.get("false_options", ()))))
    if "algorithms" in want:
        algs = [a.get("alg") for a in (info.algorithms or [])]
        check(algs == want["algorithms"], "%s: getInfo algorithms %s, want %s" % (profile, algs, want["algorithms"]))


def refusals(ctap, info):
    """What a key that lists no CTAP 2.1 version and a subset of the PIN/UV
    auth protocols must refuse. Each group is one check, which
    interop/expected-failures.txt may list."""
    if not {"FIDO_2_1", "FIDO_2_1_PRE"} & set(info.versions):
        got = {cmd: status_of(lambda: ctap.send_cbor(cmd, {})) for cmd in CTAP21_COMMANDS}
        bad = ["%s (0x%02x) answers 0x%02x" % (CTAP21_COMMANDS[c], c, st)
               for c, st in sorted(got.items()) if st != CtapError.ERR.INVALID_COMMAND]
        known("21-commands", not bad, "a CTAP 2.0 key answers the CTAP 2.1 commands %s CTAP1_ERR_INVALID_COMMAND%s" % (
            " ".join("0x%02x" % c for c in sorted(got)), ": " + "; ".join(bad) if bad else ""))
        proto = info.pin_uv_protocols[0]
        got = {sub: status_of(lambda: ctap.client_pin(proto, sub)) for sub in CTAP21_PIN_SUBCOMMANDS}
        # CTAP 2.0 names no status for an unknown subcommand; a 2.0 key
        # answers it as one of these (CTAP 2.1 §6.5.5: INVALID_SUBCOMMAND).
        refused = (CtapError.ERR.INVALID_COMMAND, CtapError.ERR.INVALID_PARAMETER, CtapError.ERR.INVALID_SUBCOMMAND)
        bad = ["%s (0x%02x) answers 0x%02x" % (CTAP21_PIN_SUBCOMMANDS[c], c, st)
               for c, st in sorted(got.items()) if st not in refused]
        known("21-pin-subcommands", not bad,
              "a CTAP 2.0 key refuses the CTAP 2.1 clientPIN subcommands %s as unknown%s" % (
                  " ".join("0x%02x" % c for c in sorted(got)), ": " + "; ".join(bad) if bad else ""))
    for proto in (1, 2):
        if proto in info.pin_uv_protocols:
            continue
        st = status_of(lambda: ctap.client_pin(proto, ClientPin.CMD.GET_KEY_AGREEMENT))
        # CTAP 2.1 §6.5.5.4 step 1: CTAP1_ERR_INVALID_PARAMETER; CTAP 2.0
        # §5.5 names no status, only that the request fails.
        v21 = "FIDO_2_1" in info.versions
        want = "CTAP1_ERR_INVALID_PARAMETER" if v21 else "an error"
        ok = st == CtapError.ERR.INVALID_PARAMETER if v21 else st != 0
        known("unlisted-protocol", ok, "getKeyAgreement with the unlisted protocol %d answers 0x%02x, want %s" % (
            proto, st, want))


# The management modules, each with what the key must list for it to run.
MODULES = [
    ("python_fido2_hmacsecret", "extension hmac-secret", lambda i: "hmac-secret" in i.extensions),
    ("python_fido2_credman", "options credMgmt and rk",
     lambda i: i.options.get("credMgmt") is not None and i.options.get("rk")),
    ("python_fido2_largeblobs", "option largeBlobs", lambda i: i.options.get("largeBlobs") is not None),
    ("python_fido2_bio", "option bioEnroll", lambda i: i.options.get("bioEnroll") is not None),
    ("python_fido2_credprotect", "extension credProtect and options credMgmt and rk",
     lambda i: "credProtect" in i.extensions and i.options.get("credMgmt") is not None and i.options.get("rk")),
    # Config goes last: it raises the minimum PIN length and toggles
    # alwaysUv.
    ("python_fido2_config", "option authnrCfg", lambda i: i.options.get("authnrCfg") is not None),
]


def main():
    global expected
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8111").rsplit(":", 1)
    profile = sys.argv[2] if len(sys.argv) > 2 else "fido21"
    expected = read_expected(profile)
    desc = HidDescriptor("udp:%s:%s" % (host, port), 0x1209, 0x000F, REPORT, REPORT)
    dev = CtapHidDevice(desc, UdpConnection(host, int(port)))
    check(dev.version == 2, "CTAPHID INIT: protocol version 2, channel 0x%08x" % dev._channel_id)
    check(dev.ping(b"virtkey") == b"virtkey", "CTAPHID PING echoes")
    if not dev.capabilities & CAPABILITY.CBOR:
        check(profile not in EXPECT, "%s: CAPABILITY_CBOR in INIT" % profile)
        print("python-fido2 against %s: a U2F-only key, no CTAP2: %d checks passed" % (profile, checks))
        return

    ctap = Ctap2(dev)  # strict_cbor: every response must be canonical
    info = ctap.info
    check("FIDO_2_0" in info.versions, "getInfo versions %s" % info.versions)
    check(len(info.aaguid) == 16, "getInfo aaguid %s" % info.aaguid.hex())
    check(info.options.get("up") is True, "getInfo options %s" % info.options)
    expect_profile(info, profile)
    refusals(ctap, info)

    rp = {"id": "python-fido2.example", "name": "python-fido2"}
    suffix = os.urandom(4)
    for rk in (False, True):
        if rk and not info.options.get("rk"):
            st = status_of(lambda: ctap.make_credential(
                hashlib.sha256(b"rk").digest(), rp, {"id": b"rk", "name": "rk"},
                [{"type": "public-key", "alg": -7}], options={"rk": True}))
            # CTAP 2.1 §6.1.2 step 5.3.1.
            check(st == CtapError.ERR.UNSUPPORTED_OPTION,
                  "getInfo rk false: a discoverable credential answers 0x%02x, want UNSUPPORTED_OPTION" % st)
            continue
        cdh = hashlib.sha256(b"make-credential-%d" % rk).digest()
        user = {"id": b"user-" + suffix + bytes([rk]), "name": "alice", "displayName": "Alice"}
        options = {"rk": True} if rk else None
        if rk and info.options.get("uv"):
            # A key with built-in UV configured verifies the user for a
            # discoverable credential (CTAP 2.1 §6.1.2 step 6.1; the
            # daemon's --presence auto matches).
            options["uv"] = True
        att = ctap.make_credential(cdh, rp, user, [{"type": "public-key", "alg": -7}], options=options)
        # packed, or none for a key without attestation (a passkey
        # provider's; WebAuthn L3 §8.7).
        check(att.fmt in ("packed", "none"), "makeCredential rk=%s fmt %s" % (rk, att.fmt))
        want = EXPECT.get(profile, {})
        if "fmt" in want:
            check(att.fmt == want["fmt"], "%s: attestation format %s, want %s" % (profile, att.fmt, want["fmt"]))
        if "flags" in want:
            check(att.auth_data.flags & want["flags"] == want["flags"],
                  "%s: authData flags 0x%02x have 0x%02x (BE, BS)" % (profile, att.auth_data.flags, want["flags"]))
        if options and options.get("uv"):
            check(att.auth_data.is_user_verified(), "built-in UV: authData UV flag")
        verifier = Attestation.for_type(att.fmt)()
        result = verifier.verify(att.att_statement, att.auth_data, cdh)
        if att.fmt == "none":
            check(att.att_statement == {} and att.auth_data.credential_data.aaguid == info.aaguid,
                  "none attestation: empty attStmt")
        else:
            check(len(result.trust_path) >= 1, "packed attestation verifies with x5c of %d" % len(result.trust_path))
        if len(result.trust_path) > 1:
            verify_x509_chain(result.trust_path)
            check(True, "x5c chain verifies")
        cred = att.auth_data.credential_data
        check(att.auth_data.rp_id_hash == hashlib.sha256(rp["id"].encode()).digest(), "authData rpIdHash")
        check(att.auth_data.is_user_present(), "authData UP flag")
        check(cred.aaguid == info.aaguid, "authData AAGUID equals getInfo's")
        key = CoseKey.parse(cred.public_key)

        cdh2 = hashlib.sha256(b"get-assertion-%d" % rk).digest()
        allow = None if rk else [{"type": "public-key", "id": cred.credential_id}]
        assertion = ctap.get_assertion(rp["id"], cdh2, allow)
        assertion.verify(cdh2, key)
        check(True, "getAssertion rk=%s signature verifies" % rk)
        check(assertion.credential["id"] == cred.credential_id, "getAssertion credential ID")
        check(assertion.auth_data.counter > att.auth_data.counter, "signature counter grows")
        if rk:
            check(assertion.user["id"] == user["id"], "discoverable credential returns the user ID")

    try:
        ctap.get_assertion("unknown.example", hashlib.sha256(b"x").digest())
        check(False, "getAssertion for an unknown RP fails")
    except CtapError as e:
        check(e.code == CtapError.ERR.NO_CREDENTIALS, "unknown RP: %s" % e.code)
    if "clientPin" not in info.options:
        print("no clientPin option: the PIN checks and the management modules are skipped")
    else:
        pin_section(ctap, rp)
        # The management modules, each against this key with the PIN set
        # above (CTAP 2.1 §6.7, §6.8, §6.10, §6.11, §12.1, §12.5).
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        for name, needs, has in MODULES:
            if not has(ctap.get_info()):
                print("-- %s: skipped, the key does not list the %s" % (name, needs))
                continue
            print("--", name)
            __import__(name).run(ctap, PIN, check)
    print("python-fido2 against %s: %d checks passed, %d listed failures" % (profile, checks, len(known_failures)))
    if stale:
        print("FAIL: listed in interop/expected-failures.txt but passed: %s" % ", ".join("py:" + n for n in stale))
        sys.exit(1)


def pin_section(ctap, rp):
    """clientPIN with both PIN/UV auth protocols (CTAP 2.1 §6.5), then
    makeCredential and getAssertion with a pinUvAuthToken. Needs a key
    without a PIN."""
    info = ctap.get_info()
    check(info.options.get("clientPin") is False, "getInfo clientPin is false before setPIN")
    protocols = {1: PinProtocolV1, 2: PinProtocolV2}
    pins = [ClientPin(ctap, protocols[v]()) for v in info.pin_uv_protocols if v in protocols]
    check(len(pins) == len(info.pin_uv_protocols) and pins,
          "pinUvAuthProtocols %s, all known to python-fido2" % info.pin_uv_protocols)
    first, last = pins[0], pins[-1]
    check(first.get_pin_retries()[0] == 8, "getPINRetries 8 before a PIN")
    first.set_pin("1234")
    check(ctap.get_info().options.get("clientPin") is True,
          "setPIN (protocol %d): clientPin turns true" % first.protocol.VERSION)
    last.change_pin("1234", PIN)
    check(True, "changePIN (protocol %d)" % last.protocol.VERSION)
    try:
        first.get_pin_token("1234", ClientPin.PERMISSION.GET_ASSERTION)
        check(False, "the old PIN is refused")
    except CtapError as e:
        check(e.code == CtapError.ERR.PIN_INVALID, "the old PIN: %s" % e.code)
    check(last.get_pin_retries()[0] == 7, "a wrong PIN costs a retry")

    perms = ClientPin.PERMISSION.MAKE_CREDENTIAL
    # A CTAP 2.1 token loses its mc permission once used (CTAP 2.1 §6.1.2
    # step 17.1.1); a CTAP 2.0 pinToken has no permissions to lose (CTAP
    # 2.0 §5.5.8, using pinToken).
    used_up = "FIDO_2_1" in info.versions
    rk = bool(info.options.get("rk"))
    for cp in pins:
        proto = cp.protocol
        name = "protocol %d" % proto.VERSION
        token = cp.get_pin_token(PIN, perms, rp["id"])
        check(len(token) == 32, "%s: token of %d bytes" % (name, len(token)))
        check(cp.get_pin_retries()[0] == 8, "%s: the right PIN restores the retries" % name)
        cdh = hashlib.sha256(b"pin-mc-%d" % proto.VERSION).digest()
        user = {"id": b"pin-user-%d" % proto.VERSION, "name": "bob", "displayName": "Bob"}
        att = ctap.make_credential(cdh, rp, user, [{"type": "public-key", "alg": -7}],
                                   options={"rk": True} if rk else None,
                                   pin_uv_param=proto.authenticate(token, cdh),
                                   pin_uv_protocol=proto.VERSION)
        Attestation.for_type(att.fmt)().verify(att.att_statement, att.auth_data, cdh)
        check(att.auth_data.is_user_verified(), "%s: makeCredential with a token sets UV" % name)
        if used_up:
            try:
                ctap.make_credential(cdh, rp, user, [{"type": "public-key", "alg": -7}],
                                     pin_uv_param=proto.authenticate(token, cdh),
                                     pin_uv_protocol=proto.VERSION)
                check(False, "%s: a used token is refused" % name)
            except CtapError as e:
                check(e.code == CtapError.ERR.PIN_AUTH_INVALID, "%s: a used token: %s" % (name, e.code))

        token = cp.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, rp["id"])
        cdh2 = hashlib.sha256(b"pin-ga-%d" % proto.VERSION).digest()
        cred = att.auth_data.credential_data
        assertion = ctap.get_assertion(rp["id"], cdh2,
                                       [{"type": "public-key", "id": cred.credential_id}],
                                       pin_uv_param=proto.authenticate(token, cdh2),
                                       pin_uv_protocol=proto.VERSION)
        assertion.verify(cdh2, CoseKey.parse(cred.public_key))
        check(assertion.auth_data.is_user_verified(), "%s: getAssertion with a token sets UV" % name)
        if rk:
            check(assertion.user["name"] == "bob", "%s: with UV the user's name comes back" % name)


if __name__ == "__main__":
    main()
