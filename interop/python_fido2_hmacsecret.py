"""The hmac-secret extension (CTAP 2.1 §12.5) driven by Debian's
python3-fido2 0.9.1 (fido2.ctap2.extensions.HmacSecretExtension).

A module, not a script: the interop driver calls run(ctap, pin, check)
with a fido2.ctap2.Ctap2 on a key whose PIN is already `pin`, and a
check(cond, what) that records one check.

For each PIN/UV auth protocol it makes a non-discoverable credential with
hmacCreateSecret, gets secrets back for one and two salts, and checks that
the same salt gives the same secret, that salt2 gives another, and that an
assertion with user verification (a pinUvAuthParam from the PIN) gives a
different secret than one without (CredRandomWithUV, CredRandomWithoutUV).
"""
import hashlib

from fido2.ctap2.extensions import HmacSecretExtension
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2

RP = {"id": "python-fido2-hmac.example", "name": "python-fido2 hmac-secret"}
SALT1 = hashlib.sha256(b"virtkey hmac-secret salt1").digest()
SALT2 = hashlib.sha256(b"virtkey hmac-secret salt2").digest()


def _secret(ctap, protocol, cred_id, salts, token=None):
    """getAssertion with hmacGetSecret for salts; returns (output1, output2
    or None, uv bit)."""
    ext = HmacSecretExtension(ctap, protocol)
    inputs = {"salt1": salts[0]}
    if len(salts) > 1:
        inputs["salt2"] = salts[1]
    ext_input = ext.process_get_input({"hmacGetSecret": inputs})
    cdh = hashlib.sha256(b"hmac-secret assertion").digest()
    kwargs = {}
    if token is not None:
        kwargs = {"pin_uv_param": protocol.authenticate(token, cdh), "pin_uv_protocol": protocol.VERSION}
    assertion = ctap.get_assertion(RP["id"], cdh, [{"type": "public-key", "id": cred_id}],
                                   extensions={HmacSecretExtension.NAME: ext_input}, **kwargs)
    out = ext.process_get_output(assertion.auth_data)["hmacGetSecret"]
    return out["output1"], out.get("output2"), assertion.auth_data.is_user_verified()


def run(ctap, pin, check):
    check(HmacSecretExtension.NAME in ctap.info.extensions,
          "getInfo extensions %s list hmac-secret" % ctap.info.extensions)
    # Each PIN/UV auth protocol the key lists (a CTAP 2.0 key: 1 alone).
    for protocol in (p() for p in (PinProtocolV1, PinProtocolV2) if p.VERSION in ctap.info.pin_uv_protocols):
        v = protocol.VERSION
        create = HmacSecretExtension(ctap, protocol)
        ext_input = create.process_create_input({"hmacCreateSecret": True})
        check(ext_input is True, "v%d: hmacCreateSecret gives the input true" % v)
        cdh = hashlib.sha256(b"hmac-secret credential").digest()
        user = {"id": b"hmac-user-%d" % v, "name": "hmac", "displayName": "hmac-secret"}
        kwargs = {}
        if not ctap.info.options.get("makeCredUvNotRqd"):
            # A key without makeCredUvNotRqd, a CTAP 2.0 key among them,
            # wants pinUvAuthParam for every credential once it has a PIN
            # (CTAP 2.0 §5.1 step 6; CTAP 2.1 §6.1.2 step 6).
            token = ClientPin(ctap, protocol).get_pin_token(pin, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP["id"])
            kwargs = {"pin_uv_param": protocol.authenticate(token, cdh), "pin_uv_protocol": protocol.VERSION}
        att = ctap.make_credential(cdh, RP, user, [{"type": "public-key", "alg": -7}],
                                   extensions={HmacSecretExtension.NAME: ext_input}, **kwargs)
        check(create.process_create_output(att.auth_data) == {"hmacCreateSecret": True},
              "v%d: makeCredential output hmac-secret: true (§12.5)" % v)
        cred_id = att.auth_data.credential_data.credential_id

        one, none, uv = _secret(ctap, protocol, cred_id, [SALT1])
        check(len(one) == 32 and none is None and not uv, "v%d: one salt, one 32-byte secret, no uv" % v)
        again, _, _ = _secret(ctap, protocol, cred_id, [SALT1])
        check(again == one, "v%d: the same salt gives the same secret" % v)
        first, second, _ = _secret(ctap, protocol, cred_id, [SALT1, SALT2])
        check(first == one and len(second) == 32 and second != first,
              "v%d: two salts give output1 as for salt1 alone and a different output2" % v)

        token = ClientPin(ctap, protocol).get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
        with_uv, _, uv = _secret(ctap, protocol, cred_id, [SALT1], token)
        check(uv, "v%d: the assertion with a pinUvAuthParam has the uv bit" % v)
        check(with_uv != one, "v%d: with UV the secret differs (CredRandomWithUV)" % v)
        token = ClientPin(ctap, protocol).get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, RP["id"])
        with_uv_again, _, _ = _secret(ctap, protocol, cred_id, [SALT1], token)
        check(with_uv_again == with_uv, "v%d: with UV the same salt gives the same secret" % v)
