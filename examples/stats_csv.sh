#!/usr/bin/env bash
# One CSV row per .thc file in a folder: size, rate and where the bytes go; with a reference
# folder (originals with the same base names), also PSNR and SSIM.
# Usage: examples/stats_csv.sh THC_DIR [REFERENCE_DIR] > stats.csv
# Stops at the first failure and names the file that failed.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 THC_DIR [REFERENCE_DIR]" >&2; exit 2; }
thc_dir=$1 ref_dir=${2:-}
shopt -s nullglob
files=("$thc_dir"/*.thc)
[ ${#files[@]} -gt 0 ] || { echo "no .thc files in $thc_dir" >&2; exit 1; }
echo "file,frames,width,height,fps,duration_s,bytes,kbps,bits_per_pixel,pivot_bytes,keypoint_bytes,audio_bytes,container_bytes,keypoint_kbps,psnr,ssim"
for f in "${files[@]}"; do
  args=("$f" --json)
  if [ -n "$ref_dir" ]; then
    base=$(basename "${f%.thc}")
    ref=$(ls "$ref_dir/$base".* 2>/dev/null | head -n 1 || true)
    [ -n "$ref" ] || { echo "FAILED: $f (no reference named $base.* in $ref_dir)" >&2; exit 1; }
    args+=(--reference "$ref")
  fi
  json=$(thc stats "${args[@]}") || { echo "FAILED: $f" >&2; exit 1; }
  python3 - "$json" <<'PY'
import json, sys
s = json.loads(sys.argv[1]); b = s["bytes_by_category"]
row = [s["file"], s["frames"], s["width"], s["height"], f'{s["fps"]:.3f}', f'{s["duration_s"]:.3f}', s["bytes_total"],
       f'{s["kbps"]:.3f}', f'{s["bits_per_pixel"]:.6f}', b["pivot"], b["keypoints"], b["audio"], b["container"],
       f'{s["keypoint_kbps"]:.3f}', "" if s["psnr"] is None else f'{s["psnr"]:.3f}', "" if s["ssim"] is None else f'{s["ssim"]:.5f}']
print(",".join(str(x) for x in row))
PY
done
