# The bot's image for compose.yaml (docs/deploy.md, "With Docker Compose"): the package and its
# dependencies, run as an unprivileged user. Settings come from the environment, never from the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && useradd --system --home-dir /var/lib/bot --create-home bot

USER bot
WORKDIR /var/lib/bot
# Inside the container the bot listens on every interface; compose publishes it on 127.0.0.1 only.
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
CMD ["sh", "-c", "bot migrate && exec bot serve"]
