"""The customer's messages: their variables, the default texts (French and English), rendering,
and what a text costs (GSM 03.38 against UCS-2 segments)."""

import math
import string

from notifications.enums import Language
from notifications.enums import NotificationKind as K

# The variables each kind's text may use, with what they hold (shown in the admin).
VARIABLES: dict[str, dict[str, str]] = {
    K.REGISTERED: {
        "demande": "numéro de la demande",
        "contrat": "numéro du contrat",
        "code": "code de suivi",
        "suivi": "adresse de la page de suivi",
    },
    K.VISIT: {
        "contrat": "numéro du contrat",
        "date": "date du passage",
        "creneau": "plage horaire",
        "travaux": "ce que fera l'agent",
    },
    K.VISIT_REMINDER: {
        "contrat": "numéro du contrat",
        "date": "date du passage",
        "creneau": "plage horaire",
    },
    K.VISIT_FAILED: {"contrat": "numéro du contrat", "date": "date de la visite"},
    K.BALANCE: {
        "contrat": "numéro du contrat",
        "facture": "numéro de la facture",
        "montant": "montant à payer",
        "agence": "agence où payer",
        "limite": "date après laquelle le solde part au recouvrement",
    },
    K.RECOVERY_REMINDER: {
        "contrat": "numéro du contrat",
        "montant": "montant à payer",
        "agence": "agence où payer",
        "limite": "date après laquelle le solde part au recouvrement",
    },
    K.REFUND_READY: {
        "contrat": "numéro du contrat",
        "montant": "montant à rembourser",
        "agence": "agence où le retirer",
        "limite": "date limite de retrait",
    },
    K.REFUND_REMINDER: {
        "contrat": "numéro du contrat",
        "montant": "montant à rembourser",
        "agence": "agence où le retirer",
        "limite": "date limite de retrait",
    },
    K.TERMINATED: {
        "contrat": "numéro du contrat",
        "attestation": "numéro de l'attestation de résiliation",
        "verification": "adresse de vérification de l'attestation",
    },
}

# The texts shipped; the admin edits them (a text per kind and language). Kept in the GSM
# alphabet (no ç, ê, ô...): one segment of 160 characters instead of 70.
DEFAULTS: dict[tuple[str, str], str] = {
    (K.REGISTERED, Language.FRENCH): (
        "SBEE: demande de résiliation {demande} du contrat {contrat} enregistrée. "
        "Code de suivi: {code}. Suivez-la sur {suivi}"
    ),
    (K.VISIT, Language.FRENCH): (
        "SBEE: un agent passera le {date} {creneau} pour le contrat {contrat} ({travaux}). "
        "Soyez présent et laissez le compteur accessible."
    ),
    (K.VISIT_REMINDER, Language.FRENCH): (
        "SBEE: rappel, un agent passe demain {date} {creneau} pour le contrat {contrat}. "
        "Laissez le compteur accessible."
    ),
    (K.VISIT_FAILED, Language.FRENCH): (
        "SBEE: l'agent n'a pas pu intervenir le {date} pour le contrat {contrat}. "
        "Une nouvelle date vous sera envoyée."
    ),
    (K.BALANCE, Language.FRENCH): (
        "SBEE: facture de solde {facture} du contrat {contrat}: {montant} à payer à l'agence "
        "{agence} avant le {limite}, sinon recouvrement."
    ),
    (K.RECOVERY_REMINDER, Language.FRENCH): (
        "SBEE: rappel, contrat {contrat}: {montant} à payer à l'agence {agence} avant le "
        "{limite}, sinon recouvrement."
    ),
    (K.REFUND_READY, Language.FRENCH): (
        "SBEE: contrat {contrat}: {montant} vous sont remboursés à l'agence {agence} "
        "(pièce d'identité du déposant), jusqu'au {limite}."
    ),
    (K.REFUND_REMINDER, Language.FRENCH): (
        "SBEE: rappel, contrat {contrat}: votre remboursement de {montant} vous attend à "
        "l'agence {agence} jusqu'au {limite}."
    ),
    (K.TERMINATED, Language.FRENCH): (
        "SBEE: le contrat {contrat} est résilié. Attestation {attestation}, vérifiable sur "
        "{verification}"
    ),
    (K.REGISTERED, Language.ENGLISH): (
        "SBEE: termination request {demande} for contract {contrat} registered. "
        "Tracking code: {code}. Follow it at {suivi}"
    ),
    (K.VISIT, Language.ENGLISH): (
        "SBEE: an agent will come on {date} {creneau} for contract {contrat} ({travaux}). "
        "Please be present and keep the meter accessible."
    ),
    (K.VISIT_REMINDER, Language.ENGLISH): (
        "SBEE: reminder, an agent comes tomorrow {date} {creneau} for contract {contrat}."
    ),
    (K.VISIT_FAILED, Language.ENGLISH): (
        "SBEE: the agent could not work on {date} for contract {contrat}. A new date will follow."
    ),
    (K.BALANCE, Language.ENGLISH): (
        "SBEE: final invoice {facture} for contract {contrat}: {montant} to pay at the {agence} "
        "office before {limite}, then recovery."
    ),
    (K.RECOVERY_REMINDER, Language.ENGLISH): (
        "SBEE: reminder, contract {contrat}: {montant} to pay at the {agence} office before "
        "{limite}."
    ),
    (K.REFUND_READY, Language.ENGLISH): (
        "SBEE: contract {contrat}: {montant} to be refunded at the {agence} office until {limite}."
    ),
    (K.REFUND_REMINDER, Language.ENGLISH): (
        "SBEE: reminder, contract {contrat}: your refund of {montant} waits at the {agence} "
        "office until {limite}."
    ),
    (K.TERMINATED, Language.ENGLISH): (
        "SBEE: contract {contrat} is terminated. Certificate {attestation}, check it at "
        "{verification}"
    ),
}


def variables_of(text: str) -> set[str]:
    """The {names} a text uses; ValueError when a brace is left open or a name is not plain."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(name)
        names.add(name)
    return names


def unknown_variables(kind: str, text: str) -> list[str]:
    """The variables the text uses that its kind does not give (empty: the text is good)."""
    try:
        used = variables_of(text)
    except ValueError as error:
        return [f"{{{error}}}"]
    return sorted(used - set(VARIABLES[kind]))


def render(text: str, context: dict) -> str:
    return text.format(**{name: context.get(name, "") for name in variables_of(text)})


# GSM 03.38: the basic alphabet (one septet each) and its extension table (two septets).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


def segments(text: str) -> tuple[str, int, int]:
    """(encoding, length as counted, SMS segments): GSM 7-bit when every character is in its
    alphabet (160 a message, 153 a part), else UCS-2 (70, 67)."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        length = sum(2 if c in GSM_EXTENDED else 1 for c in text)
        return "GSM 7 bits", length, 1 if length <= 160 else math.ceil(length / 153)
    length = len(text.encode("utf-16-le")) // 2
    return "UCS-2", length, 1 if length <= 70 else math.ceil(length / 67)
