"""The run's report, written whatever the verdict: the faults as struck, the services'
own counts, the queues, and for each suspicious id its attempts, its copies on the bus
and what the services logged about it (``var/log/faults-SEED.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from shared.platform.storage import CONTROL_DB, PyMongoError
from tests.faults.inject import Injector
from tests.faults.plan import Plan
from tests.faults.stack import Stack
from tests.faults.tap import BusRecord
from tests.faults.verdict import Verdict, base_id
from tests.faults.wechat import Chain
from tests.support.infra import LOCAL, ROOT, run_output

METRICS = (
    "wxp_gateway_events_published_total",
    "wxp_gateway_events_kept_total",
    "wxp_gateway_dedup_hits_total",
    "wxp_gateway_dedup_skipped_total",
    "wxp_gateway_rejected_total",
    "wxp_replies_fallback_total",
    "wxp_replies_passive_total",
    "wxp_consumer_messages_total",
    "wxp_consumer_dead_lettered_total",
)


async def diagnostics(stack: Stack) -> dict[str, object]:
    """The services' own counts and the queues' depths, for the report."""
    metrics = {}
    for replica, service in stack.replicas.items():
        try:
            async with stack.http.get(f"{service.url}/metrics") as response:
                text = await response.text()
        except OSError as exc:
            metrics[replica] = [f"unreachable: {exc}"]
            continue
        metrics[replica] = [line for line in text.splitlines() if line.startswith(METRICS)]
    try:
        listed = await run_output(
            str(LOCAL / "rabbitmq.sh"), "test-queue-depths", stack.servers.vhost
        )
    except (AssertionError, TimeoutError) as exc:
        listed = str(exc)
    control = stack.servers.mongo[CONTROL_DB]
    tenants = [a.tenant_id for a in stack.accounts.values()]
    try:
        kept = [d["_id"] async for d in control.gateway_outbox.find({}, {"_id": 1})]
        claims = await control.gateway_relay_claims.find({"_id": {"$in": kept}}).to_list()
        outbox: object = {
            "kept": len(kept),
            "of the run's tenants": await control.gateway_outbox.count_documents(
                {"tenant_id": {"$in": tenants}}
            ),
            "claims on kept": claims[:20],
        }
    except PyMongoError as exc:
        outbox = f"unreadable: {exc}"
    return {"metrics": metrics, "queues (ready, unacked)": listed.splitlines(), "outbox": outbox}


def write_report(
    plan: Plan,
    verdict: Verdict,
    chains: list[Chain],
    injector: Injector,
    stack: Stack,
    tap: BusRecord,
    unsettled: str,
    state: dict[str, object],
) -> Path:
    """Everything needed to tell why: the faults as struck, the suspicious ids with their
    attempts and what the services logged about them."""
    suspicious = list(
        dict.fromkeys(  # the worst first, a few of each kind
            [
                *verdict.lost[:10],
                *map(base_id, list(verdict.unexcused)[:10]),
                *verdict.double_replies[:10],
                *verdict.stuck[:10],
                *verdict.unanswered_fallbacks[:10],
                *verdict.given_up[:5],
            ]
        )
    )
    logs = {s.log_path: s.log() for s in stack.logs()}
    by_id = {c.event_id: c for c in chains}
    cases = {}
    for event_id in suspicious:
        chain = by_id.get(event_id)
        cases[event_id] = {
            "tenant": None if chain is None else chain.tenant_id,
            "webhook": None if chain is None else chain.hook.sample,
            "openid": None if chain is None else chain.hook.openid,
            "attempts": [] if chain is None else [asdict(a) for a in chain.attempts],
            "on_bus": {i: n for i, n in tap.copies.items() if base_id(i) == event_id},
            "logged": [
                f"{path.name}: {line}"
                for path, text in logs.items()
                for line in text.splitlines()
                if event_id in line
            ][:12],
        }
    report = {
        "summary": verdict.summary(),
        "failures": verdict.failures,
        "settle": unsettled,
        "faults": injector.log,
        "excuses": verdict.excuses,
        "duplicates": verdict.duplicates,
        "sent_log": dict(verdict.statuses),
        "tap": {"echoes": tap.echoes, "reconnects": tap.reconnects, "undecodable": tap.undecodable},
        "services": {s.name + ":" + str(s.port): str(s.log_path) for s in stack.logs()},
        **state,
        "cases": cases,
    }
    path = ROOT / "var" / "log" / f"faults-{plan.seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str))
    return path
