# Channels I: Telegram, the generic webhook channel and event webhooks.

test-channels: $(STAMP) ## Run the Telegram, webhook-channel, event-webhook and connector-contract tests
	$(PY) -m pytest tests/connectors tests/core/test_webhooks.py

telegram-me: $(STAMP) ## Check TELEGRAM_TOKEN: print the bot's @username
	$(PY) -m connectors.telegram me

telegram-set-webhook: $(STAMP) ## Register TELEGRAM_WEBHOOK_URL with TELEGRAM_WEBHOOK_SECRET at Telegram
	$(PY) -m connectors.telegram set-webhook

telegram-webhook-info: $(STAMP) ## Show what Telegram knows about our webhook (pending updates, last error)
	$(PY) -m connectors.telegram webhook-info

telegram-delete-webhook: $(STAMP) ## Remove the webhook at Telegram (before switching to TELEGRAM_MODE=polling)
	$(PY) -m connectors.telegram delete-webhook

.PHONY: test-channels telegram-me telegram-set-webhook telegram-webhook-info telegram-delete-webhook
