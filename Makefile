# The two quick-start commands (README): `make demo` and `make test`. Both install first
# (tools/install.sh is idempotent: a second run only checks, in seconds).
PY ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,$(CURDIR)/.venv/bin/python)
DEMO_CONFIG ?= configs/scrl/scrl_resnet18_1xb32-coslr-3e_demo.py
DEMO_WORK_DIR ?= work_dirs/demo
PYTEST_ARGS ?=

.PHONY: install demo lint test test-fast
install:
	bash tools/install.sh

demo: install
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)

lint: install
	PYTHON=$(PY) bash tools/lint.sh

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)
