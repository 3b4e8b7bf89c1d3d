# The two commands of the README: `make run` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV ?= .venv
# Users get the normal torch requirement (a CUDA build where pip picks one); CI and
# CPU-only machines can pass e.g. TORCH_SPEC=torch==2.13.0 for a small CPU wheel.
TORCH_SPEC ?= torch
# The default model's weights, read as data only: its own dependencies are not needed.
FACE_WEIGHTS ?= gan-face-generate==1.1.1

PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-gui-display venv clean

$(STAMP): setup.cfg Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m pip install -q --no-deps --ignore-requires-python "$(FACE_WEIGHTS)"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) main.py

# Widget tests run on Qt's offscreen platform; the OpenGL canvas test needs a real
# X server, so it runs in a second pass under xvfb-run when no display is set.
test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "not display" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-gui-display

test-gui-display: $(STAMP)
	@if [ -n "$$DISPLAY" ]; then run=""; \
	elif command -v xvfb-run >/dev/null 2>&1; then run='xvfb-run -a -s "-screen 0 1280x1024x24"'; \
	else echo "no display and no xvfb-run: install xvfb (bash .ci/run does) to run the OpenGL canvas test" >&2; exit 1; fi; \
	eval "$$run $(PY) -m pytest -m display $(PYTEST_ARGS)"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "(no display tests collected)"; rc=0; fi; exit $$rc

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
