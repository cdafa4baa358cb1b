"""Environments behind one Env protocol (browser, desktop, MiniWoB++)."""
