"""authenticatorCredentialManagement (CTAP 2.1 §6.8) driven by Debian's
python3-fido2 0.9.1 CredentialManagement class.

A module, not a script: the interop driver calls run(ctap, pin, check)
with a fido2.ctap2.Ctap2 on a key whose PIN is already `pin`. The key may
hold other credentials; every count here is relative to what it held.
"""
import hashlib
import os

from fido2.cose import CoseKey
from fido2.ctap import CtapError
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin

R = CredentialManagement.RESULT


def _expect_error(check, code, what, f, *args):
    try:
        f(*args)
        check(False, "%s fails" % what)
    except CtapError as e:
        check(e.code == code, "%s: %s" % (what, e.code))


def run(ctap, pin, check):
    info = ctap.get_info()
    check(info.options.get("credMgmt") is True and info.options.get("credentialMgmtPreview") is True,
          "getInfo lists credMgmt and credentialMgmtPreview")
    cp = ClientPin(ctap)
    proto = cp.protocol
    perm = ClientPin.PERMISSION

    # Two discoverable credentials for an RP of this run, one for a second.
    suffix = os.urandom(4).hex()
    rp = {"id": "credman-%s.python-fido2.example" % suffix, "name": "credman"}
    rp2 = {"id": "other-%s.python-fido2.example" % suffix, "name": "credman other"}
    made = []
    for n, r in enumerate((rp, rp, rp2)):
        token = cp.get_pin_token(pin, perm.MAKE_CREDENTIAL, r["id"])
        cdh = hashlib.sha256(b"credman-mc-%d" % n).digest()
        user = {"id": b"credman-user-%d" % n, "name": "user%d" % n, "displayName": "User %d" % n}
        att = ctap.make_credential(cdh, r, user, [{"type": "public-key", "alg": -7}],
                                   options={"rk": True},
                                   pin_uv_param=proto.authenticate(token, cdh),
                                   pin_uv_protocol=proto.VERSION)
        made.append((r, user, att.auth_data.credential_data))

    token = cp.get_pin_token(pin, perm.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, proto, token)
    meta = cm.get_metadata()
    existing = meta[R.EXISTING_CRED_COUNT]
    check(existing >= 3, "getCredsMetadata: %d existing" % existing)
    remaining = ctap.get_info().remaining_disc_creds
    check(remaining is None or meta[R.MAX_REMAINING_COUNT] == remaining,
          "maxPossibleRemaining %d equals getInfo's %s" % (meta[R.MAX_REMAINING_COUNT], remaining))

    rps = cm.enumerate_rps()
    ids = [r[R.RP]["id"] for r in rps]
    check(rp["id"] in ids and rp2["id"] in ids, "enumerateRPs finds both RPs of %d" % len(rps))
    check(len(ids) == len(set(ids)), "each RP once")
    check(all(r[R.RP_ID_HASH] == hashlib.sha256(r[R.RP]["id"].encode()).digest() for r in rps),
          "rpIDHash is SHA-256 of rp.id")
    check(R.TOTAL_RPS in rps[0] and all(R.TOTAL_RPS not in r for r in rps[1:]),
          "totalRPs only in enumerateRPsBegin")

    rp_hash = hashlib.sha256(rp["id"].encode()).digest()
    creds = cm.enumerate_creds(rp_hash)
    check(len(creds) == 2 and creds[0][R.TOTAL_CREDENTIALS] == 2, "enumerateCredentials: 2 for the RP")
    for c in creds:
        match = [m for m in made if m[2].credential_id == c[R.CREDENTIAL_ID]["id"]]
        check(len(match) == 1, "enumerated credential ID is one we made")
        _, user, cred = match[0]
        check(c[R.USER]["id"] == user["id"] and c[R.USER]["name"] == user["name"], "user entity as made")
        check(CoseKey.parse(c[R.PUBLIC_KEY]) == CoseKey.parse(cred.public_key), "public key as made")
        check(c.get(R.CRED_PROTECT, 1) == 1, "credProtect userVerificationOptional")
    check(cm.enumerate_creds(hashlib.sha256(b"nothing.example").digest()) == [],
          "an RP without credentials enumerates empty (NO_CREDENTIALS)")

    _expect_error(check, CtapError.ERR.NOT_ALLOWED, "enumerateRPsGetNextRP past the end", cm.enumerate_rps_next)
    cm.enumerate_rps_begin()
    ctap.get_info()
    _expect_error(check, CtapError.ERR.NOT_ALLOWED, "GetNextRP after another command", cm.enumerate_rps_next)

    first = made[0]
    desc = {"type": "public-key", "id": first[2].credential_id}
    cm.update_user_info(desc, {"id": first[1]["id"], "name": "renamed"})
    renamed = [c for c in cm.enumerate_creds(rp_hash) if c[R.CREDENTIAL_ID]["id"] == desc["id"]]
    check(renamed[0][R.USER].get("name") == "renamed" and "displayName" not in renamed[0][R.USER],
          "updateUserInformation replaces name, drops displayName")
    _expect_error(check, CtapError.ERR.INVALID_PARAMETER, "updateUserInformation with another user.id",
                  cm.update_user_info, desc, {"id": b"someone else", "name": "x"})

    # A token bound to rp2 cannot read the whole key nor touch rp.
    bound = CredentialManagement(ctap, proto, cp.get_pin_token(pin, perm.CREDENTIAL_MGMT, rp2["id"]))
    _expect_error(check, CtapError.ERR.PIN_AUTH_INVALID, "RP-bound token: getCredsMetadata", bound.get_metadata)
    _expect_error(check, CtapError.ERR.PIN_AUTH_INVALID, "RP-bound token: another RP",
                  bound.enumerate_creds_begin, rp_hash)
    check(len(bound.enumerate_creds(hashlib.sha256(rp2["id"].encode()).digest())) == 1,
          "RP-bound token enumerates its RP")
    _expect_error(check, CtapError.ERR.PIN_AUTH_INVALID, "a token without cm",
                  CredentialManagement(ctap, proto, cp.get_pin_token(pin, perm.GET_ASSERTION)).get_metadata)

    cm = CredentialManagement(ctap, proto, cp.get_pin_token(pin, perm.CREDENTIAL_MGMT))
    for _, _, cred in made:
        cm.delete_cred({"type": "public-key", "id": cred.credential_id})
    check(cm.get_metadata()[R.EXISTING_CRED_COUNT] == existing - 3, "deleteCredential: the count drops by 3")
    _expect_error(check, CtapError.ERR.NO_CREDENTIALS, "deleting again", cm.delete_cred, desc)
    _expect_error(check, CtapError.ERR.NO_CREDENTIALS, "getAssertion of a deleted credential",
                  ctap.get_assertion, rp["id"], hashlib.sha256(b"x").digest(), [desc])
