"""Uploaded files: the type comes from the content, never from the name or the browser.

Accepted: PDF, photos (JPEG, PNG, HEIC/HEIF, WebP) and office documents (OpenXML, OpenDocument,
legacy MS Office). Office files are zip archives: their declared sizes are checked before
anything reads them, so that a zip bomb is refused, not unpacked. Files live in GridFS.
"""

import hashlib
import io
import re
import unicodedata
import zipfile

import filetype
import gridfs
from flask import send_file

from app.db import database
from app.uploads import MAX_FILE
from app.validation import InvalidInput

MAX_BYTES = MAX_FILE
MAX_UNPACKED = 200 * 1024 * 1024
MAX_RATIO = 100  # unpacked / packed size beyond which an archive is a bomb
MAX_MEMBERS = 5000

# Detected type -> extension the download is named with.
ACCEPTED = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "image/webp": "webp",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
ZIPPED = {
    mime for mime, ext in ACCEPTED.items() if ext in {"docx", "xlsx", "pptx", "odt", "ods", "odp"}
}
# Shown in the browser from our own pages (thumbnails); everything else is an attachment.
INLINE_IMAGES = {"image/jpeg", "image/png", "image/webp"}

REFUSED_TYPE = (
    "Ce type de fichier n'est pas accepté : déposez un PDF, une photo (JPEG, PNG, HEIC, WebP) "
    "ou un document bureautique (Word, Excel, PowerPoint, LibreOffice)."
)
TOO_BIG = "Le fichier dépasse la taille maximale de 20 Mio."
EMPTY = "Le fichier est vide."
BOMB = "Ce document compressé se décompresse en une taille anormale : il est refusé."
BROKEN = "Ce document bureautique est endommagé ou illisible."


class Upload:
    """A checked file, ready to be stored: content, detected type, safe name, digest."""

    def __init__(self, content, content_type, filename):
        self.content = content
        self.content_type = content_type
        self.filename = filename
        self.size = len(content)
        self.sha256 = hashlib.sha256(content).hexdigest()


def _problem(message, pointer):
    return InvalidInput({pointer: message}, message)


def safe_filename(name, extension):
    """The last path component, without control or reserved characters, with the extension
    of the detected type: "../../etc/passwd.pdf" -> "passwd.pdf", "rapport" -> "rapport.pdf"."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r'[\x00-\x1f\x7f<>:"|?*]', "", name).strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[:120] or "document"
    return f"{stem}.{extension}"


def _check_archive(content):
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _problem(BROKEN, "/file") from None
    unpacked = sum(member.file_size for member in members)
    if len(members) > MAX_MEMBERS or unpacked > MAX_UNPACKED or unpacked > MAX_RATIO * len(content):
        raise _problem(BOMB, "/file")


def inspect(content, filename, pointer="/file"):
    """An Upload for `content`, or InvalidInput with a French message at `pointer`."""
    if len(content) > MAX_BYTES:
        raise _problem(TOO_BIG, pointer)
    if not content:
        raise _problem(EMPTY, pointer)
    kind = filetype.guess(content[:8192])
    mime = kind.mime if kind else None
    if mime == "image/heif":
        mime = "image/heic"
    if mime not in ACCEPTED:
        raise _problem(REFUSED_TYPE, pointer)
    if mime in ZIPPED:
        _check_archive(content)
    return Upload(content, mime, safe_filename(filename, ACCEPTED[mime]))


def _bucket():
    return gridfs.GridFS(database(), collection="documents")


def store(upload, metadata):
    return _bucket().put(
        upload.content,
        filename=upload.filename,
        content_type=upload.content_type,
        metadata=metadata,
    )


def open_file(file_id):
    return _bucket().get(file_id)


def serves_files(view):
    """Mark a view that answers with a stored file: its Content-Security-Policy (set by
    Talisman, which reads this attribute) sandboxes it, so nothing in a file ever runs."""
    view.talisman_view_options = {"content_security_policy": "sandbox; default-src 'none'"}
    return view


def send(entry, stored, inline=False):
    """The file with its detected type, as an attachment unless a raster image shown by our
    own pages (see serves_files for the CSP)."""
    response = send_file(
        stored,
        mimetype=entry.content_type,
        as_attachment=not (inline and entry.content_type in INLINE_IMAGES),
        download_name=entry.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
