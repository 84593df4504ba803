"""Media I/O: video/audio files through PyAV, JPEG and tensor conversion, atomic outputs, pixel metrics, charts."""
