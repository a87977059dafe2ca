from django import template

from billing.enums import DOCUMENT_ISSUERS

register = template.Library()


@register.filter
def may_regenerate(user, document) -> bool:
    """Whether the "Régénérer" button is for this user (the service checks it again)."""
    return user.has_role(*DOCUMENT_ISSUERS[document.kind]) and user.agency_id == (
        document.request.agency_id if document.request_id else user.agency_id
    )
