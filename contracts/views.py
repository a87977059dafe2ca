from django.shortcuts import render

from contracts.forms import ContractSearchForm
from contracts.selectors import contract_account, get_contract_for_user, search_contracts


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
    return render(
        request,
        "contracts/detail.html",
        {"contract": contract, "account": contract_account(contract)},
    )
