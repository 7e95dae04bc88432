"""The import of the national RPPS extract into the directory (app.directory.rpps, .imports,
.views): through `parcours directory import-rpps` and the platform admins' upload page.

The sample is in the real format (2,362 activity rows of 2,000 persons); variants of it are
written into tmp_path. A file that cannot be read must change nothing; a readable one is
applied person by person: created, updated, unchanged, deactivated (never deleted), with its
unreadable lines rejected and listed by number.
"""

import io
import time
from pathlib import Path

import pytest
from helpers import html, snapshot
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.audit import AuditEvent
from app.cli import cli
from app.directory.imports import DirectoryImport
from app.directory.models import Professional

SAMPLE = Path("/work/shared/data/PS_LibreAcces_Personne_activite_sample.txt")
MARTINEZ = "10373878287"  # 3 rows, file lines 2-4
ALONE = ("10633106007", "10137931054", "10428980133")  # one row each, file lines 10-12
GONE, NEW = "10760994185", "10999999999"


def sample_lines():
    return SAMPLE.read_text("utf-8").splitlines(keepends=True)


def write(tmp_path, content, name="extrait.txt"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else "".join(content).encode())
    return path


def field(line, index, value):
    """`line` with its column `index` (0-based) set to `value`."""
    values = line.split("|")
    values[index] = value
    return "|".join(values)


def import_rpps(runner, path, ok=True):
    result = runner.invoke(cli, ["directory", "import-rpps", str(path)])
    assert result.exit_code == (0 if ok else 1), result.output
    return result.output, DirectoryImport.objects.order_by("-id").first()


# --- the command line --------------------------------------------------------------------------


def test_cli_imports_the_sample_merging_each_persons_sites(runner):
    output, record = import_rpps(runner, SAMPLE)

    assert (
        "2362 lines, 2000 professionals: 2000 created, 0 updated, 0 unchanged, 0 deactivated, "
        "0 rejected" in output
    )
    assert record.status == "done"
    assert record.report["rejected"] == []
    assert Professional.objects(source="rpps", active=True).count() == 2000
    noel = Professional.objects.get(rpps=MARTINEZ)
    assert (noel.last_name, noel.first_name, noel.civility) == ("MARTINEZ", "Noël", "Docteur")
    assert (noel.id_type, noel.profession_label) == ("rpps", "Médecin")
    assert noel.specialty == "Cardiologie et maladies vasculaires"
    sites = {s.key: (s.name, s.postcode, s.commune, s.department, s.phone) for s in noel.sites}
    assert sites == {
        "S00513214": ("CENTRE HOSPITALIER", "34500", "Béziers", "34", "0540703945"),
        "S09275444": ("CABINET DU DR MARTINEZ", "34200", "Sète", "34", "0568772277"),
        "S01677726": ("CHU", "66000", "Perpignan", "66", ""),
    }
    hospital = next(s for s in noel.sites if s.key == "S00513214")
    assert (hospital.address, hospital.department_name) == ("3 Rue DES LILAS", "Hérault")
    assert (hospital.mode, hospital.finess) == ("Salarié", "340432849")
    # ADELI rows (type 0, 9 digits): 44 persons in the sample
    assert Professional.objects(id_type="adeli").count() == 44
    kine = Professional.objects.get(rpps="229806218")
    assert (kine.last_name, kine.first_name, kine.id_type) == ("LEFÈBVRE", "Camille", "adeli")
    assert kine.profession_label == "Masseur-kinésithérapeute"


def test_importing_the_same_file_again_changes_nothing(runner):
    import_rpps(runner, SAMPLE)
    before = snapshot(("professionals",))

    output, record = import_rpps(runner, SAMPLE)

    assert "0 created, 0 updated, 2000 unchanged, 0 deactivated, 0 rejected" in output
    assert record.report["unchanged"] == 2000
    assert snapshot(("professionals",)) == before


def renamed(lines):
    return [field(line, 7, "MARTINEZ-DURAND") if f"|{MARTINEZ}|" in line else line
            for line in lines]  # fmt: skip


def newer_file(tmp_path):
    """The sample without GONE, with MARTINEZ renamed, with NEW added, columns reversed."""
    lines = renamed([line for line in sample_lines() if f"|{GONE}|" not in line])
    added = field(field(field(lines[10], 1, NEW), 2, "8" + NEW), 7, "NOUVEAU")
    lines.append(added)
    # every column in the reverse order (the trailing empty one stays last)
    lines = ["|".join(line.rstrip("\n").split("|")[-2::-1]) + "|\n" for line in lines]
    return write(tmp_path, lines, "newer.txt")


def test_a_newer_file_read_by_column_names_updates_and_deactivates(runner, tmp_path):
    import_rpps(runner, SAMPLE)
    before = {doc["rpps"]: doc for doc in snapshot(("professionals",))["professionals"]}

    output, record = import_rpps(runner, newer_file(tmp_path))

    assert (
        "2362 lines, 2000 professionals: 1 created, 1 updated, 1998 unchanged, 1 deactivated, "
        "0 rejected" in output
    )
    after = {doc["rpps"]: doc for doc in snapshot(("professionals",))["professionals"]}
    assert len(after) == 2001  # the one who left is kept, inactive
    assert after[GONE]["active"] is False
    assert after[GONE]["last_name"] == "LEFÈBVRE"
    assert after[MARTINEZ]["last_name"] == "MARTINEZ-DURAND"
    assert len(after[MARTINEZ]["sites"]) == 3
    assert after[NEW]["last_name"] == "NOUVEAU"
    assert after[NEW]["active"] is True
    others = set(before) - {GONE, MARTINEZ}
    assert all(after[key] == before[key] for key in others)

    output, record = import_rpps(runner, SAMPLE)  # the older file again

    assert (record.report["updated"], record.report["deactivated"]) == (2, 1)
    assert Professional.objects.get(rpps=GONE).active is True
    assert Professional.objects.get(rpps=MARTINEZ).last_name == "MARTINEZ"
    assert Professional.objects.get(rpps=NEW).active is False


# --- files that cannot be imported: nothing changes --------------------------------------------


def without_commune(lines):
    return ["|".join(v for i, v in enumerate(line.split("|")) if i != 37) for line in lines]


def latin1_late(lines):
    """UTF-8 but for one line after the first batches: found before anything is written."""
    return b"".join(
        line.encode("latin-1" if n == 2300 else "utf-8") for n, line in enumerate(lines, 1)
    )


BAD_FILES = {
    "missing column": (
        without_commune,
        ["Colonnes absentes de l'en-tête", "Libellé commune (coord. structure)"],
    ),
    "semicolons": (
        lambda lines: [line.replace("|", ";") for line in lines],
        ["n'est pas séparée par des « | »", "PS_LibreAcces_Personne_activite"],
    ),
    "truncated": (
        lambda lines: lines[:-1] + [lines[-1][:100]],
        ["La dernière ligne (2363) est tronquée", "incomplet"],
    ),
    "latin-1": (
        lambda lines: "".join(lines).encode("latin-1"),
        ["Ligne 1 : le fichier n'est pas encodé en UTF-8"],
    ),
    "latin-1 line": (latin1_late, ["Ligne 2300 : le fichier n'est pas encodé en UTF-8"]),
    "empty": (lambda lines: b"", ["Le fichier est vide."]),
    "whitespace": (lambda lines: b"  \n\t\n \r\n", ["Le fichier est vide."]),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_file_that_cannot_be_read_changes_nothing(runner, tmp_path, kind):
    alter, words = BAD_FILES[kind]
    import_rpps(runner, SAMPLE)
    before = snapshot(("professionals",))

    # MARTINEZ renamed on line 2: an import writing before the whole file is read would show
    bad_file = write(tmp_path, alter(renamed(sample_lines())))
    output, record = import_rpps(runner, bad_file, ok=False)

    assert record.status == "failed"
    assert record.report == {}
    for word in words:
        assert word in record.error
        assert word in output
    assert snapshot(("professionals",)) == before
    event = AuditEvent.objects.get(action="directory.import", object_id=str(record.id))
    assert event.details == {"status": "failed", "error": record.error}


# --- rejected lines: the import goes on --------------------------------------------------------


def with_bad_lines(tmp_path):
    lines = sample_lines()
    missing, unknown = lines[9], lines[11]
    lines[9] = "|".join(missing.split("|")[:5] + missing.split("|")[6:])  # one column less
    lines[11] = field(unknown, 0, "3")
    lines.insert(2, lines[1])  # MARTINEZ's first row twice: file lines 2 and 3
    lines.append(field(lines[20], 1, "1234567890"))  # 10 digits: line 2365
    return write(tmp_path, lines, "rejects.txt")


def test_rejected_lines_are_listed_and_their_persons_kept(runner, tmp_path):
    import_rpps(runner, SAMPLE)
    path = with_bad_lines(tmp_path)

    for _ in range(2):  # a later import rejecting the same lines deactivates nobody either
        output, record = import_rpps(runner, path)

        assert (
            "2364 lines, 1998 professionals: 0 created, 0 updated, 1998 unchanged, "
            "0 deactivated, 4 rejected" in output
        )
        assert sorted(record.report["rejected"]) == [
            [3, "doublon de la ligne 2 (même personne, même site)"],
            [11, "55 colonnes au lieu de 56"],
            [13, "type d'identifiant inconnu « 3 »"],
            [2365, "identifiant « 1234567890 » invalide (11 chiffres attendus)"],
        ]
        assert "  line 3: doublon de la ligne 2 (même personne, même site)" in output
        assert Professional.objects(rpps__in=[ALONE[0], ALONE[2]], active=True).count() == 2
    assert len(Professional.objects.get(rpps=MARTINEZ).sites) == 3


# --- the admin page ----------------------------------------------------------------------------


def upload(browser, content, name="PS_LibreAcces_Personne_activite_sample.txt"):
    """POST the file as a browser does; the body is encoded here, in memory (the test client
    would spool it to a temporary file that it never closes)."""
    fields = {"csrf_token": browser.csrf(), "file": FileStorage(io.BytesIO(content), name)}
    boundary, body = encode_multipart(fields)
    return browser.client.post(
        "/annuaire/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def finished(record_id, folder, timeout=20):
    """The import once its thread is over (its file removed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = DirectoryImport.objects.get(id=record_id)
        if record.status != "running" and not any(folder.glob("*")):
            return record
        time.sleep(0.1)
    pytest.fail(f"the import did not finish in {timeout} s: {record.status}, {record.done}")


def test_an_admin_uploads_the_extract_and_follows_its_progress(app, login_as, platform_admin):
    browser = login_as(platform_admin)
    folder = Path(app.config["PARCOURS_DATA_DIR"]) / "imports"
    assert "Importer l'extrait RPPS" in html(browser.get("/annuaire/import"))

    response = upload(browser, SAMPLE.read_bytes())

    assert response.status_code == 302
    record_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.headers["Location"] == f"/annuaire/import/{record_id}"
    record = finished(record_id, folder)
    assert record.status == "done", record.error
    assert record.filename == "PS_LibreAcces_Personne_activite_sample.txt"
    assert (record.done, record.total, record.report["created"]) == (2000, 2000, 2000)
    page = html(browser.get(f"/annuaire/import/{record_id}"))
    assert "Import terminé." in page
    assert '<dt class="col-7 col-md-3">Créés</dt><dd class="col-5 col-md-9">2000</dd>' in page
    assert Professional.objects.count() == 2000
    assert "PS_LibreAcces_Personne_activite_sample.txt" in html(browser.get("/annuaire/import"))
    event = AuditEvent.objects.get(action="directory.import", object_id=record_id)
    assert event.actor == str(platform_admin.id)
    assert (event.details["status"], event.details["created"]) == ("done", 2000)

    response = upload(browser, "Nom;Prénom\nDUPONT;Jean\n".encode())  # a refused file

    record = finished(response.headers["Location"].rsplit("/", 1)[1], folder)
    page = html(browser.get(f"/annuaire/import/{record.id}"))
    assert record.status == "failed"
    assert "Import refusé : rien n'a été modifié." in page
    assert "n&#39;est pas séparée par des « | »" in page
    assert list(folder.iterdir()) == []
    assert Professional.objects.count() == 2000


def test_the_progress_fragment_while_an_import_runs(login_as, platform_admin):
    running = DirectoryImport(filename="extrait.txt", done=500, total=2000).save()
    browser = login_as(platform_admin)

    fragment = html(browser.get(f"/annuaire/import/{running.id}", headers={"HX-Request": "true"}))

    assert fragment.strip().startswith('<div id="progression"')
    assert "<html" not in fragment
    assert f'hx-get="/annuaire/import/{running.id}" hx-trigger="every 1s"' in fragment
    assert 'aria-valuenow="25"' in fragment
    assert "progress-25" in fragment
    assert "25 %" in fragment
    assert "500 professionnels traités sur 2000" in fragment
    page = html(browser.get(f"/annuaire/import/{running.id}"))
    assert "<html" in page
    assert 'aria-valuenow="25"' in page


def test_posting_without_a_file_is_refused(login_as, platform_admin):
    response = login_as(platform_admin).post("/annuaire/import", {})

    assert response.status_code == 400
    assert "Choisissez un fichier." in html(response)
    assert DirectoryImport.objects.count() == 0


@pytest.mark.parametrize("who", ["coordinator", "structure_admin", "professional"])
def test_only_platform_admins_may_import(app, request, login_as, who):
    record = DirectoryImport(filename="extrait.txt", status="done").save()
    browser = login_as(request.getfixturevalue(who))

    responses = [
        browser.get("/annuaire/import"),
        upload(browser, SAMPLE.read_bytes()),
        browser.get(f"/annuaire/import/{record.id}"),
        browser.get(f"/annuaire/import/{record.id}", headers={"HX-Request": "true"}),
    ]

    for response in responses:
        assert response.status_code == 403
        assert "Vous n&#39;avez pas le droit de faire cette action." in html(response)
    assert DirectoryImport.objects.count() == 1
    assert Professional.objects.count() == 0
    assert not (Path(app.config["PARCOURS_DATA_DIR"]) / "imports").exists()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/annuaire/import")

    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]
