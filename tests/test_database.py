"""Append-only in the database (DESIGN §11), tried as the application's own PostgreSQL role:
whoever holds its password cannot change or delete a settlement, a ledger entry, a validated
invoice or its lines, a stored document, an event or a security event, nor empty a table. The
owner of the tables, outside a maintenance session, meets the same triggers."""

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from billing import services as billing
from billing.documents import document_issue
from billing.enums import DocumentKind
from contracts.audit import security_event
from contracts.enums import RequestState, SecurityEventKind
from contracts.models import Deposit, SecurityEvent
from procedure import services
from tests.workflow import (
    TODAY,
    advance,
    close_cash_desk,
    create,
    credit_shown,
    refund_shown,
    reload,
    worked_example_contract,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

# Each protected table, and an UPDATE that changes what its trigger keeps.
PROTECTED = {
    "billing_settlement": "amount = amount + 1",
    "billing_accountentry": "debit = debit + 1",
    "billing_creditnote": "reason = 'réécrit'",
    "billing_creditnoteline": "amount = amount + 1",
    "billing_accounttransfer": "amount = amount + 1",
    "billing_refundauthorisation": "beneficiary_name = 'X'",
    "billing_documentprint": "copy = copy + 1",
    "billing_attestation": "final_index = final_index + 1",
    "billing_invoice": "total = total + 1",
    "billing_invoiceline": "amount = amount + 1",
    "billing_document": "content = 'forged'::bytea",
    "billing_cashclosing": "collected = collected + 1",
    "contracts_terminationevent": "action = 'réécrit'",
    "contracts_securityevent": "username = 'effacé'",
    "interventions_interventionreport": "index_read = index_read + 1",
    "interventions_visitattempt": "reason_detail = 'réécrit'",
    "contracts_datachange": "operation = 'X'",
}
# Rows a test may still write: an invoice's draft, a document waiting to be rendered.
CHANGEABLE = {
    "billing_invoice": "state <> 'draft'",
    "billing_invoiceline": "invoice_id IN (SELECT id FROM billing_invoice WHERE state <> 'draft')",
    "billing_document": "status = 'ready'",
}


@pytest.fixture
def every_protected_row(akpakpa, staff):
    """At least one row in each protected table, as the procedure writes them (one document
    rendered: the others would be rendered once committed, which a test does not)."""
    # Closed: invoice, lines, settlement, entries, a document, attestation, reports, events.
    closed = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.METER_REMOVED
    )
    services.termination_request_sign_removal(closed, actor=staff.supervisor)
    services.termination_request_confirm_codification(reload(closed), actor=staff.acff)
    invoice = reload(closed).invoices.get(kind="balance")
    document = document_issue(DocumentKind.INVOICE, invoice.pk)
    billing.document_print_record(document, actor=staff.reception)
    close_cash_desk(staff.cashier, TODAY)
    # A cancelled invoice: a credit note and its lines.
    cancelled = advance(
        create(worked_example_contract(akpakpa, number="1010000002"), staff),
        staff,
        RequestState.INVOICED,
    )
    services.termination_request_cancel_balance_invoice(
        cancelled, actor=staff.supervisor, reason="Index mal lu", shown=credit_shown(cancelled)
    )
    # A refund exception, authorised.
    refund_contract = worked_example_contract(akpakpa, number="1010000003")
    Deposit.objects.filter(contract=refund_contract).update(amount=90000)
    refund = advance(create(refund_contract, staff), staff, RequestState.INVOICED)
    services.termination_request_authorise_refund(
        refund.invoices.get(kind="balance"),
        actor=staff.supervisor,
        shown=refund_shown(refund.invoices.get(kind="balance")),
        beneficiary_name="HOUNKPATIN Afi",
        beneficiary_id_document_type="cni",
        beneficiary_id_document_number="3344556677",
        quality="heir",
        proof_reference="Acte 118",
    )
    # An unpaid balance transferred to recovery after its délai.
    advance(
        create(worked_example_contract(akpakpa, number="1010000004"), staff),
        staff,
        RequestState.INVOICED,
    )
    services.transfer_overdue_balances(TODAY + dt.timedelta(days=30))
    # A failed visit.
    visited = advance(
        create(worked_example_contract(akpakpa, number="1010000005"), staff),
        staff,
        RequestState.ORDER_ISSUED,
    )
    services.termination_request_record_failed_visit(
        visited, actor=staff.reader, visited_on=TODAY, reason="absent"
    )
    security_event(SecurityEventKind.LOGIN, actor=staff.reception, user=staff.reception)
    with connection.cursor() as cursor:
        for table in PROTECTED:
            where = CHANGEABLE.get(table, "true")
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}")
            assert cursor.fetchone()[0] > 0, f"no row in {table}"
    return reload(refund)


def attempt(sql: str, *, role: str | None) -> str:
    """Run one statement as the given role (the application's by default), with maintenance off;
    return PostgreSQL's refusal, or "" when the statement went through."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own pending checks
            cursor.execute("SET LOCAL sbee.maintenance = off")
            if role:
                cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(role)}")
            cursor.execute(sql)  # SET LOCAL ends with the transaction
    except DatabaseError as error:
        return str(error)
    return ""


@pytest.mark.parametrize("table", PROTECTED)
def test_the_application_role_cannot_update_delete_nor_truncate(table, every_protected_row):
    app = settings.DATABASE_APP_ROLE
    where = CHANGEABLE.get(table, "true")
    one = f"id = (SELECT min(id) FROM {table} WHERE {where})"
    update = attempt(f"UPDATE {table} SET {PROTECTED[table]} WHERE {one}", role=app)
    delete = attempt(f"DELETE FROM {table} WHERE {one}", role=app)
    truncate = attempt(f"TRUNCATE {table} CASCADE", role=app)
    assert "refused" in update or "cannot change" in update, update
    assert "refused" in delete or "cannot change" in delete, delete
    assert "permission denied" in truncate, truncate
    # The owner, outside a maintenance session, is refused the TRUNCATE by the trigger.
    assert "TRUNCATE refused" in attempt(f"TRUNCATE {table} CASCADE", role=None)


def test_no_session_can_switch_a_guard_off(every_protected_row):
    """pgtrigger's own triggers skip themselves for a session that names them in
    `pgtrigger.ignore`; ours are installed without that check (contracts/triggers.py)."""
    app = settings.DATABASE_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT string_agg(tgname, ',') FROM pg_trigger WHERE tgname LIKE 'pgt%'")
        names = cursor.fetchone()[0]
    for table, change in PROTECTED.items():
        where = CHANGEABLE.get(table, "true")
        one = f"id = (SELECT min(id) FROM {table} WHERE {where})"
        refused = attempt(
            f"SELECT set_config('pgtrigger.ignore', '{{{names}}}', true); "
            f"UPDATE {table} SET {change} WHERE {one}",
            role=app,
        )
        assert "refused" in refused or "cannot change" in refused, (table, refused)


def test_every_declared_guard_is_installed_as_declared():
    """The triggers come from the models' declarations; the migrations install exactly them
    (a declaration changed without its migration, or a trigger edited by hand, shows here)."""
    import pgtrigger

    declared = list(pgtrigger.registered())
    assert len(declared) >= 40
    for model, trigger in declared:
        status, enabled = trigger.get_installation_status(model)
        assert (status, enabled) == ("INSTALLED", True), (model, trigger.name, status)
    # And no hand-written trigger function is left but the data-change trail's.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname FROM pg_proc p JOIN pg_trigger t ON t.tgfoid = p.oid "
            "WHERE NOT t.tgisinternal AND proname NOT LIKE 'pgtrigger%' "
            "AND proname NOT LIKE 'procrastinate%'"
        )
        assert {row[0] for row in cursor.fetchall()} == {"sbee_record_change"}


def test_no_model_change_is_left_without_its_migration():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def test_an_invoice_moves_only_with_the_record_that_explains_it(every_protected_row):
    app = settings.DATABASE_APP_ROLE
    refund_invoice = every_protected_row.invoices.get(kind="balance")  # validated, unpaid
    for state in ("settled", "cancelled", "transferred", "draft"):
        refused = attempt(
            f"UPDATE billing_invoice SET state = '{state}' WHERE id = {refund_invoice.pk}",
            role=app,
        )
        assert refused, state
    assert reload(every_protected_row).invoices.get(kind="balance").state == "validated"


def test_the_application_role_owns_no_table_and_may_write_rows(every_protected_row):
    app = settings.DATABASE_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s",
            [app],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM information_schema.table_privileges "
            "WHERE grantee = %s AND privilege_type = 'TRUNCATE'",
            [app],
        )
        assert cursor.fetchone()[0] == 0
    # What the procedure needs still works as that role: a new event row, a counter moved.
    assert not attempt(
        "UPDATE contracts_numbersequence SET last = last WHERE id = "
        "(SELECT min(id) FROM contracts_numbersequence)",
        role=app,
    )
    assert "permission denied" in attempt("CREATE TABLE pirate (id int)", role=app)


def tamper(table: str, sql: str) -> None:
    """Behind the application, as the tables' owner, with the table's triggers off."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def test_verify_audit_names_the_first_broken_link_of_each_chain(akpakpa, staff):
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    for kind in (SecurityEventKind.LOGIN, SecurityEventKind.LOGOUT, SecurityEventKind.LOGIN):
        security_event(kind, actor=staff.cashier, user=staff.cashier)
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == "Chaînes d'audit intactes."

    events = list(request.events.order_by("id"))
    second = events[1]
    tamper(
        "contracts_terminationevent",
        f"UPDATE contracts_terminationevent SET actor_role = 'supervisor' WHERE id = {second.pk}",
    )
    logout = SecurityEvent.objects.get(kind=SecurityEventKind.LOGOUT)
    tamper(
        "contracts_securityevent",
        f"DELETE FROM contracts_securityevent WHERE id = {logout.pk}",  # a link removed
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 problème"):
        call_command("verify_audit", stderr=err)
    report = err.getvalue()
    assert f"Demande {request.pk} : chaîne rompue à l'événement {second.pk}" in report
    after_logout = SecurityEvent.objects.filter(pk__gt=logout.pk).order_by("id").first()
    assert f"Sécurité : chaîne rompue à l'événement {after_logout.pk}" in report


def test_an_edit_sealed_again_without_the_key_is_found(akpakpa, staff):
    """Whoever writes in the database can recompute a plain SHA-256, not the key's seal."""
    import hashlib
    import json

    from contracts.audit import event_payload, verify_chains

    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    events = list(request.events.order_by("id"))
    forged = events[1]
    forged.actor_role = "supervisor"
    previous = events[0].hash
    for event in events[1:]:  # the whole chain re-sealed from the forged event on
        canonical = json.dumps(
            [previous, *event_payload(event)], ensure_ascii=False, sort_keys=True, default=str
        )
        seal = hashlib.sha256(canonical.encode()).hexdigest()
        tamper(
            "contracts_terminationevent",
            f"UPDATE contracts_terminationevent SET actor_role = '{event.actor_role}', "
            f"prev_hash = '{previous}', hash = '{seal}' WHERE id = {event.pk}",
        )
        previous = seal
    assert verify_chains() == [
        f"Demande {request.pk} : chaîne rompue à l'événement {forged.pk} "
        f"({forged.action} du {forged.at:%d/%m/%Y %H:%M})."
    ]


def test_a_tail_cut_off_leaves_no_broken_link_but_misses_its_anchor(
    akpakpa, staff, settings, tmp_path
):
    from contracts.audit import verify_chains
    from procedure.tasks import anchor_audit_every_evening

    settings.AUDIT_ANCHOR_FILE = tmp_path / "ancres.txt"
    request = advance(create(worked_example_contract(akpakpa), staff), staff, RequestState.INVOICED)
    for kind in (SecurityEventKind.LOGIN, SecurityEventKind.LOGOUT):
        security_event(kind, actor=staff.cashier, user=staff.cashier)
    line = anchor_audit_every_evening(timestamp=0)  # the evening's anchor, out of the database
    assert settings.AUDIT_ANCHOR_FILE.read_text() == line + "\n"
    out = io.StringIO()
    call_command("verify_audit", "--ancres", str(settings.AUDIT_ANCHOR_FILE), stdout=out)
    assert out.getvalue().strip() == "Chaînes d'audit intactes ; 1 ancre(s) atteinte(s)."

    last_security = SecurityEvent.objects.order_by("-id").first()
    tamper(
        "contracts_securityevent",
        f"DELETE FROM contracts_securityevent WHERE id = {last_security.pk}",
    )
    last_event = request.events.order_by("-id").first()
    tamper(
        "contracts_terminationevent",
        f"DELETE FROM contracts_terminationevent WHERE id = {last_event.pk}",
    )
    assert verify_chains() == []  # what is left is still a whole chain: hence the anchors
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 problème"):
        call_command("verify_audit", "--ancre", line, stderr=err)
    report = err.getvalue()
    assert f"Sécurité : l'événement n° {last_security.pk}" in report
    assert "la fin de la chaîne a été coupée" in report
    assert f"des événements jusqu'au n° {last_event.pk} ont été coupés ou changés" in report


# --- What the application's role could do outside the protected tables ----------------------


def test_a_report_is_never_signed_by_the_one_who_entered_it(akpakpa, staff):
    app = settings.DATABASE_APP_ROLE
    reported = advance(
        create(worked_example_contract(akpakpa), staff), staff, RequestState.FIELD_REPORTED
    )
    report = reported.orders.get().reports.get()
    assert report.signed_by is None
    refused = attempt(
        "UPDATE interventions_interventionreport SET signed_by_id = entered_by_id, "
        f"signed_at = now() WHERE id = {report.pk}",
        role=app,
    )
    # Here the one who entered it is also the agent who did the work: both rules refuse it.
    assert "report_signer_not_author" in refused or "report_signer_not_agent" in refused
    assert not attempt(
        f"UPDATE interventions_interventionreport SET signed_by_id = {staff.supervisor.pk}, "
        f"signed_at = now() WHERE id = {report.pk}",
        role=app,
    )


def test_a_state_moves_only_with_the_event_that_explains_it(every_protected_row):
    app = settings.DATABASE_APP_ROLE
    request = every_protected_row  # invoiced, its balance to refund
    refused = attempt(
        f"UPDATE contracts_terminationrequest SET state = 'closed' WHERE id = {request.pk}",
        role=app,
    )
    assert "without the event that explains it" in refused
    assert reload(request).state == RequestState.INVOICED
    # Other columns move freely; the procedure's own transitions (with their events) too.
    assert not attempt(
        f"UPDATE contracts_terminationrequest SET requester_phone = requester_phone "
        f"WHERE id = {request.pk}",
        role=app,
    )


def test_a_counter_only_grows(every_protected_row):
    app = settings.DATABASE_APP_ROLE
    one = "id = (SELECT min(id) FROM contracts_numbersequence WHERE last > 0)"
    assert "a counter only grows" in attempt(
        f"UPDATE contracts_numbersequence SET last = last - 1 WHERE {one}", role=app
    )
    assert "a counter only grows" in attempt(
        f"DELETE FROM contracts_numbersequence WHERE {one}", role=app
    )
    assert not attempt(f"UPDATE contracts_numbersequence SET last = last + 1 WHERE {one}", role=app)


def test_a_tariff_in_force_is_never_changed_in_place(every_protected_row):
    from billing.models import TariffItem

    app = settings.DATABASE_APP_ROLE
    in_force = TariffItem.objects.filter(valid_from__lte=dt.date.today()).first()
    for sql in (
        f"UPDATE billing_tariffitem SET value = value + 1 WHERE id = {in_force.pk}",
        f"DELETE FROM billing_tariffitem WHERE id = {in_force.pk}",
    ):
        assert "in force since" in attempt(sql, role=app), sql


def test_deposits_roles_second_factors_and_lockouts_leave_a_row_whoever_changes_them(
    every_protected_row, staff
):
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from contracts.models import DataChange

    app = settings.DATABASE_APP_ROLE
    deposit = Deposit.objects.filter(contract=every_protected_row.contract).get()
    device = TOTPDevice.objects.create(user=staff.cashier, name="téléphone", confirmed=True)
    cashier_group = Group.objects.get(name="cashier")
    before = DataChange.objects.count()
    statements = [
        f"UPDATE contracts_deposit SET amount = 1, payer_name = 'X' WHERE id = {deposit.pk}",
        f"INSERT INTO contracts_user_groups (user_id, group_id) "
        f"VALUES ({staff.reception.pk}, {cashier_group.pk})",
        f"UPDATE otp_totp_totpdevice SET key = '00' WHERE id = {device.pk}",
        f"DELETE FROM otp_totp_totpdevice WHERE id = {device.pk}",
        f"UPDATE contracts_user SET is_superuser = true WHERE id = {staff.reader.pk}",
    ]
    for sql in statements:
        assert not attempt(sql, role=app), sql
    rows = list(DataChange.objects.order_by("id")[before:])
    assert [(r.table, r.operation, r.db_user) for r in rows] == [
        ("contracts_deposit", "UPDATE", "sbee_owner"),
        ("contracts_user_groups", "INSERT", "sbee_owner"),
        ("otp_totp_totpdevice", "UPDATE", "sbee_owner"),
        ("otp_totp_totpdevice", "DELETE", "sbee_owner"),
        ("contracts_user", "UPDATE", "sbee_owner"),
    ]
    assert (rows[0].old["amount"], rows[0].new["amount"]) == (deposit.amount, 1)
    assert rows[2].new["key"] != "00" and device.key not in str(rows[2].old)  # masked
    # A login moves only routine columns: no row.
    count = DataChange.objects.count()
    assert not attempt(
        f"UPDATE contracts_user SET last_login = now() WHERE id = {staff.reader.pk}", role=app
    )
    assert DataChange.objects.count() == count
