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


class TrainConfig(_Strict):
    """The whole training configuration (``training/configs/train.yaml``)."""

    data: DataConfig = Field(default_factory=DataConfig)
    labels: LabelConfig = Field(default_factory=LabelConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
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
    """Process settings from the environment (``PAYER_*``)."""

    model_config = SettingsConfigDict(env_prefix="PAYER_", extra="ignore")

    tracking_uri: str = "sqlite:///mlflow/mlflow.db"
    artifact_root: str = "mlflow/artifacts"
    audit_db: str = "mlflow/audit.db"
    duckdb_temp_dir: str | None = None
    duckdb_memory_limit: str | None = None
