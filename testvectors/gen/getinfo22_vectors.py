#!/usr/bin/python3
"""Writes testvectors/getinfo22/*.txt: known answers for the getInfo members
CTAP 2.2 adds (§6.4, 0x19-0x1F) and for the decryption of encIdentifier and
encCredStoreState with a persistent pinUvAuthToken, computed with libraries
this project did not write: pyca/cryptography (python3-cryptography) for
HKDF-SHA-256 and AES-128-CBC, and python-fido2's CTAP2 canonical CBOR
encoder (python3-fido2) for the getInfo bodies, both as Debian packages them.

The construction (CTAP 2.2 §6.4, encIdentifier and encCredStoreState, as
python-fido2 2.2's Info.get_identifier and Info.get_cred_store_state (d1fd711)
implement it): key = HKDF-SHA-256(salt = 32 zero bytes, IKM = the persistent
pinUvAuthToken, info = "encIdentifier" or "encCredStoreState", L = 16);
the member is iv || AES-128-CBC(key, iv, 16-byte value).

Every input is fixed, so the output is the same on every run. Each file is
one vector: "key: value" header lines (byte strings in hex), a blank line
and the getInfo body in hex where the vector has one. client/info22_test.go
checks every one; interop/python_fido2_info22.py checks them again.

Run from anywhere with Debian's interpreter:
    /usr/bin/python3 testvectors/gen/getinfo22_vectors.py
"""
import hashlib
import os

import cryptography
import fido2
from fido2 import cbor
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "getinfo22")
SRC = "python3-cryptography %s, python3-fido2 %s cbor (Debian), testvectors/gen/getinfo22_vectors.py" % (
    cryptography.__version__,
    fido2.__version__,
)


def fixed(label, n):
    """n deterministic bytes named by label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("virtkey getinfo22 vector: %s %d" % (label, i)).encode()).digest()
        i += 1
    return out[:n]


def member_key(token, info):
    return HKDF(algorithm=hashes.SHA256(), length=16, salt=b"\x00" * 32, info=info).derive(token)


def encrypt_member(token, info, iv, value):
    e = Cipher(algorithms.AES(member_key(token, info)), modes.CBC(iv)).encryptor()
    return iv + e.update(value) + e.finalize()


def vec(name, comment, body=None, **fields):
    with open(os.path.join(OUT, name + ".txt"), "w", encoding="utf-8") as f:
        f.write("source: %s\n" % SRC)
        f.write("comment: %s\n" % comment)
        for k, v in fields.items():
            if isinstance(v, bytes):
                v = v.hex()
            f.write("%s: %s\n" % (k.replace("_", "-"), v))
        f.write("\n# %s\n" % comment)
        if body is not None:
            h = body.hex()
            for i in range(0, len(h), 64):
                f.write(h[i : i + 64] + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    aaguid = fixed("aaguid", 16)

    # The decryption alone, for both members and both token lengths.
    for name, info, tlen in (
        ("enc-identifier-32", b"encIdentifier", 32),
        ("enc-identifier-16", b"encIdentifier", 16),
        ("enc-cred-store-state-32", b"encCredStoreState", 32),
    ):
        token = fixed(name + " token", tlen)
        iv = fixed(name + " iv", 16)
        value = fixed(name + " value", 16)
        vec(
            name,
            "%s under a %d-byte persistent pinUvAuthToken (CTAP 2.2 6.4)" % (info.decode(), tlen),
            info=info.decode(),
            token=token,
            key=member_key(token, info),
            value=value,
            encrypted=encrypt_member(token, info, iv, value),
        )

    # A whole CTAP 2.2 getInfo with every member up to 0x1F.
    token = fixed("ppuat", 32)
    ident = fixed("identifier", 16)
    state = fixed("cred store state", 16)
    enc_ident = encrypt_member(token, b"encIdentifier", fixed("ident iv", 16), ident)
    enc_state = encrypt_member(token, b"encCredStoreState", fixed("state iv", 16), state)
    info = {
        0x01: ["U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_2"],
        0x02: ["credProtect", "hmac-secret", "pinComplexityPolicy"],
        0x03: aaguid,
        0x04: {
            "rk": True,
            "up": True,
            "clientPin": True,
            "pinUvAuthToken": True,
            "credMgmt": True,
            "authnrCfg": True,
            "setMinPINLength": True,
            "perCredMgmtRO": True,
        },
        0x05: 1200,
        0x06: [2, 1],
        0x07: 8,
        0x08: 128,
        0x09: ["usb"],
        0x0A: [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
        0x0C: False,
        0x0D: 4,
        0x0E: 0x00020200,
        0x10: 4,
        0x14: 25,
        0x16: ["packed", "none"],
        0x17: 0,
        0x18: False,
        0x19: enc_ident,
        0x1A: ["usb"],
        0x1B: False,
        0x1C: b"https://example.com/pin-policy",
        0x1D: 63,
        0x1E: enc_state,
        0x1F: [1, 2, 3],
    }
    vec(
        "info-2.2-full",
        "a CTAP 2.2 getInfo with members 0x16-0x1F (CTAP 2.2 6.4) and encIdentifier, encCredStoreState under token",
        body=cbor.encode(info),
        token=token,
        identifier=ident,
        cred_store_state=state,
        expect="ok",
    )

    # The same key as a 2.1 key sees it: no 2.2 members at all.
    old = {k: v for k, v in info.items() if k < 0x16}
    old[0x01] = ["U2F_V2", "FIDO_2_0", "FIDO_2_1"]
    old[0x04] = {k: v for k, v in info[0x04].items() if k != "perCredMgmtRO"}
    vec("info-2.1", "a CTAP 2.1 getInfo without any 2.2 member: maxPINLength is 63 by default", body=cbor.encode(old), expect="ok")

    # maxPINLength below 63, pinComplexityPolicy true, no encrypted members
    # (no persistent token yet).
    small = {
        0x01: ["FIDO_2_0", "FIDO_2_1", "FIDO_2_2"],
        0x03: aaguid,
        0x04: {"clientPin": False, "pinUvAuthToken": True, "authnrCfg": True},
        0x06: [2],
        0x0D: 6,
        0x1B: True,
        0x1D: 12,
        0x1F: [3],
    }
    vec("info-2.2-policy", "pinComplexityPolicy true and maxPINLength 12, no encrypted members (CTAP 2.2 6.4)", body=cbor.encode(small), expect="ok")


if __name__ == "__main__":
    main()
