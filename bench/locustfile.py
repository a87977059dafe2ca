"""The agency mix for `make bench-load` (locust, headless): reception agents search by each
criterion, open contracts and requests, read their queue; readers and removal crews read their
queue and print an order. Think time 1 to 3 s. Each agent logs in through the form first. The
accounts and samples (contract numbers, serials, phones, names, requests, documents) come from
the file that `manage.py bench_load` writes."""

import itertools
import json
import os
import random

from locust import HttpUser, between, task

with open(os.environ["SBEE_LOAD_SAMPLES"]) as handle:
    SAMPLES = json.load(handle)


class Agent(HttpUser):
    """An agent starting the day: logs in through the login form (the agents arrive over the
    first minute), then works."""

    abstract = True
    wait_time = between(1, 3)
    role = ""

    def on_start(self):
        account = SAMPLES["accounts"][self.role]
        # The login page sets the CSRF cookie, as a browser's would; then the form is sent.
        self.client.get("/connexion/", name="connexion (page)")
        answer = self.client.post(
            "/connexion/",
            {
                "username": account["username"],
                "password": account["password"],
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken"),
            },
            headers={"Referer": self.host + "/connexion/"},
            allow_redirects=False,
            name="connexion (envoi)",
        )
        if answer.status_code != 302:
            raise RuntimeError(f"connexion refusée pour {account['username']}")
        self.second_factor(account)
        self.client.get(self.first_page, name=self.first_page_name)

    first_page, first_page_name = "/corbeille/", "corbeille"

    def second_factor(self, account):
        pass


class Reception(Agent):
    weight = 6
    role = "reception"

    def contract(self):
        return random.choice(SAMPLES["contracts"])

    @task(3)
    def search_number(self):
        self.client.get(
            "/contrats/", params={"q": self.contract()["number"]}, name="recherche : contrat"
        )

    @task(2)
    def search_serial(self):
        self.client.get(
            "/contrats/", params={"q": self.contract()["serial"]}, name="recherche : compteur"
        )

    @task(2)
    def search_phone(self):
        self.client.get(
            "/contrats/", params={"q": self.contract()["phone"]}, name="recherche : téléphone"
        )

    @task(2)
    def search_name(self):
        name = self.contract()["name"].split()[0][:6].lower()
        self.client.get("/contrats/", params={"q": name}, name="recherche : nom")

    @task(3)
    def contract_page(self):
        self.client.get(f"/contrats/{self.contract()['number']}/", name="page du contrat")

    @task(2)
    def request_page(self):
        self.client.get(
            f"/demandes/{random.choice(SAMPLES['requests'])}/", name="page de la demande"
        )

    @task(2)
    def queue(self):
        self.client.get("/corbeille/", name="corbeille")


class FieldCrew(Agent):
    weight = 2
    role = "arpnt"

    @task(5)
    def queue(self):
        self.client.get("/corbeille/", name="corbeille")

    @task(1)
    def print_order(self):
        document = random.choice(SAMPLES["documents"])
        self.client.post(
            f"/documents/{document}/imprimer/",
            {"csrfmiddlewaretoken": self.client.cookies.get("csrftoken")},
            headers={"Referer": self.host + "/corbeille/"},
            name="impression d'un ordre",
        )


_codes = itertools.count()


class Chef(Agent):
    """A chef d'agence (with `--chefs`): the dashboards, the search of requests, the cash
    journal and a small export, the read-only pages that go to the replica when there is one.
    Past the second factor with one of the benchmark's single-use codes."""

    abstract = "chef" not in SAMPLES["accounts"]
    weight = 1
    role = "chef"
    first_page, first_page_name = "/tableau-de-bord/", "tableau de bord"

    def second_factor(self, account):
        code = account["codes"][next(_codes)]
        self.client.get("/connexion/second-facteur/", name="second facteur (page)")
        answer = self.client.post(
            "/connexion/second-facteur/",
            {"code": code, "csrfmiddlewaretoken": self.client.cookies.get("csrftoken")},
            headers={"Referer": self.host + "/connexion/second-facteur/"},
            allow_redirects=False,
            name="second facteur (envoi)",
        )
        if answer.status_code != 302:
            raise RuntimeError("second facteur refusé")

    @task(3)
    def dashboard(self):
        self.client.get("/tableau-de-bord/", name="tableau de bord")

    @task(3)
    def late_requests(self):
        late = {"etat": "ouvertes", "retard": "oui"}
        self.client.get("/demandes/", params=late, name="demandes en retard")

    @task(2)
    def cash_journal(self):
        self.client.get("/caisse/journal/", name="journal de caisse")

    @task(1)
    def export(self):
        contract = random.choice(SAMPLES["contracts"])["number"]
        self.client.get(
            "/demandes/export/demandes.csv", params={"contrat": contract}, name="export (csv)"
        )
