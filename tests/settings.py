"""The test suite's settings: adminsite.settings with a data directory outside the checkout.

pytest-django imports the settings in `pytest_load_initial_conftests`, before pytest loads
any conftest.py, so a conftest cannot choose the data directory: adminsite.settings would
already have created `var/` and `var/secret_key` in the checkout. This module sets it (to
a fresh temporary directory, removed when the process that made it exits) and then reads
the settings as every other process does. Subprocesses inherit ARANDU_DATA_DIR, so their
state stays there too unless a test gives them another directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if not os.environ.get("ARANDU_DATA_DIR"):
    _data_dir = tempfile.mkdtemp(prefix="arandu-test-")
    os.environ["ARANDU_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)

from adminsite.settings import *  # noqa: E402, F403

# pytest-django gives each xdist worker its own test database by suffixing TEST NAME, but
# only leaves Django's in-memory default alone for the stock SQLite engine name; with the
# private-file SQLite backend it would invent a file name under a directory that does not
# exist. Say "in memory" explicitly, as the stock engine would have meant.
if DATABASES["default"]["ENGINE"] == "adminsite.private_sqlite":  # noqa: F405
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", ":memory:")  # noqa: F405
