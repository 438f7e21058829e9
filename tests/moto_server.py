"""moto's standalone server on loopback, for tests that talk to "AWS" over real HTTP.

Use it from any test module (``tests/`` is on ``sys.path``: pytest inserts the rootdir of
``tests/conftest.py``, as ``from test_training_synthetic import ...`` elsewhere relies on)::

    from moto_server import create_bucket, moto_endpoint  # noqa: F401 (a fixture)

    def test_something(moto_endpoint: str) -> None:  # noqa: F811
        bucket = create_bucket(moto_endpoint)
        s3 = boto3.client("s3", endpoint_url=moto_endpoint)
        ...

``moto_endpoint`` (session scope) yields ``http://127.0.0.1:<port>``. While it lives,
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_DEFAULT_REGION`` are fake values and
``AWS_PROFILE``/``AWS_SESSION_TOKEN`` are unset, so no request can reach a real account; the
previous values come back afterwards. One server serves every module that imports the fixture
(a reference count), and moto keeps state for the whole session: give each test its own bucket
(``create_bucket()`` names it uniquely) rather than relying on an empty account.

moto answers in the account ``MOTO_ACCOUNT`` and any region; ``MOTO_REGION`` is the one set here.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

MOTO_ACCOUNT = "123456789012"
MOTO_REGION = "us-east-1"
FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": MOTO_REGION,
    "AWS_REGION": MOTO_REGION,
}
UNSET_ENVIRONMENT = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class _SharedServer:
    """One server for the session, however many modules import the fixture."""

    def __init__(self) -> None:
        self.users = 0
        self.server: ThreadedMotoServer | None = None
        self.endpoint = ""
        self.saved: dict[str, str | None] = {}

    def acquire(self) -> str:
        if self.users == 0:
            names = (*FAKE_ENVIRONMENT, *UNSET_ENVIRONMENT)
            self.saved = {name: os.environ.get(name) for name in names}
            for name in UNSET_ENVIRONMENT:
                os.environ.pop(name, None)
            os.environ.update(FAKE_ENVIRONMENT)
            # Port 0: the OS picks a free port when the socket binds, so there is no race.
            self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self.server.start()
            host, port = self.server.get_host_and_port()
            self.endpoint = f"http://{host}:{port}"
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
        self.users += 1
        return self.endpoint

    def release(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        if self.server is not None:
            self.server.stop()
        self.server, self.endpoint = None, ""
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_shared = _SharedServer()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto server, with fake AWS credentials in the environment."""
    endpoint = _shared.acquire()
    try:
        yield endpoint
    finally:
        _shared.release()


def create_bucket(endpoint_url: str, name: str | None = None) -> str:
    """A new bucket on the moto server (a unique name unless given); returns its name."""
    bucket = name or f"flux-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint_url, region_name=MOTO_REGION).create_bucket(
        Bucket=bucket
    )
    return bucket
