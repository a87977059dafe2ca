"""Supervision pages: the request search (everyone, in the agencies they read), the dashboards,
exports and cash journal (auditors and chefs d'agence), the controller's exceptions (DIG/DAI).
Read-only: the only write is the security event of an export."""

import datetime as dt
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from contracts.audit import security_event
from contracts.enums import SecurityEventKind
from contracts.selectors import REQUEST_RELATED
from supervision import exports
from supervision.charts import bar_width, week_chart
from supervision.exceptions import BY_CODE, ITEMS, period_bounds
from supervision.forms import (
    AGE_LABELS,
    OPEN,
    CashJournalForm,
    ExceptionsForm,
    RequestSearchForm,
    ScopeForm,
)
from supervision.scope import Scope, check_controller, check_supervisor, scope_for
from supervision.selectors import cash_journal as select_cash_journal
from supervision.selectors import cash_totals, search_requests
from supervision.selectors import dashboard as select_dashboard

PAGE_SIZE = 50
EXCEPTION_PAGE_SIZE = 100


def _scope(form, user) -> Scope:
    data = form.cleaned_data if form.is_valid() else {}
    return scope_for(user, data.get("dr"), data.get("agence"))


def _search(request):
    form = RequestSearchForm(request.GET, user=request.user)
    today = timezone.localdate()
    if not form.is_valid():
        return form, None, today
    scope = _scope(form, request.user)
    return form, search_requests(request.user, scope, form.cleaned_data, today), today


def request_list(request):
    """Demandes de résiliation: search, sort, pages; the query is the address."""
    form, qs, today = _search(request)
    page = None
    if qs is not None:
        page = Paginator(qs.select_related(*REQUEST_RELATED), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "supervision/request_list.html",
        {
            "form": form,
            "page": page,
            "today": today,
            "query": params.urlencode(),
            "export_kinds": exports.EXPORT_KINDS,
            "may_export": request.user.supervises,
        },
    )


def request_export(request, kind: str, fmt: str):
    check_supervisor(request.user)
    if kind not in exports.EXPORT_KINDS or fmt not in exports.FORMATS:
        raise Http404("Export inconnu.")
    _form, qs, today = _search(request)
    if qs is None:
        return request_list(request)
    export, rows = exports.requests_export(kind, qs)
    _log_export(request, kind, fmt)
    return exports.respond(export, rows, fmt, f"{kind}-{today:%Y%m%d}")


def _log_export(request, kind: str, fmt: str) -> None:
    security_event(
        SecurityEventKind.EXPORT,
        actor=request.user,
        user=request.user,
        request=request,
        data={"objet": kind, "format": fmt, "filtres": request.GET.urlencode()},
    )


def _link(name: str, scope: Scope, **params) -> str:
    query = {**scope.params(), **{k: v for k, v in params.items() if v not in (None, "")}}
    return reverse(name) + ("?" + urlencode(query) if query else "")


def dashboard(request):
    check_supervisor(request.user)
    form = ScopeForm(request.GET, user=request.user)
    scope = _scope(form, request.user)
    today = timezone.localdate()
    board = select_dashboard(request.user, scope, today)
    largest = max([1, *[line.count for line in board.states]])
    states = [
        {
            "line": line,
            "width": bar_width(line.count, largest),
            "late_width": bar_width(line.late, largest),
            "url": _link("request_list", scope, etat=line.state),
            "late_url": _link("request_list", scope, etat=line.state, retard="oui"),
        }
        for line in board.states
    ]
    largest_age = max([1, *board.ages.values()])
    ages = [
        {
            "label": AGE_LABELS[bucket],
            "count": count,
            "width": bar_width(count, largest_age),
            "url": _link("request_list", scope, anciennete=bucket),
        }
        for bucket, count in board.ages.items()
    ]
    weeks = [
        {
            "monday": monday,
            "opened": opened,
            "closed": closed,
            "opened_url": _link(
                "request_list",
                scope,
                date_de="depot",
                du=monday.isoformat(),
                au=(monday + dt.timedelta(days=6)).isoformat(),
            ),
            "closed_url": _link(
                "request_list",
                scope,
                etat="closed",
                date_de="cloture",
                du=monday.isoformat(),
                au=(monday + dt.timedelta(days=6)).isoformat(),
            ),
        }
        for monday, opened, closed in board.weeks
    ]
    money = [
        (label, *board.money[key], _link("request_list", scope, solde=key))
        for key, label in (
            ("a_encaisser", "Soldes à encaisser"),
            ("a_rembourser", "Remboursements en attente"),
            ("recouvrement", "Transférés au recouvrement"),
        )
    ]
    money.append(
        (
            "Avances en compte encaissées (12 semaines)",
            *board.advances,
            _link("cash_journal", scope, nature="advance", du=board.first_week.isoformat()),
        )
    )
    return render(
        request,
        "supervision/dashboard.html",
        {
            "form": form,
            "board": board,
            "states": states,
            "ages": ages,
            "weeks": weeks,
            "chart": week_chart(board.weeks),
            "money": money,
            "open_url": _link("request_list", scope, etat=OPEN),
            "late_url": _link("request_list", scope, etat=OPEN, retard="oui"),
        },
    )


def _journal(request):
    check_supervisor(request.user)
    form = CashJournalForm(request.GET, user=request.user)
    if not form.is_valid():
        return form, None
    scope = _scope(form, request.user)
    return form, select_cash_journal(scope, form.cleaned_data)


def cash_journal(request):
    """Journal de caisse for any agency, cashier and period, with its totals per mode."""
    form, qs = _journal(request)
    page = lines = total = None
    if qs is not None:
        lines, total = cash_totals(qs)
        page = Paginator(
            qs.select_related("agency", "cashier", "invoice", "contract__customer").order_by(
                "-created_at", "-id"
            ),
            PAGE_SIZE,
        ).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "supervision/cash_journal.html",
        {"form": form, "page": page, "lines": lines, "total": total, "query": params.urlencode()},
    )


def cash_journal_export(request, fmt: str):
    if fmt not in exports.FORMATS:
        raise Http404("Export inconnu.")
    _form, qs = _journal(request)
    if qs is None:
        return cash_journal(request)
    _log_export(request, "journal_de_caisse", fmt)
    today = timezone.localdate()
    return exports.respond(exports.SETTLEMENTS, qs, fmt, f"journal-de-caisse-{today:%Y%m%d}")


def _exceptions_form(request) -> ExceptionsForm:
    data: QueryDict = request.GET.copy()
    if "du" not in data:
        data["du"] = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    return ExceptionsForm(data, user=request.user)


def exceptions(request):
    """Le contrôle DIG/DAI: every exception's count over the period, each a link to its list."""
    check_controller(request.user)
    form = _exceptions_form(request)
    items = []
    if form.is_valid():
        scope = _scope(form, request.user)
        start, end = period_bounds(form.cleaned_data)
        query = form.data.urlencode()
        for item in ITEMS:
            items.append(
                {
                    "item": item,
                    "count": item.count(item.rows(scope, start, end)),
                    "url": reverse("exception_list", args=[item.code]) + "?" + query,
                }
            )
    return render(request, "supervision/exceptions.html", {"form": form, "items": items})


def exception_list(request, code: str):
    check_controller(request.user)
    item = BY_CODE.get(code)
    if item is None:
        raise Http404("Contrôle inconnu.")
    form = _exceptions_form(request)
    page = None
    rows = []
    if form.is_valid():
        scope = _scope(form, request.user)
        start, end = period_bounds(form.cleaned_data)
        page = Paginator(item.rows(scope, start, end), EXCEPTION_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        rows = [item.cells(obj) for obj in page.object_list]
    params = form.data.copy()
    params.pop("page", None)
    return render(
        request,
        "supervision/exception_list.html",
        {
            "form": form,
            "item": item,
            "page": page,
            "rows": rows,
            "query": params.urlencode(),
            "back": reverse("exceptions") + "?" + params.urlencode(),
        },
    )
