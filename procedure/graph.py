"""The termination request's state machine as rows, for the README's table and the test that
pins it."""

from contracts.enums import RequestState
from contracts.models import TerminationRequest


def transition_rows() -> list[tuple[int, str, str, str, str]]:
    """(step, action, source, target(s), role) for every transition, in step order."""
    field = TerminationRequest._meta.get_field("state")
    rows = []
    for transition in field.get_all_transitions(TerminationRequest):
        target = transition.target
        targets = getattr(target, "allowed_states", None) or [target]
        rows.append(
            (
                transition.custom.get("step", 0),
                transition.name,
                transition.source,
                " / ".join(str(t) for t in targets),
                " / ".join(transition.permission.roles),
            )
        )
    return sorted(rows, key=lambda r: (r[0] or 99, list(RequestState.values).index(r[2]), r[1]))


def markdown_table() -> str:
    lines = ["| step | action | from | to | role |", "|---|---|---|---|---|"]
    for step, action, source, target, role in transition_rows():
        lines.append(f"| {step or '—'} | `{action}` | `{source}` | `{target}` | {role} |")
    return "\n".join(lines)
