"""factory_boy factories for every model. Defaults make a coherent BT-DOM contract in Akpakpa."""

import datetime as dt

import factory
from django.contrib.auth.models import Group

from billing.enums import EntryKind, InvoiceKind, InvoiceState, TariffItemKind
from billing.models import AccountEntry, Invoice, TariffCategory, TariffItem
from contracts.enums import CustomerKind, IdDocumentType, Voltage, Zone
from contracts.models import Agency, Contract, Customer, DeliveryPoint, Deposit, Meter, User


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ["code"]

    code = "AKP"
    name = "Cotonou Akpakpa"
    zone = Zone.SUD


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n}")
    first_name = "Sènami"
    last_name = "ADJOVI"
    agency = factory.SubFactory(AgencyFactory)
    password = factory.django.Password("mot-de-passe-solide-42")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            # get_or_create: transactional tests flush the groups the migration made
            self.groups.set([Group.objects.get_or_create(name=role)[0] for role in extracted])


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    kind = CustomerKind.PERSON
    name = factory.Sequence(lambda n: f"HOUNKPATIN Codjo {n}")
    id_document_type = IdDocumentType.CNI
    id_document_number = factory.Sequence(lambda n: f"{1200000000 + n}")
    phone = factory.Sequence(lambda n: f"+2290197{n:06d}")
    address = "Quartier Sègbèya, carré 1245, Cotonou"


class TariffCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffCategory
        django_get_or_create = ["code"]

    code = "BT-DOM"
    name = "Basse tension domestique"
    voltage = Voltage.BT


class TariffItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffItem

    category = factory.SubFactory(TariffCategoryFactory)
    code = factory.Sequence(lambda n: f"article-{n}")
    label = "Énergie"
    kind = TariffItemKind.ENERGY
    valid_from = dt.date(2025, 1, 1)
    value = 125
    from_kwh = 0
    vat_applies = True


class DeliveryPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryPoint

    reference = factory.Sequence(lambda n: f"PL-AKP-{n:06d}")
    address = "Quartier Sègbèya, carré 1245, Cotonou"
    agency = factory.SubFactory(AgencyFactory)
    voltage = Voltage.BT


class MeterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meter

    serial = factory.Sequence(lambda n: f"CE19{n:07d}")
    digits = 6


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"101{n:07d}")
    agency = factory.SubFactory(AgencyFactory)
    customer = factory.SubFactory(CustomerFactory)
    delivery_point = factory.SubFactory(
        DeliveryPointFactory, agency=factory.SelfAttribute("..agency")
    )
    meter = factory.SubFactory(MeterFactory)
    tariff_category = factory.SubFactory(TariffCategoryFactory)
    subscribed_power_kva = 6
    start_date = dt.date(2015, 3, 1)
    last_billed_index = 12000
    last_billed_date = dt.date(2026, 10, 31)
    deposit = factory.RelatedFactory(
        "tests.factories.DepositFactory", factory_related_name="contract"
    )


class DepositFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deposit

    contract = factory.SubFactory(ContractFactory, deposit=None)
    amount = 30000
    paid_on = dt.date(2015, 3, 1)
    payer_name = factory.SelfAttribute("contract.customer.name")
    payer_id_document_type = factory.SelfAttribute("contract.customer.id_document_type")
    payer_id_document_number = factory.SelfAttribute("contract.customer.id_document_number")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    contract = factory.SubFactory(ContractFactory)
    kind = InvoiceKind.CONSUMPTION
    state = InvoiceState.VALIDATED
    number = factory.Sequence(lambda n: f"CONSO-2610-{n:07d}")
    issued_on = dt.date(2026, 11, 5)
    period_start = dt.date(2026, 9, 1)
    period_end = dt.date(2026, 10, 31)
    total = 12000


class AccountEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountEntry

    contract = factory.SubFactory(ContractFactory)
    kind = EntryKind.ADVANCE
    posted_on = dt.date(2026, 11, 10)
    label = "Avance en compte"
    credit = 5000


def totp_code(key: bytes, *, after: int = -1) -> str:
    """What an authenticator application shows now for this key (or at the next step, when
    step `after` or a later one was already used: django-otp refuses a code twice and accepts
    one step of drift)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(key, step=30, t0=0, digits=6)
    if totp.t() <= after:
        totp.time = time.time() + 30 * (after + 1 - totp.t())
    return f"{totp.token():06d}"
