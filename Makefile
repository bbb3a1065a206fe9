# The two commands a new user needs: `make run` and `make test`. Everything else is set-up.
SHELL := /bin/bash
# Interpreters are probed by running them (a pyenv shim may exist for a version that is not active).
PY311 ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
PY310 ?= $(shell for p in python3.10 $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 2>/dev/null); do \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
RASA_VENV := .venv-rasa
PIP_QUIET := --quiet --disable-pip-version-check
# Environments are filled by uv (downloads in parallel: the Rasa environment in ~30 s instead of
# ~2-4 min with pip, the same pinned versions); uv itself comes from PyPI into the app venv.
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
export PYTHONUNBUFFERED := 1

.PHONY: setup run test train nlu-eval eval lint bench chaos clean

setup: $(VENV)/.installed $(RASA_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "==> [setup 1/2] app environment ($(PY311)) -> $(VENV)"
	@test -n "$(PY311)" || { echo "Python 3.11+ not found (set PY311=/path/to/python3.11)"; exit 1; }
	@$(PY311) -m venv $(VENV)
	@$(VENV)/bin/pip install $(PIP_QUIET) uv==$(UV_VERSION) 2>&1 | grep -v "is ignored"; test $${PIPESTATUS[0]} -eq 0
	@$(UV) pip install --quiet --python $(VENV)/bin/python -r requirements-dev.txt
	@touch $@

$(RASA_VENV)/.installed: bot/requirements.txt | $(VENV)/.installed
	@echo "==> [setup 2/2] Rasa environment ($(PY310)) -> $(RASA_VENV) (first time: under a minute, 2.5 GB)"
	@test -n "$(PY310)" || { echo "Python 3.10 not found (set PY310=/path/to/python3.10)"; exit 1; }
	@$(PY310) -m venv $(RASA_VENV)
	@$(UV) pip install --quiet --python $(RASA_VENV)/bin/python -r bot/requirements.txt
	@touch $@

train: setup
	@$(VENV)/bin/python scripts/train.py

run: setup train
	@$(VENV)/bin/python scripts/run.py

test: setup train
	@$(VENV)/bin/python -m pytest -q -p no:cacheprovider

nlu-eval: setup train
	@$(VENV)/bin/python scripts/nlu_eval.py --cross-validation

# End-to-end answer evaluation through the WeChat callback (reports/answer-eval.md);
# `make eval SET=tests/dev` runs another case set.
SET ?= tests/eval
eval: setup train
	@$(VENV)/bin/python bench/answer_eval.py --set $(SET)

lint: setup
	@$(VENV)/bin/ruff check .

bench: setup train
	@for f in bench/bench_*.py; do echo "==> $$f"; $(VENV)/bin/python $$f || exit 1; done

chaos: setup train
	@$(VENV)/bin/python bench/chaos.py

clean:
	rm -rf build models var reports
