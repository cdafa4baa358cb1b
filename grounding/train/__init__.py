"""Training grounding models: SFT and GRPO on accelerate, with verifiable rewards."""
