"""Data both training and the benchmark read, below both: the clip manifest, the frame cache
of 256x256 face crops, and the th256 reference cut (face square, 25 fps, lossless).

Imports only runtime packages (media, face); train/ and bench/ import it, never the reverse."""
