"""Real Chromium (Debian's, /usr/bin/chromium) driven by Playwright against the live server on
the real PostgreSQL. Every page a test visits is checked with axe-core (no serious or critical
violation) and its HTML, as served, with the Nu HTML Checker (no error)."""

import base64
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import totp_code

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NODE_MODULES = Path(settings.BASE_DIR) / "tests" / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
VNU = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
PASSWORD = "mot-de-passe-solide-42"
PAGES_CHECKED: set[str] = set()  # every page checked in this run, ids replaced by <n>


def _missing(what: str, how: str):
    """In CI a missing tool is a failure (.ci/run installs it); elsewhere, a clear skip."""
    message = f"{what} introuvable : {how}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _missing("Chromium (/usr/bin/chromium)", "apt-get install chromium")
    if not AXE.exists() or not VNU.exists():
        _missing("axe-core / vnu-jar", "npm ci --prefix tests (make test le fait)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@functools.cache
def _axe_source() -> str:
    return AXE.read_text()


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:80]


class Agent:
    """One member of staff in their own browser context: logs in through the form, and every
    page they reach is checked."""

    def __init__(self, office: "Office", username: str, viewport: dict | None):
        self.office = office
        self.username = username or "public"
        self.context = office.browser.new_context(
            viewport=viewport or {"width": 1280, "height": 900}, locale="fr-FR"
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self._responses = []
        self.page.on("response", self._keep_document_response)
        self.csp_violations: list[str] = []
        self.page.on("console", self._keep_csp_violation)
        if not username:
            return  # someone from outside, who never logs in
        self.goto("/connexion/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        self.click("button:has-text('Se connecter')")
        if "/connexion/second-facteur/" in self.page.url:
            self.second_factor()

    def second_factor(self):
        """The roles that need it type the code of their authenticator application: the first
        time, from the key shown under the QR code (then the recovery codes page); afterwards,
        from the key enrolled."""
        if self.page.locator("h1", has_text="Enregistrer le second facteur").count():
            # The enrolment code two admins would have issued, handed to the person.
            from accounts.enrolment import enrolment_code_from_console
            from contracts.models import User

            assert "Aucun code d'enrôlement" in self.text()
            code = enrolment_code_from_console(User.objects.get(username=self.username))
            self.goto("/connexion/second-facteur/")
            key = base64.b32decode(self.page.inner_text(".hint code").replace(" ", ""))
            self.page.fill("#id_enrolment_code", code)
            self.page.fill("#id_code", totp_code(key))
            self.submit()
            assert "Codes de secours" in self.text()
            self.follow("Continuer")
        else:
            from django_otp.plugins.otp_totp.models import TOTPDevice

            device = TOTPDevice.objects.get(user__username=self.username, confirmed=True)
            self.page.fill("#id_code", totp_code(device.bin_key, after=device.last_t))
            self.submit("Vérifier")
        assert "/connexion/" not in self.page.url, self.text()

    def _keep_csp_violation(self, message):
        if "Content Security Policy" in message.text:
            self.csp_violations.append(f"{self.page.url}: {message.text}")

    def _keep_document_response(self, response):
        request = response.request
        if request.resource_type == "document" and request.frame == self.page.main_frame:
            self._responses.append(response)

    def goto(self, path: str):
        self.page.goto(self.office.base_url + path)
        self.checked()

    def click(self, selector: str):
        """Click something that loads a page, then check the page."""
        with self.page.expect_navigation():
            self.page.click(selector)
        self.checked()

    def follow(self, text: str):
        """Follow a link by its text (the way staff find their work)."""
        with self.page.expect_navigation():
            self.page.get_by_role("link", name=text).first.click()
        self.checked()

    def submit(self, button: str = "Enregistrer"):
        self.click(f'button:has-text("{button}")')

    def checked(self):
        self.page.wait_for_load_state()
        assert not self.csp_violations, self.csp_violations
        self.office.check_accessibility(self)
        for response in self._responses:
            if response.status == 200 and "text/html" in response.headers.get("content-type", ""):
                self.office.keep_html(self, response.url, response.body())
        self._responses.clear()

    def text(self) -> str:
        return self.page.inner_text("main")

    def print_pdf(self, label: str, *, document: str | None = None) -> bytes:
        """Click a print button, which opens the PDF in a new tab; return the PDF served.
        `document`: the number of a document of the request page's list."""

        def is_pdf(response) -> bool:
            return response.headers.get("content-type") == "application/pdf"

        scope = self.page.locator(".documents li", has_text=document) if document else self.page
        with self.context.expect_event("response", predicate=is_pdf) as served:
            scope.get_by_role("button", name=label).first.click()
        # Chromium shows the PDF in its own viewer; the copy's address gives the bytes again.
        body = self.context.request.get(served.value.url).body()
        for tab in self.context.pages:
            if tab is not self.page:
                tab.close()
        return body

    def logout(self):
        self.click("button:has-text('Se déconnecter')")
        self.context.close()


class Office:
    def __init__(self, browser, base_url: str, test_name: str):
        self.browser = browser
        self.base_url = base_url
        self.test_name = _slug(test_name)
        self.agents: list[Agent] = []
        self.html_files: list[Path] = []
        self.pages_checked: list[str] = []
        self.validated = False

    def open_as(self, username: str, viewport: dict | None = None) -> Agent:
        agent = Agent(self, username, viewport)
        self.agents.append(agent)
        return agent

    def open_public(self, viewport: dict | None = None) -> Agent:
        """A browser with no login: a customer, a bank, a notary checking a document."""
        return self.open_as("", viewport)

    def check_accessibility(self, agent: Agent) -> None:
        page = agent.page
        # Through the DevTools protocol, not a <script> tag: our Content-Security-Policy forbids
        # inline scripts, and stays on during the tests.
        page.evaluate(_axe_source())
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .filter(v => ['serious', 'critical'].includes(v.impact))
                 .map(v => `${v.impact} ${v.id}: ${v.help} -> `
                           + v.nodes.map(n => n.target.join(' ')).join(', '))"""
        )
        path = page.url.replace(self.base_url, "")
        self.pages_checked.append(path)
        path = re.sub(r"/verification/[^/]+/", "/verification/<jeton>/", path.split("?")[0])
        PAGES_CHECKED.add(re.sub(r"/\d+/", "/<n>/", path))
        assert violations == [], f"axe-core sur {page.url} :\n" + "\n".join(violations)

    def keep_html(self, agent: Agent, url: str, body: bytes) -> None:
        folder = ARTIFACTS / "html" / self.test_name
        folder.mkdir(parents=True, exist_ok=True)
        name = _slug(url.replace(self.base_url, ""))
        path = folder / f"{len(self.html_files):03d}-{agent.username}-{name}.html"
        path.write_bytes(body)
        self.html_files.append(path)

    def assert_valid_html(self) -> None:
        """The Nu HTML Checker over every page served during the test: no error."""
        self.validated = True
        if not self.html_files:
            return
        result = subprocess.run(
            [
                "java",
                "-jar",
                str(VNU),
                "--errors-only",
                "--format",
                "json",
                "--stdout",
                *map(str, self.html_files),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        messages = json.loads(result.stdout or "{}").get("messages", [])
        errors = [
            f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('message')}"
            for m in messages
            if m.get("type") == "error"
        ]
        assert errors == [], "Nu HTML Checker :\n" + "\n".join(errors)

    def save_failure_artifacts(self) -> None:
        folder = ARTIFACTS / self.test_name
        folder.mkdir(parents=True, exist_ok=True)
        for agent in self.agents:
            try:
                agent.page.screenshot(path=str(folder / f"{agent.username}.png"), full_page=True)
                (folder / f"{agent.username}.html").write_text(agent.page.content())
            except Exception:  # a closed context has nothing left to show
                continue
        print(f"\nCaptures d'écran et HTML de l'échec : {folder}")


@pytest.fixture
def office(browser, live_server, request, settings):
    settings.SITE_URL = live_server.url
    office = Office(browser, live_server.url, request.node.name)
    yield office
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        office.save_failure_artifacts()
    elif call is not None and not office.validated:
        office.assert_valid_html()  # every page a browser test visits is validated
    for agent in office.agents:
        try:
            agent.context.close()
        except Exception:
            continue


def pytest_terminal_summary(terminalreporter):
    if PAGES_CHECKED:
        terminalreporter.write_line(
            f"Pages vérifiées (axe-core, Nu HTML Checker) : {len(PAGES_CHECKED)} – "
            + " ".join(sorted(PAGES_CHECKED))
        )


class Phones:
    """What the customers' phones received. The SMS queued so far are sent by a real worker
    (procrastinate's, once over the queue, then it stops) through the file backend, and each
    file is read in the order the messages were written."""

    def __init__(self, folder: Path):
        from tests.stacks import stack_env

        self.folder = folder
        self.env = stack_env(folder / "static")
        self.env.update(
            SMS_BACKEND="notifications.backends.FileBackend", SMS_FILE_DIR=str(folder / "sms")
        )

    def received(self) -> list[dict]:
        worker = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "procrastinate",
                "worker",
                "--one-shot",
                "--queues",
                "notifications",
            ],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,  # generous: a busy machine, never a timing assertion
        )
        assert worker.returncode == 0, worker.stdout + worker.stderr
        files = sorted((self.folder / "sms").glob("*.json"))
        return [json.loads(f.read_text(encoding="utf-8")) for f in files]

    def told(self) -> list[tuple[str, str]]:
        """(kind, number) of each message received, in order."""
        return [(m["kind"], m["to"]) for m in self.received()]


@pytest.fixture
def phones(tmp_path) -> Phones:
    return Phones(tmp_path)
