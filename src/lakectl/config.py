"""Settings: defaults < lakectl.toml < LAKECTL_* environment < explicit overrides.

Loaded once by the CLI and passed down; library code never reads the environment itself.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from lakectl.errors import ConfigError
from lakectl.read.safety import Limits

DEFAULT_CLUSTERS = ["diabetes", "emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra"]
CLUSTER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CONFIG_ENV = "LAKECTL_CONFIG"
DEFAULT_CONFIG_FILE = "lakectl.toml"


class Section(BaseModel):
    """A [table] of lakectl.toml: an unknown key is an error (a typo must not be silently ignored)."""

    model_config = {"extra": "forbid"}


MIN_PARSER_MEMORY_MB = 4096  # reader.memory_limit_mb's floor (see _room_for_threads)


class ReaderSettings(Section):
    """Limits that keep hostile or absurd spreadsheets from hurting the process."""

    include_hidden_sheets: bool = False
    max_cells: int = Field(50_000_000, gt=0, description="largest used range (rows x columns) of a sheet")
    max_uncompressed_mb: int = Field(1024, gt=0, description="largest total uncompressed size of an xlsx")
    max_compression_ratio: int = Field(
        100, gt=1, description="largest uncompressed/compressed ratio per entry"
    )
    isolate: bool = Field(True, description="parse files in a child process with a memory cap and a timeout")
    memory_limit_mb: int = Field(6144, description="address-space cap of the parser process")
    timeout_s: float = Field(900.0, gt=0, description="longest time one file may take to ingest")
    batch_max_files: int = Field(100, ge=1, description="files of one cluster written in one commit")
    batch_max_mb: int = Field(64, ge=1, description="total size of a batch; larger files go alone")
    max_columns: int = Field(
        512,
        ge=16,
        description="columns of a sheet kept as columns; the rest go, per row, into _extra_columns",
    )

    def limits(self) -> Limits:
        return Limits(
            max_cells=self.max_cells,
            max_uncompressed_bytes=self.max_uncompressed_mb << 20,
            max_ratio=self.max_compression_ratio,
        )

    @field_validator("memory_limit_mb")
    @classmethod
    def _room_for_threads(cls, value: int) -> int:
        # An address-space cap counts what the parser's allocators and threads reserve, not what
        # they use: unconstrained, the child reaches ~2.5 GiB of address space for ~290 MiB resident
        # on ordinary files (2 cores; more threads with more cores). Squeezed below that, allocations
        # and thread starts fail at random: at 2,048 MiB a 9,000-column CSV under load ("Failed to
        # launch worker thread", os error 11), at 1,024 MiB the same CSV every time (std::bad_alloc).
        if value < MIN_PARSER_MEMORY_MB:
            raise ValueError(
                f"{value} MiB is below the minimum of {MIN_PARSER_MEMORY_MB} MiB: the cap is address space, "
                "not resident memory, and the parser's allocators and threads reserve ~2.5 GiB of it"
            )
        return value


class WatchSettings(Section):
    stability_window_s: float = Field(2.0, ge=0)
    reconcile_interval_s: float = Field(30.0, gt=0)
    force_polling: bool = False
    after_ingest: Literal["archive", "keep", "delete"] = "archive"
    max_attempts: int = Field(5, ge=1, description="tries before a transient failure quarantines a file")
    heartbeat_file: Path | None = None
    promote: bool = False


class MaintenanceSettings(Section):
    vacuum_retention_hours: int = Field(
        168, ge=1, description="keep unreferenced files this long (time travel)"
    )
    log_retention_days: int = Field(30, ge=1, description="keep Delta log entries this long")
    every_hours: float = Field(24.0, ge=0, description="watch runs maintenance this often (0: never)")


class AlertTarget(BaseModel):
    """Where alerts go: a webhook receiving JSON (Telegram: its sendMessage URL and a chat_id) or SMTP."""

    model_config = {"extra": "forbid"}
    kind: Literal["webhook", "smtp"]
    url: SecretStr | None = Field(
        None, description="webhook URL; it may carry a token, so it is never logged"
    )
    chat_id: str | None = Field(None, description="Telegram: send {chat_id, text} instead of the alert JSON")
    host: str | None = None
    port: int = Field(587, gt=0, lt=65536)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    sender: str | None = None
    to: list[str] = Field(default_factory=list)
    ca_file: Path | None = Field(None, description="CA certificate of a server with a private certificate")
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> AlertTarget:
        if self.kind == "webhook" and self.url is None:
            raise ValueError("a webhook target needs url")
        if self.kind == "smtp" and (not self.host or not self.to):
            raise ValueError("an smtp target needs host and to")
        return self


class AlertSettings(BaseModel):
    targets: list[AlertTarget] = Field(default_factory=list)
    rejects_share: float = Field(0.05, ge=0, description="alert when more of a promotion's rows are rejected")
    refund_rate: float = Field(0.15, ge=0, description="per cluster, over the report's last 30 days")
    chargeback_rate: float = Field(0.02, ge=0)
    min_sales: int = Field(20, ge=0, description="approved sales in the window before a rate is judged")
    dedupe_hours: float = Field(24.0, ge=0, description="one alert per cause in this period")
    attempts: int = Field(3, ge=1)
    backoff_s: float = Field(2.0, ge=0)
    state_file: Path | None = Field(None, description="default <lake>/_lakectl/alerts_sent.json")


class ReportSettings(Section):
    locale: Literal["pt-BR", "en"] = Field("pt-BR", description="labels, money and dates of the report")


class ProfileSettings(Section):
    """A user profile for a source layout (see README: "Mapping your own sheets")."""

    columns: dict[str, str | list[str]]
    match: list[str] | None = None
    platform: str | None = None
    decimal_comma: bool = True
    day_first: bool = True
    timezone: str = "America/Sao_Paulo"
    currency: str = "BRL"
    statuses: dict[str, str] = Field(default_factory=dict)
    events: bool = False
    priority: int | None = None

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        from lakectl.transform.profiles import CANONICAL_FIELDS

        unknown = sorted(set(value) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {unknown}; known: {', '.join(CANONICAL_FIELDS)}")
        if "transaction_id" not in value:
            raise ValueError("a profile needs at least transaction_id")
        return value

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        from lakectl.transform.profiles import STATUSES

        wrong = sorted(v for v in value.values() if v not in STATUSES)
        if wrong:
            raise ValueError(f"unknown status(es) {wrong}; use one of {', '.join(STATUSES)}")
        return value


class SilverSettings(Section):
    customer_salt: SecretStr | None = Field(
        None, description="salt of customer_key; never stored in the lake"
    )
    salt_file: Path = Field(
        Path(".lakectl-salt"), description="where a generated salt is kept if none is set"
    )
    expectations: dict[str, Literal["warn", "drop", "fail"]] = Field(default_factory=dict)
    profiles: dict[str, dict[str, ProfileSettings]] = Field(default_factory=dict)

    @field_validator("expectations")
    @classmethod
    def _known_rules(cls, value: dict[str, str]) -> dict[str, str]:
        from lakectl.transform.silver import RULES

        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; rules: {', '.join(RULES)}")
        return value


class ServeSettings(Section):
    """`lakectl serve`: the HTTP API, the upload page and the platform webhooks."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_upload_mb: int = Field(100, ge=1, description="largest file one upload may carry")
    max_body_kb: int = Field(1024, ge=1, description="largest JSON body (webhooks)")
    request_timeout_s: float = Field(300.0, gt=0, description="longest time one request may take")
    auth: Literal["token", "proxy"] = Field(
        "token", description="token: Bearer tokens checked here; proxy: nginx basic auth in front"
    )
    token: SecretStr | None = None
    tokens_file: Path | None = Field(None, description="one token per line ('#' comments)")
    docs: bool = Field(False, description="OpenAPI docs at /api/docs")
    hotmart_hottok: SecretStr | None = Field(None, description="the Hottok of the Hotmart webhook")
    kiwify_token: SecretStr | None = Field(None, description="the token that signs Kiwify webhooks")
    webhook_token: SecretStr | None = Field(None, description="token of the generic webhook receiver")
    ready_max_heartbeat_s: float = Field(120.0, gt=0, description="watcher heartbeat age /ready accepts")


AWS_VARIABLES = {"endpoint": "AWS_ENDPOINT_URL", "region": "AWS_REGION", "access_key_id": "AWS_ACCESS_KEY_ID",
                 "secret_access_key": "AWS_SECRET_ACCESS_KEY", "session_token": "AWS_SESSION_TOKEN"}  # fmt: skip
SECRET_FIELDS = {"access_key_id", "secret_access_key", "session_token"}


class StorageSettings(BaseModel):
    """Object storage for an ``s3://`` lake_root. Unset keys come from the usual AWS_* environment
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL ...)."""

    model_config = {"extra": "forbid"}
    endpoint: str | None = Field(None, description="S3-compatible endpoint URL (MinIO, R2, a local server)")
    region: str | None = None
    path_style: bool | None = Field(None, description="bucket in the path, not the host name")
    allow_http: bool = Field(False, description="allow a plain-http endpoint (a local server only)")
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    conditional_writes: bool = Field(
        True, description="the store honours If-None-Match (AWS S3, R2, MinIO); false: one writer only"
    )
    local_lock_dir: Path = Field(
        Path(".lakectl-locks"), description="lock folder when the store has no conditional writes"
    )

    @model_validator(mode="after")
    def _from_aws_environment(self) -> StorageSettings:
        # the usual AWS_* variables fill what [storage] leaves unset, so lakectl knows every
        # credential it must keep out of its messages
        env = os.environ
        for name, variable in AWS_VARIABLES.items():
            if getattr(self, name) is None and env.get(variable):
                value = env[variable]
                setattr(self, name, SecretStr(value) if name in SECRET_FIELDS else value)
        if not self.allow_http and env.get("AWS_ALLOW_HTTP", "").lower() == "true":
            self.allow_http = True
        return self

    def options(self) -> dict[str, str]:
        """delta-rs / object_store storage options (credentials included: never log them)."""
        values: dict[str, str | bool | SecretStr | None] = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": self.allow_http or None,
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": None if self.path_style is None else not self.path_style,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            # without conditional PUT, delta-rs commits by rename: safe with one writer only
            "AWS_S3_ALLOW_UNSAFE_RENAME": None if self.conditional_writes else True,
        }
        out = {}
        for key, value in values.items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, bool):
                value = "true" if value else "false"
            if value is not None:
                out[key] = value
        return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LAKECTL_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    landing_zone: Path = Path("landing_zone")
    # a local folder (a Path) or an object-store URI kept as text (s3://bucket/prefix)
    lake_root: Path | str = Path("delta_lake")
    clusters: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_CLUSTERS))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    silver: SilverSettings = Field(default_factory=SilverSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @field_validator("lake_root")
    @classmethod
    def _local_or_uri(cls, value: Path | str) -> Path | str:
        text = str(value)
        if "://" not in text:
            return Path(text)
        if not text.startswith(("s3://", "s3a://", "file://")):
            raise ValueError("use a local folder or s3://bucket/prefix")
        return text.rstrip("/")

    @field_validator("clusters", mode="before")
    @classmethod
    def _split_clusters(cls, value: Any) -> Any:
        # env gives a string: accept a JSON list or "a,b,c"
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("clusters")
    @classmethod
    def _check_clusters(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one cluster is needed")
        for name in value:
            if not CLUSTER_NAME.match(name):
                raise ValueError(
                    f"cluster name {name!r} is not valid: use lower-case letters, digits, '_' or '-', "
                    "starting with a letter or digit, at most 63 characters"
                )
        if len(set(value)) != len(value):
            raise ValueError("cluster names must be unique")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the toml file (if any) is set per load, in load_settings
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def check_cluster(self, cluster: str) -> str:
        if cluster not in self.clusters:
            raise ConfigError(
                f"unknown cluster {cluster!r}{did_you_mean(cluster, self.clusters)}",
                hint=f"known clusters: {', '.join(self.clusters)} (setting LAKECTL_CLUSTERS / 'clusters')",
            )
        return cluster


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean diabetes?)' when one known name is close to ``name``, else ''."""
    close = get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    """The did-you-mean of a key that no settings model has, found among its neighbours."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        inner = field.annotation if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return ""
        model = inner
    return did_you_mean(str(loc[-1]), model.model_fields)


def config_file_from(explicit: Path | None, environ: dict[str, str] | None = None) -> Path | None:
    """The lakectl.toml to read: --config, else $LAKECTL_CONFIG, else ./lakectl.toml if present."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        chosen, where = explicit, "--config"
    elif env.get(CONFIG_ENV):
        chosen, where = Path(env[CONFIG_ENV]), CONFIG_ENV
    else:
        default = Path(DEFAULT_CONFIG_FILE)
        return default if default.is_file() else None
    if not chosen.is_file():
        raise ConfigError(
            f"config file {chosen} ({where}) does not exist", hint="create it with 'lakectl init'"
        )
    return chosen


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings, turning every validation problem into a ConfigError that names the setting."""

    class LoadedSettings(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})

    try:
        return LoadedSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]) or "settings"
            if err["type"] == "extra_forbidden":
                problems.append(f"{name}: no such setting{_unknown_key(err['loc'])}")
            else:
                problems.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        source = f" (from {config_file})" if config_file else ""
        raise ConfigError(
            "invalid setting" + ("s" if len(problems) > 1 else "") + source + ": " + "; ".join(problems),
            hint="set it with LAKECTL_<NAME> (nested: LAKECTL_READER__MAX_CELLS) or in lakectl.toml",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{config_file} is not valid TOML: {exc}", hint="fix that line (TOML syntax: https://toml.io)"
        ) from None
    except (SettingsError, ValueError) as exc:
        raise ConfigError(
            f"could not read settings: {exc}", hint="check lakectl.toml and LAKECTL_* values"
        ) from None


SAMPLE_TOML = """\
# lakectl configuration. Every key can also be set with an environment variable:
# LAKECTL_<KEY> (nested keys with '__', e.g. LAKECTL_READER__MAX_CELLS).

# Where files are dropped, one folder per cluster.
landing_zone = "landing_zone"
# The lake root: bronze/, silver/, gold/ and _lakectl/ live here.
lake_root = "delta_lake"
# Product niches; a file's cluster is the first folder under the landing zone.
clusters = ["diabetes", "emagrecimento", "rejuvenescimento", "relacionamento", "renda_extra"]

[reader]
# include_hidden_sheets = false
# max_cells = 50000000          # refuse sheets whose used range is larger
# isolate = true                # parse in a child process with a memory cap
# memory_limit_mb = 6144
# timeout_s = 900
# max_columns = 512             # wider sheets keep the rest as JSON in _extra_columns

[watch]
# stability_window_s = 2.0      # a file is taken once size and mtime hold still this long
# reconcile_interval_s = 30
# force_polling = false         # set true for NFS/SMB shares
# after_ingest = "archive"      # archive | keep | delete
"""
