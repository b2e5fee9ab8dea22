"""The installers' users and ownership, applied for real inside a temporary root.

The root gets a minimal user database (etc/passwd, group, shadow, as on a fresh Debian); the
installers create their user in it with `useradd --prefix` and give each folder the uid and gid
that database holds. The machine's own /etc/passwd must not change.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from .tools import require_root, require_tool

ROOT = Path(__file__).resolve().parent.parent
WWW_DATA = 33  # Debian's www-data
CLUSTERS = ("diabetes", "emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra")


def fresh_root(root: Path) -> Path:
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
    )
    (etc / "group").write_text("root:x:0:\nwww-data:x:33:\n")
    (etc / "shadow").write_text("root:*:20000:0:99999:7:::\nwww-data:*:20000:0:99999:7:::\n")
    (etc / "shadow").chmod(0o640)
    return root


def install(script: str, root: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["bash", str(ROOT / "deploy" / script), "--root", str(root)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def entries(path: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in path.read_text().splitlines() if line}


def owner(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid


@pytest.fixture()
def root(tmp_path):
    require_root("useradd and chown inside a temporary root")
    require_tool("useradd", "the installers create their system user with it")
    host = Path("/etc/passwd").read_bytes()
    yield fresh_root(tmp_path / "root")
    assert Path("/etc/passwd").read_bytes() == host  # the machine's users are untouched


def test_native_install_creates_its_user_and_owns_its_folders_inside_the_root(root):
    first = install("install.sh", root)
    assert "would run: useradd" not in first.stdout and "would run: chown" not in first.stdout
    users = entries(root / "etc/passwd")
    _, _, uid, gid, _, home, shell = users["lakectl"]
    assert (home, shell) == ("/srv/lakectl", "/usr/sbin/nologin") and int(uid) < 1000  # a system user
    assert entries(root / "etc/group")["lakectl"][2] == gid  # with a group of its own
    assert "lakectl" in entries(root / "etc/shadow")
    uid, gid = int(uid), int(gid)
    srv = root / "srv/lakectl"
    expected = {
        srv: (uid, gid),
        srv / "landing_zone": (uid, gid),
        srv / "delta_lake": (uid, gid),
        **{srv / "landing_zone" / c: (uid, gid) for c in CLUSTERS},
        srv / "reports": (uid, WWW_DATA),  # nginx's group reads the reports
        root / "etc/lakectl": (0, gid),
        root / "etc/lakectl/lakectl.toml": (0, gid),
        root / "etc/lakectl/customer.salt": (0, gid),
        root / "var/backups/lakectl": (uid, gid),
    }
    assert {str(p.relative_to(root)): owner(p) for p in expected} == {
        str(p.relative_to(root)): ids for p, ids in expected.items()
    }
    assert stat.S_IMODE((srv / "reports").stat().st_mode) == 0o2750  # chown kept the setgid bit
    # a second run adds no second user and changes nothing; an upgrade puts a wrong owner right
    os.chown(srv / "reports", 0, 0)
    second = install("install.sh", root)
    assert "useradd" not in second.stdout and list(entries(root / "etc/passwd")) == [
        "root",
        "www-data",
        "lakectl",
    ]
    assert owner(srv / "reports") == (uid, WWW_DATA) and "chown -R lakectl:www-data" in second.stdout


def test_docker_deploy_gives_the_data_to_the_container_user_inside_the_root(root):
    install("deploy_vps_docker.sh", root)
    srv = root / "srv/lakectl"
    assert owner(srv) == (0, 0)
    for folder in ("data", "data/landing_zone", "data/delta_lake", "backups"):
        assert owner(srv / folder) == (10001, 10001), folder  # the image's user
    assert owner(srv / "reports") == (10001, WWW_DATA)
    assert list(entries(root / "etc/passwd")) == ["root", "www-data"]  # the container brings its own user


def test_an_owner_missing_from_the_root_s_users_fails_the_install(root):
    (root / "etc/group").write_text("root:x:0:\n")  # no www-data group
    result = subprocess.run(["bash", str(ROOT / "deploy/deploy_vps_docker.sh"), "--root", str(root)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode != 0 and "no group entry 'www-data'" in result.stderr, result.stderr
