# make demo / make test set everything up on first use (make setup).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export MUJOCO_GL ?= osmesa

.PHONY: setup lint test demo demo-data bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements.lock setup.py amplify_ros/nodes/registry.py
	scripts/install_system_deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt -c requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The lint gate CI runs before the tests: the formatter's layout and the checker's rules (ruff.toml).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# pytest exits 5 when it collects no tests: say so, and fail.
test: $(STAMP)
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; fi; exit $$rc

# The closed loop over DDS: sim bridge + AMPLIFY policy (the shipped models/metaworld_small).
demo: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/amplify-demo --config config/sim_demo.yaml --episodes 3 --out demo_out
	@echo "demo: videos of each episode with the predicted motion drawn on are in demo_out/"

# The data engine: two Meta-World episodes with exact tracks, and a look at them.
demo-data: $(STAMP)
	$(BIN)/amplify-data generate --env metaworld --tasks button-press-topdown,door-open --episodes 2 --out demo_out/data
	$(BIN)/amplify-data info demo_out/data
	$(BIN)/amplify-data view demo_out/data/door-open/episode_00000.h5 --out demo_out/door-open_tracks.mp4
	$(BIN)/amplify-data view demo_out/data/door-open/episode_00000.h5 --out demo_out/door-open_tracks.png
	@echo "demo-data: look at demo_out/door-open_tracks.png and demo_out/door-open_tracks.mp4"

bench: $(STAMP)
	$(BIN)/python benchmarks/data_engine.py

clean:
	rm -rf demo_out .pytest_cache
