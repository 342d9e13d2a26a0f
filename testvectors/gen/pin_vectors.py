#!/usr/bin/python3
"""Writes testvectors/pin/*.txt: known answers for the PIN/UV auth protocols
(CTAP 2.1 §6.5.6 protocol one, §6.5.7 protocol two) and the PIN helpers
(§6.5.5.5-§6.5.5.7), computed with a library this project did not write:
pyca/cryptography as Debian packages it (python3-cryptography).

Every input is fixed, so the output is the same on every run. Each file is
one vector: "key: value" header lines (byte strings in hex), a blank line
and a comment body. ctap/pin_test.go checks every operation whose inputs
and outputs a header holds.

Run from anywhere with Debian's interpreter:
    /usr/bin/python3 testvectors/gen/pin_vectors.py
"""
import hashlib
import os
import unicodedata

import cryptography
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pin")
SRC = "python3-cryptography %s (Debian), testvectors/gen/pin_vectors.py" % cryptography.__version__

# Order of the P-256 base point.
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def fixed(label, n):
    """n deterministic bytes named by label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("virtkey pin vector: %s %d" % (label, i)).encode()).digest()
        i += 1
    return out[:n]


def vec(name, comment, **fields):
    with open(os.path.join(OUT, name + ".txt"), "w", encoding="utf-8") as f:
        f.write("source: %s\n" % SRC)
        f.write("comment: %s\n" % comment)
        for k, v in fields.items():
            if isinstance(v, bytes):
                v = v.hex()
            f.write("%s: %s\n" % (k.replace("_", "-"), v))
        f.write("\n# %s\n" % comment)


# Primitives, each from pyca/cryptography.

def aes_cbc_encrypt(key, iv, plaintext):
    e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return e.update(plaintext) + e.finalize()


def aes_cbc_decrypt(key, iv, ciphertext):
    d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return d.update(ciphertext) + d.finalize()


def hmac_sha256(key, msg):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(msg)
    return h.finalize()


def sha256(b):
    h = hashes.Hash(hashes.SHA256())
    h.update(b)
    return h.finalize()


def hkdf_sha256(ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00" * 32, info=info).derive(ikm)


# Protocol one (§6.5.6).

def kdf1(z):
    return sha256(z)


def encrypt1(key, pt):
    return aes_cbc_encrypt(key, b"\x00" * 16, pt)


def authenticate1(key, msg):
    return hmac_sha256(key, msg)[:16]


# Protocol two (§6.5.7).

def kdf2(z):
    return hkdf_sha256(z, b"CTAP2 HMAC key") + hkdf_sha256(z, b"CTAP2 AES key")


def encrypt2(key, iv, pt):
    return iv + aes_cbc_encrypt(key[32:], iv, pt)


def authenticate2(key, msg):
    return hmac_sha256(key[:32], msg)


# PIN helpers (§6.5.5.5-§6.5.5.7).

def pin_hash(pin):
    return sha256(pin.encode("utf-8"))[:16]


def pad_pin(pin):
    b = pin.encode("utf-8")
    assert 0 < len(b) <= 63
    return b + b"\x00" * (64 - len(b))


def check_decrypts(key, iv, pt, ct):
    assert aes_cbc_decrypt(key, iv, ct) == pt


# --- protocol one, symmetric parts -------------------------------------------

z = fixed("z1", 32)
ss = kdf1(z)
pt = pad_pin("123456")
ct = encrypt1(ss, pt)
check_decrypts(ss, b"\x00" * 16, pt, ct)
msg = fixed("msg1", 40)
vec("v1-shared-secret",
    "protocol one: kdf = SHA-256(Z); AES-256-CBC, zero IV, four blocks; LEFT(HMAC-SHA-256, 16) (CTAP 2.1 6.5.6)",
    protocol=1, z=z, shared_secret=ss, plaintext=pt, ciphertext=ct, message=msg, hmac=authenticate1(ss, msg))

tok = fixed("token1-16", 16)
msg = fixed("cdh1", 32)
vec("v1-token-16",
    "protocol one: authenticate with a 16-byte pinUvAuthToken (CTAP 2.1 6.5.6)",
    protocol=1, key=tok, message=msg, hmac=authenticate1(tok, msg))

tok = fixed("token1-32", 32)
pt = tok
ct = encrypt1(ss, pt)
vec("v1-token-32",
    "protocol one: a 32-byte pinUvAuthToken encrypted under a shared secret, and authenticate with it (CTAP 2.1 6.5.6)",
    protocol=1, shared_secret=ss, plaintext=pt, ciphertext=ct, key=tok, message=msg, hmac=authenticate1(tok, msg))

# --- protocol two, symmetric parts -------------------------------------------

z = fixed("z2", 32)
ss = kdf2(z)
iv = fixed("iv2", 16)
pt = fixed("pt2", 32)
ct = encrypt2(ss, iv, pt)
check_decrypts(ss[32:], iv, pt, ct[16:])
msg = fixed("msg2", 50)
vec("v2-shared-secret",
    "protocol two: HKDF-SHA-256 HMAC and AES keys; IV || AES-256-CBC; HMAC-SHA-256 under the HMAC key (CTAP 2.1 6.5.7)",
    protocol=2, z=z, hmac_key=ss[:32], aes_key=ss[32:], shared_secret=ss,
    iv=iv, plaintext=pt, ciphertext=ct, message=msg, hmac=authenticate2(ss, msg))

iv = fixed("iv2-empty", 16)
vec("v2-empty-plaintext",
    "protocol two: an empty plaintext encrypts to its IV alone (CTAP 2.1 6.5.7)",
    protocol=2, shared_secret=ss, iv=iv, plaintext=b"", ciphertext=encrypt2(ss, iv, b""))

tok = fixed("token2", 32)
msg = fixed("cdh2", 32)
vec("v2-token",
    "protocol two: authenticate with a 32-byte pinUvAuthToken, the whole key (CTAP 2.1 6.5.7)",
    protocol=2, key=tok, message=msg, hmac=authenticate2(tok, msg))

# --- full key agreement -------------------------------------------------------

def scalar(label):
    s = fixed(label, 32)
    v = int.from_bytes(s, "big")
    assert 0 < v < N
    return s, ec.derive_private_key(v, ec.SECP256R1())


def xy(priv):
    nums = priv.public_key().public_numbers()
    return nums.x.to_bytes(32, "big"), nums.y.to_bytes(32, "big")


for proto in (1, 2):
    a_s, a = scalar("authenticator%d" % proto)
    p_s, p = scalar("platform%d" % proto)
    za = a.exchange(ec.ECDH(), p.public_key())
    zp = p.exchange(ec.ECDH(), a.public_key())
    assert za == zp and len(za) == 32
    ax, ay = xy(a)
    px, py = xy(p)
    pin = "1234"
    if proto == 1:
        ss = kdf1(za)
        # pinHashEnc of getPinToken (6.5.5.7.1): encrypt(shared secret, LEFT(SHA-256(PIN), 16)).
        pt = pin_hash(pin)
        ct = encrypt1(ss, pt)
        vec("ecdh-v1",
            "protocol one: ECDH on P-256 from fixed scalars, then pinHashEnc = encrypt(LEFT(SHA-256(PIN), 16)) (CTAP 2.1 6.5.6, 6.5.5.7.1)",
            protocol=1, authenticator_scalar=a_s, authenticator_x=ax, authenticator_y=ay,
            platform_scalar=p_s, platform_x=px, platform_y=py, z=za, shared_secret=ss,
            pin=pin, pin_hash=pt, plaintext=pt, ciphertext=ct,
            message=ct, hmac=authenticate1(ss, ct))
    else:
        ss = kdf2(za)
        # setPIN (6.5.5.5): newPinEnc = encrypt(shared secret, paddedPin), pinUvAuthParam = authenticate(shared secret, newPinEnc).
        iv = fixed("iv-setpin", 16)
        pt = pad_pin(pin)
        ct = encrypt2(ss, iv, pt)
        vec("ecdh-v2",
            "protocol two: ECDH on P-256 from fixed scalars, then setPIN's newPinEnc and pinUvAuthParam (CTAP 2.1 6.5.7, 6.5.5.5)",
            protocol=2, authenticator_scalar=a_s, authenticator_x=ax, authenticator_y=ay,
            platform_scalar=p_s, platform_x=px, platform_y=py, z=za, shared_secret=ss,
            pin=pin, padded_pin=pt, iv=iv, plaintext=pt, ciphertext=ct,
            message=ct, hmac=authenticate2(ss, ct))

# --- PIN helpers --------------------------------------------------------------

pin = "1234"
vec("pin-hash-ascii", "PIN hash LEFT(SHA-256(PIN), 16) and the padded PIN of an ASCII PIN (CTAP 2.1 6.5.5.5, 6.5.5.7)",
    pin=pin, pin_utf8=pin.encode(), pin_hash=pin_hash(pin), padded_pin=pad_pin(pin))

pin = "Pïñ-日本-\U0001F511"
assert unicodedata.normalize("NFC", pin) == pin
vec("pin-hash-nonascii", "PIN hash and padded PIN of a non-ASCII PIN in NFC, 2-, 3- and 4-byte UTF-8 sequences (CTAP 2.1 6.5.5.5, 6.5.5.7)",
    pin=pin, pin_utf8=pin.encode(), pin_hash=pin_hash(pin), padded_pin=pad_pin(pin))

pin = "9" * 63
vec("pin-hash-63", "the longest PIN, 63 bytes, pads with a single zero (CTAP 2.1 6.5.5.5)",
    pin=pin, pin_utf8=pin.encode(), pin_hash=pin_hash(pin), padded_pin=pad_pin(pin))
