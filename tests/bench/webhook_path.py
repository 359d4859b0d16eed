"""The gateway's own work on one webhook, without I/O: ``python -m tests.bench.webhook_path``.

For 2,000 pre-built, signed, safe-mode encrypted requests (a VIEW event and a reader's
text, half each), times what the gateway does before any database or broker call: check
the time and the signature, decrypt, parse both XML documents, build and encode the
envelope. Prints the mean and p50/p99 in microseconds, the floor under the gateway's CPU
per request that ``python -m tests.bench`` reports.
"""

from __future__ import annotations

import base64
import os
import statistics
import time
from datetime import UTC, datetime

from services.gateway.messages import parse_xml, to_envelope
from services.gateway.verify import Credentials, verify_post
from shared.wechat.samples import build_xml
from shared.wechat.simulator import Account, SignedRequest, sign_request

REQUESTS = 2_000
ROUNDS = 5
ACCOUNT = Account(
    tenant_id="bench",
    appid="wx" + "0" * 16,
    token="benchtoken",
    encoding_aes_key=base64.b64encode(os.urandom(32)).decode().rstrip("="),
    encrypt_mode="safe",
)
CREDENTIALS = Credentials(
    token=ACCOUNT.token,
    appid=ACCOUNT.appid,
    encrypt_mode="safe",
    aes_keys=(ACCOUNT.encoding_aes_key,),
)


def requests() -> list[SignedRequest]:
    now = int(time.time())
    made = []
    for n in range(REQUESTS):
        sample = ("event:VIEW", "text")[n % 2]
        overrides = {"EventKey": f"https://shop.example.com/items/{n}"} if n % 2 == 0 else None
        xml = build_xml(
            sample, openid=f"o{n:027d}", account="gh_bench", create_time=now, overrides=overrides
        )
        made.append(sign_request(ACCOUNT, xml, openid=f"o{n:027d}", timestamp=now))
    return made


def handle(request: SignedRequest, now: float) -> bytes:
    verified = verify_post(CREDENTIALS, request.query, request.body, now=now, tolerance=300)
    envelope = to_envelope("bench", parse_xml(verified.xml), received_at=datetime.now(UTC))
    return envelope.to_bytes()


def main() -> None:
    made = requests()
    times: list[float] = []
    for _ in range(ROUNDS):
        now = time.time()
        for request in made:
            started = time.perf_counter()
            handle(request, now)
            times.append(time.perf_counter() - started)
    micros = sorted(t * 1e6 for t in times)
    p99 = micros[int(len(micros) * 0.99)]
    print(
        f"webhook path (verify, decrypt, parse, envelope), {len(micros):,} requests: "
        f"mean {statistics.fmean(micros):.1f} us, p50 {statistics.median(micros):.1f} us, "
        f"p99 {p99:.1f} us"
    )


if __name__ == "__main__":
    main()
