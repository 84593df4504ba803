"""Training: frame cache, trainer, export of shipped weights."""
