#!/usr/bin/env bash
# One lent GPU (the device tool's `run`): train the motion networks (dense motion + generator;
# PART=light: a light generator taught by the shipped one) in several settings side by side on
# the one GPU, within a fixed time, and leave
# each setting's log and the networks' weights at every validation (snaps.tar of snap_<step>.pt:
# the bench picks, not the validation PSNR, which a discriminator works against) under
# $OUT/<setting>/ (8 files: the tool's limit, so at most four settings).
#
# Prepare here:  python -m thcodec.train.portable_cache pack     (.cache/portable, ~30 MiB)
#                a zstandard wheel for the machine's Python in .whl/ (it lacks that package)
# Run there:     MINUTES=8 bash thcodec/train/gpu_job.sh   (RUNS, INIT, PART, BATCH: see below;
#                INIT= with nothing after it: no --init)
#                carry: .cache/portable .whl runs/motion_gan/best.pt
# Back here:     tar -xf snaps.tar; python -m thcodec.train.export --motion snap_<step>.pt --out <a copy
#                of weights/>; thc bench --weights <it> (docs/gpu_training.md)
set -u
export PYTHONUNBUFFERED=1
MINUTES=${MINUTES:-7}
OUT=${OUT:-out/gpu_job}
INIT=${INIT-runs/motion_gan/best.pt}
PART=${PART:-motion}
BATCH=${BATCH:-32}
VAL_EVERY=${VAL_EVERY:-400}  # ~8 snapshots of 1.2 MB in 8 minutes: each tar stays under 16 MiB
WORK=${WORK:-/tmp/thc_gpu}

if ! python3 -c "import zstandard" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" .whl/zstandard-*.whl || exit 1
    export PYTHONPATH="$WORK/site"
fi
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0))"
python3 -m thcodec.train.portable_cache unpack --src .cache/portable --cache "$WORK/frames" || exit 1

# Every setting drives the networks with what the sender sends (--driving landmarks).
common=(--part "$PART" --cache "$WORK/frames" --driving landmarks --batch "$BATCH"
        --minutes "$MINUTES" --steps 1000000 --val-every "$VAL_EVERY" --keep-all --threads 3)
[ -n "$INIT" ] && common+=(--init "$INIT")
pids=()
start() {
    local name=$1; shift
    mkdir -p "$WORK/runs/$name" "$OUT/$name"
    python3 -m thcodec.train.train "${common[@]}" --run "$WORK/runs/$name" "$@" > "$OUT/$name/train.log" 2>&1 &
    pids+=($!)
}
# RUNS: "name:options;name:options" (the v3 run's four settings by default)
RUNS=${RUNS:-"gan:--gan 0.02 --lr 2e-4;pixel:--lr 2e-4;gan_slow:--gan 0.02 --lr 1e-4;gan_strong:--gan 0.05 --lr 2e-4"}
IFS=';' read -ra settings <<< "$RUNS"
for s in "${settings[@]}"; do
    read -ra opts <<< "${s#*:}"
    start "${s%%:*}" "${opts[@]}"
done

copy_back() {  # the trainer writes snapshots atomically; the tar is renamed into place whole
    for d in "$WORK"/runs/*/; do
        local name
        name=$(basename "$d")
        compgen -G "$d/snap_*.pt" > /dev/null || continue
        (cd "$d" && tar -cf "$OUT/$name/snaps.tmp" snap_*.pt) && mv "$OUT/$name/snaps.tmp" "$OUT/$name/snaps.tar"
    done
}
while kill -0 "${pids[@]}" 2>/dev/null; do sleep 15; copy_back; done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
copy_back
for d in "$OUT"/*/; do echo "== $(basename "$d")"; grep '^val' "$d/train.log" | tail -3; tail -1 "$d/train.log"; done
exit $status
