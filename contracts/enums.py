from django.db import models


class Role(models.TextChoices):
    """The roles of the procedure; each is a Django group of the same name."""

    RECEPTION = "reception", "Agent d'accueil d'abonnement"
    READER = "reader", "Agent de relève / de recouvrement"
    SUPERVISOR = "supervisor", "Chef de section recouvrement"
    CASHIER = "cashier", "Caissier"
    ARPNT = "arpnt", "Agent de réduction des pertes non techniques (ARPNT)"
    ACFF = "acff", "Agent de contrôle de fiabilité des factures (ACFF)"
    AUDITOR = "auditor", "Auditeur DIG / DAI"
    MANAGER = "manager", "Chef d'agence"
    ADMIN = "admin", "Administrateur DCC"


# The roles that act in the procedure (the auditor and the chef d'agence read; the admin keeps the
# reference data).
OPERATIONAL_ROLES = [
    Role.RECEPTION,
    Role.READER,
    Role.SUPERVISOR,
    Role.CASHIER,
    Role.ARPNT,
    Role.ACFF,
]


class Zone(models.TextChoices):
    SUD = "sud", "Sud"
    NORD = "nord", "Nord"


class CustomerKind(models.TextChoices):
    PERSON = "person", "Personne physique"
    COMPANY = "company", "Personne morale"


class IdDocumentType(models.TextChoices):
    CNI = "cni", "Carte nationale d'identité (CNI)"
    CIP = "cip", "Certificat d'identification personnelle (CIP)"
    PASSPORT = "passport", "Passeport"
    CONSULAR_CARD = "consular_card", "Carte consulaire"
    RCCM = "rccm", "Registre du commerce (RCCM)"


PERSON_ID_TYPES = [
    IdDocumentType.CNI,
    IdDocumentType.CIP,
    IdDocumentType.PASSPORT,
    IdDocumentType.CONSULAR_CARD,
]


class Voltage(models.TextChoices):
    BT = "bt", "Basse tension (BT)"
    MT = "mt", "Moyenne tension (MT)"


class DeliveryPointStatus(models.TextChoices):
    ACTIVE = "active", "En service"
    FREE = "free", "Libre"


class MeterStatus(models.TextChoices):
    INSTALLED = "installed", "Posé"
    REMOVED = "removed", "Déposé"
    LEFT_IN_PLACE = "left_in_place", "Laissé en place (coupure au branchement)"


class ContractStatus(models.TextChoices):
    ACTIVE = "active", "Actif"
    # From the validation of the balance invoice until the codification: no longer billed, no
    # advance taken (the balance invoice is what to pay).
    ENDING = "ending", "En résiliation"
    TERMINATED = "terminated", "Résilié"


NOT_TERMINATED = [ContractStatus.ACTIVE, ContractStatus.ENDING]


class DepositStatus(models.TextChoices):
    HELD = "held", "Détenu"
    APPLIED = "applied", "Imputé sur la facture de solde"
    REFUNDED = "refunded", "Remboursé"


class RequestState(models.TextChoices):
    RECEIVED = "received", "Demande reçue"
    TAKEOVER_INVOICED = "takeover_invoiced", "Reprise facturée, en attente de caisse"
    ORDER_ISSUED = "order_issued", "Ordre d'intervention émis"
    FIELD_REPORTED = "field_reported", "Compte-rendu saisi, à signer"
    REPORT_APPROVED = "report_approved", "Compte-rendu approuvé"
    INVOICED = "invoiced", "Facture de solde validée"
    SETTLED = "settled", "Solde réglé ou transféré"
    REMOVAL_ORDERED = "removal_ordered", "Ordre de dépose émis"
    METER_REMOVED = "meter_removed", "Dépose effectuée"
    REMOVAL_IMPOSSIBLE = "removal_impossible", "Dépose impossible (coupure au branchement)"
    CLOSED = "closed", "Clôturée"
    CANCELLED = "cancelled", "Annulée"


OPEN_REQUEST_STATES = [
    s for s in RequestState.values if s not in (RequestState.CLOSED, RequestState.CANCELLED)
]


class DelayKind(models.TextChoices):
    """The délais of the procedure (docs/procedure.md §6), in calendar days from the moment the
    request entered its state (a removal order: from its execution date); effective-dated data."""

    ORDER_REPORT = "order_report", "Ordre émis → compte-rendu d'intervention"
    REPORT_SIGNATURE = "report_signature", "Compte-rendu → signature du chef de section"
    INVOICING = "invoicing", "Compte-rendu signé → facture de solde"
    SETTLEMENT = "settlement", "Facture de solde → règlement (puis transfert au recouvrement)"
    REFUND_CLAIM = "refund_claim", "Remboursement en attente → crédit laissé au compte"
    REMOVAL_REPORT = "removal_report", "Ordre de dépose (date d'exécution) → compte-rendu de dépose"
    REMOVAL_SIGNATURE = "removal_signature", "Compte-rendu de dépose → signature"
    CODIFICATION = "codification", "Signature → codification par l'ACFF"


DEFAULT_DELAYS = {
    DelayKind.ORDER_REPORT: 3,
    DelayKind.REPORT_SIGNATURE: 1,
    DelayKind.INVOICING: 1,
    DelayKind.SETTLEMENT: 30,
    DelayKind.REFUND_CLAIM: 90,
    DelayKind.REMOVAL_REPORT: 5,
    DelayKind.REMOVAL_SIGNATURE: 1,
    DelayKind.CODIFICATION: 2,
}


class TerminationKind(models.TextChoices):
    WITHOUT_TAKEOVER = "without_takeover", "Sans reprise"
    WITH_TAKEOVER = "with_takeover", "Avec reprise (successeur)"


class Timing(models.TextChoices):
    CLASSIC = "classic", "Classique (coupure immédiate)"
    ANTICIPATED = "anticipated", "Anticipée (coupure à une date ultérieure)"


class RequesterQuality(models.TextChoices):
    HOLDER = "holder", "Titulaire du contrat"
    PROXY = "proxy", "Mandataire"


class SecurityEventKind(models.TextChoices):
    """What the auditors read about accounts (DESIGN §11)."""

    LOGIN = "login", "Connexion"
    LOGIN_FAILED = "login_failed", "Échec de connexion"
    LOCKED_OUT = "locked_out", "Connexions bloquées (trop d'échecs)"
    LOGOUT = "logout", "Déconnexion"
    SECOND_FACTOR = "second_factor", "Second facteur vérifié"
    SECOND_FACTOR_FAILED = "second_factor_failed", "Échec du second facteur"
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled", "Second facteur enregistré"
    ENROLMENT_CODE_REQUESTED = "enrolment_code_requested", "Code d'enrôlement demandé"
    ENROLMENT_CODE_ISSUED = "enrolment_code_issued", "Code d'enrôlement émis"
    ROLE_GRANTED = "role_granted", "Rôle accordé"
    ROLE_REVOKED = "role_revoked", "Rôle retiré"
    ACCOUNT_CREATED = "account_created", "Compte créé"
    ACCOUNT_CHANGED = "account_changed", "Compte modifié"
    PASSWORD_CHANGED = "password_changed", "Mot de passe changé"
    PASSWORD_RESET_REQUESTED = "password_reset_requested", "Réinitialisation demandée"
    PASSWORD_RESET_APPROVED = "password_reset_approved", "Réinitialisation approuvée"
    DOCUMENT_TAMPERED = "document_tampered", "Document altéré refusé"
    EXPORT = "export", "Export de données"
    DUTIES_REFUSED = "duties_refused", "Séparation des tâches : action refusée"
    IMPORT = "import", "Import du système de facturation"
