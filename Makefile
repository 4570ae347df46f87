# The two commands of the README: `make demo` (the main job, on the emulator) and `make test`.
# Each creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/parport demo

# sigrok-cli (Debian) lets a test check that PulseView's VCD input reads our traces; the QEMU
# guest of the hil tests needs qemu-system-x86 linux-image-amd64 busybox-static cpio (the ones
# missing are printed by tests/hil/guest.py --print-missing; docs/hil.md). Where they cannot be
# installed (no root, no network) the tests that need them are skipped, each with its reason.
test: $(STAMP)
	@guest="$$($(BIN)/python tests/hil/guest.py --print-missing 2>/dev/null)"; \
	command -v sigrok-cli >/dev/null 2>&1 && sigrok= || sigrok=sigrok-cli; \
	if [ -n "$$sigrok$$guest" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make test: apt-get install $$sigrok $$guest"; \
		apt-get update -qq >/dev/null 2>&1; \
		[ -z "$$sigrok" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sigrok-cli >/dev/null 2>&1; \
		[ -z "$$guest" ] || DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install -y -qq \
			--no-install-recommends $$guest >/dev/null 2>&1; \
	fi; true
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
