#!/usr/bin/env bash
# Decode every .thc file in a folder to MP4 files in another folder.
# Usage: examples/decode_folder.sh IN_DIR OUT_DIR [thc decode options...]
# Stops at the first failure and names the file that failed.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 IN_DIR OUT_DIR [thc decode options...]" >&2; exit 2; }
in_dir=$1 out_dir=$2
shift 2
mkdir -p "$out_dir"
shopt -s nullglob
files=("$in_dir"/*.thc)
[ ${#files[@]} -gt 0 ] || { echo "no .thc files in $in_dir" >&2; exit 1; }
for f in "${files[@]}"; do
  out="$out_dir/$(basename "${f%.thc}").mp4"
  echo "decoding $f -> $out" >&2
  thc decode "$f" "$out" --quiet "$@" || { echo "FAILED: $f" >&2; exit 1; }
done
