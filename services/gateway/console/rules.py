"""The rules page: a tenant's reply rules in the order they answer, a form for the common
kinds (keyword, follow, menu click → a text), enable, delete, reorder, and the dry run.

Everything goes through the replies service's rules API with the signed-in key. The page
works as plain forms (post, then redirect); ``static/rules.js`` adds drag-and-drop and
in-place moves, and htmx answers the dry run in place. The form is ``rules_form``, the
words ``rules_view``; the handlers here load, call them and render."""

from __future__ import annotations

from aiohttp import web

from services.gateway.console.backend import BackendError
from services.gateway.console.forms import submit
from services.gateway.console.rules_form import (
    RuleForm,
    dry_run_message,
    errors_of,
    last_priority,
    move_order,
    order_of,
)
from services.gateway.console.rules_text import TEXT
from services.gateway.console.rules_view import (
    DryRun,
    Translate,
    View,
    dry_run_of,
    edit_context,
    list_context,
)
from services.gateway.console.web import (
    CATALOG,
    LANGUAGE,
    PREFIX,
    call,
    form_of,
    redirect,
    render,
    tenant_of,
)

__all__ = ["ROUTES", "TEXT"]


async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request, tenant_of(request), View())


async def create(request: web.Request) -> web.StreamResponse:
    tenant_id = tenant_of(request)
    form = RuleForm.from_form(await form_of(request))
    listing = await call(request, "GET", "replies", _rules_path(tenant_id))
    body = form.new_rule(last_priority(listing["items"]))
    _, refused = await submit(request, "POST", "replies", _rules_path(tenant_id), json=body)
    if refused is not None:
        return await _page(request, tenant_id, View(form, errors_of(refused)), status=422)
    return redirect(_page_url(tenant_id, "created"), request)


async def edit_form(request: web.Request) -> web.StreamResponse:
    tenant_id, rule_id = tenant_of(request), request.match_info["rule_id"]
    rule = await call(request, "GET", "replies", _rules_path(tenant_id, rule_id))
    return render(request, "rules_edit.html", edit_context(rule, RuleForm.of_rule(rule), {}))


async def save(request: web.Request) -> web.StreamResponse:
    tenant_id, rule_id = tenant_of(request), request.match_info["rule_id"]
    form = RuleForm.from_form(await form_of(request))
    path = _rules_path(tenant_id, rule_id)
    _, refused = await submit(request, "PATCH", "replies", path, json=form.change())
    if refused is not None:
        rule = await call(request, "GET", "replies", path)
        context = edit_context(rule, form, errors_of(refused))
        return render(request, "rules_edit.html", context, status=422)
    return redirect(_page_url(tenant_id, "saved"), request)


async def set_enabled(request: web.Request) -> web.StreamResponse:
    tenant_id, rule_id = tenant_of(request), request.match_info["rule_id"]
    enabled = (await form_of(request)).get("enabled") == "true"
    path = _rules_path(tenant_id, rule_id)
    await call(request, "PATCH", "replies", path, json={"enabled": enabled})
    return redirect(_page_url(tenant_id, "enabled" if enabled else "disabled"), request)


async def delete(request: web.Request) -> web.StreamResponse:
    tenant_id, rule_id = tenant_of(request), request.match_info["rule_id"]
    await call(request, "DELETE", "replies", _rules_path(tenant_id, rule_id))
    return redirect(_page_url(tenant_id, "deleted"), request)


async def reorder(request: web.Request) -> web.StreamResponse:
    """JSON ``{"order": [ids]}`` from the page's script (answered as JSON), or a move
    button's form ``move=up:<id>`` without script (answered with the page)."""
    tenant_id = tenant_of(request)
    if request.content_type == "application/json":
        return await _reorder_json(request, tenant_id)
    form = await form_of(request)
    listing = await call(request, "GET", "replies", _rules_path(tenant_id))
    order = move_order(listing["items"], form)
    await call(request, "POST", "replies", _rules_path(tenant_id, "reorder"), json={"order": order})
    return redirect(_page_url(tenant_id, "moved"), request)


async def _reorder_json(request: web.Request, tenant_id: str) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    path, order = _rules_path(tenant_id, "reorder"), order_of(body)
    try:
        done = await call(request, "POST", "replies", path, json={"order": order})
    except BackendError as exc:
        return web.json_response({"error": exc.message}, status=exc.status or 503)
    return web.json_response({"order": [rule["id"] for rule in done["items"]]})


async def dry_run(request: web.Request) -> web.StreamResponse:
    tenant_id, form = tenant_of(request), await form_of(request)
    kind, text = form.get("kind", "text"), form.get("text", "")
    body = {"message": dry_run_message(kind, text)}
    answer, refused = await submit(
        request, "POST", "replies", _rules_path(tenant_id, "test"), json=body
    )
    if refused is not None:
        dry = DryRun(kind, text, error=refused.message)
    else:
        dry = dry_run_of(kind, text, answer, _translator(request))
    if request.headers.get("HX-Request") == "true":
        return render(request, "rules_dry_run.html", {"dry": dry})
    return await _page(request, tenant_id, View(dry=dry))


async def _page(
    request: web.Request, tenant_id: str, view: View, *, status: int = 200
) -> web.Response:
    listing = await call(request, "GET", "replies", _rules_path(tenant_id))
    done = request.query.get("done", "")
    context = list_context(listing, view, done, _translator(request))
    return render(request, "rules.html", context, status=status)


def _translator(request: web.Request) -> Translate:
    translate: Translate = request.app[CATALOG].translator(request[LANGUAGE])
    return translate


def _rules_path(tenant_id: str, *rest: str) -> str:
    return "/".join((f"/api/tenants/{tenant_id}/rules", *rest))


def _page_url(tenant_id: str, done: str) -> str:
    return f"{PREFIX}/tenants/{tenant_id}/rules?done={done}"


RULES = "/tenants/{tenant_id}/rules"
RULE = RULES + "/{rule_id:r[0-9a-f]{12}}"
ROUTES: list[web.RouteDef] = [
    web.get(RULES, page),
    web.post(RULES, create),
    web.post(RULES + "/reorder", reorder),
    web.post(RULES + "/test", dry_run),
    web.get(RULE, edit_form),
    web.post(RULE, save),
    web.post(RULE + "/enabled", set_enabled),
    web.post(RULE + "/delete", delete),
]
