"""A minimal Driftline webhook receiver that verifies signatures (standard library only).

Run:  DRIFTLINE_WEBHOOK_SECRET=... python examples/receiver.py 8080
Then point a ``webhook`` receiver at http://host:8080/ with ``secret_env`` naming the
same secret. It refuses bad or replayed signatures (401) and acts once per
``Idempotency-Key`` (a real pipeline keeps the seen keys in its database).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_S = 300  # replay window: refuse signatures older (or newer) than five minutes
MAX_BODY_BYTES = 4 * 1024 * 1024  # far above any Driftline payload


def verify(secret: bytes, header: str, body: bytes, now: float) -> bool:
    """True when ``header`` (``t=<unix>,v1=<hex>[,v1=...]``) signs ``body`` within the window."""
    try:
        parts = [p.split("=", 1) for p in header.split(",")]
        raw_ts = next(v for k, v in parts if k.strip() == "t")
        sigs = [v for k, v in parts if k.strip() == "v1"]
    except (ValueError, StopIteration):
        return False
    if not (raw_ts.isascii() and raw_ts.isdigit() and len(raw_ts) <= 20):
        return False
    ts = int(raw_ts)
    expected = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest().encode()
    fresh = abs(now - ts) <= TOLERANCE_S
    # Compare bytes: compare_digest raises TypeError on a str with non-ASCII characters.
    return fresh and any(
        hmac.compare_digest(expected, s.encode("utf-8", "surrogatepass")) for s in sigs
    )


class Handler(BaseHTTPRequestHandler):
    secret = os.environ.get("DRIFTLINE_WEBHOOK_SECRET", "").encode()
    seen: set[str] = set()

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        length = self.headers.get("Content-Length", "0")
        # Refuse before reading: a bad or huge length must cost nothing.
        if not (length.isascii() and length.isdigit()):
            return self._answer(400)
        if int(length) > MAX_BODY_BYTES:
            return self._answer(413)
        body = self.rfile.read(int(length))
        if not verify(
            self.secret, self.headers.get("X-Driftline-Signature", ""), body, time.time()
        ):
            return self._answer(401)
        try:
            payload = json.loads(body)
        except ValueError:
            return self._answer(400)
        key = self.headers.get("Idempotency-Key", "")
        if key not in self.seen:  # a retry of something already handled is acknowledged only
            self.seen.add(key)
            if payload["schema"] == "driftline/retrain-trigger/v1":
                top = [f["feature"] for f in payload["evidence"]["most_drifted_features"]]
                print(f"retrain {payload['model']} ({payload['trigger_id']}): {top}")
            else:
                print(f"{payload['status']}: {len(payload['alerts'])} alert(s)")
        self.send_response(200)  # any 2xx confirms delivery; 5xx/429 make Driftline retry
        self.end_headers()


if __name__ == "__main__":
    if not Handler.secret:
        sys.exit("set DRIFTLINE_WEBHOOK_SECRET")
    HTTPServer(
        ("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 8080), Handler
    ).serve_forever()
