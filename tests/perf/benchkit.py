"""What the benchmarks share: an embedded server of their own in a temporary folder, that
they can restart (SecantusDB slows down with its process's writes: README, "Queries")."""

import contextlib
import tempfile
import time
from pathlib import Path

from pymongo.errors import PyMongoError

from app.db import database
from app.embedded import EmbeddedServer

# Keep the whole oplog: its pruning walks it while the benchmark writes millions of documents.
NO_PRUNING = ("--oplog-max-entries", "100000000", "--oplog-retention-seconds", "864000")
# For millions of documents: that, and an 8 GB cache (with the default 1 GB, the writer ends up
# evicting pages inside the oplog's walk and the seeding stalls).
LARGE = (*NO_PRUNING, "--cache-size", "8G")


@contextlib.contextmanager
def bench_server(options=(), prefix="bench_"):
    """(server, restart) for the `with` block: `restart()` restarts the server and waits
    until the client (which reconnects by itself) answers again. Stopped at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        server = EmbeddedServer.start(Path(folder) / "db", Path(folder) / "log", options=options)

        def restart():
            server.restart(timeout=120)
            for _ in range(50):
                try:
                    database().command("ping")
                    return
                except PyMongoError:
                    time.sleep(0.2)

        try:
            yield server, restart
        finally:
            server.stop()
