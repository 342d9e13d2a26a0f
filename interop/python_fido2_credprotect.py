"""The credProtect extension (CTAP 2.1 §12.1) driven by Debian's
python3-fido2 0.9.1, through Ctap2.make_credential and get_assertion with
a raw extensions map (0.9.1 has no CredProtectExtension for the Ctap2
level).

A module, not a script: the interop driver calls run(ctap, pin, check)
with a fido2.ctap2.Ctap2 on a key whose PIN is already `pin`, and a
check(cond, what) that records one check.

It makes credentials with levels 1, 2 and 3, checks the level in the
authenticator data's extension outputs, then the visibility rules of
§6.2.2 steps 7.4 and 7.5 with and without a pinUvAuthToken, and the
excludeList rule of §6.1.2 step 12.2. The discoverable credentials it
made are deleted at the end.
"""
import hashlib

from fido2.ctap import CtapError
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin

RP = {"id": "credprotect.python-fido2.example", "name": "credProtect"}
ES256 = [{"type": "public-key", "alg": -7}]


def _cdh(label):
    return hashlib.sha256(b"credprotect-" + label.encode()).digest()


def _status(f):
    """Runs f and returns the CTAP status it fails with, 0 if none."""
    try:
        f()
    except CtapError as e:
        return int(e.code)
    return 0


def run(ctap, pin, check):
    check("credProtect" in ctap.get_info().extensions, "getInfo lists credProtect")
    client_pin = ClientPin(ctap)
    protocol = client_pin.protocol

    def auth(perm, cdh):
        token = client_pin.get_pin_token(pin, perm, RP["id"])
        return {"pin_uv_param": protocol.authenticate(token, cdh), "pin_uv_protocol": protocol.VERSION}

    def make(label, level, rk):
        cdh = _cdh("mc-" + label)
        user = {"id": label.encode(), "name": label, "displayName": label}
        kw = auth(ClientPin.PERMISSION.MAKE_CREDENTIAL, cdh) if rk else {}
        att = ctap.make_credential(cdh, RP, user, ES256, extensions={"credProtect": level},
                                   options={"rk": True} if rk else None, **kw)
        check(att.auth_data.extensions == {"credProtect": level},
              "makeCredential %s (rk=%s): output %s" % (label, rk, att.auth_data.extensions))
        return att.auth_data.credential_data.credential_id

    def assertion(label, allow=None, uv=False):
        cdh = _cdh("ga-" + label)
        kw = auth(ClientPin.PERMISSION.GET_ASSERTION, cdh) if uv else {}
        allow_list = [{"type": "public-key", "id": i} for i in allow] if allow else None
        return ctap.get_assertion(RP["id"], cdh, allow_list, **kw)

    ids = {level: make("level%d" % level, level, True) for level in (1, 2, 3)}
    nonrk3 = make("nonrk3", 3, False)

    # Without user verification (§6.2.2 steps 7.4, 7.5).
    r = assertion("discover")
    check(r.credential["id"] == ids[1] and r.number_of_credentials is None,
          "no allowList, no uv: only the level 1 credential (numberOfCredentials %s)" % r.number_of_credentials)
    r = assertion("list2", [ids[2]])
    check(r.credential["id"] == ids[2], "level 2 named in the allowList is used without uv")
    check(_status(lambda: assertion("list3", [ids[3]])) == CtapError.ERR.NO_CREDENTIALS,
          "level 3 named in the allowList, no uv: CTAP2_ERR_NO_CREDENTIALS")
    check(_status(lambda: assertion("nonrk3", [nonrk3])) == CtapError.ERR.NO_CREDENTIALS,
          "non-discoverable level 3, no uv: CTAP2_ERR_NO_CREDENTIALS")

    # With a pinUvAuthToken every level is visible.
    r = assertion("discover-uv", uv=True)
    check(r.number_of_credentials == 3, "no allowList, uv: numberOfCredentials %s" % r.number_of_credentials)
    check(r.auth_data.flags & 0x04 != 0, "uv bit set")
    r = assertion("list3-uv", [ids[3]], uv=True)
    check(r.credential["id"] == ids[3], "level 3 with uv")
    r = assertion("nonrk3-uv", [nonrk3], uv=True)
    check(r.credential["id"] == nonrk3, "non-discoverable level 3 with uv")

    # excludeList (§6.1.2 step 12.2): level 3 excludes only with uv.
    exclude = [{"type": "public-key", "id": nonrk3}]
    user = {"id": b"exclude", "name": "exclude", "displayName": "exclude"}
    att = ctap.make_credential(_cdh("exclude"), RP, user, ES256, exclude_list=exclude)
    check(att.auth_data.credential_data is not None, "level 3 in the excludeList, no uv: not excluded")
    cdh = _cdh("exclude-uv")
    check(_status(lambda: ctap.make_credential(cdh, RP, user, ES256, exclude_list=exclude,
                                               **auth(ClientPin.PERMISSION.MAKE_CREDENTIAL, cdh)))
          == CtapError.ERR.CREDENTIAL_EXCLUDED,
          "level 3 in the excludeList, uv: CTAP2_ERR_CREDENTIAL_EXCLUDED")

    # credentialManagement reports the levels (§6.8.4); then clean up.
    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, protocol, token)
    creds = cm.enumerate_creds(hashlib.sha256(RP["id"].encode()).digest())
    levels = sorted(c[CredentialManagement.RESULT.CRED_PROTECT] for c in creds)
    check(levels == [1, 2, 3], "enumerateCredentials credProtect %s" % levels)
    for c in creds:
        cm.delete_cred(c[CredentialManagement.RESULT.CREDENTIAL_ID])
    check(True, "deleted the discoverable credentials")
