"""Exports of a dossier or an entry in the formats the plugins bring (PDF, JSON, FHIR…): what
the caller may see is gathered here, once, and the plugin only formats it."""
