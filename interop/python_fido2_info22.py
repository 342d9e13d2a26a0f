#!/usr/bin/python3
"""Checks the CTAP 2.2 getInfo decoding against code this project did not
write: Debian's python3-fido2 (0.9.1, which predates CTAP 2.2) and
python3-cryptography.

    /usr/bin/python3 interop/python_fido2_info22.py            # vectors only
    /usr/bin/python3 interop/python_fido2_info22.py --build    # and a live fido22 key

1. testvectors/getinfo22: every getInfo body (members 0x16-0x1F, CTAP 2.2
   §6.4) must parse with python-fido2 0.9.1's Info, which must keep the
   members it does not know, and be canonical by its CBOR encoder; every
   encIdentifier/encCredStoreState vector must decrypt, with pyca's HKDF and
   AES-CBC, to the value the client's Go tests expect.
2. With --build: a virtkey daemon with the fido22 profile is built and served
   over UDP; python-fido2 0.9.1 must open it (strict CBOR) and see FIDO_2_2.
   If the key lists perCredMgmtRO, a token with the pcmr permission (0x40) is
   obtained with the PIN, getInfo must then carry encIdentifier and
   encCredStoreState, the identifier must decrypt to the same 16 bytes from
   two getInfo answers, the credential store state must change when a
   discoverable credential is made, and getCredsMetadata must accept the pcmr
   token. A key that does not list perCredMgmtRO gets a SKIP line for that
   part.

Exits non-zero on the first mismatch and prints one line per check.
"""
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fido2 import cbor
from fido2.ctap2 import Ctap2
from fido2.ctap2.base import Info
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV2
from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_fido2_udp import REPORT, UdpConnection  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PIN = "24681357"
PCMR = 0x40

checks = 0


def check(cond, what):
    global checks
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    checks += 1
    print("ok:", what)


def load(path):
    """Header fields and body bytes of a testvectors file."""
    header, body, in_header = {}, "", True
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if in_header:
                if not line:
                    in_header = False
                    continue
                k, _, v = line.partition(":")
                header[k.strip()] = v.strip()
            elif line and not line.startswith("#"):
                body += line
    return header, bytes.fromhex(body)


def decrypt_member(token, member, info):
    """CTAP 2.2 §6.4: HKDF-SHA-256(salt 32 zero bytes, token, info, 16), AES-CBC, IV first."""
    key = HKDF(algorithm=hashes.SHA256(), length=16, salt=b"\x00" * 32, info=info).derive(token)
    d = Cipher(algorithms.AES(key), modes.CBC(member[:16])).decryptor()
    return d.update(member[16:]) + d.finalize()


def vectors():
    paths = sorted(glob.glob(os.path.join(ROOT, "testvectors", "getinfo22", "*.txt")))
    check(len(paths) >= 6, "%d getinfo22 vectors" % len(paths))
    for path in paths:
        name = os.path.basename(path)[:-4]
        h, body = load(path)
        if "info" in h:
            got = decrypt_member(bytes.fromhex(h["token"]), bytes.fromhex(h["encrypted"]), h["info"].encode())
            check(got.hex() == h["value"], "%s: pyca decrypts %s to the vector's value" % (name, h["info"]))
            continue
        info = Info(body)
        check(cbor.encode(cbor.decode(body)) == body, "%s: canonical by python-fido2's encoder" % name)
        check("FIDO_2_0" in info.versions and len(info.aaguid) == 16, "%s: python-fido2 0.9.1's Info parses it" % name)
        newer = sorted(k for k in info.data if int(k) >= 0x15)
        check(all(k in cbor.decode(body) for k in newer), "%s: Info keeps members 0x15 and later %s" % (name, newer))
        if "token" in h:
            token = bytes.fromhex(h["token"])
            ident = decrypt_member(token, info.data[0x19], b"encIdentifier")
            state = decrypt_member(token, info.data[0x1E], b"encCredStoreState")
            check(ident.hex() == h["identifier"], "%s: encIdentifier opens to the identifier" % name)
            check(state.hex() == h["cred-store-state"], "%s: encCredStoreState opens to the state" % name)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def open_key(port, daemon):
    """The daemon answers CTAPHID INIT once it listens; retry until then."""
    deadline = time.time() + 20
    while True:
        check_running(daemon)
        conn = UdpConnection("127.0.0.1", port)
        conn.sock.settimeout(1)
        try:
            dev = CtapHidDevice(HidDescriptor("udp:127.0.0.1:%d" % port, 0x1209, 0x000F, REPORT, REPORT), conn)
            conn.sock.settimeout(10)
            return dev
        except OSError:
            conn.close()
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def check_running(daemon):
    if daemon.poll() is not None:
        print("FAIL: virtkey serve exited with status %d" % daemon.returncode)
        sys.exit(1)


def live(tmp):
    binary = os.path.join(tmp, "virtkey")
    subprocess.run(["go", "build", "-o", binary, "./cmd/virtkey"], cwd=ROOT, check=True)
    profiles = subprocess.run([binary, "profiles", "--names"], capture_output=True, text=True, check=True).stdout
    if "fido22" not in profiles.split():
        print("SKIP: virtkey has no fido22 profile yet: the live CTAP 2.2 checks did not run")
        return
    port = free_port()
    daemon = subprocess.Popen(
        [binary, "serve", "--udp", "127.0.0.1:%d" % port, "--state", os.path.join(tmp, "state"),
         "--control", "off", "--profile", "fido22", "--log-level", "warn"]
    )
    try:
        dev = open_key(port, daemon)
        ctap = Ctap2(dev)  # strict_cbor: the getInfo must be canonical
        info = ctap.info
        check("FIDO_2_2" in info.versions, "fido22 daemon: python-fido2 0.9.1 opens it, versions %s" % info.versions)
        check(len(info.aaguid) == 16, "fido22 daemon: aaguid %s" % info.aaguid.hex())
        if not info.options.get("perCredMgmtRO"):
            print("SKIP: the fido22 key does not list perCredMgmtRO: no persistent token to decrypt with")
            return
        proto = PinProtocolV2()
        cp = ClientPin(ctap, proto)
        cp.set_pin(PIN)
        ppuat = cp.get_pin_token(PIN, PCMR)
        first = ctap.get_info()
        check(0x19 in first.data and 0x1E in first.data, "getInfo carries encIdentifier and encCredStoreState once a pcmr token exists")
        ident = decrypt_member(ppuat, first.data[0x19], b"encIdentifier")
        second = ctap.get_info()
        check(decrypt_member(ppuat, second.data[0x19], b"encIdentifier") == ident,
              "encIdentifier opens to the same identifier from two getInfo answers")
        state = decrypt_member(ppuat, second.data[0x1E], b"encCredStoreState")

        md = CredentialManagement(ctap, proto, ppuat).get_metadata()
        check(CredentialManagement.RESULT.EXISTING_CRED_COUNT in md, "getCredsMetadata accepts the pcmr token: %s" % dict(md))

        cdh = hashlib.sha256(b"info22 make credential").digest()
        mc = cp.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com")
        ctap.make_credential(
            cdh, {"id": "example.com", "name": "Example"}, {"id": b"info22", "name": "info22"},
            [{"type": "public-key", "alg": -7}], options={"rk": True},
            pin_uv_param=proto.authenticate(mc, cdh), pin_uv_protocol=proto.VERSION,
        )
        third = ctap.get_info()
        check(decrypt_member(ppuat, third.data[0x1E], b"encCredStoreState") != state,
              "encCredStoreState changes when a discoverable credential is made")
        check(decrypt_member(ppuat, third.data[0x19], b"encIdentifier") == ident,
              "encIdentifier stays the same when a credential is made")
    finally:
        daemon.terminate()
        daemon.wait(10)


def main():
    print("== CTAP 2.2 getInfo against python-fido2 0.9.1 and pyca (testvectors/getinfo22%s)" % (", a fido22 daemon" if "--build" in sys.argv[1:] else ""))
    vectors()
    if "--build" in sys.argv[1:]:
        tmp = tempfile.mkdtemp()
        try:
            live(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("python-fido2 0.9.1 / pyca: %d checks passed" % checks)


if __name__ == "__main__":
    main()
