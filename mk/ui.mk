# The inbox UI: browser tests, screenshots and the list benchmark.

ui-deps: ## Install headless Chromium for the browser tests
	bash scripts/deps-ui.sh

test-browser: $(STAMP) ui-deps ## Run the UI tests in real headless Chromium
	$(PY) -m pytest tests/browser -q

ui-screenshots: $(STAMP) ui-deps ## Regenerate docs/screenshots from the demo data
	$(PY) scripts/ui_screenshots.py docs/screenshots

bench-list: $(STAMP) services ## Time the conversation list on 50k conversations / 1M messages (PostgreSQL)
	$(PY) bench/list_bench.py

bench-metrics: $(STAMP) services ## Time GET /api/v1/metrics over 50k conversations (PostgreSQL), with plans
	$(PY) bench/metrics_bench.py

bench-search: $(STAMP) services ## Time search (common, rare, Arabic-prefix words) over 1M messages (PostgreSQL)
	$(PY) -m bench.search_bench

.PHONY: ui-deps test-browser ui-screenshots bench-list bench-metrics bench-search
