# make demo / make test set everything up on first use (make setup).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export MUJOCO_GL ?= osmesa

.PHONY: setup test demo bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements.lock setup.py
	scripts/install_system_deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt -c requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# pytest exits 5 when it collects no tests: say so, and fail.
test: $(STAMP)
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; fi; exit $$rc

demo: $(STAMP)
	$(BIN)/amplify-data generate --env metaworld --tasks button-press-topdown,door-open --episodes 2 --out demo_out/data
	$(BIN)/amplify-data info demo_out/data
	$(BIN)/amplify-data view demo_out/data/door-open/episode_00000.h5 --out demo_out/door-open_tracks.mp4
	$(BIN)/amplify-data view demo_out/data/door-open/episode_00000.h5 --out demo_out/door-open_tracks.png
	@echo "demo: look at demo_out/door-open_tracks.png and demo_out/door-open_tracks.mp4"

bench: $(STAMP)
	$(BIN)/python benchmarks/data_engine.py

clean:
	rm -rf demo_out .pytest_cache
