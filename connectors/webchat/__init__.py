"""The web chat channel: an embeddable widget talking to the service over WebSocket or HTTP."""

from connectors.webchat.connector import WebchatConnector

__all__ = ["WebchatConnector"]
