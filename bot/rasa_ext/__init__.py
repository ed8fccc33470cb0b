"""Custom Rasa graph components; imported only inside the Rasa venv (they need `rasa`)."""
