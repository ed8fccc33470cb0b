# Channels II: email (IMAP/SMTP) and the web chat widget.

test-email: $(STAMP) system-deps ## Run the email tests (private Dovecot + SMTP sink) and the channel contract
	$(PY) -m pytest tests/connectors/test_email_parse.py tests/connectors/test_email.py tests/connectors/test_contract_channels2.py

test-webchat: $(STAMP) system-deps ## Run the web chat tests, including the widget in headless Chromium
	$(PY) -m pytest tests/connectors/test_webchat.py tests/core/test_visitors.py tests/browser

email-check: $(STAMP) ## Log in to the EMAIL_IMAP_URLS mailboxes and EMAIL_SMTP_URL; say what works
	$(PY) -m connectors.email check

email-rejected: $(STAMP) ## List mail kept aside as unusable (with the reason) under EMAIL_STORE_DIR
	$(PY) -m connectors.email rejected

webchat-demo: $(STAMP) ## Serve with the web chat channel; open http://127.0.0.1:8080/demo
	CHANNELS=$${CHANNELS:-memory,webchat} $(PY) -m inbox serve

.PHONY: test-email test-webchat email-check email-rejected webchat-demo
