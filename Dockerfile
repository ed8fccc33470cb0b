# The Tawasul service image (the app venv; Rasa runs from the official rasa/rasa image).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY core core
COPY connectors connectors
COPY inbox inbox
COPY sentiment sentiment
COPY bot bot
RUN pip install --no-cache-dir '.[bot]'
RUN useradd --create-home tawasul && mkdir -p /data && chown tawasul /data
USER tawasul
EXPOSE 8080
CMD ["python", "-m", "inbox", "serve"]
