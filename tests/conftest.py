from __future__ import annotations

import pytest

from tests.demo_server import DemoServer, start_demo_server


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory) -> DemoServer:
    server = start_demo_server(tmp_path_factory.mktemp("demo"))
    yield server
    server.process.terminate()
    server.process.wait(timeout=20)
