"""The lake on S3-compatible storage, against a real server (moto) started here on loopback.

moto enforces conditional writes (``If-None-Match: *`` -> 412, ``If-Match``), so delta-rs'
commit protocol and lakectl's lock object are exercised for real. A marked secret is used as the
access key; no command's output, error, JSON or traceback may ever show it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from lakectl.config import load_settings
from lakectl.errors import LakectlError, TransientError
from lakectl.lake import Lake

from .conftest import SUBPROCESS_TIMEOUT_S, load_examples_module
from .tools import require_module, stop

SECRET = "SECRET-canary-7f3a9e-do-not-print"  # the marked secret
REGION = "us-east-1"
HOTMART = "Código da transação;Status da transação;Data da transação;Valor de compra com impostos;Moeda de compra;Email do(a) Comprador(a)\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory) -> Iterator[str]:
    """A moto S3 server on a free loopback port, for this module's tests."""
    require_module("moto", "the S3 tests need moto[server]")
    require_module("boto3", "the S3 tests need moto[server]")
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    assert server, "moto_server is not on PATH (pip install 'moto[server]')"
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"moto_server did not start (exit {process.poll()})") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        stop(process, timeout=10)
        log.close()


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=SECRET,
                          aws_secret_access_key=SECRET, region_name=REGION)  # fmt: skip
    client.create_bucket(Bucket=name)


def aws_env(endpoint: str) -> dict[str, str]:
    """The usual AWS_* variables, as a user would set them for an S3-compatible store."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "lakectl-test", "AWS_SECRET_ACCESS_KEY": SECRET}  # fmt: skip


def storage(endpoint: str) -> dict[str, object]:
    """The same, as a [storage] section."""
    return {"endpoint": endpoint, "allow_http": True, "region": REGION, "path_style": True,
            "access_key_id": "lakectl-test", "secret_access_key": SECRET}  # fmt: skip


def lakectl(
    cwd: Path, env: dict[str, str], *args: str, code: int | None = 0
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAKECTL_", "AWS_"))}
    result = subprocess.run([sys.executable, "-m", "lakectl", *args], cwd=cwd, env={**clean, **env},
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)  # fmt: skip
    assert SECRET not in result.stdout and SECRET not in result.stderr, f"the secret leaked from {args}"
    if code is not None:
        assert result.returncode == code, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result


@pytest.mark.slow  # a dozen commands against moto: `make test-slow` (CI runs it after `make test`)
def test_every_command_works_unchanged_on_s3(endpoint, tmp_path):
    make_bucket(endpoint, "lake")
    make_bucket(endpoint, "copies")
    env = {**aws_env(endpoint), "LAKECTL_LAKE_ROOT": "s3://lake/shop", "LAKECTL_LANDING_ZONE": "landing_zone",
           "LAKECTL_SILVER__CUSTOMER_SALT": "t", "LAKECTL_READER__ISOLATE": "false"}  # fmt: skip
    load_examples_module().generate(tmp_path / "landing_zone")
    # two clusters prove every command as well as five (CSV and xlsx, BRL and EUR, refunds), for
    # less than half the S3 round trips
    for cluster in ("rejuvenescimento", "relacionamento", "renda_extra"):
        shutil.rmtree(tmp_path / "landing_zone" / cluster)
    assert lakectl(tmp_path, env, "init").returncode == 0
    ingested = json.loads(lakectl(tmp_path, env, "ingest", "landing_zone", "--json", code=None).stdout)
    files = [r for r in ingested["files"] if r["status"] == "ingested"]
    assert files and not (tmp_path / "shop").exists()  # nothing written locally
    again = json.loads(lakectl(tmp_path, env, "ingest", "landing_zone", "--json", code=None).stdout)
    assert again["summary"]["ingested"] == 0 and again["summary"]["skipped"] == len(files)  # exactly once
    lakectl(tmp_path, env, "promote", "all")
    report = json.loads(lakectl(tmp_path, env, "report", "--format", "json").stdout)
    assert report["gold_built"] and report["health"]["files"]["ingested"] == len(files)
    rows = sum(r["rows"] for r in files)
    query = lakectl(tmp_path, env, "query", "select count(*) as n from bronze.diabetes", "-f", "json").stdout
    lake = Lake("s3://lake/shop", aws_env(endpoint))
    assert json.loads(query)[0]["n"] == lake.bronze("diabetes").scan().select(pl.len()).collect().item()
    bronze_rows = sum(lake.bronze(c).scan().select(pl.len()).collect().item() for c in
                      ("diabetes", "emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra")
                      if lake.bronze(c).exists())  # fmt: skip
    assert bronze_rows == rows
    silver_rows = lake.silver("diabetes").scan().select(pl.len()).collect().item()
    lakectl(tmp_path, env, "maintain", "--json")
    history = json.loads(lakectl(tmp_path, env, "history", "silver/diabetes").stdout)
    assert history[0]["operation"] == "OPTIMIZE" or history[0]["version"] >= 1
    lake.silver("diabetes").delete_where("status = 'approved'")
    assert lake.silver("diabetes").scan().select(pl.len()).collect().item() < silver_rows
    deleted_at = lake.silver("diabetes").version()
    lakectl(tmp_path, env, "restore", "silver/diabetes", "--version", str(deleted_at - 1))
    assert lake.silver("diabetes").scan().select(pl.len()).collect().item() == silver_rows
    # backups: to a local folder and to another bucket, both verified; then a restore into a new prefix
    lakectl(tmp_path, env, "backup", str(tmp_path / "backup"))
    assert json.loads(lakectl(tmp_path, env, "backup", "verify", str(tmp_path / "backup")).stdout)["ok"]
    lakectl(tmp_path, env, "backup", "s3://copies/nightly")
    assert json.loads(lakectl(tmp_path, env, "backup", "verify", "s3://copies/nightly").stdout)["ok"]
    restored_env = {**env, "LAKECTL_LAKE_ROOT": "s3://lake/restored"}
    lakectl(tmp_path, restored_env, "restore-backup", "s3://copies/nightly")
    restored = Lake("s3://lake/restored", dict(aws_env(endpoint)))
    assert {t.name: t.version() for t in restored.tables()} == {t.name: t.version() for t in lake.tables()}
    # every table lakectl wrote on S3 stays at the lowest protocol
    for table in lake.tables():
        proto = table.protocol()
        assert (proto["min_reader_version"], proto["min_writer_version"]) == (1, 2), table.name
    # failures name the problem without the secret, even with --debug (a traceback)
    missing = lakectl(
        tmp_path, {**env, "LAKECTL_LAKE_ROOT": "s3://no-such-bucket/x"}, "--debug", "report", code=None
    )
    assert missing.returncode != 0


def test_watch_settles_files_into_an_s3_lake(endpoint, tmp_path):
    make_bucket(endpoint, "watched")
    env = {**aws_env(endpoint), "LAKECTL_LAKE_ROOT": "s3://watched/lake", "LAKECTL_LANDING_ZONE": "landing_zone",
           "LAKECTL_WATCH__STABILITY_WINDOW_S": "0.2", "LAKECTL_WATCH__FORCE_POLLING": "true"}  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAKECTL_", "AWS_"))}
    (tmp_path / "landing_zone" / "diabetes").mkdir(parents=True)
    service = subprocess.Popen([sys.executable, "-m", "lakectl", "watch"], cwd=tmp_path, env={**clean, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        (tmp_path / "landing_zone" / "diabetes" / "v.csv").write_text(
            "Código da transação;Valor\nA1;1,00\nA2;2,00\n"
        )
        deadline = time.monotonic() + 90
        bronze = Lake("s3://watched/lake", dict(aws_env(endpoint))).bronze("diabetes")
        while not bronze.exists() and time.monotonic() < deadline and service.poll() is None:
            time.sleep(0.3)
        assert bronze.exists(), "the watcher did not ingest the file"
        assert bronze.scan().select(pl.len()).collect().item() == 2
        heartbeat = tmp_path / "landing_zone" / "_lakectl" / "heartbeat.json"
        assert heartbeat.exists()  # a local file, even with the lake on S3
    finally:
        service.terminate()
        out, err = service.communicate(timeout=60)
    assert SECRET not in out and SECRET not in err


WORKER = """
import json, sys
import lakectl
settings = lakectl.load_settings()
results = lakectl.ingest([sys.argv[1]], settings=settings, cluster="diabetes")
promoted = lakectl.promote("silver", settings=settings)
print(json.dumps([[r.file, r.status] for r in results]))
"""


def test_three_processes_ingest_and_promote_at_once(endpoint, tmp_path):
    """Each process ingests its own files plus one file all three share, then promotes silver.
    Exact counts after: every row once in bronze and silver, the shared file ingested once."""
    make_bucket(endpoint, "busy")
    shared = HOTMART + "".join(
        f"S{i};Aprovado;01/09/2026 10:00:00;{i},00;BRL;s{i}@x.com\n" for i in range(50)
    )
    for worker in range(3):
        folder = tmp_path / f"w{worker}" / "diabetes"
        folder.mkdir(parents=True)
        (folder / "shared.csv").write_text(shared)
        for n in range(3):
            rows = "".join(
                f"W{worker}F{n}R{i};Aprovado;02/09/2026 11:00:00;{i},50;BRL;w@x.com\n" for i in range(20)
            )
            (folder / f"own_{n}.csv").write_text(HOTMART + rows)
    env = {**aws_env(endpoint), "LAKECTL_LAKE_ROOT": "s3://busy/lake", "LAKECTL_SILVER__CUSTOMER_SALT": "t",
           "LAKECTL_READER__ISOLATE": "false", "LAKECTL_LANDING_ZONE": "nowhere"}  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAKECTL_", "AWS_"))}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / f"w{w}" / "diabetes")], cwd=tmp_path,
                                env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for w in range(3)]  # fmt: skip
    outcomes = []
    for process in workers:
        out, err = process.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert process.returncode == 0, err[-3000:]
        assert SECRET not in out and SECRET not in err
        outcomes += json.loads(out.strip().splitlines()[-1])
    statuses = sorted(status for name, status in outcomes if name == "shared.csv")
    assert statuses == ["ingested", "skipped", "skipped"]
    assert sorted(status for name, status in outcomes if name != "shared.csv") == ["ingested"] * 9
    lake = Lake("s3://busy/lake", dict(aws_env(endpoint)))
    bronze = lake.bronze("diabetes").scan().collect()
    assert bronze.height == 50 + 9 * 20 and bronze["_source_sha256"].n_unique() == 10
    silver = lake.silver("diabetes").scan().collect()
    assert silver.height == 50 + 9 * 20 and silver["transaction_id"].n_unique() == silver.height
    log = lake.ingest_log().scan().collect()
    assert log.filter(pl.col("status") == "ingested").height == 10


def test_the_s3_lock_is_exclusive_and_a_dead_holder_is_taken_over(endpoint):
    make_bucket(endpoint, "locks")
    settings = load_settings(lake_root="s3://locks/lake", storage=storage(endpoint))
    lake = Lake.from_settings(settings)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lake.lock("write"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(30)
        with pytest.raises(TransientError, match="busy"), lake.lock("write", timeout_s=0.5):
            pass
    finally:
        release.set()
        thread.join(30)
    with lake.lock("write", timeout_s=5):  # released: free again
        pass
    # a holder that died: its lease expired long ago
    store = lake.store()
    store.put(
        "_lakectl/locks/write.lock", json.dumps({"owner": "dead", "host": "gone", "expires": 0}).encode()
    )
    with lake.lock("write", timeout_s=5):
        body = json.loads(bytes(store.get("_lakectl/locks/write.lock").bytes()))
        assert body["owner"] != "dead"
    assert not any(
        item["path"].endswith("write.lock") for batch in store.list("_lakectl/locks") for item in batch
    )


def test_credentials_never_appear_in_errors_or_logs(endpoint, caplog):
    settings = load_settings(lake_root="s3://no-such-bucket/lake", storage=storage(endpoint))
    lake = Lake.from_settings(settings)
    assert (
        SECRET not in repr(lake) and SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    )
    caplog.set_level("DEBUG")
    failures = []
    for attempt in (lambda: lake.bronze("diabetes").append_once(pl.DataFrame({"a": ["1"]}).to_arrow(), [], {}),
                    lambda: lake.lock("write", timeout_s=0.2).__enter__(),
                    lambda: lake.table("bronze/nope").history()):  # fmt: skip
        try:
            attempt()
        except Exception as exc:  # the kind varies; what matters is what it says
            failures.append(f"{type(exc).__name__}: {exc} {getattr(exc, 'hint', '')} {exc!r}")
    assert len(failures) == 3
    assert all(SECRET not in text for text in failures), failures
    assert SECRET not in caplog.text
    assert all(isinstance(e, str) for e in failures) and LakectlError  # the messages exist and are clean
