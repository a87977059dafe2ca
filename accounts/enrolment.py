"""The one-time enrolment codes of the second factor (DESIGN §11): a stolen password alone does
not enrol an authenticator. One admin asks for a code for an account; another, who is neither
the asker nor the account's owner, issues it and is shown it once, to hand to the person; the
person types it beside the authenticator's first code. Only a hash of it is kept."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.rules import StepRefused
from contracts.audit import security_event
from contracts.enums import Role, SecurityEventKind
from contracts.models import EnrolmentCode, User

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O nor 1/I: read aloud, typed by hand
NOT_ADMIN = "Seul un administrateur DCC demande ou émet un code d'enrôlement."
OWN_ACCOUNT = "Un administrateur ne demande ni n'émet de code d'enrôlement pour son propre compte."
SECOND_ADMIN = (
    "Un autre administrateur que le demandeur et le titulaire du compte émet le code d'enrôlement."
)
ALREADY_ISSUED = "Ce code d'enrôlement est déjà émis : il n'est montré qu'une fois."


def _normalized(code: str) -> str:
    return "".join(code.upper().split()).replace("-", "")


def _digest(code: str) -> str:
    return hashlib.sha256(_normalized(code).encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))  # 60 bits
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def _check_admin(actor: User, user: User) -> None:
    if not (actor.is_superuser or actor.has_role(Role.ADMIN)):
        raise StepRefused(NOT_ADMIN)
    if actor.pk == user.pk:
        raise StepRefused(OWN_ACCOUNT)


@transaction.atomic
def enrolment_code_request(user: User, *, actor: User, request=None) -> EnrolmentCode:
    """An admin asks for a code for that account; another admin will issue it."""
    _check_admin(actor, user)
    asked = EnrolmentCode.objects.create(user=user, requested_by=actor)
    security_event(
        SecurityEventKind.ENROLMENT_CODE_REQUESTED, actor=actor, user=user, request=request
    )
    return asked


@transaction.atomic
def enrolment_code_issue(asked: EnrolmentCode, *, actor: User, request=None) -> str:
    """The second admin issues the code: returned once, to be shown once; only its hash kept."""
    asked = EnrolmentCode.objects.select_for_update(of=("self",)).get(pk=asked.pk)
    _check_admin(actor, asked.user)
    if asked.issued_at is not None:
        raise StepRefused(ALREADY_ISSUED)
    if actor.pk == asked.requested_by_id:
        raise StepRefused(SECOND_ADMIN)
    code = _new_code()
    asked.code_hash = _digest(code)
    asked.issued_by = actor
    asked.issued_at = timezone.now()
    asked.save(update_fields=["code_hash", "issued_by", "issued_at"])
    security_event(
        SecurityEventKind.ENROLMENT_CODE_ISSUED, actor=actor, user=asked.user, request=request
    )
    return code


@transaction.atomic
def enrolment_code_from_console(user: User) -> str:
    """Issued from the server's console (`manage.py enrolment_code`): who holds the server's
    shell holds everything already; the first administrator has no second one to ask."""
    code = _new_code()
    EnrolmentCode.objects.create(
        user=user, code_hash=_digest(code), issued_at=timezone.now(), requested_by=None
    )
    security_event(
        SecurityEventKind.ENROLMENT_CODE_ISSUED, user=user, data={"par": "console du serveur"}
    )
    return code


def enrolment_code_waiting(user: User) -> bool:
    """Whether the account has an issued code not yet used."""
    return EnrolmentCode.objects.filter(
        user=user, issued_at__isnull=False, used_at__isnull=True
    ).exists()


def enrolment_code_use(user: User, code: str) -> bool:
    """In the caller's transaction: the code, if it is one of the account's issued and unused
    codes, is used up (True); otherwise nothing changes (False)."""
    found = (
        EnrolmentCode.objects.select_for_update(of=("self",))
        .filter(user=user, issued_at__isnull=False, used_at__isnull=True, code_hash=_digest(code))
        .first()
    )
    if found is None:
        return False
    found.used_at = timezone.now()
    found.save(update_fields=["used_at"])
    return True
