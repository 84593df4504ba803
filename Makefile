# thcodec: `make demo` installs and runs the codec on the bundled example; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
THC := $(VENV)/bin/thc
OUT ?= out
DATA ?= ../shared/data
KP_STEPS ?= 2300
MOTION_STEPS ?= 4000
GAN_STEPS ?= 3000  # the shipped v2 run stopped at step 1520 (best at 1250)
SR_STEPS ?= 3000
FUSION_STEPS ?= 4000  # the v1 fusion run was stopped at step 2250 (best at 2000)
FUSION_V2_STEPS ?= 4000  # the shipped v2 run was stopped at step 2000 (best at 800)
BENCH_ARGS ?=

.PHONY: install demo test test-slow train export bench bench-hybrid bench-native bench-whole-frame clean

# The package's bytecode is compiled here, as pip does for a regular install: the editable
# install leaves it to Python, which skips writing it where PYTHONDONTWRITEBYTECODE is set (as on
# this project's machines) and then compiles the source on every start (docs/speed.md).
install: $(VENV)/.installed
	$(PY) -m compileall -q thcodec

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,cluster,onnx]'
	touch $@

demo: install
	mkdir -p $(OUT)
	$(THC) encode examples/demo.mp4 $(OUT)/demo.thc --force
	$(THC) decode $(OUT)/demo.thc $(OUT)/demo_rebuilt.mp4 --force
	$(THC) stats $(OUT)/demo.thc --reference examples/demo.mp4

# The import contracts (pyproject.toml [tool.importlinter]: layers, the format without torch,
# runtime without train/bench), then the tests. pytest exits 5 when no test is collected; that
# is not a failure of the code.
test: install
	$(VENV)/bin/ruff check thcodec tests
	$(VENV)/bin/ruff format --check thcodec tests
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q; code=$$?; if [ $$code -eq 5 ]; then exit 0; else exit $$code; fi

test-slow: install
	$(PY) -m pytest -q -m slow

# The CPU recipe of every shipped network. The shipped dense motion + generator (v4) went on from
# runs/motion_gan on lent GPUs (thcodec/train/gpu_job.sh, docs/gpu_training.md): weights/manifest.json's
# "command" per file lists exactly the commands that made it; `make export` ships this recipe's v2.
train: install
	test -f .cache/frames/train/index.json || $(PY) -m thcodec.train.cache --data $(DATA) --out .cache/frames
	mkdir -p runs
	# The two parts run side by side, one core each; both resume from runs/*/last.pt.
	$(PY) -m thcodec.train.train --part keypoints --run runs/kp --steps $(KP_STEPS) --batch 8 >> runs/kp.log 2>&1 & kp=$$!; \
	$(PY) -m thcodec.train.train --part motion --run runs/motion --steps $(MOTION_STEPS) --batch 4 >> runs/motion.log 2>&1; m=$$?; \
	wait $$kp && test $$m -eq 0
	# v2: fine-tune dense motion + generator on the detector's own key points with the patch
	# discriminator (sharper frames; the best checkpoint by validation PSNR is shipped).
	$(PY) -m thcodec.train.train --part motion --init runs/motion/best.pt --detector runs/kp/best.pt --gan 0.02 --lr 1e-4 --run runs/motion_gan --steps $(GAN_STEPS) --batch 4 >> runs/motion_gan.log 2>&1
	# The interpolator learns from the detector's key points: trajectories first, then a few minutes.
	test -f .cache/kps/val.npz || $(PY) -m thcodec.train.trajectories --data $(DATA) --out .cache/kps
	$(PY) -m thcodec.train.train --part interp --run runs/interp2 --steps 4000 --batch 256 --lr 1e-3 --val-every 500 >> runs/interp.log 2>&1
	# Super-resolution learns from the shipped model's frames at 512: its cache first, then the
	# network and its ablation without the pivot input, side by side.
	test -f .cache/sr/val/index.json || $(PY) -m thcodec.train.sr_cache --data $(DATA) --out .cache/sr
	$(PY) -m thcodec.train.train --part sr --no-pivot --run runs/sr_nopivot --steps $(SR_STEPS) --batch 16 --lr 1e-3 --val-every 500 --seed 1 >> runs/sr_nopivot.log 2>&1 & nopivot=$$!; \
	$(PY) -m thcodec.train.train --part sr --run runs/sr --steps $(SR_STEPS) --batch 16 --lr 1e-3 --val-every 500 >> runs/sr.log 2>&1; s=$$?; \
	wait $$nopivot && test $$s -eq 0
	# Hybrid mode: the fusion network learns from the shipped model's animations and the base
	# layer's own codec output (two sizes/CRFs per clip), made once into its cache.
	test -f .cache/fusion/train/index.json || $(PY) -m thcodec.train.fusion_cache --frames .cache/frames --out .cache/fusion
	$(PY) -m thcodec.train.train --part fusion --run runs/fusion --steps $(FUSION_STEPS) --minutes 55 --val-every 400 --batch 12 --lr 1e-3 >> runs/fusion.log 2>&1
	# v2 (shipped): fine-tuned on animations driven by landmark motion, as the default sender
	# drives them, with the detail-energy term (it keeps the pivot's detail: docs/hybrid.md).
	test -f .cache/fusion_lm/train/index.json || $(PY) -m thcodec.train.fusion_cache --frames .cache/frames --out .cache/fusion_lm --motion landmarks
	$(PY) -m thcodec.train.train --part fusion --fusion-cache .cache/fusion_lm --init runs/fusion/best.pt --energy-weight 2.0 --run runs/fusion_lm_energy --steps $(FUSION_V2_STEPS) --minutes 45 --val-every 200 --batch 12 --lr 5e-4 >> runs/fusion_lm_energy.log 2>&1

export: install
	$(PY) -m thcodec.train.export --keypoints runs/kp/best.pt --motion runs/motion_gan/best.pt --interp runs/interp2/best.pt --sr runs/sr/best.pt --fusion runs/fusion_lm_energy/best.pt --out weights --notes thcodec/train/manifest_notes.json
	$(PY) -m thcodec.train.report --run keypoints=runs/kp --run motion=runs/motion --run motion_gan=runs/motion_gan --run interp=runs/interp2 --run sr=runs/sr --run sr_nopivot=runs/sr_nopivot --out weights/log
	$(PY) -m thcodec.train.report --run fusion=runs/fusion --out weights/log/fusion
	$(PY) -m thcodec.train.report --run fusion_v2=runs/fusion_lm_energy --out weights/log/fusion_v2

# The th256 benchmark on the val clips of $(DATA) when present, else on the bundled example.
# BENCH_ARGS=--quick for fewer settings per codec.
bench: install
	$(PY) -m pip install -q -e '.[eval]'
	if [ -f $(DATA)/MANIFEST.tsv ]; then \
		$(THC) bench --data $(DATA) --out $(OUT)/bench $(BENCH_ARGS); \
	else \
		$(THC) bench examples/demo.mp4 --out $(OUT)/bench $(BENCH_ARGS); \
	fi

# Native resolution (super-resolution against bicubic, the ablation) and a one-minute 720p
# call (decode fps, memory over time); both need the val clips of $(DATA).
# The hybrid mode against the keypoint mode and the anchors at full and reduced sizes (issue 19):
# the first 4 val clips of $(DATA) and a zoom-in clip; OUT/bench_hybrid/report.md ends with the
# rate-matched table.
bench-hybrid: install
	$(PY) -m pip install -q -e '.[eval]'
	$(PY) -m thcodec.bench.hybrid_sweep --data $(DATA) --limit 4 --zoom vx_vasa_1_10.mp4 --out $(OUT)/bench_hybrid

# Whole-frame 720p calls where the speaker moves (issue 19): thcodec's points against the scaled
# low-delay AV1 anchor over the whole frame; OUT/whole_frame/report.md. Points already in
# OUT/whole_frame/points.jsonl are kept: add one with BENCH_ARGS='--point NAME:FIELD=VALUE,...'.
bench-whole-frame: install
	$(PY) -m pip install -q -e '.[eval]'
	$(PY) -m thcodec.bench.whole_frame --data $(DATA) --out $(OUT)/whole_frame $(BENCH_ARGS)

bench-native: install
	$(PY) -m pip install -q -e '.[eval]'
	$(PY) -m thcodec.bench.native --data $(DATA) --out $(OUT)/native $(if $(wildcard runs/sr_nopivot/best.pt),--ablation nopivot=runs/sr_nopivot/best.pt)
	$(PY) -m thcodec.bench.long_call --data $(DATA) --out $(OUT)/long_call --plot $(OUT)/long_call/rss.png

clean:
	rm -rf $(OUT) .pytest_cache

# The ONNX Runtime backend (THC_BACKEND=onnx, thcodec/models/backend.py): the shipped networks exported
# to ONNX with their sha256 and the sha256 of the .pt files they came from. Run after `make export`.
.PHONY: export-onnx bench-speed bench-precision bench-light bench-torch-free
export-onnx: install
	$(PY) -m pip install -q -e '.[export]'
	$(PY) -m thcodec.models.export_onnx --out weights/onnx

# docs/speed.md: eager torch in float32 against onnxruntime and bfloat16 per stage, and against
# the default per command, in one run.
bench-speed: install
	$(PY) -m thcodec.bench.speed --doc docs/speed.md

# docs/speed.md, "bfloat16 convolutions on AMX": the val clips decoded with float32 and with
# bfloat16 convolutions, both scored against the references; OUT/bench_precision/report.md.
bench-precision: install
	$(PY) -m pip install -q -e '.[eval]'
	$(PY) -m thcodec.bench.cheaper_receiver --variant bf16 --data $(DATA) --out $(OUT)/bench_precision --full-size lp_source_s18

# docs/speed.md, "A light generator": the val clips decoded with the shipped generator and with
# the light one (thc decode --generator light), both scored; OUT/bench_light/report.md.
bench-light: install
	$(PY) -m pip install -q -e '.[eval]'
	$(PY) -m thcodec.bench.cheaper_receiver --variant light --data $(DATA) --out $(OUT)/bench_light

# docs/speed.md, "Without torch": imports and dense motion + generator under eager torch, onnxruntime
# and OpenVINO (when installed; no dependency of the codec), side by side in one run.
bench-torch-free: install
	$(PY) -m pip install -q -e '.[onnx,export]'
	$(PY) -m thcodec.bench.torch_free
