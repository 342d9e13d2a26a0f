"""python-fido2 (Debian 0.9.1) FPBioEnrollment against virtkey's fido21-bio key.

A module for the interop driver: run(ctap, pin, check) enrolls a finger
through fido2.ctap2.bio.FPBioEnrollment (authenticatorBioEnrollment, CTAP
2.1 section 6.7), renames it, lists it, uses it for built-in user
verification, and removes it. The key must already have PIN `pin` and a
sensor that gives good samples of one finger without being asked (the
daemon's --presence auto).
"""

from fido2.ctap import CtapError
from fido2.ctap2.bio import CaptureError, FPBioEnrollment
from fido2.ctap2.pin import ClientPin


def _bio(ctap, pin):
    client_pin = ClientPin(ctap)
    token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.BIO_ENROLL)
    return FPBioEnrollment(ctap, client_pin.protocol, token), client_pin


def run(ctap, pin, check):
    check("bioEnroll" in ctap.info.options and "userVerificationMgmtPreview" in ctap.info.options,
          "getInfo lists bioEnroll and userVerificationMgmtPreview")
    bio, client_pin = _bio(ctap, pin)
    check(bio.modality == FPBioEnrollment.MODALITY.FINGERPRINT, "getModality: fingerprint (6.7.2)")

    info = bio.get_fingerprint_sensor_info()
    samples = info[FPBioEnrollment.RESULT.MAX_SAMPLES_REQUIRED]
    check(info[FPBioEnrollment.RESULT.FINGERPRINT_KIND] == 1 and samples >= 1,
          "getFingerprintSensorInfo: touch sensor, %d samples (6.7.3)" % samples)

    before = bio.enumerate_enrollments()
    check(isinstance(before, dict), "enumerateEnrollments: %d templates before (6.7.6)" % len(before))

    context = bio.enroll(timeout=5000)
    template_id, captures = None, 0
    while template_id is None:
        try:
            template_id = context.capture()
        except CaptureError as e:
            check(False, "capture feedback %s" % e.code)
        captures += 1
        check(captures <= samples, "capture %d: %s remaining" % (captures, context.remaining))
    check(context.remaining == 0 and len(template_id) > 0,
          "enrollBegin and enrollCaptureNextSample: template %s after %d captures (6.7.4)" % (template_id.hex(), captures))

    bio.set_name(template_id, "interop")
    enrollments = bio.enumerate_enrollments()
    check(enrollments.get(template_id) == "interop", "setFriendlyName then enumerateEnrollments (6.7.7)")

    info = ctap.get_info()
    check(info.options.get("uv") is True and info.options.get("bioEnroll") is True,
          "getInfo: uv and bioEnroll true once a finger is enrolled (6.4)")
    token = client_pin.get_uv_token(ClientPin.PERMISSION.GET_ASSERTION)
    check(len(token) in (16, 32), "getPinUvAuthTokenUsingUvWithPermissions with the enrolled finger (6.5.5.7.3)")
    bio, _ = _bio(ctap, pin)  # the UV token replaced the be token

    try:
        bio.enroll_capture_next(b"\x00" * 16)
        check(False, "enrollCaptureNextSample of an unknown template")
    except CtapError as e:
        check(e.code == CtapError.ERR.INVALID_PARAMETER,
              "enrollCaptureNextSample without an enrollment: %s (6.7.4)" % e.code)

    context = bio.enroll(timeout=5000)
    context.capture()
    context.cancel()
    check(context.template_id is None, "cancelCurrentEnrollment (6.7.5)")

    bio.remove_enrollment(template_id)
    check(template_id not in bio.enumerate_enrollments(), "removeEnrollment (6.7.8)")
    try:
        bio.remove_enrollment(template_id)
        check(False, "removeEnrollment of a removed template")
    except CtapError as e:
        check(e.code == CtapError.ERR.INVALID_OPTION, "removeEnrollment of a removed template: %s" % e.code)
