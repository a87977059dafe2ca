"""The termination procedure: the only code that moves a TerminationRequest from one state to
the next. Each step is a service (services.py) that locks the request, checks the actor, asks
billing and interventions to write their own records, applies the @transition and writes the
event, in one transaction; views.py holds the step pages, selectors.py the work queues, the
timeline and the journal."""
