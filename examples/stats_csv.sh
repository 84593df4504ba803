#!/usr/bin/env bash
# One CSV row per .thc file in a folder (thc stats --csv: the csv module quotes any file name):
# sizes, video-only rate and bits per pixel, audio and container apart, the worst window; with a
# reference folder (originals with the same base names), also PSNR Y, PSNR RGB and SSIM RGB.
# Usage: examples/stats_csv.sh THC_DIR [REFERENCE_DIR] > stats.csv
# Keeps going past a failure (its row carries the error) and lists the failed files at the end (exit 1 if any).
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 THC_DIR [REFERENCE_DIR]" >&2; exit 2; }
thc_dir=$1 ref_dir=${2:-}
shopt -s nullglob
files=("$thc_dir"/*.thc)
[ ${#files[@]} -gt 0 ] || { echo "no .thc files in $thc_dir" >&2; exit 1; }
if [ -z "$ref_dir" ]; then
  exec thc stats "${files[@]}" --csv
fi
failed=()
header=1
for f in "${files[@]}"; do
  base=$(basename "${f%.thc}")
  refs=("$ref_dir/$base".*)
  if [ ${#refs[@]} -eq 0 ]; then echo "no reference named $base.* in $ref_dir" >&2; failed+=("$f"); continue; fi
  # the header once; a failed file still prints its row (with the error) and a non-zero status
  thc stats "$f" --reference "${refs[0]}" --csv | tail -n +$((header ? 1 : 2)) || failed+=("$f")
  header=0
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED (${#failed[@]} of ${#files[@]}):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
