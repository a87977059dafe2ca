from django import template

from billing.documents import document_agency_id
from billing.enums import DOCUMENT_ISSUERS

register = template.Library()


@register.filter
def may_regenerate(user, document) -> bool:
    """Whether the "Régénérer" button is for this user (the service checks the same)."""
    return user.has_role(*DOCUMENT_ISSUERS[document.kind]) and (
        user.agency_id == document_agency_id(document)
    )
