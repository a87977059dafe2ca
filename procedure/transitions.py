"""The mechanics every step shares: lock the request, check who acts and when, apply the
@transition, save, and write the TerminationEvent, in the step's transaction."""

import json

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from accounts.rules import ROLE_REFUSED, StepRefused, check_agency, check_role
from contracts.audit import last_event_hashes, seal_event
from contracts.models import TerminationEvent, TerminationRequest, User
from procedure.deadlines import refresh_deadlines
from procedure.queues import refresh_queues
from procedure.rules import STEP_NOT_NOW, act_refusal, act_roles


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


def begin_step(request_id: int, *, actor: User, act: str) -> TerminationRequest:
    """Lock the request and check who acts and when (procedure/rules.py), before a step does
    anything."""
    request = lock_request(request_id)
    check_role(actor, *act_roles(act))
    check_agency(actor, request.agency_id)
    if refusal := act_refusal(request, act):
        raise StepRefused(refusal)
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
        raise StepRefused(STEP_NOT_NOW.format(state=request.state_label))
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
            raise StepRefused(STEP_NOT_NOW.format(state=request.state_label))
        from_state = request.state
        method()
        request.state_since = now
        events.append(_event(request, action, actor=actor, from_state=from_state, data=extra))
    TerminationRequest.objects.bulk_update(requests, ["state", "state_since"])
    previous = last_event_hashes([r.pk for r in requests])
    for event in events:
        seal_event(event, previous[event.request_id])
        previous[event.request_id] = event.hash
    TerminationEvent.objects.bulk_create(events)
    refresh_deadlines([r.pk for r in requests])
    refresh_queues([r.pk for r in requests])


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
        at=timezone.now(),
        data=json.loads(json.dumps(data or {}, default=str)),  # as stored, for the hash
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
    other actions (a signature, one of two settlements) name their step. What the step changed
    may move the request's deadline and what it waits for: written again here, in the same
    transaction."""
    event = _event(request, action, actor=actor, from_state=from_state, step=step, data=data)
    seal_event(event, last_event_hashes([request.pk])[request.pk])
    event.save()
    refresh_deadlines([request.pk])
    refresh_queues([request.pk])
    return event
