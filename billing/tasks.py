"""The documents' rendering, queued by the action that issues them (billing.documents)."""

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from billing.documents import document_issue


# A rendering that meets a database error (a restart) is tried again; a failure of the
# rendering itself leaves the document "à régénérer" and is not retried.
@app.task(
    name="billing.render_document",
    queue="documents",
    retry=RetryStrategy(max_attempts=10, wait=10),
)
def render_document(kind: str, pk: int) -> None:
    document_issue(kind, pk)
