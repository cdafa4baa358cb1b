"""Zoom refinement: windows stay inside the image and the refined point maps back exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from cua.core import Grounding, ModelSpace, Observation, Point
from grounding.zoom import ZoomGrounder, crop_window


@given(st.integers(50, 4000), st.integers(50, 3000), st.floats(0, 1), st.floats(0, 1),
       st.floats(0.1, 0.9))
def test_crop_window_inside_and_around_the_point(w, h, fx, fy, frac):
    c = Point(x=fx * w, y=fy * h)
    box = crop_window(c, (w, h), frac)
    assert -1e-6 <= box.x1 and box.x2 <= w + 1e-6 and -1e-6 <= box.y1 and box.y2 <= h + 1e-6
    assert box.width == pytest.approx(w * frac) and box.height == pytest.approx(h * frac)
    assert box.contains(c)


class DarkestPixel:
    """A real (if simple) image grounder: the centre of the darkest pixels. It sees pixels
    only, so the refinement must hand it the crop and map its answer back."""

    name = "darkest"

    def ground(self, image: Image.Image, instruction: str, observation: Observation | None = None) -> Grounding:
        gray = np.asarray(image.convert("L"))
        ys, xs = np.nonzero(gray == gray.min())
        x, y = float(xs.mean()) + 0.5, float(ys.mean()) + 0.5
        return Grounding(point=Point(x=x, y=y), model_space=ModelSpace.screenshot(*image.size),
                         raw_text=f"({x:.1f},{y:.1f})", grounder=self.name)


def test_refined_point_maps_back_to_screenshot_pixels():
    img = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(img).rectangle((300, 40, 303, 43), fill="black")  # a 4×4 target
    g = ZoomGrounder(DarkestPixel(), depth=2, fraction=0.5, upscale=3).ground(img, "the dot")
    assert g.point.x == pytest.approx(302, abs=0.5) and g.point.y == pytest.approx(42, abs=0.5)
    assert len(g.crops) == 2 and g.crops[1].area < g.crops[0].area
    assert all(c.contains(g.point) for c in g.crops)
    assert g.grounder == "zoom(darkest)"


def test_bad_fraction_is_rejected():
    with pytest.raises(ValueError, match="fraction"):
        ZoomGrounder(DarkestPixel(), fraction=1.5)
