"""What every service checks before it writes: who acts, on which agency's request, at which
step; and the audit row every step leaves. Shared by the three apps' services."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from contracts.models import TerminationEvent, TerminationRequest, User

ROLE_REFUSED = "Votre rôle ne permet pas cette action."
STEP_NOT_NOW = "Cette étape n'est pas possible maintenant : la demande est « {state} »."


class StepRefused(Exception):
    """A business rule refuses the action; the message is for the user, in French."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def show_in(self, form) -> None:
        """Next to its field, or above the form; what was typed stays in the form."""
        form.add_error(self.field if self.field in form.fields else None, self.message)


def check_agency(actor: User, agency_id: int) -> None:
    """Staff act on their own agency only; another agency's object does not exist for them."""
    if actor.agency_id != agency_id:
        raise Http404("Introuvable dans votre agence.")


def check_role(actor: User, *roles: str) -> None:
    if not actor.has_role(*roles):
        raise PermissionDenied(ROLE_REFUSED)


def lock_request(request_id: int) -> TerminationRequest:
    """The request, locked for the step's transaction (its own row only: the contract, meter
    and delivery point are locked by the steps that change them)."""
    return (
        TerminationRequest.objects.select_for_update(of=("self",))
        .select_related(
            "contract__tariff_category",
            "contract__meter",
            "contract__delivery_point",
            "contract__customer",
            "contract__agency",
            "agency",
        )
        .get(pk=request_id)
    )


def begin_step(request_id: int, *, actor: User, role: str, states: list[str]) -> TerminationRequest:
    """Lock the request and check who acts and when, before a step does anything."""
    request = lock_request(request_id)
    check_role(actor, role)
    check_agency(actor, request.agency_id)
    if request.state not in states:
        raise StepRefused(STEP_NOT_NOW.format(state=request.get_state_display()))
    return request


def apply_transition(
    request: TerminationRequest,
    action: str,
    *,
    actor: User | None,
    data: dict | None = None,
) -> TerminationEvent:
    """Check the actor, run the @transition, save, and write the event, in the caller's
    transaction. actor None is the system (step 8)."""
    method = getattr(request, action)
    if actor is not None:
        check_agency(actor, request.agency_id)
    if not has_transition_perm(method, actor):
        raise PermissionDenied(ROLE_REFUSED)
    if not can_proceed(method):
        raise StepRefused(STEP_NOT_NOW.format(state=request.get_state_display()))
    from_state = request.state
    method()
    request.state_since = timezone.now()
    request.save()
    return record_event(request, action, actor=actor, from_state=from_state, data=data)


def apply_transition_many(
    requests: list[TerminationRequest], action: str, *, actor: User | None, data: list[dict]
) -> None:
    """apply_transition for a batch of requests the caller has locked (step 8 issues thousands
    each morning): the same checks, one UPDATE and one INSERT for the whole batch."""
    events = []
    now = timezone.now()
    for request, extra in zip(requests, data, strict=True):
        method = getattr(request, action)
        if not has_transition_perm(method, actor):
            raise PermissionDenied(ROLE_REFUSED)
        if not can_proceed(method):
            raise StepRefused(STEP_NOT_NOW.format(state=request.get_state_display()))
        from_state = request.state
        method()
        request.state_since = now
        events.append(_event(request, action, actor=actor, from_state=from_state, data=extra))
    TerminationRequest.objects.bulk_update(requests, ["state", "state_since"])
    TerminationEvent.objects.bulk_create(events)


def _event(
    request: TerminationRequest,
    action: str,
    *,
    actor: User | None,
    from_state: str | None = None,
    step: int | None = None,
    data: dict | None = None,
) -> TerminationEvent:
    meta = getattr(getattr(type(request), action, None), "_django_fsm", None)
    transition = meta.get_transition(from_state) if meta and from_state else None
    if step is None:
        step = transition.custom.get("step", 0) if transition else 0
    if actor is None:
        role = "system"
    else:
        role = getattr(getattr(transition, "permission", None), "role", "")
        if not actor.has_role(role):
            role = min(actor.roles, default="")
    return TerminationEvent(
        request=request,
        actor=actor,
        actor_role=role,
        step=step,
        action=action,
        from_state=from_state or request.state,
        to_state=request.state,
        data=data or {},
    )


def record_event(
    request: TerminationRequest,
    action: str,
    *,
    actor: User | None,
    from_state: str | None = None,
    step: int | None = None,
    data: dict | None = None,
) -> TerminationEvent:
    """The audit row of a step. For a transition, its step and role come from the @transition;
    other actions (a signature, one of two settlements) name their step."""
    event = _event(request, action, actor=actor, from_state=from_state, step=step, data=data)
    event.save()
    return event
