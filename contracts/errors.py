"""The domain's own errors, raised by selectors and services; the pages translate them
(sbee_resiliation.middleware.DomainErrorsMiddleware: NotFound is a 404)."""


class NotFound(Exception):
    """The record does not exist for this person: it does not exist at all, or it is another
    agency's (whose existence is not acknowledged)."""
