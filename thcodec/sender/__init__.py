"""The sender: video -> .thc (pivot choice, rate, key-point sources, analysis by synthesis)."""
