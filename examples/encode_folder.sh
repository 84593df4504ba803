#!/usr/bin/env bash
# Encode every video in a folder to .thc files in another folder.
# Usage: examples/encode_folder.sh [--force] IN_DIR OUT_DIR [thc encode options...]
# Keeps going past a failure and lists the failed files at the end (exit 1 if any).
# An output that exists is skipped (a second run finishes what the first left), unless --force.
set -uo pipefail
force=()
[ "${1:-}" = "--force" ] && { force=(--force); shift; }
[ $# -ge 2 ] || { echo "usage: $0 [--force] IN_DIR OUT_DIR [thc encode options...]" >&2; exit 2; }
in_dir=$1 out_dir=$2
shift 2
mkdir -p "$out_dir" || exit 1
shopt -s nullglob nocaseglob
files=("$in_dir"/*.mp4 "$in_dir"/*.mov "$in_dir"/*.mkv "$in_dir"/*.avi "$in_dir"/*.webm)
[ ${#files[@]} -gt 0 ] || { echo "no videos in $in_dir" >&2; exit 1; }
failed=()
for f in "${files[@]}"; do
  out="$out_dir/$(basename "${f%.*}").thc"
  if [ -e "$out" ] && [ ${#force[@]} -eq 0 ]; then echo "skipping $f: $out exists" >&2; continue; fi
  echo "encoding $f -> $out" >&2
  thc encode "$f" "$out" --quiet "${force[@]}" "$@" || failed+=("$f")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED (${#failed[@]} of ${#files[@]}):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
