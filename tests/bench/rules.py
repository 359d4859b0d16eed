"""Reply rule matching speed: ``python -m tests.bench.rules``.

Builds rule sets of 10 and 10,000 keyword rules (exact, prefix, contains and a few
regex), matches 20,000 fixed messages (seeded), and prints compile time, matches/s and
p50/p99 per match in microseconds.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from services.replies.matching import Inbound, RuleSet
from services.replies.rules import Rule
from services.replies.validation import validate_rule

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=TZ)
WORDS = ["价格", "优惠", "地址", "营业时间", "price", "menu", "wifi", "会员", "退款", "预约"]


def build(count: int, rng: random.Random) -> list[Rule]:
    rules = []
    for i in range(count):
        regex = i % 500 == 499 or (count < 500 and i == count - 1)
        match = "regex" if regex else ("exact", "prefix", "contains")[i % 3]
        pattern = rf"^order\s*{i}\d*$" if regex else f"{rng.choice(WORDS)}{i}"
        rules.append(
            validate_rule(
                {
                    "name": f"r{i}",
                    "priority": rng.randrange(10),
                    "enabled": True,
                    "trigger": {"kind": "keyword", "match": match, "pattern": pattern},
                    "reply": {"type": "text", "content": f"reply {i}"},
                }
            )
        )
    return rules


def messages(count: int, rules: int, rng: random.Random) -> list[Inbound]:
    out = []
    for _ in range(count):
        n = rng.randrange(rules * 2)  # about half name an existing rule
        body = rng.choice(
            [f"{rng.choice(WORDS)}{n}", f"请问{rng.choice(WORDS)}{n}是多少", f"ORDER {n}", "你好"]
        )
        out.append(Inbound("msg", "text", "o", content=body, msgtype="text"))
    return out


def run(size: int) -> None:
    rng = random.Random(20260306)
    rules = build(size, rng)
    started = time.perf_counter()
    ruleset = RuleSet.compile(rules, tz=TZ)
    compile_ms = (time.perf_counter() - started) * 1e3
    inbound = messages(20_000, size, rng)
    timings, hits = [], 0
    for message in inbound:
        t0 = time.perf_counter_ns()
        found = ruleset.match(message, NOW)
        timings.append((time.perf_counter_ns() - t0) / 1e3)
        hits += found is not None
    cuts = statistics.quantiles(timings, n=100)
    print(
        f"{size:>6} rules: compile {compile_ms:8.1f} ms | {len(inbound) / sum(timings) * 1e6:9.0f}"
        f" matches/s | p50 {cuts[49]:6.1f} us | p99 {cuts[98]:6.1f} us | {hits} hits"
    )


def main() -> None:
    for size in (10, 10_000):
        run(size)


if __name__ == "__main__":
    main()
