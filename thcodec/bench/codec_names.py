"""The names `thc bench --codecs` takes, without importing the codecs (the CLI's help lists them).
tests/test_bench.py checks them against the codecs thcodec/bench/run.py makes."""

CODECS = (
    "thc",
    "thc_hybrid",
    "x264",
    "x265",
    "vvenc",
    "svtav1",
    "svtav1_ld",
    "frozen",
    "svtav1_scaled",
    "svtav1_ld_scaled",
    "x265_scaled",
    "vvenc_scaled",
)
