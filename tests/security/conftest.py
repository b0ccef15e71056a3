"""One county-size delivery for the security tests (tests/support/county.py), published once.

The attack, the role, grant and audit tests all read the same published warehouse, in a
database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.county import Published, publish_county

from pipelines.warehouse import drop_database, ensure_database, with_database


@pytest.fixture(scope="session")
def published(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    admin = with_database(warehouse_url, "postgres")
    name = f"{warehouse_url.rsplit('/', 1)[1]}_security"
    drop_database(admin, name)
    ensure_database(admin, name)
    yield publish_county(with_database(warehouse_url, name), tmp_path_factory.mktemp("security_landing"))
    drop_database(admin, name)
