"""Exporters from a verified run to training data: grounding (ScreenSpot layout and a Hugging
Face dataset in Qwen chat format), multi-turn trajectories, RL task specs; train and held-out
splits fixed by task id."""

from data_synth.export.grounding import GroundingFormat, export_hf_grounding, export_screenspot
from data_synth.export.records import VerifiedTask, split_of, verified_tasks
from data_synth.export.rl import export_rl
from data_synth.export.trajectories import export_trajectories

__all__ = ["GroundingFormat", "VerifiedTask", "export_hf_grounding", "export_rl", "export_screenspot",
           "export_trajectories", "split_of", "verified_tasks"]
