"""Trajectory store: one folder per episode, written step by step and atomically.

    <episode>/steps.jsonl      one StepRecord per line (schema_version inside each line)
    <episode>/step_0000.png    the screenshot each step saw, before its action
    <episode>/final.png        the screen at the end
    <episode>/result.json      EpisodeResult, written last (its presence = episode finished)

A killed run loses at most the step in flight: each line is appended and fsynced after its
screenshot is in place, and result.json is replaced atomically. Credentials are masked in
every line written: values of environment variables that look like credentials (and any named
in ``secret_env``), and the values of credential query parameters in URLs (``access_token=``,
``private_token=``, ``api_key=`` ...). Envs that record more (WebArena's network trace) mask
what they record themselves (envs/webarena/redact.py); screenshots are stored as they are.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from pydantic import ValidationError

from cua.core.errors import CuaError
from cua.core.records import EpisodeResult, StepRecord

log = logging.getLogger(__name__)

STEPS_FILE = "steps.jsonl"
RESULT_FILE = "result.json"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter values would mask ordinary words


def secret_values(extra_env_names: tuple[str, ...] = ()) -> list[str]:
    names = [n for n in os.environ if _SECRET_NAME.search(n)] + list(extra_env_names)
    values = {os.environ[n] for n in names if len(os.environ.get(n, "")) >= _MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


# Query parameters that carry credentials (GitLab's private_token, OAuth's access_token, ...):
# their values are masked wherever a URL appears in a record.
_CREDENTIAL_PARAM = re.compile(
    r"([?&;](?:access_token|private_token|auth_token|id_token|refresh_token|token|api_key|apikey"
    r"|client_secret|secret|password|passwd|session_id|sessionid|sig|signature)=)[^&#\s\"\\]+",
    re.IGNORECASE)


def redact(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return _CREDENTIAL_PARAM.sub(r"\1***", text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_image(path: Path, image: Image.Image) -> None:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


class EpisodeWriter:
    def __init__(self, folder: Path, secret_env: tuple[str, ...] = ()) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._secrets = secret_values(secret_env)
        # A rerun of an unfinished episode starts clean: stale steps would mix two attempts.
        for stale in [self.folder / STEPS_FILE, *self.folder.glob("step_*.png")]:
            stale.unlink(missing_ok=True)

    def screenshot_name(self, index: int) -> str:
        return f"step_{index:04d}.png"

    def write_step(self, record: StepRecord, screenshot: Image.Image) -> None:
        atomic_write_image(self.folder / record.screenshot, screenshot)
        line = redact(record.model_dump_json(), self._secrets)
        with open(self.folder / STEPS_FILE, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_final_screenshot(self, screenshot: Image.Image) -> str:
        atomic_write_image(self.folder / "final.png", screenshot)
        return "final.png"

    def finish(self, result: EpisodeResult) -> None:
        text = redact(result.model_dump_json(indent=2), self._secrets)
        atomic_write_bytes(self.folder / RESULT_FILE, text.encode())


@dataclass
class Episode:
    folder: Path
    steps: list[StepRecord]
    result: EpisodeResult | None
    warnings: list[str] = field(default_factory=list)

    def screenshot(self, step: StepRecord) -> Image.Image:
        path = episode_file(self.folder, step.screenshot)
        if path is None:
            raise CuaError(f"step {step.index}: screenshot name {step.screenshot!r} is not a file of {self.folder}")
        return Image.open(path).convert("RGB")


def episode_file(folder: Path | str, name: str) -> Path | None:
    """``folder / name`` when ``name`` (read from a run folder, so untrusted) is a plain file
    name that stays inside ``folder``; None, with a warning, for an absolute path, ``..``, a
    sub-folder, or a link leading out. Keeps a doctored steps.jsonl from showing, exporting or
    sending any readable image of the machine."""
    if _is_inside(Path(folder), name):
        return Path(folder) / name
    log.warning("refused file name %r from %s: not a plain file name inside the episode folder", name, folder)
    return None


def _is_inside(folder: Path, name: str) -> bool:
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        return False
    try:
        return (folder / name).resolve().parent == folder.resolve()
    except (OSError, RuntimeError):  # a link loop
        return False


def load_episode(folder: Path | str) -> Episode:
    """Read an episode folder. A truncated or corrupt line stops the read there, with a
    warning: everything before it is kept."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CuaError(f"no episode folder at {folder}")
    steps_path = folder / STEPS_FILE
    if not steps_path.exists() and not (folder / RESULT_FILE).exists():
        raise CuaError(f"{folder} is not an episode folder (no {STEPS_FILE} or {RESULT_FILE})")
    steps: list[StepRecord] = []
    warnings: list[str] = []
    if steps_path.exists():
        for n, line in enumerate(steps_path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                steps.append(StepRecord.model_validate_json(line))
            except ValidationError as e:
                warnings.append(f"{steps_path}:{n}: unreadable step, stopped there ({e.errors()[0]['msg']})")
                break
    result = None
    if (folder / RESULT_FILE).exists():
        try:
            result = EpisodeResult.model_validate_json((folder / RESULT_FILE).read_text())
        except ValidationError as e:
            warnings.append(f"{folder / RESULT_FILE}: unreadable ({e.errors()[0]['msg']})")
    for step in steps:
        if not _is_inside(folder, step.screenshot):
            warnings.append(f"{steps_path}: step {step.index}: screenshot {step.screenshot!r} refused "
                            "(not a plain file name inside the episode folder)")
    for w in warnings:
        log.warning(w)
    return Episode(folder=folder, steps=steps, result=result, warnings=warnings)


def episode_dirname(task_id: str, seed: int | None) -> str:
    safe = re.sub(r"[^\w.-]+", "_", task_id)
    return f"{safe}__seed{seed}" if seed is not None else safe


def write_json(path: Path, data: object) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=2, default=str).encode())
