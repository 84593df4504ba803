"""The .thc format: container chunks, the 8-byte key point and its stream coding, byte accounting. No torch."""
