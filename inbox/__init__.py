"""The aiohttp service: REST API, WebSocket, and the agent and supervisor UI."""
