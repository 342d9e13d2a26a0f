#!/usr/bin/python3
"""Debian's python3-fido2 0.9.1 fido2.server.Fido2Server as a relying party,
with virtkey's WebAuthn client in the browser's place: options go from the
server through `virtkey webauthn create|get` (JSON on stdin and stdout)
to a virtkey over UDP, and the responses back to the server.

    virtkey serve --udp 127.0.0.1:8117 &
    virtkey serve --udp 127.0.0.1:8118 --profile fido21-uv &
    /usr/bin/python3 interop/python_fido2_server.py path/to/virtkey 127.0.0.1:8117 [127.0.0.1:8118]

Covers a security key (non-discoverable, direct attestation verified with
python-fido2's packed verifier), a passkey with the PIN (discoverable,
userVerification required, the PIN from --pin-file), with the optional
second key a passkey with built-in user verification, excludeCredentials
(InvalidStateError), and the server refusing a wrong origin and a replayed
assertion. Exits non-zero on the first mismatch; one line per check.
"""
import json
import os
import subprocess
import sys
import tempfile

from fido2.attestation import Attestation
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin
from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor
from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from fido2.client import ClientData
from fido2.ctap2 import AttestationObject, AuthenticatorData

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_fido2_udp import REPORT, UdpConnection, check  # noqa: E402

ORIGIN = "https://example.com"
PIN = "24681357"


def to_json(v):
    """Options objects of python-fido2 0.9.1 are dicts with bytes values;
    WebAuthn's JSON form carries bytes as base64url."""
    if isinstance(v, (bytes, bytearray)):
        return websafe_encode(bytes(v))
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if hasattr(v, "value"):  # enums
        return v.value
    return v


def browser(virtkey, addr, op, options, origin=ORIGIN, pin_file=None):
    """Runs virtkey webauthn; returns (exit code, parsed stdout, stderr)."""
    args = [virtkey, "webauthn", op, "--origin", origin, "--udp", addr]
    if pin_file:
        args += ["--pin-file", pin_file]
    p = subprocess.run(args, input=json.dumps(to_json(options)).encode(), capture_output=True, timeout=60)
    out = json.loads(p.stdout) if p.returncode == 0 else None
    return p.returncode, out, p.stderr.decode()


def refused(f, *args):
    try:
        f(*args)
    except ValueError as e:
        return str(e)
    return None


def main():
    virtkey, addr = sys.argv[1], sys.argv[2]
    server = Fido2Server({"id": "example.com", "name": "Example"}, attestation="direct",
                         verify_attestation=lambda ao, cdh: Attestation.for_type(ao.fmt)().verify(ao.att_statement, ao.auth_data, cdh))
    user = {"id": b"python-user", "name": "py", "displayName": "Python User"}

    # A security key: non-discoverable, direct attestation.
    options, state = server.register_begin(user, user_verification="discouraged")
    code, reg, err = browser(virtkey, addr, "create", options)
    check(code == 0, "virtkey webauthn create for Fido2Server (%s)" % err.strip())
    r = reg["response"]
    ao = AttestationObject(websafe_decode(r["attestationObject"]))
    check(ao.fmt == "packed" and "x5c" in ao.att_statement, "packed attestation with x5c, fmt %s" % ao.fmt)
    auth_data = server.register_complete(state, ClientData(websafe_decode(r["clientDataJSON"])), ao)
    cred = auth_data.credential_data
    check(cred.credential_id == websafe_decode(reg["rawId"]), "Fido2Server registered the credential %s" % reg["id"][:16])

    def login(options, state, resp, creds):
        a = resp["response"]
        return server.authenticate_complete(
            state, creds, websafe_decode(resp["rawId"]), ClientData(websafe_decode(a["clientDataJSON"])),
            AuthenticatorData(websafe_decode(a["authenticatorData"])), websafe_decode(a["signature"]))

    options, state = server.authenticate_begin([cred], user_verification="discouraged")
    code, asn, err = browser(virtkey, addr, "get", options)
    check(code == 0, "virtkey webauthn get for Fido2Server (%s)" % err.strip())
    check(login(options, state, asn, [cred]) is cred, "Fido2Server accepted the login")

    # A replayed assertion is refused: the challenge is a new one.
    options2, state2 = server.authenticate_begin([cred])
    why = refused(login, options2, state2, asn, [cred])
    check(why is not None and "challenge" in why, "Fido2Server refused a replayed assertion: %s" % why)

    # A wrong origin: the browser at https://login.example.com may use RP ID
    # example.com, and Fido2Server's default origin rule accepts any https
    # subdomain of the RP ID; a server that allows https://example.com only
    # must refuse the login.
    options, state = server.authenticate_begin([cred], user_verification="discouraged")
    code, asn, err = browser(virtkey, addr, "get", options, origin="https://login.example.com")
    check(code == 0, "a login from https://login.example.com")
    strict = Fido2Server({"id": "example.com", "name": "Example"}, verify_origin=lambda o: o == ORIGIN)
    a = asn["response"]
    why = refused(strict.authenticate_complete, state, [cred], websafe_decode(asn["rawId"]),
                  ClientData(websafe_decode(a["clientDataJSON"])),
                  AuthenticatorData(websafe_decode(a["authenticatorData"])), websafe_decode(a["signature"]))
    check(why is not None and "origin" in why, "Fido2Server refused a wrong origin: %s" % why)

    # excludeCredentials: InvalidStateError from the browser.
    options, state = server.register_begin(user, credentials=[cred], user_verification="discouraged")
    code, _, err = browser(virtkey, addr, "create", options)
    check(code == 1 and "InvalidStateError" in err, "excluded credential: %s" % err.strip())

    # A passkey with the PIN: set one, then register and log in with
    # userVerification required and no allowCredentials.
    host, port = addr.rsplit(":", 1)
    dev = CtapHidDevice(HidDescriptor("udp:" + addr, 0x1209, 0x000F, REPORT, REPORT), UdpConnection(host, int(port)))
    ClientPin(Ctap2(dev)).set_pin(PIN)
    dev.close()
    with tempfile.NamedTemporaryFile("w", suffix=".pin") as pin:
        pin.write(PIN + "\n")
        pin.flush()
        code, _, err = browser(virtkey, addr, "create", server.register_begin(user, resident_key=True, user_verification="required")[0])
        check(code == 1 and "NotAllowedError" in err, "without the PIN: %s" % err.strip())
        options, state = server.register_begin(user, resident_key=True, user_verification="required")
        code, reg, err = browser(virtkey, addr, "create", options, pin_file=pin.name)
        check(code == 0, "passkey registration with the PIN (%s)" % err.strip())
        r = reg["response"]
        auth_data = server.register_complete(state, ClientData(websafe_decode(r["clientDataJSON"])),
                                             AttestationObject(websafe_decode(r["attestationObject"])))
        check(auth_data.is_user_verified(), "the passkey registration is user-verified")
        passkey = auth_data.credential_data
        options, state = server.authenticate_begin(user_verification="required")
        code, asn, err = browser(virtkey, addr, "get", options, pin_file=pin.name)
        check(code == 0, "discoverable login with the PIN (%s)" % err.strip())
        check(websafe_decode(asn["response"]["userHandle"]) == user["id"], "the login names the user")
        check(login(options, state, asn, [cred, passkey]) is passkey, "Fido2Server accepted the passkey login")

    # A passkey with built-in user verification, on a key that has it.
    if len(sys.argv) > 3:
        uv_addr = sys.argv[3]
        bob = {"id": b"python-bob", "name": "bob", "displayName": "Bob"}
        options, state = server.register_begin(bob, resident_key=True, user_verification="required")
        code, reg, err = browser(virtkey, uv_addr, "create", options)
        check(code == 0, "passkey registration with built-in UV (%s)" % err.strip())
        r = reg["response"]
        auth_data = server.register_complete(state, ClientData(websafe_decode(r["clientDataJSON"])),
                                             AttestationObject(websafe_decode(r["attestationObject"])))
        check(auth_data.is_user_verified(), "the built-in UV registration is user-verified")
        options, state = server.authenticate_begin(user_verification="required")
        code, asn, err = browser(virtkey, uv_addr, "get", options)
        check(code == 0, "discoverable login with built-in UV (%s)" % err.strip())
        check(login(options, state, asn, [auth_data.credential_data]) is not None, "Fido2Server accepted the built-in UV login")
    print("python-fido2 Fido2Server: all checks passed")


if __name__ == "__main__":
    main()
