"""Policies: what decides the next action (see ``cua.policies.base``)."""

from cua.policies.base import POLICIES, Policy, PolicyInput, Proposal, Turn, components, image_window

__all__ = ["POLICIES", "Policy", "PolicyInput", "Proposal", "Turn", "components", "image_window"]

# Policies that register themselves in POLICIES (the planner policy is built by cua.stack).
from cua.policies import native  # noqa: E402,F401
