"""The synthetic verifiable web-task engine.

Generated web apps (``data_synth.apps``: auth, shop, mail, booking, settings, table) are served
on loopback from memory; each task template drafts an instruction, the app's initial state, a
validator over the app's real state (``data_synth.validators``) and a reference plan. Every
generated task is verified by execution (``data_synth.verify``) before it is kept.

Entry points:
  * ``data_synth.templates.generate(name, seed)`` and ``task_names(level)``;
  * ``data_synth.env.SyntheticEnv``, ``make_task(name, seed)`` (the ``synthetic-<level>`` suites);
  * ``data_synth.pipeline.run(out, names, seeds, workers)`` (parallel, resumable);
  * ``data_synth.export``: ScreenSpot-layout and Hugging Face grounding data, trajectories, RL specs.
"""
