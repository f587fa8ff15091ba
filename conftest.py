"""Root conftest: runs before Django settings load, so the suite never touches `var/`,
never reaches the network and never looks for a model hub."""

import os
import tempfile

os.environ.setdefault("ARANDU_DATA_DIR", tempfile.mkdtemp(prefix="arandu-test-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from tests.network import block_outbound_network  # noqa: E402

block_outbound_network()
