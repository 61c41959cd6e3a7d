# The two commands of the README (`make demo`, `make test`) create .venv themselves when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint ci bench chaos shared-quota website identity clean promtool

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is required; found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/freshsales-destination demo

# promtool (Debian's prometheus package) checks and unit-tests deploy/'s alert rules
# (tests/test_alerts.py). Installed here when missing and apt-get may run (as root or with
# password-less sudo); the package lists are refreshed only if the first try fails. (Where systemd
# runs, the package also starts a Prometheus server; stop it if that machine is not throwaway.)
# Elsewhere the alert tests skip, naming the package, except under CI (CI set), where they fail.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then sudo=no; \
	  elif [ "$$(id -u)" = 0 ]; then sudo=; \
	  elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else sudo=no; fi; \
	  if [ "$$sudo" != no ]; then \
	    echo "installing promtool: apt-get install prometheus"; \
	    install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus"; \
	    $$install >/dev/null 2>&1 || { $$sudo apt-get update -qq >/dev/null && $$install >/dev/null; } || true; \
	  fi; \
	  command -v promtool >/dev/null 2>&1 || \
	    echo "promtool not found and not installable here: the alert rule tests will skip, or fail under CI (apt-get install prometheus)"; \
	}

# The whole suite, four workers at once: most integration tests wait on real time (quota windows,
# a broker's group), not on the two cores. One test at a time per worker, so that the slow ones
# (which go first) spread over the workers. Coverage: translate/ complete, and the engine's pure
# decisions and bookkeeping complete too (PURE_ENGINE), both with branches.
PARALLEL := -n 4 --dist load --maxschedchunk 1
PURE_FILES := consumer/backoff.py consumer/engine/policy.py consumer/engine/flow.py \
  consumer/engine/offsets.py consumer/engine/breaker.py consumer/engine/dispatch.py \
  consumer/engine/folding.py consumer/engine/chain.py consumer/engine/intake.py \
  consumer/engine/work.py consumer/engine/stats.py consumer/engine/latency.py \
  consumer/engine/memory/*.py consumer/freshsales/quota.py consumer/freshsales/answers.py \
  consumer/freshsales/capacity.py consumer/freshsales/share.py consumer/freshsales/pacing.py \
  consumer/freshsales/windows.py consumer/freshsales/reserve.py consumer/ops/health.py \
  consumer/kafka/deadletters.py consumer/freshsales/reading.py consumer/identity/*.py \
  consumer/engine/parcel.py
# Joined with commas and no spaces: coverage reads " consumer/…" as a pattern that matches nothing.
comma := ,
space := $(subst ,, )
PURE_ENGINE := $(subst $(space),$(comma),$(strip $(PURE_FILES)))

# pytest exits 5 when it collects no test; that is reported, not hidden as a pass of something.
test: $(STAMP) promtool
	@rc=0; $(BIN)/python -m pytest $(PARALLEL) --cov --cov-report= || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; \
	[ $$rc -eq 0 ] || exit $$rc; \
	$(BIN)/coverage report --include='translate/*' --fail-under=100 && \
	$(BIN)/coverage report --include='$(PURE_ENGINE)' --fail-under=100

# The pure and fake-source tests only (no broker): under a minute, for the edit-test loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not integration and not slow" -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

ci: test lint demo

bench: $(STAMP)
	$(BIN)/python -m bench.translate_bench
	$(BIN)/python -m bench.client_bench
	$(BIN)/python -m bench.delivery_bench
	$(BIN)/python -m bench.quota_bench

# SIGKILLs and Freshsales faults for a few minutes; writes bench/results/chaos.json.
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos_bench --minutes 3

# One account's quota shared (another integration, twice; replicas 1 -> 3 -> 2; one replica
# alone), each beside the service before it learned to share (3a8af5f); writes
# bench/results/shared_quota.json. About 45 minutes.
BEFORE := /tmp/fsd-before
shared-quota: $(STAMP)
	rm -rf $(BEFORE) && mkdir -p $(BEFORE) && git archive 3a8af5f | tar -x -C $(BEFORE)
	$(BIN)/python -m bench.shared_quota_bench --today $(BEFORE) \
		--scenario A --scenario A2 --scenario B --scenario C

# A website's stream across a restart (visitors, sign-ups, then userId alone), beside the
# service before it knew who a person is (a8590ff); writes bench/results/website.json.
BEFORE_IDENTITY := /tmp/fsd-before-identity
website: $(STAMP)
	rm -rf $(BEFORE_IDENTITY) && mkdir -p $(BEFORE_IDENTITY) && \
		git archive a8590ff | tar -x -C $(BEFORE_IDENTITY)
	$(BIN)/python -m bench.website_bench --before $(BEFORE_IDENTITY)

# 100,000 people and 300,000 waiting page views, a SIGKILL, a restart; writes
# bench/results/identity.json. About 4 minutes.
identity: $(STAMP)
	$(BIN)/python -m bench.identity_bench

clean:
	rm -rf $(VENV) .coverage .pytest_cache .mypy_cache .ruff_cache .hypothesis
