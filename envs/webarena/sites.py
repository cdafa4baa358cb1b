"""Where the user's WebArena sites live, how to log in, and which judge scores fuzzy answers.

A config file (JSON, or YAML when PyYAML is installed), every key optional::

    sites:            # base URL per site; WebArena's env vars (SHOPPING, GITLAB, ...) fill gaps
      shopping: http://host:7770
      shopping_admin: http://host:7780/admin
      gitlab: http://host:8023
    auth_dir: .auth   # Playwright storage-state files named as upstream's auto_login writes
                      # them (shopping_state.json, gitlab.reddit_state.json, ...)
    storage_states:   # or one file per site combination (overrides auth_dir)
      gitlab: /path/gitlab_state.json
    accounts:         # Magento admin for the shopping_* helpers (upstream's public defaults)
      shopping_site_admin: {username: admin, password_env: WEBARENA_SHOPPING_ADMIN_PASSWORD}
    judge:            # OpenAI-compatible endpoint for fuzzy_match / N/A answers
      base_url: https://api.example.com/v1
      model: gpt-4-1106-preview
      api_key_env: OPENAI_API_KEY
    html_settle_s: 3  # upstream sleeps 3 s after each program_html navigation

Relative paths are relative to the config file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cua.core import CuaError
from envs.webarena.task import PLACEHOLDERS, site_key

CONFIG_ENV = "CUA_WEBARENA_SITES"
# browser_env/env_config.py ACCOUNTS["shopping_site_admin"]: the login baked into the
# published benchmark images, public in the upstream repository.
DEFAULT_SHOP_ADMIN = ("admin", "admin1234")


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    timeout_s: float = 60.0


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    password: str | None = None
    password_env: str | None = None

    def resolved_password(self) -> str:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if not value:
                raise CuaError(f"environment variable {self.password_env} (an account password) is not set")
            return value
        if self.password is None:
            raise CuaError(f"account {self.username!r} has neither password nor password_env")
        return self.password


class SiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sites: dict[str, str] = Field(default_factory=dict)
    auth_dir: str | None = None
    storage_states: dict[str, str] = Field(default_factory=dict)
    accounts: dict[str, Account] = Field(default_factory=dict)
    judge: JudgeConfig | None = None
    html_settle_s: float = 3.0

    def urls(self) -> dict[str, str]:
        """placeholder → base URL, for every configured site."""
        out = {}
        for p in PLACEHOLDERS:
            url = self.sites.get(site_key(p))
            if url:
                out[p] = url.rstrip("/")
        return out

    def storage_state_for(self, task_storage_state: str | None) -> Path | None:
        """The login file for a task's ``storage_state`` (``./.auth/gitlab.reddit_state.json``):
        by its site combination in ``storage_states``, else by its name in ``auth_dir``."""
        if not task_storage_state:
            return None
        name = Path(task_storage_state).name
        combo = name.rsplit("_", 1)[0]  # upstream parses the sites out of the basename
        if combo in self.storage_states:
            return Path(self.storage_states[combo])
        if self.auth_dir:
            return Path(self.auth_dir) / name
        return None

    def shop_admin(self) -> tuple[str, str]:
        account = self.accounts.get("shopping_site_admin")
        if account is None:
            return DEFAULT_SHOP_ADMIN
        return account.username, account.resolved_password()


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as e:
            raise CuaError(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or use JSON") from e
        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise CuaError(f"{path}: the WebArena site config must be a mapping")
    return data


def load_site_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> SiteConfig:
    """The config at ``path`` (or ``$CUA_WEBARENA_SITES``), with WebArena's env vars
    (``SHOPPING``, ``SHOPPING_ADMIN``, ``REDDIT``, ``GITLAB``, ``MAP``, ``WIKIPEDIA``,
    ``HOMEPAGE``) filling the sites the file does not name."""
    env = os.environ if env is None else env
    path = path or env.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    base: Path | None = None
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise CuaError(f"no WebArena site config at {p} (from {CONFIG_ENV} or --sites)")
        try:
            data = _read(p)
        except (OSError, ValueError) as e:
            raise CuaError(f"cannot read WebArena site config {p}: {e}") from e
        base = p.parent
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise CuaError(f"WebArena site config {path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from e
    for p_name in PLACEHOLDERS:
        key = site_key(p_name)
        if not config.sites.get(key) and env.get(key.upper()):
            config.sites[key] = env[key.upper()]
    if base is not None:
        if config.auth_dir and not Path(config.auth_dir).is_absolute():
            config.auth_dir = str(base / config.auth_dir)
        config.storage_states = {k: v if Path(v).is_absolute() else str(base / v)
                                 for k, v in config.storage_states.items()}
    return config
