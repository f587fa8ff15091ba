"""Root conftest: the suite never reaches the network and never looks for a model hub.

It runs after pytest-django has loaded the settings (tests/settings.py, which keeps the
data directory out of the checkout); it only checks that they came from there.
"""

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from tests.network import block_outbound_network  # noqa: E402

block_outbound_network()


def _data_dir_outside_the_checkout() -> None:
    from django.conf import settings

    checkout = Path(__file__).resolve().parent
    if Path(settings.ARANDU_DATA_DIR).resolve().is_relative_to(checkout):
        raise pytest.UsageError(
            f"The tests would keep their state in {settings.ARANDU_DATA_DIR}, inside the "
            "checkout: run them with the settings from pyproject.toml (tests.settings), "
            "not DJANGO_SETTINGS_MODULE=adminsite.settings, and without an ARANDU_DATA_DIR "
            "pointing into the checkout."
        )


_data_dir_outside_the_checkout()
