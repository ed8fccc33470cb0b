"""The Rasa bot: project files, custom actions, and the client the router uses to reach it."""
