"""Requests that carry files get a larger size limit than the rest (MAX_CONTENT_LENGTH).

A view opts in with @accepts_uploads. The limit is raised before any other hook reads the
body (the CSRF check parses forms first), so this hook is registered before the others.
"""

from flask import current_app, request

from app.validation import InvalidInput

# The largest file, plus room for the other fields of the form and the multipart framing.
MAX_FILE = 20 * 1024 * 1024
MAX_UPLOAD_REQUEST = MAX_FILE + 1024 * 1024


def accepts_uploads(view):
    view.accepts_uploads = True
    return view


def accepts_large_uploads(limit):
    """Like accepts_uploads, for a view that streams a file of up to `limit` bytes to disk
    (the RPPS extract)."""

    def mark(view):
        view.accepts_uploads = True
        view.upload_limit = limit
        return view

    return mark


def raise_limit():
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "accepts_uploads", False):
        request.max_content_length = getattr(view, "upload_limit", MAX_UPLOAD_REQUEST)


def uploaded_file(name="file", pointer="/file", required=True):
    """(content, filename) of the posted file `name`; None if absent and not required.

    Reads one byte more than the largest file allowed: enough to know it is too big."""
    storage = request.files.get(name)
    if storage is None or not storage.filename:
        if required:
            raise InvalidInput({pointer: "Choisissez un fichier."}, "Choisissez un fichier.")
        return None
    return storage.stream.read(MAX_FILE + 1), storage.filename


def init_app(app):
    app.before_request(raise_limit)
