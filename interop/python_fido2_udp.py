#!/usr/bin/python3
"""Drives a virtkey over UDP with Debian's python3-fido2 (0.9.1), a client
this project did not write.

    virtkey serve --udp 127.0.0.1:8111 &
    /usr/bin/python3 interop/python_fido2_udp.py 127.0.0.1:8111

The UDP convention is SoloKeys' simulator: one 64-byte HID report per
datagram, no report-ID byte. Exits non-zero on the first mismatch and
prints one line per check.
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
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

REPORT = 64
PIN = "56789"


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


def check(cond, what):
    global checks
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    checks += 1
    print("ok:", what)


def main():
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8111").rsplit(":", 1)
    desc = HidDescriptor("udp:%s:%s" % (host, port), 0x1209, 0x000F, REPORT, REPORT)
    dev = CtapHidDevice(desc, UdpConnection(host, int(port)))
    check(dev.version == 2, "CTAPHID INIT: protocol version 2, channel 0x%08x" % dev._channel_id)
    check(dev.ping(b"virtkey") == b"virtkey", "CTAPHID PING echoes")

    ctap = Ctap2(dev)  # strict_cbor: every response must be canonical
    info = ctap.info
    check("FIDO_2_1" in info.versions and "FIDO_2_0" in info.versions,
          "getInfo versions %s" % info.versions)
    check(len(info.aaguid) == 16, "getInfo aaguid %s" % info.aaguid.hex())
    check(info.options.get("rk") is True and info.options.get("up") is True,
          "getInfo options %s" % info.options)

    rp = {"id": "python-fido2.example", "name": "python-fido2"}
    suffix = os.urandom(4)
    for rk in (False, True):
        cdh = hashlib.sha256(b"make-credential-%d" % rk).digest()
        user = {"id": b"user-" + suffix + bytes([rk]), "name": "alice", "displayName": "Alice"}
        att = ctap.make_credential(cdh, rp, user, [{"type": "public-key", "alg": -7}],
                                   options={"rk": True} if rk else None)
        check(att.fmt == "packed", "makeCredential rk=%s fmt %s" % (rk, att.fmt))
        verifier = Attestation.for_type(att.fmt)()
        result = verifier.verify(att.att_statement, att.auth_data, cdh)
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
    pin_section(ctap, rp)
    # The management modules, each against this key with the PIN set above
    # (CTAP 2.1 §6.7, §6.8, §6.10, §6.11). Config goes last: it raises the
    # minimum PIN length and toggles alwaysUv.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import python_fido2_bio
    import python_fido2_config
    import python_fido2_credman
    import python_fido2_hmacsecret
    import python_fido2_credprotect
    import python_fido2_largeblobs
    for mod in (python_fido2_hmacsecret, python_fido2_credman, python_fido2_largeblobs, python_fido2_bio, python_fido2_credprotect,
                python_fido2_config):
        print("--", mod.__name__)
        mod.run(ctap, PIN, check)
    print("python-fido2: %d checks passed" % checks)


def pin_section(ctap, rp):
    """clientPIN with both PIN/UV auth protocols (CTAP 2.1 §6.5), then
    makeCredential and getAssertion with a pinUvAuthToken. Needs a key
    without a PIN."""
    info = ctap.get_info()
    check(info.options.get("clientPin") is False, "getInfo clientPin is false before setPIN")
    check(info.pin_uv_protocols[:2] == [2, 1], "pinUvAuthProtocols %s" % info.pin_uv_protocols)
    v2 = ClientPin(ctap, PinProtocolV2())
    v1 = ClientPin(ctap, PinProtocolV1())
    check(v2.get_pin_retries()[0] == 8, "getPINRetries 8 before a PIN")
    v2.set_pin("1234")
    check(ctap.get_info().options.get("clientPin") is True, "setPIN (protocol 2): clientPin turns true")
    v1.change_pin("1234", PIN)
    check(True, "changePIN (protocol 1)")
    try:
        v2.get_pin_token("1234", ClientPin.PERMISSION.GET_ASSERTION)
        check(False, "the old PIN is refused")
    except CtapError as e:
        check(e.code == CtapError.ERR.PIN_INVALID, "the old PIN: %s" % e.code)
    check(v1.get_pin_retries()[0] == 7, "a wrong PIN costs a retry")

    perms = ClientPin.PERMISSION.MAKE_CREDENTIAL
    for cp in (v1, v2):
        proto = cp.protocol
        name = "protocol %d" % proto.VERSION
        token = cp.get_pin_token(PIN, perms, rp["id"])
        check(len(token) == 32, "%s: token of %d bytes" % (name, len(token)))
        check(cp.get_pin_retries()[0] == 8, "%s: the right PIN restores the retries" % name)
        cdh = hashlib.sha256(b"pin-mc-%d" % proto.VERSION).digest()
        user = {"id": b"pin-user-%d" % proto.VERSION, "name": "bob", "displayName": "Bob"}
        att = ctap.make_credential(cdh, rp, user, [{"type": "public-key", "alg": -7}],
                                   options={"rk": True},
                                   pin_uv_param=proto.authenticate(token, cdh),
                                   pin_uv_protocol=proto.VERSION)
        Attestation.for_type(att.fmt)().verify(att.att_statement, att.auth_data, cdh)
        check(att.auth_data.is_user_verified(), "%s: makeCredential with a token sets UV" % name)
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
        check(assertion.user["name"] == "bob", "%s: with UV the user's name comes back" % name)


if __name__ == "__main__":
    main()
