"""Shared pieces of the dossier tests: a valid identity, a dossier made through the service,
small valid files of each accepted type."""

import io
import zipfile

from app.dossiers import services

# A valid INS matricule (NIR with its key) for tests.
VALID_INS = "185057800608491"

IDENTITY = {
    "birth_name": "Lefèbvre",
    "used_name": "Martin",
    "first_names": "Jeanne Marie",
    "birth_date": "1941-03-12",
    "sex": "F",
    "birth_place_code": "31555",
}

# Files whose content says what they are.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def docx(payload=b"<w:document/>", name="word/document.xml"):
    """A minimal OpenXML word document (a zip whose first member says so)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(name, payload)
    return buffer.getvalue()


def zip_bomb():
    """A 'Word document' that unpacks to 300 MiB of zeros from about 300 KiB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(300):
                member.write(chunk)
    return buffer.getvalue()


def new_dossier(actor, structure, identity=None, **details):
    data = {
        "identity": {**IDENTITY, **(identity or {})},
        **details,
        "consent": {"mode": "oral", "date": "2026-01-05"},
        "structure": structure.key,
        "confirm_new": True,
    }
    return services.create_dossier(actor, data)
