#!/usr/bin/python3
"""CTAP1/U2F checks with Debian's python3-fido2 (0.9.1): fido2.ctap1.Ctap1
over CTAPHID_MSG (FIDO U2F Raw Message Formats v1.2), then the U2F
credential through CTAP2 getAssertion (CTAP 2.1 §10.3).

    virtkey serve --udp 127.0.0.1:8111 --control off &
    /usr/bin/python3 interop/python_fido2_ctap1.py 127.0.0.1:8111

run(dev, check) is the reusable part: dev is a fido2.hid.CtapHidDevice,
check(cond, what) records one check (python_fido2_udp.check). On a
U2F-only key (no CAPABILITY_CBOR, `virtkey serve --profile u2f`) the CTAP2
part is skipped.
"""
import hashlib
import os
import sys
import time

from fido2.cose import ES256
from fido2.ctap import CtapError
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2 import AssertionResponse, Ctap2
from fido2.hid import CAPABILITY


def _poll(f):
    """Calls f until the key stops asking for a touch (SW 0x6985), as U2F
    hosts do; gives up after 10 seconds."""
    deadline = time.time() + 10
    while True:
        try:
            return f()
        except ApduError as e:
            if e.code != APDU.USE_NOT_SATISFIED or time.time() > deadline:
                raise
            time.sleep(0.25)


def run(dev, check):
    ctap1 = Ctap1(dev)
    if dev.capabilities & CAPABILITY.CBOR and "U2F_V2" not in Ctap2(dev).info.versions:
        # A CTAP2 key that does not list U2F_V2 (CTAP 2.1 §6.4 versions;
        # with alwaysUv on, §7.2.1 and peers) refuses U2F registration.
        client_param = hashlib.sha256(b"u2f-register-unlisted").digest()
        try:
            ctap1.register(client_param, hashlib.sha256(b"ctap1.python-fido2.example").digest())
            check(False, "getInfo lists no U2F_V2: U2F_REGISTER is refused")
        except ApduError as e:
            # 0x6985 asks for a touch: the key would register.
            check(e.code != APDU.USE_NOT_SATISFIED, "getInfo lists no U2F_V2: U2F_REGISTER: SW 0x%04X" % e.code)
        except CtapError as e:
            check(True, "getInfo lists no U2F_V2: U2F_REGISTER is refused: %s" % e)
        return
    check(ctap1.get_version() == "U2F_V2", "U2F_VERSION is U2F_V2")

    rp_id = "ctap1.python-fido2.example"
    app_param = hashlib.sha256(rp_id.encode()).digest()
    client_param = hashlib.sha256(b"u2f-register-" + os.urandom(8)).digest()
    reg = _poll(lambda: ctap1.register(client_param, app_param))
    check(len(reg.public_key) == 65 and reg.public_key[0] == 4,
          "U2F_REGISTER: uncompressed P-256 public key")
    check(0 < len(reg.key_handle) <= 255, "key handle of %d bytes" % len(reg.key_handle))
    reg.verify(app_param, client_param)
    check(True, "registration signature verifies with the attestation certificate")
    try:
        reg.verify(client_param, app_param)
        check(False, "registration with swapped parameters does not verify")
    except Exception:
        check(True, "registration with swapped parameters does not verify")

    last = 0
    for i in range(2):
        cp = hashlib.sha256(b"u2f-authenticate-%d" % i).digest()
        sig = _poll(lambda: ctap1.authenticate(cp, app_param, reg.key_handle))
        sig.verify(app_param, cp, reg.public_key)
        check(True, "U2F_AUTHENTICATE %d: signature verifies with the registered key" % i)
        check(sig.user_presence & 1 == 1, "user presence bit set")
        check(sig.counter > last, "counter %d grows" % sig.counter)
        last = sig.counter

    try:
        ctap1.authenticate(client_param, app_param, reg.key_handle, check_only=True)
        check(False, "check-only with our key handle answers 0x6985")
    except ApduError as e:
        check(e.code == APDU.USE_NOT_SATISFIED, "check-only with our key handle: 0x%04X" % e.code)
    other_app = hashlib.sha256(b"other." + rp_id.encode()).digest()
    try:
        ctap1.authenticate(client_param, other_app, reg.key_handle, check_only=True)
        check(False, "check-only for another appId answers 0x6A80")
    except ApduError as e:
        check(e.code == APDU.WRONG_DATA, "check-only for another appId: 0x%04X" % e.code)
    try:
        ctap1.authenticate(client_param, app_param, os.urandom(len(reg.key_handle)), check_only=True)
        check(False, "check-only with a random key handle answers 0x6A80")
    except ApduError as e:
        check(e.code == APDU.WRONG_DATA, "check-only with a random key handle: 0x%04X" % e.code)
    try:
        ctap1.send_apdu(cla=0x80, ins=Ctap1.INS.VERSION)
        check(False, "CLA 0x80 answers 0x6E00")
    except ApduError as e:
        check(e.code == 0x6E00, "CLA 0x80: 0x%04X" % e.code)
    try:
        ctap1.send_apdu(ins=0x44)
        check(False, "INS 0x44 answers 0x6D00")
    except ApduError as e:
        check(e.code == 0x6D00, "INS 0x44: 0x%04X" % e.code)

    if not dev.capabilities & CAPABILITY.CBOR:
        check(True, "U2F-only key (no CAPABILITY_CBOR): CTAP2 part skipped")
        return
    ctap2 = Ctap2(dev)
    check("U2F_V2" in ctap2.info.versions, "getInfo versions %s list U2F_V2" % ctap2.info.versions)
    cdh = hashlib.sha256(b"ctap2-after-u2f").digest()
    cred = {"type": "public-key", "id": reg.key_handle}
    assertion = ctap2.get_assertion(rp_id, cdh, [cred])
    key = ES256.from_ctap1(reg.public_key)
    assertion.verify(cdh, key)
    check(True, "CTAP2 getAssertion with the U2F key handle verifies with the U2F public key")
    check(assertion.auth_data.rp_id_hash == app_param, "authData rpIdHash is the appId hash")
    check(assertion.auth_data.is_user_present(), "authData UP flag")
    check(assertion.auth_data.counter > last, "the counter is shared with U2F")
    # And the other way round: a U2F authentication as a CTAP2 assertion.
    sig = _poll(lambda: ctap1.authenticate(cdh, app_param, reg.key_handle))
    converted = AssertionResponse.from_ctap1(app_param, cred, sig)
    converted.verify(cdh, key)
    check(True, "AssertionResponse.from_ctap1 verifies")


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import python_fido2_udp as udp
    from fido2.hid import CtapHidDevice
    from fido2.hid.base import HidDescriptor

    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8111").rsplit(":", 1)
    desc = HidDescriptor("udp:%s:%s" % (host, port), 0x1209, 0x000F, udp.REPORT, udp.REPORT)
    dev = CtapHidDevice(desc, udp.UdpConnection(host, int(port)))
    run(dev, udp.check)
    print("python-fido2 ctap1: %d checks passed" % udp.checks)


if __name__ == "__main__":
    main()
