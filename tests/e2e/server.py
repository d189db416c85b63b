"""Run the service for the browser tests: ``python -m tests.e2e.server DATABASE_URL DATA_DIR PORT``.

The store must already be migrated, filled and given its accounts (see conftest.py); travel is
the crow-fly estimate so that the run needs no transit network.
"""

from __future__ import annotations

import sys

import uvicorn

from api.app import create_app
from api.settings import Settings
from tests.api_support import CHEAP_ARGON2


def main() -> None:
    url, data_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = Settings(database_url=url, travel="crowfly", sweep_seconds=0, data_dir=data_dir,
                        scenario_dir=f"{data_dir}/scenarios", **CHEAP_ARGON2)  # not the checkout's var/
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
