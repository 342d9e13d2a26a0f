#!/usr/bin/python3
"""Writes testvectors/hmacsecret/*.txt: known answers for the hmac-secret
extension (CTAP 2.1 §12.5) computed with a library this project did not
write: pyca/cryptography as Debian packages it (python3-cryptography).

  output1 = HMAC-SHA-256(CredRandom, salt1), output2 = HMAC-SHA-256(CredRandom, salt2)
  the extension output = encrypt(shared secret, output1 [|| output2]):
    protocol one: AES-256-CBC, key = shared secret (32 bytes), zero IV
    protocol two: IV || AES-256-CBC(key = last 32 bytes of the 64-byte shared secret, IV)
  this key's CredRandom = HKDF-SHA-256(MasterSecret, salt = credential ID,
    info = "virtkey hmac-secret CredRandomWith[out]UV v1", 32)

Every input is fixed, so the output is the same on every run. Each file is
one vector: "key: value" header lines (byte strings in hex), a blank line
and a comment body. authenticator/ext_hmacsecret_test.go checks them.

Run from anywhere with Debian's interpreter:
    /usr/bin/python3 testvectors/gen/hmacsecret_vectors.py
"""
import hashlib
import os

import cryptography
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hmacsecret")
SRC = "python3-cryptography %s (Debian), testvectors/gen/hmacsecret_vectors.py" % cryptography.__version__


def fixed(label, n):
    """n deterministic bytes named by label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("virtkey hmac-secret vector: %s %d" % (label, i)).encode()).digest()
        i += 1
    return out[:n]


def mac(key, msg):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(msg)
    return h.finalize()


def cbc(key, iv, plaintext):
    e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return e.update(plaintext) + e.finalize()


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def write(name, comment, fields):
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write("source: %s\n" % SRC)
        f.write("comment: %s\n" % comment)
        for k, v in fields:
            f.write("%s: %s\n" % (k, v.hex() if isinstance(v, bytes) else v))
        f.write("\n# %s\n" % comment)


def main():
    os.makedirs(OUT, exist_ok=True)
    cred_random = fixed("CredRandom", 32)
    salt1, salt2 = fixed("salt1", 32), fixed("salt2", 32)
    out1, out2 = mac(cred_random, salt1), mac(cred_random, salt2)
    write("outputs-one-salt", "output1 = HMAC-SHA-256(CredRandom, salt1) (CTAP 2.1 12.5)",
          [("credRandom", cred_random), ("salts", salt1), ("outputs", out1)])
    write("outputs-two-salts", "output1 || output2 for salt1 || salt2 (CTAP 2.1 12.5)",
          [("credRandom", cred_random), ("salts", salt1 + salt2), ("outputs", out1 + out2)])

    shared1 = fixed("shared secret v1", 32)
    write("encrypted-v1", "protocol one: AES-256-CBC under the shared secret, zero IV (CTAP 2.1 6.5.6, 12.5)",
          [("protocol", 1), ("credRandom", cred_random), ("salts", salt1 + salt2), ("shared", shared1),
           ("output", cbc(shared1, bytes(16), out1 + out2))])
    shared2 = fixed("shared secret v2", 64)
    iv = fixed("iv", 16)
    write("encrypted-v2", "protocol two: IV || AES-256-CBC under the AES key half of the shared secret (CTAP 2.1 6.5.7, 12.5)",
          [("protocol", 2), ("credRandom", cred_random), ("salts", salt1), ("shared", shared2), ("iv", iv),
           ("output", iv + cbc(shared2[32:], iv, out1))])

    master = fixed("master secret", 32)
    cred_id = fixed("credential ID", 63)
    write("credrandom", "this key's CredRandomWithUV and CredRandomWithoutUV: HKDF-SHA-256 of the master secret, salt the credential ID",
          [("masterSecret", master), ("credentialID", cred_id),
           ("withUV", hkdf(master, cred_id, b"virtkey hmac-secret CredRandomWithUV v1")),
           ("withoutUV", hkdf(master, cred_id, b"virtkey hmac-secret CredRandomWithoutUV v1"))])


if __name__ == "__main__":
    main()
