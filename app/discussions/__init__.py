"""Secure discussions: a thread per dossier for its circle of care, and conversations between
professionals (1:1 or group) outside any dossier. Messages are immutable once sent, traced in
the audit trail, and carry unread counts per participant."""
