"""The field app in Chromium on a phone-sized screen: installed, the day loaded, the network
cut, three reports taken (one with a photo, one failed visit), the page closed and opened
again (still queued), the network back: each report arrives once; the queue sent again
changes nothing; a report edited after it was queued is refused with its reason; an order
reassigned meanwhile makes a conflict that both the crew and the supervisor see."""

import datetime as dt
import hashlib
import io
import time

import pytest
import time_machine
from PIL import Image

from contracts.enums import RequestState, Role, Timing
from interventions.enums import OrderStatus, SubmissionOutcome
from interventions.models import FieldSubmission, IndexPhoto, InterventionReport, VisitAttempt
from procedure import services
from procedure.services import issue_due_orders
from tests.browser.conftest import PASSWORD
from tests.factories import UserFactory
from tests.workflow import (
    FROZEN_NOW,
    TODAY,
    advance,
    create,
    mt_example_contract,
    mt_until_settled,
    worked_example_contract,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(FROZEN_NOW, tick=True):
        yield


def orders_issued(akpakpa, staff, count):
    orders = []
    for n in range(count):
        contract = worked_example_contract(akpakpa, number=f"10100002{n:02d}")
        request = advance(create(contract, staff), staff, RequestState.ORDER_ISSUED)
        orders.append(request.orders.get())
    return orders


def install(office, username, now=FROZEN_NOW):
    """Open the app, let its service worker take the page and keep the day, as a phone does
    the first time."""
    crew = office.open_as(username, viewport=PHONE)
    crew.context.clock.install(time=now)  # the phone's clock: the same day as the server
    crew.goto("/terrain/")
    until(crew, "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    crew.page.wait_for_selector("#ordres li")
    return crew


def until(crew, script: str, deadline: float = 120) -> None:
    """Poll a condition in the page (the CSP forbids wait_for_function's eval); a generous
    deadline, never a timing assertion."""
    end = time.monotonic() + deadline
    while not crew.page.evaluate(script):
        assert time.monotonic() < end, script
        crew.page.wait_for_timeout(200)


def documents_kept(crew, orders, deadline: float = 120) -> None:
    """Until each order's PDF is in the app's cache on the phone."""
    urls = [f"/terrain/ordres/{o.number}.pdf" for o in orders]
    until(
        crew,
        f"""() => caches.open("terrain-pages").then((c) => Promise.all({urls!r}.map(
            (u) => c.match(u, {{ignoreVary: true}})))).then((all) => all.every((r) => !!r))""",
        deadline,
    )


def offline_pdf(crew, order) -> list:
    """An order's PDF as the page gets it without a network (from the service worker)."""
    return crew.page.evaluate(
        """async (u) => {
            const r = await fetch(u);
            const head = new Uint8Array(await r.arrayBuffer()).slice(0, 5);
            return [r.headers.get("content-type"), String.fromCharCode(...head)];
        }""",
        f"/terrain/ordres/{order.number}.pdf",
    )


def waiting(crew) -> str:
    return crew.page.inner_text("#attente")


def enter_reading(crew, order, index, *, photo=None):
    item = crew.page.locator("#ordres li", has_text=order.number)
    item.get_by_role("button", name="Saisir le compte-rendu").click()
    crew.page.fill("#index_read", str(index))
    crew.page.check("#cut_done")
    crew.page.fill("#cut_index", str(index))
    if photo:
        crew.page.set_input_files("#photo", photo)
    crew.page.check("#confirm")
    crew.page.click("button:has-text('Garder pour l\\'envoi')")
    crew.page.wait_for_selector("#saisie", state="hidden")


def a_photo(tmp_path):
    # A phone camera's picture: 2400 × 1800, detailed enough to weigh about 1 MB.
    image = Image.effect_noise((300, 225), 60).convert("RGB").resize((2400, 1800))
    exif = Image.Exif()
    exif[0x0132] = "2026:11:30 10:14:00"  # DateTime
    path = tmp_path / "afficheur.jpg"
    if path.exists():
        return path
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


def test_three_reports_taken_offline_arrive_once(office, staff, akpakpa, tmp_path):
    first, second, third = orders_issued(akpakpa, staff, 3)
    crew = install(office, staff.reader.username)
    assert crew.page.locator("#ordres li").count() == 3
    documents_kept(crew, [first, second, third])

    crew.context.set_offline(True)
    crew.page.reload()
    crew.page.wait_for_selector("#ordres li")
    assert "Hors connexion" in crew.page.inner_text("#reseau")
    assert offline_pdf(crew, second) == ["application/pdf", "%PDF-"]  # the order, kept
    enter_reading(crew, first, 12300, photo=a_photo(tmp_path))
    item = crew.page.locator("#ordres li", has_text=second.number)
    item.get_by_role("button", name="Visite infructueuse").click()
    crew.page.check("input[name=reason][value=absent]")
    crew.page.check("#confirm")
    crew.page.click("button:has-text('Garder pour l\\'envoi')")
    enter_reading(crew, third, 12310)
    assert waiting(crew) == "3 comptes-rendus en attente d'envoi"
    assert not FieldSubmission.objects.exists()

    # Closed, then opened again, still without a network: the reports are still there.
    crew.page.close()
    crew._responses.clear()  # the closed page's, not to be read again
    crew.page = crew.context.new_page()
    crew.page.goto(office.base_url + "/terrain/")
    crew.page.wait_for_selector("#ordres li")
    assert waiting(crew) == "3 comptes-rendus en attente d'envoi"

    crew.context.set_offline(False)
    crew.page.evaluate("window.dispatchEvent(new Event('online'))")
    until(crew, "() => document.getElementById('attente').textContent.startsWith('Aucun')")
    assert FieldSubmission.objects.count() == 3
    assert set(FieldSubmission.objects.values_list("outcome", flat=True)) == {
        SubmissionOutcome.ACCEPTED
    }
    assert InterventionReport.objects.count() == 2 and VisitAttempt.objects.count() == 1
    # The day fetched again: the orders reported leave it (the failed visit's waits for the
    # supervisor's new date).
    until(crew, "() => document.querySelectorAll('#ordres li').length === 0")
    assert crew.page.locator("#aucun").is_visible()
    second.refresh_from_db()
    assert second.status == OrderStatus.VISIT_FAILED

    # The photo: compressed on the phone, its hash the hash of the bytes received.
    photo = IndexPhoto.objects.get()
    assert photo.sha256 == hashlib.sha256(bytes(photo.content)).hexdigest()
    assert photo.size < a_photo(tmp_path).stat().st_size / 2
    assert max(Image.open(io.BytesIO(bytes(photo.content))).size) <= 1600
    sent = crew.page.evaluate("""async () => {
        const r = (await sbeeQueue.all()).find((r) => r.photo);
        const bytes = await r.photo.arrayBuffer();
        const digest = await crypto.subtle.digest("SHA-256", bytes);
        return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    }""")
    assert sent == photo.sha256
    assert b"2026:11:30 10:14:00" in bytes(photo.content)  # its date kept (EXIF)

    # The supervisor signs off with the photo beside the typed index.
    chief = office.open_as(staff.supervisor.username)
    chief.goto(f"/demandes/{first.request_id}/signature-coupure/")
    image = chief.page.locator("img.index-photo")
    assert image.evaluate("i => i.complete && i.naturalWidth > 0")
    assert photo.sha256 in chief.text() and "Index relevé" in chief.text()
    chief.page.check("#id_confirm")
    chief.submit("Signer l'ordre de coupure")
    assert "Ordre de coupure signé." in chief.text()

    # The same queue sent again: answered as the first time, nothing new.
    crew.page.evaluate("""async () => {
        for (const r of await sbeeQueue.all()) {
            r.etat = sbeeQueue.PENDING;
            await sbeeQueue.put(r);
        }
    }""")
    crew.page.click("#synchroniser")
    until(crew, "() => document.getElementById('attente').textContent.startsWith('Aucun')")
    assert FieldSubmission.objects.count() == 3 and InterventionReport.objects.count() == 2

    # A report changed after it was queued, sent again under its identifier: refused.
    crew.page.evaluate("""async () => {
        const r = (await sbeeQueue.all()).find((r) => r.photo);
        r.champs.index_read = "12399"; r.etat = sbeeQueue.PENDING; await sbeeQueue.put(r);
    }""")
    crew.page.click("#synchroniser")
    refused = crew.page.locator("#envois li.envoi-refused")
    refused.wait_for(timeout=60000)
    assert "déjà été reçu avec un autre contenu" in refused.inner_text()
    assert InterventionReport.objects.count() == 2


def test_an_order_reassigned_while_its_report_waits_offline(office, staff, akpakpa):
    (order,) = orders_issued(akpakpa, staff, 1)
    crew = install(office, staff.reader.username)
    crew.context.set_offline(True)
    enter_reading(crew, order, 12300)
    assert waiting(crew) == "1 compte-rendu en attente d'envoi"
    other = UserFactory(username="akp.releve2", agency=akpakpa, roles=[Role.READER])
    services.termination_request_reassign_order(
        order.request, actor=staff.supervisor, assignee=other
    )
    crew.context.set_offline(False)
    crew.page.click("#synchroniser")
    conflict = crew.page.locator("#envois li.envoi-conflict")
    conflict.wait_for(timeout=60000)
    assert "a été confié à" in conflict.inner_text()
    kept = FieldSubmission.objects.get()
    assert kept.outcome == SubmissionOutcome.CONFLICT and kept.payload["champs"]["index_read"]
    assert not InterventionReport.objects.exists()

    chief = office.open_as(staff.supervisor.username)
    chief.goto(f"/demandes/{order.request_id}/")
    assert "Compte-rendu du terrain en conflit" in chief.text()
    assert "12300" in chief.text()
    # In the supervisor's queue until examined; what was done with it goes to the journal.
    chief.goto("/corbeille/")
    assert "Comptes-rendus du terrain en conflit" in chief.text()
    chief.follow(f"Ordre {order.number}")
    chief.page.fill("#id_note", "Ressaisi par l'agent désigné, même index constaté.")
    chief.page.check("#id_confirm")
    chief.submit("Enregistrer la suite donnée")
    assert "Conflit examiné" in chief.text()
    assert "Conflit du terrain sur l'ordre" in chief.text()
    chief.goto("/corbeille/")
    assert "Comptes-rendus du terrain en conflit" not in chief.text()


def test_background_sync_sends_the_queue_with_the_page_closed(office, staff, akpakpa):
    """A report queued offline, the app closed: when the browser gives its service worker the
    sync event (Chromium's Background Sync, dispatched here through DevTools), the worker sends
    the queue by itself."""
    (order,) = orders_issued(akpakpa, staff, 1)
    crew = install(office, staff.reader.username)
    crew.context.set_offline(True)
    enter_reading(crew, order, 12300)
    assert waiting(crew) == "1 compte-rendu en attente d'envoi"
    crew.page.goto("about:blank")  # the app closed: only its service worker is left
    crew.context.set_offline(False)
    assert not FieldSubmission.objects.exists()

    cdp = crew.context.new_cdp_session(crew.page)
    registrations = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(
            r for r in e["registrations"] if r["scopeURL"].endswith("/terrain/")
        ),
    )
    cdp.send("ServiceWorker.enable")
    end = time.monotonic() + 60
    while not registrations:
        assert time.monotonic() < end, "no service worker registered for /terrain/"
        crew.page.wait_for_timeout(200)
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": office.base_url,
            "registrationId": registrations[0]["registrationId"],
            "tag": "envoyer",
            "lastChance": False,
        },
    )
    end = time.monotonic() + 120
    while not FieldSubmission.objects.exists():
        assert time.monotonic() < end, "the service worker sent nothing"
        crew.page.wait_for_timeout(200)
    submission = FieldSubmission.objects.get()
    assert (
        submission.outcome == SubmissionOutcome.ACCEPTED and submission.report.index_read == 12300
    )
    # Opened again: the queue says it arrived.
    crew.goto("/terrain/")
    until(crew, "() => !!document.querySelector('#envois li.envoi-accepted')")
    assert waiting(crew) == "Aucun compte-rendu en attente d'envoi."


def test_the_day_and_a_sync_complete_on_slow_3g(office, staff, akpakpa):
    """Chromium's "Slow 3G" (2 s round trips, 400 kbit/s each way): the first load of the app
    with its day, the orders' PDFs, then a report sent, complete; the bytes they took are
    printed (-s)."""
    orders = orders_issued(akpakpa, staff, 2)
    crew = office.open_as(staff.reader.username, viewport=PHONE)
    crew.context.clock.install(time=FROZEN_NOW)
    cdp = crew.context.new_cdp_session(crew.page)
    cdp.send("Network.enable")
    urls, received = {}, {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: received.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 2000,
            "downloadThroughput": 400 * 1024 / 8,
            "uploadThroughput": 400 * 1024 / 8,
        },
    )
    crew.page.set_default_timeout(120_000)
    crew.goto("/terrain/")
    crew.page.wait_for_selector("#ordres li")
    documents_kept(crew, orders, deadline=300)

    def weight(*parts):
        return sum(n for r, n in received.items() if any(p in urls.get(r, "") for p in parts))

    day = weight("/tournee.json")
    first_load = sum(received.values()) - day
    # The PDFs come through the service worker (its own requests): their size as kept.
    documents = crew.page.evaluate("""async () => {
        const cache = await caches.open("terrain-pages");
        let size = 0;
        for (const key of await cache.keys()) {
            if (key.url.includes("/terrain/ordres/") || key.url.includes("/feuille-de-route/")) {
                size += (await (await cache.match(key)).arrayBuffer()).byteLength;
            }
        }
        return size;
    }""")
    received.clear()
    item = crew.page.locator("#ordres li").first
    item.get_by_role("button", name="Saisir le compte-rendu").click()
    crew.page.fill("#index_read", "12300")
    crew.page.check("#cut_done")
    crew.page.fill("#cut_index", "12300")
    crew.page.check("#confirm")
    crew.page.click("button:has-text('Garder pour l\\'envoi')")
    until(crew, "() => !!document.querySelector('#envois li.envoi-accepted')", 300)
    assert FieldSubmission.objects.get().outcome == SubmissionOutcome.ACCEPTED
    print(
        f"\nSlow 3G (octets reçus, en-têtes compris ; le serveur de test envoie les fichiers "
        f"statiques non compressés) : application {first_load} ; "
        f"tournée de {len(orders)} ordres {day} ; leurs PDF et la feuille de route {documents} ; "
        f"synchronisation d'un compte-rendu {sum(received.values())}"
    )


def test_a_removal_taken_offline_and_a_session_ended_meanwhile(office, staff, akpakpa):
    """The ARPNT crew's removal report, with the eight safety steps, taken offline; the session
    ends before the network returns: the report stays queued until the crew logs in again."""
    contract = worked_example_contract(akpakpa)
    request = advance(create(contract, staff), staff, RequestState.REMOVAL_ORDERED)
    removal = request.orders.get(kind="removal")
    crew = install(office, staff.arpnt.username)
    crew.context.set_offline(True)
    item = crew.page.locator("#ordres li", has_text=removal.number)
    item.get_by_role("button", name="Saisir le compte-rendu").click()
    assert crew.page.locator("#cut_index").is_hidden()  # a removal has no cut index
    crew.page.fill("#index_read", "12300")
    crew.page.check("#cut_done")
    for step in crew.page.locator("input[name=safety_steps_confirmed]").all():
        step.check()
    crew.page.check("input[name=remarks][value=rotten_panel]")
    crew.page.check("#confirm")
    crew.page.click("button:has-text('Garder pour l\\'envoi')")
    crew.page.wait_for_selector("#saisie", state="hidden")
    assert waiting(crew) == "1 compte-rendu en attente d'envoi"

    crew.context.clear_cookies()  # the session ended while the crew was out
    crew.context.set_offline(False)
    crew.page.click("#synchroniser")
    # The click and the browser's "online" may each start a sync: wait for the last to settle.
    until(
        crew,
        """() => document.getElementById('reseau').textContent.includes('reconnectez') &&
            document.getElementById('attente').textContent.startsWith('1 compte-rendu')""",
    )
    assert waiting(crew) == "1 compte-rendu en attente d'envoi"
    assert not FieldSubmission.objects.exists()

    crew.goto("/connexion/")
    crew.page.fill("#id_username", staff.arpnt.username)
    crew.page.fill("#id_password", PASSWORD)
    crew.click("button:has-text('Se connecter')")
    crew.goto("/terrain/")
    until(crew, "() => !!document.querySelector('#envois li.envoi-accepted')")
    submission = FieldSubmission.objects.get()
    assert submission.outcome == SubmissionOutcome.ACCEPTED
    report = submission.report
    assert report.safety_steps_confirmed == list(range(1, 9))
    assert report.remarks == ["rotten_panel"] and report.index_read == 12300


def test_an_mt_final_interruption_taken_offline_with_its_seal(office, staff, akpakpa):
    """MT, anticipated: on the cut date, the ARPNT crew's final interruption report (the meter
    stays; the seal put on the cut), taken offline."""
    request = mt_until_settled(
        mt_example_contract(akpakpa), staff, Timing.ANTICIPATED, TODAY + dt.timedelta(days=1)
    )
    cut_day = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(cut_day, tick=True):
        assert issue_due_orders() == 1
        final = request.orders.get(kind="final_interruption")
        crew = install(office, staff.arpnt.username, now=cut_day)
        crew.context.set_offline(True)
        item = crew.page.locator("#ordres li", has_text=final.number)
        assert "Coupure définitive (MT)" in item.inner_text()
        item.get_by_role("button", name="Saisir le compte-rendu").click()
        assert crew.page.locator("input[name=safety_steps_confirmed]").first.is_hidden()
        crew.page.fill("#index_read", "510100")
        crew.page.check("#cut_done")
        crew.page.fill("#seal_number", "SC-0042")
        crew.page.check("#confirm")
        crew.page.click("button:has-text('Garder pour l\\'envoi')")
        crew.page.wait_for_selector("#saisie", state="hidden")
        assert waiting(crew) == "1 compte-rendu en attente d'envoi"
        crew.context.set_offline(False)
        crew.page.click("#synchroniser")
        until(crew, "() => !!document.querySelector('#envois li.envoi-accepted')")
    report = FieldSubmission.objects.get().report
    assert (report.seal_number, report.index_read, report.safety_steps_confirmed) == (
        "SC-0042",
        510100,
        [],
    )


def test_a_report_entered_from_the_paper_is_signed_on_the_phone_offline(office, staff, akpakpa):
    """The ARPNT agent cut the supply and wrote the paper report; the reader entered it for
    them. On their phone, without a network, the agent reads it and signs it as theirs; the
    signature is sent when the network returns, and the supervisor may then sign."""
    (order,) = orders_issued(akpakpa, staff, 1)
    services.termination_request_report_field(
        order.request,
        actor=staff.reader,
        agent=staff.arpnt,
        index_read=12300,
        read_on=TODAY,
        cut_done=True,
        cut_index=12300,
        remarks=[],
    )
    crew = office.open_as(staff.arpnt.username, viewport=PHONE)
    crew.context.clock.install(time=FROZEN_NOW)
    crew.goto("/terrain/")
    until(crew, "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    item = crew.page.locator("#a-signer li", has_text=order.number)
    item.wait_for(timeout=60000)
    assert "Index 12300 le 30/11/2026 · coupure à l'index 12300" in item.inner_text()
    assert "saisi par" in item.inner_text()

    crew.context.set_offline(True)
    crew.page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Signer ce compte-rendu").click()
    until(crew, "() => document.getElementById('attente').textContent.startsWith('1 ')")
    assert crew.page.locator("#signer").is_hidden()
    assert InterventionReport.objects.get().agent_signed_at is None  # still on the phone

    crew.context.set_offline(False)
    crew.page.click("#synchroniser")
    crew.page.locator("#envois li.envoi-accepted").wait_for(timeout=60000)
    assert "signature du compte-rendu : reçu et enregistré" in crew.page.inner_text("#envois")
    report = InterventionReport.objects.get()
    assert report.agent == staff.arpnt and report.agent_signed_via == "phone"
    order.refresh_from_db()
    assert order.status == OrderStatus.REPORTED
    services.termination_request_approve_report(order.request, actor=staff.supervisor)
