"""Look and feel drawn per seed: palette, font, size, density, corners, layout, viewport.

The page's CSS reads these as custom properties (``--primary``, ``--pad`` ...), so one
stylesheet serves every theme. Fonts are stacks whose installed member (DejaVu or
Liberation on Debian) does the rendering, as on a real machine without web fonts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from data_synth.rng import Rand
from data_synth.spec import Level

# name → (primary, hover); named by what a person would call them on screen.
PRIMARIES: dict[str, tuple[str, str]] = {
    "blue": ("#2563eb", "#1d4ed8"), "indigo": ("#4f46e5", "#4338ca"),
    "purple": ("#7c3aed", "#6d28d9"), "green": ("#15803d", "#166534"),
    "teal": ("#0f766e", "#115e59"), "orange": ("#c2410c", "#9a3412"),
    "pink": ("#be185d", "#9d174d"), "slate": ("#334155", "#1e293b"),
}
FONTS = (
    '"Inter", "Liberation Sans", Arial, sans-serif',
    '"Segoe UI", "DejaVu Sans", Verdana, sans-serif',
    '"Helvetica Neue", "Liberation Sans", Helvetica, sans-serif',
    '"Roboto", "DejaVu Sans", sans-serif',
    '"Source Sans Pro", "Liberation Sans Narrow", "Liberation Sans", sans-serif',
    '"Georgia", "DejaVu Serif", serif',
)
VIEWPORTS: dict[Level, tuple[tuple[int, int], ...]] = {
    "easy": ((1280, 720), (1366, 768), (1280, 800), (1440, 900)),
    "medium": ((1280, 720), (1366, 768), (1440, 900), (1024, 768), (1536, 864)),
    "hard": ((1280, 720), (1024, 640), (1366, 768), (1024, 768), (1280, 640)),
}

Density = Literal["compact", "cozy", "roomy"]


class Theme(BaseModel):
    model_config = ConfigDict(frozen=True)

    primary_name: str
    primary: str
    primary_hover: str
    dark: bool
    font: str
    font_size: int
    density: Density
    radius: int  # px; 999 = pill buttons
    button_style: Literal["solid", "outline", "soft"]
    nav: Literal["top", "side"]
    side: Literal["left", "right"]
    icon_stroke: float
    heading_case: Literal["none", "uppercase"]
    shadow: bool

    def css_vars(self) -> str:
        pad = {"compact": 6, "cozy": 10, "roomy": 14}[self.density]
        light = {"bg": "#f6f7f9", "surface": "#ffffff", "text": "#111827", "muted": "#6b7280",
                 "border": "#d9dde3", "hover": "#eef1f5"}
        dark = {"bg": "#0f1115", "surface": "#181b21", "text": "#e5e7eb", "muted": "#9ca3af",
                "border": "#2c313a", "hover": "#222733"}
        c = dark if self.dark else light
        # on a dark background the brand colour is lightened, as dark themes do, to stay legible
        primary, hover = (_mix(self.primary, 0.4), _mix(self.primary_hover, 0.3)) if self.dark else (
            self.primary, self.primary_hover)
        return ":root{" + "".join(f"--{k}:{v};" for k, v in {
            "primary": primary, "primary-hover": hover, **c,
            "danger": "#dc2626", "success": "#16a34a", "warning": "#d97706",
            "font": self.font, "fs": f"{self.font_size}px", "pad": f"{pad}px",
            "radius": f"{min(self.radius, 12)}px", "btn-radius": f"{self.radius}px",
            "stroke": str(self.icon_stroke),
            "shadow": "0 1px 3px rgba(0,0,0,.12)" if self.shadow else "none",
            "hcase": self.heading_case,
        }.items()) + "}"


def _mix(hex_colour: str, white: float) -> str:
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * white):02x}" for c in rgb)


def draw_theme(rng: Rand, level: Level) -> Theme:
    name = rng.choice(list(PRIMARIES))
    primary, hover = PRIMARIES[name]
    return Theme(
        primary_name=name, primary=primary, primary_hover=hover,
        dark=rng.chance(0.2), font=rng.choice(FONTS), font_size=rng.choice((13, 14, 14, 15, 16)),
        density=rng.choice(("compact", "cozy", "cozy", "roomy")),
        radius=rng.choice((0, 4, 6, 8, 8, 999)),
        button_style=rng.choice(("solid", "solid", "outline", "soft")),
        nav=rng.choice(("top", "side")), side=rng.choice(("left", "left", "right")),
        icon_stroke=rng.choice((1.5, 2.0, 2.0, 2.5)),
        heading_case=rng.choice(("none", "none", "uppercase")), shadow=rng.chance(0.6),
    )


def draw_viewport(rng: Rand, level: Level) -> tuple[tuple[int, int], float]:
    """(CSS width, height), device scale factor. HiDPI on a share of the smaller screens."""
    viewport = rng.choice(VIEWPORTS[level])
    dsf = 2.0 if viewport[0] <= 1280 and rng.chance(0.15) else 1.0
    return viewport, dsf
