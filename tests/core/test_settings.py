import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "smarketing.example.com",
    "DATABASE_URL": "postgres://smarketing:secret@db.internal:5432/smarketing",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def _manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "REDIS_URL",
            "HTTPS",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values(tmp_path):
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_when_nothing_says_otherwise(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, "
        "s.DATABASES['default']['OPTIONS'].get('transaction_mode'), "
        "'journal_mode=WAL' in s.DATABASES['default']['OPTIONS'].get('init_command', ''))"
    )
    result = _manage("shell", "-c", code, env={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == [
        "False",
        "django.db.backends.sqlite3",
        "filesystem://",
        "IMMEDIATE",
        "True",
    ]


def test_database_and_redis_urls_switch_to_the_real_services(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST'], "
        "s.CELERY_BROKER_URL)"
    )
    result = _manage("shell", "-c", code, env=PRODUCTION_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == [
        "django.db.backends.postgresql",
        "db.internal",
        "redis://redis.internal:6379/0",
    ]


def test_embedded_secret_key_is_random_and_kept_out_of_the_code(tmp_path):
    code = "from django.conf import settings as s; print(s.SECRET_KEY)"
    first = _manage("shell", "-c", code, env={}, tmp_path=tmp_path).stdout.split()[-1]
    again = _manage("shell", "-c", code, env={}, tmp_path=tmp_path).stdout.split()[-1]
    elsewhere = _manage("shell", "-c", code, env={}, tmp_path=tmp_path / "other").stdout.split()
    assert first == again
    assert len(first) >= 50
    assert first != elsewhere[-1]
    assert first not in (ROOT / "smarketing" / "settings.py").read_text()
