"""authenticatorConfig (CTAP 2.1 §6.11) driven by Debian's python3-fido2
0.9.1, fido2.ctap2.config.Config, against a virtkey that has a PIN.

A module, not a script: a driver opens the device, sets the PIN and calls

    run(ctap, pin, check)

with a fido2.ctap2.Ctap2, the PIN and check(cond, what), which records
one check. Every config call is authorized by a fresh pinUvAuthToken with
the acfg permission from ClientPin.get_pin_token. The PIN must be longer
than the key's minPINLength, so that the minimum can grow without forcing
a PIN change (§6.11.4). The key is left with alwaysUv off.
"""
from fido2.ctap import CtapError
from fido2.ctap2.config import Config
from fido2.ctap2.pin import ClientPin


def _config(ctap, pin):
    """A Config authorized by a new token with the acfg permission."""
    client_pin = ClientPin(ctap)
    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    return Config(ctap, client_pin.protocol, token)


def _status(fn):
    """Runs fn and returns the CTAP status it ended with (0 for success)."""
    try:
        fn()
    except CtapError as e:
        return e.code
    return 0


def run(ctap, pin, check):
    info = ctap.get_info()
    check(info.options.get("authnrCfg") is True, "getInfo authnrCfg true")
    check(info.options.get("setMinPINLength") is True, "getInfo setMinPINLength true")
    check("alwaysUv" in info.options, "getInfo lists alwaysUv (%s)" % info.options.get("alwaysUv"))

    # toggleAlwaysUv (§6.11.2), twice: alwaysUv flips each time and
    # makeCredUvNotRqd is false while it is on (§7.2).
    start = info.options["alwaysUv"]
    for n in (1, 2):
        _config(ctap, pin).toggle_always_uv()
        info = ctap.get_info()
        want = start if n == 2 else not start
        check(info.options.get("alwaysUv") is want,
              "toggle_always_uv #%d: alwaysUv %s" % (n, info.options.get("alwaysUv")))
        if want:
            check(info.options.get("makeCredUvNotRqd") is False,
                  "makeCredUvNotRqd false while alwaysUv is on")
    if ctap.get_info().options.get("alwaysUv"):
        _config(ctap, pin).toggle_always_uv()

    # setMinPINLength (§6.11.4): grow by one, still within the PIN's
    # length so that no change is forced; a smaller value is refused.
    cur = info.min_pin_length
    check(len(pin) > cur, "PIN of %d characters is longer than minPINLength %d" % (len(pin), cur))
    _config(ctap, pin).set_min_pin_length(cur + 1)
    info = ctap.get_info()
    check(info.min_pin_length == cur + 1, "set_min_pin_length(%d): minPINLength %d" % (cur + 1, info.min_pin_length))
    check(info.force_pin_change is False, "forcePINChange still false")
    status = _status(lambda: _config(ctap, pin).set_min_pin_length(cur))
    check(status == CtapError.ERR.PIN_POLICY_VIOLATION,
          "set_min_pin_length(%d) after %d: status 0x%02x, want PIN_POLICY_VIOLATION" % (cur, cur + 1, status))
    check(ctap.get_info().min_pin_length == cur + 1, "minPINLength unchanged by the refused call")

    # Without a token the key, having a PIN, wants one (§6.11).
    status = _status(lambda: Config(ctap).toggle_always_uv())
    # 0.9.1 names 0x36 by its CTAP 2.0 name, PIN_REQUIRED.
    check(status == 0x36, "toggle_always_uv without a token: status 0x%02x, want CTAP2_ERR_PUAT_REQUIRED" % status)
    check(ctap.get_info().options.get("alwaysUv") is False, "alwaysUv off at the end")
