"""The email channel: IMAP/SMTP in, SMTP out."""

from connectors.email.connector import EmailConnector

__all__ = ["EmailConnector"]
