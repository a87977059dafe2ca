"""Documents rendered by the worker, for the orders the system issues in bulk (step 8)."""

from procrastinate.contrib.django import app

from billing.documents import document_issue


@app.task(name="billing.render_document", queue="documents")
def render_document(kind: str, pk: int) -> None:
    document_issue(kind, pk)
