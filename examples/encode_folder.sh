#!/usr/bin/env bash
# Encode every video in a folder to .thc files in another folder.
# Usage: examples/encode_folder.sh IN_DIR OUT_DIR [thc encode options...]
# Stops at the first failure and names the file that failed.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 IN_DIR OUT_DIR [thc encode options...]" >&2; exit 2; }
in_dir=$1 out_dir=$2
shift 2
mkdir -p "$out_dir"
shopt -s nullglob nocaseglob
files=("$in_dir"/*.mp4 "$in_dir"/*.mov "$in_dir"/*.mkv "$in_dir"/*.avi "$in_dir"/*.webm)
[ ${#files[@]} -gt 0 ] || { echo "no videos in $in_dir" >&2; exit 1; }
for f in "${files[@]}"; do
  out="$out_dir/$(basename "${f%.*}").thc"
  echo "encoding $f -> $out" >&2
  thc encode "$f" "$out" --quiet "$@" || { echo "FAILED: $f" >&2; exit 1; }
done
