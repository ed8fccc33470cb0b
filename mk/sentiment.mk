# Sentiment scorer: training, held-out report, bench and tests (see sentiment/README.md).

.PHONY: train-sentiment sentiment-report bench-sentiment test-sentiment test-sentiment-slow \
	check-sentiment

train-sentiment: ## Train the sentiment head (writes sentiment/head.npz)
	OMP_NUM_THREADS=1 $(PY) -m sentiment.train

sentiment-report: ## Held-out angry precision/recall/F1 per language and confusion matrices
	OMP_NUM_THREADS=1 $(PY) -m sentiment.report

bench-sentiment: ## Bench the e5 scorer against the transformers MiniLM pipeline
	$(PY) bench/sentiment_bench.py

test-sentiment: ## Run the sentiment tests (without the slow retraining check)
	$(PY) -m pytest tests/sentiment -q -m "not slow"

test-sentiment-slow: ## Retrain and check the committed sentiment head is reproduced
	OMP_NUM_THREADS=1 $(PY) -m pytest tests/sentiment -q -m slow

check-sentiment: ## ruff format --check, ruff check and mypy on sentiment/
	$(PY) -m ruff format --check sentiment tests/sentiment bench/sentiment_bench.py
	$(PY) -m ruff check sentiment tests/sentiment bench/sentiment_bench.py
	$(PY) -m mypy sentiment

bench-alert: ## Angry message in → supervisor alert on the WebSocket, median/p95 (one by one and a burst)
	$(PY) bench/sentiment_alert.py
