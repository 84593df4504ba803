# thcodec: `make demo` installs and runs the codec on the bundled example; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
THC := $(VENV)/bin/thc
OUT ?= out
DATA ?= ../shared/data
KP_STEPS ?= 2300
MOTION_STEPS ?= 4000
BENCH_ARGS ?=

.PHONY: install demo test test-slow train export bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: install
	mkdir -p $(OUT)
	$(THC) encode examples/demo.mp4 $(OUT)/demo.thc --force
	$(THC) decode $(OUT)/demo.thc $(OUT)/demo_rebuilt.mp4 --force
	$(THC) stats $(OUT)/demo.thc --reference examples/demo.mp4

# pytest exits 5 when no test is collected; that is not a failure of the code.
test: install
	$(PY) -m pytest -q; code=$$?; if [ $$code -eq 5 ]; then exit 0; else exit $$code; fi

test-slow: install
	$(PY) -m pytest -q -m slow

train: install
	$(PY) -m pip install -q -e '.[train]'
	test -f .cache/frames/train/index.json || $(PY) -m thcodec.train.cache --data $(DATA) --out .cache/frames
	mkdir -p runs
	# The two parts run side by side, one core each; both resume from runs/*/last.pt.
	$(PY) -m thcodec.train.train --part keypoints --run runs/kp --steps $(KP_STEPS) --batch 8 >> runs/kp.log 2>&1 & kp=$$!; \
	$(PY) -m thcodec.train.train --part motion --run runs/motion --steps $(MOTION_STEPS) --batch 4 >> runs/motion.log 2>&1; m=$$?; \
	wait $$kp && test $$m -eq 0
	# The interpolator learns from the detector's key points: trajectories first, then a few minutes.
	test -f .cache/kps/val.npz || $(PY) -m thcodec.train.trajectories --data $(DATA) --out .cache/kps
	$(PY) -m thcodec.train.train --part interp --run runs/interp2 --steps 4000 --batch 256 --lr 1e-3 --val-every 500 >> runs/interp.log 2>&1

export: install
	$(PY) -m thcodec.train.export --keypoints runs/kp/best.pt --motion runs/motion/best.pt --interp runs/interp2/best.pt --out weights --notes thcodec/train/manifest_notes.json
	$(PY) -m thcodec.train.report --run keypoints=runs/kp --run motion=runs/motion --run interp=runs/interp2 --out weights/log

# The th256 benchmark on the val clips of $(DATA) when present, else on the bundled example.
# BENCH_ARGS=--quick for fewer settings per codec.
bench: install
	$(PY) -m pip install -q -e '.[eval]'
	if [ -f $(DATA)/MANIFEST.tsv ]; then \
		$(THC) bench --data $(DATA) --out $(OUT)/bench $(BENCH_ARGS); \
	else \
		$(THC) bench examples/demo.mp4 --out $(OUT)/bench $(BENCH_ARGS); \
	fi

clean:
	rm -rf $(OUT) .pytest_cache
