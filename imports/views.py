"""The admin's import page: upload the extraction files; a task worker runs the dry run, whose
page shows the progress, then the report; then the writing, the same way."""

import re
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from handoff.models import ImportRun
from imports.importer import FILE_KINDS, ImportReport
from imports.tasks import import_run

SAMPLES = Path(settings.BASE_DIR) / "fixtures" / "import"
SESSION_KEY = "import_uploads"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if not files:
            raise forms.ValidationError("Choisissez au moins un fichier.", code="required")
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class UploadForm(forms.Form):
    files = MultipleFileField(
        label="Fichiers de l'extraction",
        help_text="CSV (UTF-8, séparateur point-virgule) ou XLSX ; plusieurs à la fois.",
    )

    def clean_files(self):
        files = self.cleaned_data["files"]
        names = set()
        for f in files:
            if not f.name.lower().endswith((".csv", ".xlsx")):
                raise forms.ValidationError(f"{f.name} : seuls les fichiers CSV ou XLSX sont lus.")
            if f.name in names:
                raise forms.ValidationError(f"{f.name} : choisi deux fois.")
            names.add(f.name)
        limit = settings.IMPORT_UPLOAD_MAX_MB
        if sum(f.size for f in files) > limit * 1_000_000:
            raise forms.ValidationError(
                f"Plus de {limit} Mo : importez ces fichiers avec la commande "
                "manage.py import_contracts (docs/import.md)."
            )
        return files


def _safe_name(name: str) -> str:
    name = Path(name).name
    return re.sub(r"[^\w.\- ]", "_", name)[:120] or "fichier.csv"


def _store(files) -> str:
    token = uuid.uuid4().hex
    folder = Path(settings.IMPORT_DIR) / token
    folder.mkdir(parents=True)
    for f in files:
        with (folder / _safe_name(f.name)).open("wb") as out:
            for chunk in f.chunks():
                out.write(chunk)
    return token


@require_http_methods(["GET", "POST"])
def import_contracts(request):
    """Upload the files: a dry run is queued for a task worker, and its page shows it."""
    context = {
        **admin.site.each_context(request),
        "title": "Importer les contrats du système de facturation",
        "kinds": FILE_KINDS,
        "samples": sorted(p.name for p in SAMPLES.glob("*.csv")),
        "limit": settings.IMPORT_UPLOAD_MAX_MB,
    }
    form = UploadForm()
    if request.method == "POST" and "token" in request.POST:
        token = request.POST["token"]
        if token not in request.session.get(SESSION_KEY, []) or not _tried(token):
            context["refused"] = "Ces fichiers ne sont plus disponibles : déposez-les à nouveau."
        else:
            return redirect("import_run", pk=_queue(request, token, commit=True).pk)
    elif request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            token = _store(form.cleaned_data["files"])
            request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, [])[-9:], token]
            return redirect("import_run", pk=_queue(request, token, commit=False).pk)
    context["form"] = form
    return render(request, "admin/import_contracts.html", context)


def _tried(token: str) -> bool:
    """The files' dry run ended without an error and with something to write."""
    tried = ImportRun.objects.filter(token=token, commit=False, status=ImportRun.Status.DONE)
    report = tried.order_by("-id").values_list("report", flat=True).first()
    return bool(report) and ImportReport.from_json(report).ok


@transaction.atomic
def _queue(request, token: str, *, commit: bool) -> ImportRun:
    run = ImportRun.objects.create(token=token, commit=commit, requested_by=request.user)
    transaction.on_commit(lambda: import_run.defer(run_id=run.pk))
    return run


@require_http_methods(["GET"])
def import_run_page(request, pk: int):
    """A run of the import: its progress while it runs, then its report (and, after a dry run
    without error, the button that writes)."""
    run = get_object_or_404(ImportRun, pk=pk)
    report = ImportReport.from_json(run.report) if run.report else None
    writable = (
        report is not None
        and not run.commit
        and report.ok
        and report.changes
        and run.token in request.session.get(SESSION_KEY, [])
    )
    context = {
        **admin.site.each_context(request),
        "title": "Import : " + ("écriture" if run.commit else "essai"),
        "run": run,
        "report": report,
        "committed": bool(report and report.committed),
        "token": run.token if writable else None,
    }
    return render(request, "admin/import_run.html", context)


def import_sample(request, name: str):
    """The sample files, for whoever wants to see what an extraction looks like."""
    path = SAMPLES / name
    if name not in {p.name for p in SAMPLES.glob("*.csv")}:
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)
