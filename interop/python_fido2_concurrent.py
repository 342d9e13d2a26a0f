#!/usr/bin/python3
"""Several python3-fido2 (0.9.1) clients use one virtkey over UDP at once,
each from its own socket and channel, and each must see only its own
answers: python-fido2 raises "Wrong channel" for a packet on another channel
and "Wrong nonce" for another client's INIT response.

    virtkey serve --udp 127.0.0.1:8111 &
    /usr/bin/python3 interop/python_fido2_concurrent.py 127.0.0.1:8111 [CLIENTS [CALLS]]

Each client opens the device (CTAPHID INIT), then alternates CTAPHID PING
with a payload of its own and authenticatorGetInfo. A call answered
CHANNEL_BUSY (the key runs one transaction at a time) is retried after
10 ms, as python-fido2 0.9.1 leaves that to its caller. Prints one line per
client and a total; exits non-zero if any call failed.
"""
import multiprocessing
import sys
import time

from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from python_fido2_udp import REPORT, UdpConnection  # noqa: E402


def retry_busy(f, busy):
    """Calls f until it is not answered CHANNEL_BUSY; counts the retries."""
    while True:
        try:
            return f()
        except CtapError as e:
            if e.code != CtapError.ERR.CHANNEL_BUSY:
                raise
            busy[0] += 1
            time.sleep(0.01)


def client(args):
    host, port, n, calls = args
    errors = {}
    done = 0
    busy = [0]
    try:
        desc = HidDescriptor("udp:%s:%s" % (host, port), 0x1209, 0x000F, REPORT, REPORT)
        dev = CtapHidDevice(desc, UdpConnection(host, port))
        ctap = retry_busy(lambda: Ctap2(dev), busy)
    except Exception as e:  # noqa: BLE001 - every failure is counted
        errors[str(e)] = errors.get(str(e), 0) + 1
        return n, done, busy[0], errors
    for i in range(calls):
        try:
            if i % 2 == 0:
                msg = b"client %d call %d " % (n, i) + bytes(range(60))
                if retry_busy(lambda: dev.ping(msg), busy) != msg:
                    raise Exception("PING echoed other bytes")
            else:
                if "FIDO_2_1" not in retry_busy(ctap.get_info, busy).versions:
                    raise Exception("getInfo without FIDO_2_1")
            done += 1
        except Exception as e:  # noqa: BLE001
            errors[str(e)] = errors.get(str(e), 0) + 1
    return n, done, busy[0], errors


def main():
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8111").rsplit(":", 1)
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    start = time.monotonic()
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(client, [(host, int(port), n, calls) for n in range(clients)])
    total_done, total_err, total_busy = 0, 0, 0
    for n, done, busy, errors in sorted(results):
        failed = sum(errors.values())
        total_done += done
        total_err += failed
        total_busy += busy
        print("client %d: %d of %d calls ok, %d CHANNEL_BUSY retried, %d failed %s"
              % (n, done, calls, busy, failed, errors or ""))
    print("python-fido2, %d clients at once over UDP: %d calls ok, %d failed, %d CHANNEL_BUSY retried, in %.1f s"
          % (clients, total_done, total_err, total_busy, time.monotonic() - start))
    sys.exit(1 if total_err or total_done != clients * calls else 0)


if __name__ == "__main__":
    main()
