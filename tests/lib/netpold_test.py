# SPDX-License-Identifier: GPL-2.0-or-later
"""What the Python test drivers share about talking to a netpold: HTTP over its status socket,
the "synced" judgement of a status object, status polling, and percentiles.

Imported by tests/world/replay.py, tests/e2e/replay_lib.py, tests/soak/soak.py and the e2e shell
tests (tests/e2e/e2e_lib.sh puts this folder on PYTHONPATH). Those scripts put this folder on
sys.path from their own location and write no bytecode.
"""

import http.client
import json
import socket
import time

# what reading a status may raise while netpold starts, restarts or answers half
STATUS_ERRORS = (OSError, ValueError, IndexError, http.client.HTTPException)


class UnixHTTP(http.client.HTTPConnection):
    """http.client over a Unix stream socket (netpold's status socket)."""

    def __init__(self, path, timeout=40):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def request(sock, method, url, timeout=40):
    """One request on the status socket SOCK: (HTTP status, {lowercased header: value}, body)."""
    c = UnixHTTP(sock, timeout)
    try:
        c.request(method, url)
        r = c.getresponse()
        body = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body
    finally:
        c.close()


def status(sock, timeout=5):
    """GET /v1/status, decoded."""
    return json.loads(request(sock, "GET", "/v1/status", timeout)[2])


def wait_status(sock, seconds, cond, interval):
    """Poll the status until cond(status) holds (True) or SECONDS pass (False); a status that
    cannot be read yet is retried."""
    end = time.time() + seconds
    while time.time() < end:
        try:
            if cond(status(sock)):
                return True
        except STATUS_ERRORS:
            pass
        time.sleep(interval)
    return False


def synced(st):
    """A status after POST /v1/sync: ready, not degraded, no source error, all programmed."""
    return bool(st.get("ready") and not st.get("degraded") and st["source"]["errors"] == 0
                and st["programmed_generation"] == st["input_generation"])


def pct(v, p):
    """The P-th percentile of V (nearest rank); 0.0 for no values."""
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]
