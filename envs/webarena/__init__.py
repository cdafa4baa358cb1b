"""WebArena / WebArena-Verified task adapter: task JSON, site config, evaluators, env, rescoring.

Import the env from ``envs.webarena.env`` (it starts Playwright); the rest is pure Python."""
