"""interplay-hf: the pre-training / mid-training / RL interplay study (arXiv 2512.07783) as HuggingFace recipes."""

__version__ = "0.1.0"
