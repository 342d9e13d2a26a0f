"""authenticatorLargeBlobs (CTAP 2.1 §6.10) driven by Debian's
python3-fido2 0.9.1 (fido2.ctap2.blob.LargeBlobs).

A module, not a script: the interop driver calls run(ctap, pin, check)
with a fido2.ctap2.Ctap2 on a key whose PIN is already `pin`, and a
check(cond, what) that records one check.

python-fido2 0.9.1 sends length with every fragment and compresses with
zlib rather than raw DEFLATE; its writes work as long as the array fits
one fragment (maxMsgSize − 64 bytes, more than the key's
maxSerializedLargeBlobArray), and it reads back its own entries. The
array is left empty at the end.
"""
import os

from fido2.ctap import CtapError
from fido2.ctap2.blob import LargeBlobs
from fido2.ctap2.pin import ClientPin

# Statuses python-fido2 0.9.1 names, and CTAP2_ERR_PUAT_REQUIRED, which it
# does not.
INVALID_PARAMETER = 0x02
INVALID_LENGTH = 0x03
PIN_AUTH_INVALID = 0x33
PUAT_REQUIRED = 0x36


def _status(f):
    """Runs f and returns the CTAP status it fails with, 0 if none."""
    try:
        f()
    except CtapError as e:
        return int(e.code)
    return 0


def run(ctap, pin, check):
    info = ctap.info
    check(info.options.get("largeBlobs") is True, "getInfo option largeBlobs true")
    check((info.max_large_blob or 0) >= 1024,
          "getInfo maxSerializedLargeBlobArray %s >= 1024" % info.max_large_blob)
    max_fragment = info.max_msg_size - 64

    # Reading needs no token.
    reader = LargeBlobs(ctap)
    before = reader.read_blob_array()
    check(isinstance(before, list), "read_blob_array gives a list (%d entries)" % len(before))
    check(_status(lambda: ctap.large_blobs(0, get=max_fragment + 1)) == INVALID_LENGTH,
          "get maxFragmentLength+1: CTAP1_ERR_INVALID_LENGTH (§6.10.2 step 4.c)")
    size = len(ctap.large_blobs(0, get=max_fragment)[1])
    check(_status(lambda: ctap.large_blobs(size + 1, get=1)) == INVALID_PARAMETER,
          "get past the end: CTAP1_ERR_INVALID_PARAMETER (§6.10.2 step 4.d)")

    # Writing on a key with a PIN needs a token with largeBlobWrite.
    client_pin = ClientPin(ctap)
    protocol = client_pin.protocol
    check(_status(lambda: reader.write_blob_array([])) == PUAT_REQUIRED,
          "write without pinUvAuthParam: CTAP2_ERR_PUAT_REQUIRED (§6.10.2 step 5.e.i)")
    ga_token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, "python-fido2.example")
    check(_status(lambda: LargeBlobs(ctap, protocol, ga_token).write_blob_array([])) == PIN_AUTH_INVALID,
          "write with a token without lbw: CTAP2_ERR_PIN_AUTH_INVALID (§6.10.2 step 5.e.v)")

    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.LARGE_BLOB_WRITE)
    blobs = LargeBlobs(ctap, protocol, token)
    blobs.write_blob_array([])
    check(blobs.read_blob_array() == [], "write_blob_array([]) reads back as []")

    key1, key2 = os.urandom(32), os.urandom(32)
    data1 = b"python-fido2 large blob " * 20
    data2 = b"second credential"
    blobs.put_blob(key1, data1)
    blobs.put_blob(key2, data2)
    check(blobs.get_blob(key1) == data1, "put_blob then get_blob for the first key")
    check(blobs.get_blob(key2) == data2, "put_blob then get_blob for the second key")
    check(len(blobs.read_blob_array()) == 2, "two entries in the array")
    blobs.put_blob(key1, b"replaced")
    check(blobs.get_blob(key1) == b"replaced", "put_blob replaces the first key's blob")
    check(len(blobs.read_blob_array()) == 2, "still two entries after the replacement")
    blobs.delete_blob(key1)
    check(blobs.get_blob(key1) is None, "delete_blob: no blob for the first key")
    check(blobs.get_blob(key2) == data2, "delete_blob keeps the second key's blob")
    check(blobs.get_blob(os.urandom(32)) is None, "get_blob of an unknown key is None")

    blobs.write_blob_array([])
    check(blobs.read_blob_array() == [], "array emptied at the end")
