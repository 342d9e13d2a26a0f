#!/usr/bin/python3
"""Checks bridge.js with a CTAPHID host this project did not write: Debian's
python3-fido2 (0.9.1) drives the foreign key over UDP.

    node bridge.js --port 8121 [--canonical] &
    /usr/bin/python3 python_fido2_check.py 127.0.0.1:8121 raw|canonical

python-fido2 checks that every CTAP2 response is canonical CBOR (Ctap2's
strict_cbor). Against the raw key it must refuse getInfo, which is the key's
deviation D1 of RESULTS.md; it then goes on without the check. Against the
canonical bridge it must accept it. Either way it makes an ES256 credential,
gets an assertion with it and verifies the signature, so the framing of the
bridge (INIT, multi-packet CBOR messages both ways, PING, WINK) is checked by
an independent host. Exits non-zero on the first mismatch.
"""
import hashlib
import os
import sys

from fido2.cose import CoseKey
from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from python_fido2_udp import REPORT, UdpConnection  # noqa: E402


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


def main():
    addr, variant = sys.argv[1], sys.argv[2]
    host, port = addr.rsplit(":", 1)
    desc = HidDescriptor("udp:%s" % addr, 0x1209, 0x000F, REPORT, REPORT)
    dev = CtapHidDevice(desc, UdpConnection(host, int(port)))
    check(dev.version == 2, "CTAPHID INIT: protocol version 2, channel 0x%08x" % dev._channel_id)
    payload = os.urandom(1000)
    check(dev.ping(payload) == payload, "CTAPHID PING echoes 1000 bytes")
    dev.wink()
    check(True, "CTAPHID WINK answered")

    if variant == "raw":
        try:
            Ctap2(dev)
            check(False, "python-fido2 accepts the raw getInfo")
        except ValueError as e:
            check("non-canonical" in str(e).lower(),
                  "python-fido2 refuses the raw getInfo: %s" % str(e).splitlines()[0])
        ctap = Ctap2(dev, strict_cbor=False)
    else:
        ctap = Ctap2(dev)
        check(True, "python-fido2 accepts the canonical getInfo (strict_cbor)")
    check(ctap.info.versions == ["FIDO_2_0"], "getInfo versions %s" % ctap.info.versions)

    rp = {"id": "foreign.virtkey.test", "name": "foreign"}
    user = {"id": b"user-1", "name": "user@example.com"}
    cdh = hashlib.sha256(b"make").digest()
    att = ctap.make_credential(cdh, rp, user, [{"type": "public-key", "alg": -7}])
    cred = att.auth_data.credential_data
    check(att.fmt == "none" and cred is not None and cred.public_key[3] == -7,
          "makeCredential: fmt %s, ES256 key" % att.fmt)

    cdh = hashlib.sha256(b"get").digest()
    allow = [{"type": "public-key", "id": cred.credential_id}]
    a = ctap.get_assertion(rp["id"], cdh, allow)
    CoseKey.parse(cred.public_key).verify(a.auth_data + cdh, a.signature)
    check(True, "getAssertion: signature verifies with the credential's key")


main()
