"""Shared fixtures. Tests that need a real service are marked; on a laptop without the
service they skip with a one-line reason, under CI (CI=true) they fail instead."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from tests.factories import UserFactory

# Playwright's sync API keeps an event loop in the test thread; the ORM calls we make
# around it are ordinary blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run this test, but {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        _unavailable("needs PostgreSQL: set DATABASE_URL")
    if (item.get_closest_marker("redis") or item.get_closest_marker("worker")) and not (
        settings.REDIS_URL
    ):
        _unavailable("needs Redis: set REDIS_URL")
    if item.get_closest_marker("browser") and not Path(CHROMIUM).exists():
        _unavailable("needs Debian chromium at /usr/bin/chromium (apt-get install chromium)")
    marker = item.get_closest_marker("tool")
    if marker and not shutil.which(marker.args[0]):
        _unavailable(f"needs the {marker.args[0]} command")


# --- users -----------------------------------------------------------------------------------
@pytest.fixture
def rep(db):
    return UserFactory(role="Sales rep", username="rep-a")


@pytest.fixture
def other_rep(db):
    return UserFactory(role="Sales rep", username="rep-b")


@pytest.fixture
def marketer(db):
    return UserFactory(role="Marketer", username="marketer-a")


@pytest.fixture
def manager(db):
    return UserFactory(role="Manager", username="manager-a")


@pytest.fixture
def client_for(client):
    """Log the test client in as the given user: ``client_for(rep).get(...)``."""

    def login(user):
        client.force_login(user)
        return client

    return login


# --- a real Celery worker ---------------------------------------------------------------------
def worker_start(queue: str, tmp_path_factory) -> subprocess.Popen:
    """Start a `celery worker` process consuming ``queue`` on Redis, writing to this session's
    test database; return once it says it is ready."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smarketing.settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "DATA_DIR": str(tmp_path_factory.mktemp("worker-data")),
        "DEBUG": "false",
        "SECRET_KEY": "worker-test-key-" + uuid.uuid4().hex,
    }
    log = tmp_path_factory.mktemp("worker-log") / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "smarketing",
                "worker",
                "--pool=solo",
                "-Q",
                queue,
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited:\n{log.read_text()}")
        time.sleep(0.2)
    if "ready" not in log.read_text():
        proc.kill()
        pytest.fail(f"celery worker did not start:\n{log.read_text()}")
    return proc


def worker_stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def celery_worker_queue(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start `celery worker` on Redis against this session's test database; yield its queue."""
    if not settings.REDIS_URL or connection.vendor != "postgresql":
        pytest.skip("the worker fixture needs PostgreSQL and Redis")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    proc = worker_start(queue, tmp_path_factory)
    yield queue
    worker_stop(proc)


@pytest.fixture
def real_broker(celery_worker_queue):
    """Send tasks through Redis to the real worker instead of running them inline."""
    from smarketing.celery import app

    app.conf.task_always_eager = False
    app.conf.task_default_queue = celery_worker_queue
    yield celery_worker_queue
    app.conf.task_always_eager = True
    app.conf.task_default_queue = "celery"


def wait_for(predicate, *, timeout: float = 15.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy; return its value or fail with the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


# --- browser ----------------------------------------------------------------------------------
# Two cores run the suite in parallel with a live server each: give the page time to answer.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }
