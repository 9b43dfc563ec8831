"""Configuration: YAML files validated by pydantic at the edge, settings from ``PAYER_*``.

Values are passed down explicitly; library functions never read files or the environment
on their own.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TRAIN_CONFIG = Path("training/configs/train.yaml")

# The plausible-date rule (one place): a business date before EARLIEST_DATE or more than
# FUTURE_DAYS after today is a typo or an attack (year 9999, 0001), not history.
EARLIEST_DATE = date(1990, 1, 1)
FUTURE_DAYS = 366
# Money beyond this (in any currency) is not an invoice; also far inside float32 (the
# model's input type), which overflows to inf near 3.4e38.
MAX_AMOUNT = 1e12


def plausible_date_window(
    today: date | None = None, *, earliest: date = EARLIEST_DATE, future_days: int = FUTURE_DAYS
) -> tuple[date, date]:
    """``(earliest, latest)`` accepted business dates: 1990-01-01 to today + 1 year."""
    from datetime import UTC, datetime, timedelta

    today = today or datetime.now(UTC).date()
    return earliest, today + timedelta(days=future_days)


class ConfigError(ValueError):
    """A configuration file is missing or invalid; the message names the spot."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """How input data is read and how much bad input is tolerated."""

    max_bad_share: float = Field(0.05, ge=0, le=1)
    default_currency: str = "EUR"


class LabelConfig(_Strict):
    """Label definition at a cutoff T (DESIGN §3)."""

    horizon_days: int = Field(90, gt=0)
    grace_days: int = Field(30, ge=0)
    good_max_mean_days_late: float = 5.0
    good_max_days_late: float = 30.0
    bad_min_mean_days_late: float = 30.0
    bad_unpaid_share: float = 0.20
    bad_unpaid_days_past_due: float = 60.0

    @property
    def observation_days(self) -> int:
        """Days from the cutoff to the end of observation E = T + H + G."""
        return self.horizon_days + self.grace_days


class FeatureConfig(_Strict):
    """Feature windows."""

    window_days: int = Field(365, gt=0, description="bounded window for quantiles")
    trend_days: int = Field(90, gt=0)
    min_paid_invoices: int = Field(1, ge=0, description="below this a customer is unrated")


class SplitConfig(_Strict):
    """Monthly cutoffs and the out-of-time split; dates derive from the data unless pinned."""

    min_history_months: int = Field(3, ge=1)
    test_cutoffs: int = Field(3, ge=1)
    val_cutoffs: int = Field(1, ge=1)
    min_train_cutoffs: int = Field(2, ge=1)
    first_cutoff: date | None = None
    test_start: date | None = None
    data_end: date | None = None


class ModelConfig(_Strict):
    """XGBoost hyper-parameters."""

    params: dict[str, Any] = Field(
        default_factory=lambda: {
            "max_depth": 4,
            "learning_rate": 0.05,
            "min_child_weight": 5.0,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 2.0,
        }
    )
    num_boost_round: int = Field(600, gt=0)
    early_stopping_rounds: int = Field(40, gt=0)
    class_weights: str = Field("balanced", pattern="^(balanced|none)$")
    seed: int = 0


class GateConfig(_Strict):
    """Promotion gate: what a model must do out of time to become champion."""

    min_gain_over_persistence: float = 0.03
    min_auc_bad: float = 0.80
    max_ece: float = 0.05


class InvoiceConfig(_Strict):
    """Invoice-level predictions: targets, bands, interval, model and gate (issue 16)."""

    late_tolerance_days: int = Field(0, ge=0, description="late = paid more than this after due")
    very_late_days: int = Field(30, gt=0, description="second target: paid more than this late")
    band_thresholds: tuple[float, float] = Field(
        (0.5, 0.75), description="P(late) below the first is Low, above the second High"
    )
    interval: float = Field(0.8, gt=0, lt=1, description="central pay-date interval")
    params: dict[str, Any] = Field(
        default_factory=lambda: {
            "max_depth": 5,
            "learning_rate": 0.05,
            "min_child_weight": 5.0,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
        }
    )
    num_boost_round: int = Field(500, gt=0)
    early_stopping_rounds: int = Field(30, gt=0)
    min_auc_gain: float = Field(0.0, description="AUC must beat the late-share baseline by this")
    max_mae_ratio: float = Field(1.0, gt=0, description="MAE must be <= this x the baseline's")
    registered_model: str = "invoice_late"
    experiment: str = "invoice-late"

    @model_validator(mode="after")
    def _bands_ordered(self) -> InvoiceConfig:
        low, high = self.band_thresholds
        if not 0 < low <= high < 1:
            raise ValueError("invoice.band_thresholds must satisfy 0 < low <= high < 1")
        return self


class TrainConfig(_Strict):
    """The whole training configuration (``training/configs/train.yaml``)."""

    data: DataConfig = Field(default_factory=DataConfig)
    labels: LabelConfig = Field(default_factory=LabelConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    invoice: InvoiceConfig = Field(default_factory=InvoiceConfig)
    experiment: str = "payer-rating"
    registered_model: str = "payer_rating"

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> TrainConfig:
        lab = self.labels
        if lab.good_max_mean_days_late > lab.bad_min_mean_days_late:
            raise ValueError("labels.good_max_mean_days_late must be <= bad_min_mean_days_late")
        return self


def load_config(path: str | Path | None = None) -> TrainConfig:
    """Load and validate a training config; defaults when ``path`` is None.

    Raises:
        ConfigError: the file is missing, not YAML, or breaks the schema (message names the key).
    """
    if path is None:
        return TrainConfig()
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from None
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{p}: {loc}: {first['msg']}") from None


class Settings(BaseSettings):
    """Process settings: every ``PAYER_*`` environment variable, declared once here.

    Each field is read from ``PAYER_`` plus its name in upper case. Edges (CLI, service,
    jobs) build one ``Settings()`` and pass the values down; library code never reads the
    environment.
    """

    model_config = SettingsConfigDict(env_prefix="PAYER_", extra="ignore")

    # --- tracking and stores
    tracking_uri: str = Field(
        "sqlite:///mlflow/mlflow.db", description="MLflow tracking and registry store"
    )
    artifact_root: str = Field(
        "mlflow/artifacts",
        description="MLflow artifact root when the store is not a local sqlite file "
        "(next to the sqlite file otherwise)",
    )
    audit_db: str = Field("mlflow/audit.db", description="SQLite decision audit store")
    audit_timeout_s: float = Field(
        5.0,
        gt=0,
        le=20,
        description="how long an API audit write waits for another writer before the request "
        "answers 503 with nothing recorded (under the 30 s request timeout)",
    )
    # --- feature engine
    duckdb_temp_dir: str | None = Field(
        None, description="DuckDB spill folder for data larger than memory ('' disables)"
    )
    duckdb_memory_limit: str | None = Field(None, description="DuckDB memory cap, e.g. 4GB")
    # --- command line
    log_level: str = Field("WARNING", description="log level of the CLI (DEBUG, INFO, ...)")
    debug: bool = Field(False, description="show tracebacks instead of one-line errors")
    # --- scoring API
    api_keys: str = Field("", description="comma-separated API keys (Bearer tokens)")
    api_keys_file: str | None = Field(None, description="file with one API key per line")
    rate_limit_per_min: float = Field(600.0, gt=0, description="requests per minute per key")
    rate_limit_burst: float | None = Field(
        None, gt=0, description="burst size per key [rate_limit_per_min / 10, at least 1]"
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="larger request bodies answer 413"
    )
    max_concurrency: int = Field(64, gt=0, description="concurrent requests per API worker")
    body_timeout_s: float = Field(
        10.0,
        gt=0,
        le=25,
        description="a request body that stalls this long answers 408 (under the 30 s "
        "request timeout)",
    )
    policy_file: str | None = Field(
        None, description="segment policy file of the API [serving/policies.yaml]"
    )
    model_alias: str = Field("champion", description="registry alias the API loads")
    reload_interval_s: float = Field(
        30.0,
        ge=0,
        description="how often each API worker checks the alias and swaps in a new version "
        "(0: never; load once at start)",
    )
    audit_key_salt: str = Field(
        "",
        description="secret salt of the audit key_id (HMAC-SHA256 of the API key) [a salt "
        "kept next to the audit store]",
    )
    min_api_key_length: int = Field(
        16, ge=1, description="shorter API keys are refused at start-up"
    )
    workers: int | None = Field(
        None, ge=1, description="API worker processes [the number of cores]"
    )
    rate_limit_db: str | None = Field(
        None,
        description="SQLite file of the per-key rate-limit buckets the API workers share "
        "[a file in the temp folder, one per server]",
    )
    # --- live ledger (DESIGN §11)
    ledger_url: str = Field(
        "sqlite:///data/store/ledger.db",
        description="SQLAlchemy URL of the live ledger (SQLite file by default; "
        "postgresql+psycopg://... for several API instances)",
    )
    alert_p_bad_step: float = Field(
        0.10, gt=0, le=1, description="a rise of P(bad) above this raises a risk alert"
    )
    alert_webhook: str | None = Field(None, description="URL that receives risk alerts (POST)")
    outbox_webhook: str | None = Field(None, description="URL that receives outbox messages")
    smtp_host: str | None = Field(None, description="SMTP server that delivers email messages")
    smtp_port: int = Field(25, gt=0, description="SMTP port")
    smtp_sender: str = Field("collections@localhost", description="From address of messages")
    collectors: str = Field("", description="comma-separated collector names for assignment")
    collector_capacity: int = Field(200, gt=0, description="customers per collector")

    @property
    def has_api_keys(self) -> bool:
        """Whether any API key source is configured (keys or a keys file)."""
        return bool(self.api_keys.strip() or self.api_keys_file)


def configured_api_keys(settings: Settings) -> list[str]:
    """The API keys of ``PAYER_API_KEYS`` and ``PAYER_API_KEYS_FILE`` (``#`` comments allowed).

    Raises:
        ConfigError: the keys file is missing, or a key is shorter than
            ``PAYER_MIN_API_KEY_LENGTH`` (the message says how to make one, never the key).
    """
    keys = [k.strip() for k in settings.api_keys.split(",") if k.strip()]
    if settings.api_keys_file:
        p = Path(settings.api_keys_file)
        if not p.is_file():
            raise ConfigError(f"PAYER_API_KEYS_FILE {p} not found")
        lines = (ln.split("#", 1)[0].strip() for ln in p.read_text().splitlines())
        keys.extend(ln for ln in lines if ln)
    short = sum(len(k) < settings.min_api_key_length for k in keys)
    if short:
        raise ConfigError(
            f"{short} API key(s) in PAYER_API_KEYS / PAYER_API_KEYS_FILE are shorter than "
            f"{settings.min_api_key_length} characters: use long random keys "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
        )
    return keys
