"""The app families; importing this registers every family's templates."""

from data_synth.apps import auth, booking, mail, settings, shop, table  # noqa: F401  (registers their templates)
from data_synth.apps.base import TEMPLATES, Ctx, Draft, Template

FAMILIES: tuple[str, ...] = ("auth", "shop", "mail", "booking", "settings", "table")

__all__ = ["FAMILIES", "TEMPLATES", "Ctx", "Draft", "Template"]
