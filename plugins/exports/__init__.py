"""Exports of a dossier or an entry as a PDF to read and file, as JSON, or as a FHIR Bundle.

What goes in is gathered by app/exports/services.py with the caller's habilitations: this
plugin only formats it. Turn it on with PLUGINS=exports."""

from plugins.exports import fhir_export, json_export, pdf_export


class Plugin:
    def init(self, app, registry):
        registry.exporter("pdf", "PDF", "application/pdf", "pdf", pdf_export.build)
        registry.exporter("json", "JSON", "application/json", "json", json_export.build)
        registry.exporter("fhir", "FHIR", "application/fhir+json", "json", fhir_export.build)
