"""A peer's corpus: the BPMN files of SpiffWorkflow's own test suite, each deployed through the
API and, when accepted, started on a dossier: never a server error, never a hang.

The files are not ours to commit: the test reads them from SPIFF_BPMN_CORPUS (default
../shared/data/spiffworkflow-bpmn/ beside the repository), a folder with SpiffWorkflow's
licence (COPYING) and its `tests/SpiffWorkflow/{bpmn,camunda,spiff}/data/` as `bpmn/data/`,
`camunda/data/`, `spiff/data/` (README, "Tests"); it is skipped when there is none."""

import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
from dossier_helpers import new_dossier

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(
    os.environ.get("SPIFF_BPMN_CORPUS") or ROOT.parent / "shared" / "data" / "spiffworkflow-bpmn"
)
FOLDERS = ("bpmn", "camunda", "spiff")
SECONDS = 20  # a request that takes longer is a hang
pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"no SpiffWorkflow corpus in {CORPUS} (set SPIFF_BPMN_CORPUS)"
)


class Hang(Exception):
    pass


@contextmanager
def at_most(seconds):
    def expire(signum, frame):
        raise Hang(f"more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _send(call):
    """The response to a request, or what went wrong: "hang", or "500" with the error that
    the test client raised (it propagates a server error in tests)."""
    try:
        with at_most(SECONDS):
            return call(), None
    except Hang as error:
        return None, f"hang ({error})"
    except Exception as error:  # noqa: BLE001 - the test reports it as the 500 it would be
        return None, f"500 {type(error).__name__}: {error}"


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_file_deploys_or_is_refused_and_starts_without_a_server_error(
    api_as, platform_admin, coordinator, structure, folder
):
    if not (CORPUS / folder).is_dir():
        pytest.skip(f"no {folder}/ in the SpiffWorkflow corpus {CORPUS}")
    admin, coord = api_as(platform_admin), api_as(coordinator)
    dossier = new_dossier(coordinator, structure)
    counts, failures = {"files": 0, "deployed": 0, "started": 0}, []
    for path in sorted((CORPUS / folder).rglob("*.bpmn")):
        name, counts["files"] = path.relative_to(CORPUS), counts["files"] + 1
        response, error = _send(
            lambda path=path: admin.post(
                "/pathways", data=path.read_bytes(), content_type="application/xml"
            )
        )
        if error or response.status_code not in (200, 201, 422):
            failures.append(f"{name}: deploy {error or response.status_code}")
            continue
        if response.status_code == 422:
            continue
        counts["deployed"] += 1
        key = response.json["key"]
        response, error = _send(
            lambda key=key: coord.post(f"/dossiers/{dossier.id}/pathways", json={"pathway": key})
        )
        if error or response.status_code >= 500:
            failures.append(f"{name}: start {error or response.status_code}")
        counts["started"] += response is not None and response.status_code == 201
    print(f"SpiffWorkflow corpus, {folder}: {counts}")  # shown with -s, or -rP
    assert not failures, "\n".join([str(counts), *failures])
