#!/usr/bin/env bash
# Decode every .thc file in a folder to MP4 files in another folder.
# Usage: examples/decode_folder.sh [--force] IN_DIR OUT_DIR [thc decode options...]
# Keeps going past a failure and lists the failed files at the end (exit 1 if any).
# An output that exists is skipped (a second run finishes what the first left), unless --force.
set -uo pipefail
force=()
[ "${1:-}" = "--force" ] && { force=(--force); shift; }
[ $# -ge 2 ] || { echo "usage: $0 [--force] IN_DIR OUT_DIR [thc decode options...]" >&2; exit 2; }
in_dir=$1 out_dir=$2
shift 2
mkdir -p "$out_dir" || exit 1
shopt -s nullglob
files=("$in_dir"/*.thc)
[ ${#files[@]} -gt 0 ] || { echo "no .thc files in $in_dir" >&2; exit 1; }
failed=()
for f in "${files[@]}"; do
  out="$out_dir/$(basename "${f%.thc}").mp4"
  if [ -e "$out" ] && [ ${#force[@]} -eq 0 ]; then echo "skipping $f: $out exists" >&2; continue; fi
  echo "decoding $f -> $out" >&2
  thc decode "$f" "$out" --quiet "${force[@]}" "$@" || failed+=("$f")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED (${#failed[@]} of ${#files[@]}):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
