# Everything runs inside a project-local virtual environment that `install`
# builds from the project's own files (pip's wheel cache keeps the one-off
# mmcv build, about 8 minutes on 2 cores).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WORK_DIR ?= work_dirs/demo
DEMO_DATA ?= data/synthetic
PYTEST_ARGS ?=

.PHONY: install test lint demo clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-mim.txt setup.cfg \
		setup.py pyproject.toml mmpanfpn/ops/csrc/roi_align_cpu.cpp
	$(PYTHON) -m venv $(VENV)
	# torch 2.13 needs setuptools>=77.0.3; mmcv's setup.py needs pkg_resources (<81)
	$(PY) -m pip install "setuptools>=77.0.3,<81" wheel packaging
	$(PY) -m pip install torch==2.13.0
	MMCV_WITH_OPS=1 $(PY) -m pip install --no-build-isolation \
		-r requirements.txt -r requirements-dev.txt
	# openmim without its dependencies: see requirements-mim.txt
	$(PY) -m pip install --no-deps -r requirements-mim.txt
	# builds mmpanfpn's C++ ops (mmpanfpn/ops/csrc) against the installed torch
	$(PY) -m pip install --no-build-isolation --no-deps -e .
	$(PY) -c "import mmpanfpn, mmpanfpn.ops as ops; assert ops.HAS_CPU_KERNEL, 'mmpanfpn._ext not built'; print('mmpanfpn', mmpanfpn.__version__, 'installed with its C++ ops')"
	touch $@

test: install
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

# The house style (.pre-commit-config.yaml: flake8, isort, yapf, codespell,
# docformatter, whitespace and end-of-file fixers) on every tracked file;
# fails, showing the diff, when a hook finds or fixes anything.
lint: install
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/pre-commit run \
		--all-files --show-diff-on-failure

demo: install
	$(PY) tools/make_synthetic_dataset.py $(DEMO_DATA)
	$(PY) tools/browse_dataset.py configs/panoptic_fpn/panoptic-fpn_tiny_synthetic.py \
		--out-dir $(WORK_DIR)/browse --max-images 4
	$(PY) tools/train.py configs/panoptic_fpn/panoptic-fpn_tiny_synthetic.py \
		--work-dir $(WORK_DIR)
	$(PY) tools/test.py configs/panoptic_fpn/panoptic-fpn_tiny_synthetic.py \
		$(WORK_DIR)/last_checkpoint --work-dir $(WORK_DIR) \
		--show-dir $(CURDIR)/$(WORK_DIR)/show

clean:
	rm -rf $(VENV) work_dirs build mmpanfpn/*.so mmpanfpn/.mim
