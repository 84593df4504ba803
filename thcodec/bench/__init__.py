"""`thc bench`: the standard measurement "th256" of thcodec against classic codecs.

Each clip becomes a lossless 256x256, 25 fps reference of at most 250 frames (reference.py);
every codec is fed that reference (anchors.py for x264, x265, vvenc, SVT-AV1 and the
frozen-first-frame floor; ours.py for thcodec); quality.py measures what comes back
(PSNR, SSIM, VMAF, AKD, AED); report.py writes the CSV, the Markdown table with
rate-matched comparisons and BD-rates, and the plots; run.py ties them together.

Needs the `eval` extra: pip install 'thcodec[eval]'.
"""
