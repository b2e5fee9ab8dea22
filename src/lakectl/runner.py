"""Runs ingests over many paths: discovery, cluster resolution, isolation, progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from lakectl.config import Settings
from lakectl.errors import ConfigError
from lakectl.models import IngestResult

SPECIAL_DIRS = {"_archive", "_quarantine"}
TEMP_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".download", ".swp")


def is_candidate(path: Path) -> bool:
    """Files a person means as data: not lock files, hidden files or downloads in progress."""
    name = path.name
    if name.startswith(("~$", ".~lock", ".")) or name.endswith("#"):
        return False
    return not name.lower().endswith(TEMP_SUFFIXES)


def discover(paths: list[Path]) -> Iterator[Path]:
    """Files under the given paths (folders recursively, sorted), skipping lock and temp files."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if any(
                    part in SPECIAL_DIRS or part.startswith(".")
                    for part in child.relative_to(path).parts[:-1]
                ):
                    continue
                if child.is_file() and not child.is_symlink() and is_candidate(child):
                    yield child
        else:
            yield path


def cluster_of(path: Path, settings: Settings) -> str | None:
    """The cluster a file belongs to: the first folder under the landing zone, if it is a cluster."""
    try:
        relative = path.resolve().relative_to(settings.landing_zone.resolve())
    except ValueError:
        return None
    if len(relative.parts) < 2:
        return None
    return relative.parts[0] if relative.parts[0] in settings.clusters else None


def plan(paths: list[Path], cluster: str | None, settings: Settings) -> list[tuple[Path, str]]:
    """(file, cluster) for every file, or a ConfigError naming the files without a cluster."""
    if cluster is not None:
        settings.check_cluster(cluster)
    jobs, orphans = [], []
    for path in discover(paths):
        target = cluster or cluster_of(path, settings)
        if target is None:
            orphans.append(path)
        else:
            jobs.append((path, target))
    if orphans:
        shown = ", ".join(str(p) for p in orphans[:3]) + (
            f" and {len(orphans) - 3} more" if len(orphans) > 3 else ""
        )
        raise ConfigError(
            f"cannot tell the cluster of {shown}",
            hint=f"pass --cluster ({', '.join(settings.clusters)}) or put the file in "
            f"{settings.landing_zone}/<cluster>/",
        )
    return jobs


def batches(jobs: list[tuple[Path, str]], settings: Settings) -> Iterator[tuple[list[Path], str]]:
    """Consecutive files of one cluster, grouped up to reader.batch_max_files / batch_max_mb."""
    limit_files, limit_bytes = settings.reader.batch_max_files, settings.reader.batch_max_mb << 20
    group: list[Path] = []
    group_cluster, group_bytes = "", 0
    for path, cluster in jobs:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if group and (
            cluster != group_cluster or len(group) >= limit_files or group_bytes + size > limit_bytes
        ):
            yield group, group_cluster
            group, group_bytes = [], 0
        group.append(path)
        group_cluster = cluster
        group_bytes += size
    if group:
        yield group, group_cluster


def ingest_paths(
    jobs: list[tuple[Path, str]],
    settings: Settings,
    dry_run: bool = False,
    on_result: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Ingest each (file, cluster), in batches; a bad file is a rejected result, never an exception."""
    results = []

    def emit(batch_results: list[IngestResult]) -> None:
        for result in batch_results:
            results.append(result)
            if on_result is not None:
                on_result(result)

    if settings.reader.isolate:
        from lakectl.worker import IngestWorker

        with IngestWorker(settings) as worker:
            for paths, cluster in batches(jobs, settings):
                emit(worker.ingest_batch(paths, cluster, dry_run=dry_run))
    else:
        from lakectl import pipeline

        if not dry_run:
            pipeline.reconcile(settings)
        for paths, cluster in batches(jobs, settings):
            emit(pipeline.ingest_batch([(p, None) for p in paths], cluster, settings, dry_run=dry_run))
    return results
