"""The contract pages: search, and a contract with its account, deposit and open request."""

from django.shortcuts import redirect, render

from billing.selectors import contract_account
from contracts.enums import OPEN_REQUEST_STATES, ContractStatus, Role
from contracts.forms import ContractSearchForm
from contracts.selectors import get_contract_for_user, search_contracts


def home(request):
    if request.user.roles & {
        Role.RECEPTION,
        Role.READER,
        Role.SUPERVISOR,
        Role.CASHIER,
        Role.ARPNT,
        Role.ACFF,
    }:
        return redirect("work_queue")
    if request.user.supervises:
        return redirect("dashboard")
    return redirect("contract_search")


def contract_search(request):
    form = ContractSearchForm(request.GET or None)
    contracts, truncated, searched = [], False, False
    if form.is_valid() and form.cleaned_data["q"]:
        searched = True
        contracts, truncated = search_contracts(request.user, form.cleaned_data["q"])
    return render(
        request,
        "contracts/search.html",
        {"form": form, "contracts": contracts, "truncated": truncated, "searched": searched},
    )


def contract_detail(request, number: str):
    contract = get_contract_for_user(request.user, number)
    open_request = contract.termination_requests.filter(state__in=OPEN_REQUEST_STATES).first()
    return render(
        request,
        "contracts/detail.html",
        {
            "contract": contract,
            "account": contract_account(contract),
            "open_request": open_request,
            "may_terminate": contract.status == ContractStatus.ACTIVE
            and open_request is None
            and request.user.has_role(Role.RECEPTION)
            and contract.agency_id == request.user.agency_id,
        },
    )
