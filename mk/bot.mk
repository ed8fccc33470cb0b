# Rasa bot: its own venv (.venv-rasa), training, serving on 127.0.0.1, NLU report, latency.
# Included by the main Makefile (which sets PY := .venv/bin/python, the app venv).
PY ?= .venv/bin/python

.PHONY: rasa-venv train rasa-up rasa-down rasa-status nlu-report bot-bench bot-test bot-check \
	bench-bot-roundtrip

rasa-venv: ## Create .venv-rasa with Rasa 3.6.21 (CPython 3.10 if present, else 3.11 + pins); idempotent
	bot/setup_venv.sh

train: rasa-venv ## Train the Rasa model, only if nlu_data/, bot/*.yml or bot/data/ changed
	bot/train.sh

rasa-up: train ## Start Rasa (127.0.0.1:5005) and the action server (127.0.0.1:5055); wait for the model
	bot/serve.sh up

rasa-down: ## Stop Rasa and the action server
	bot/serve.sh down

rasa-status: ## Show whether Rasa and the action server are running
	bot/serve.sh status

nlu-report: train ## Intent accuracy and macro-F1 per language on both held-out sets (bot/tests/nlu_heldout*.yml)
	$(PY) -m bot.nlu_report

bot-bench: train ## Latency (median, p95) of /model/parse and /webhooks/rest/webhook
	$(PY) bench/bot_bench.py

bot-test: train ## Bot tests, including the end-to-end ones marked `rasa`
	$(PY) -m pytest tests/bot

bot-check: ## ruff format --check, ruff check and mypy on the bot code
	$(PY) -m ruff format --check bot tests/bot bench/bot_bench.py
	$(PY) -m ruff check bot tests/bot bench/bot_bench.py
	$(PY) -m mypy bot tests/bot

bench-bot-roundtrip: train ## Message in → bot reply sent, median/p95 and Rasa's share (own Rasa stack)
	$(PY) bench/bot_roundtrip.py
