"""Custom actions served by rasa-sdk (`python -m rasa_sdk --actions bot.actions`)."""
