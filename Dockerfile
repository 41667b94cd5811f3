# parcel-screen: the scoring API in a container.
# Build stage: install the project into a venv and build the default model.
FROM python:3.11-slim AS build
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY service ./service
COPY training ./training
COPY corpora ./corpora
RUN pip install .
# The default model is built here, deterministically, from synthetic data and the written
# corpora (as `make model` does).
RUN parcel-screen models ensure-default --models-dir /app/models --corpora /app/corpora

# Runtime stage: the venv and the model, run as an unprivileged user.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app parcel
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=parcel:parcel /app/models /app/models
RUN mkdir -p /app/var && chown parcel:parcel /app/var
ENV PATH=/opt/venv/bin:$PATH \
    PARCEL_SCREEN_MODELS_DIR=/app/models \
    PARCEL_SCREEN_DATABASE_URL=sqlite:////app/var/audit.sqlite3 \
    PARCEL_SCREEN_LOG_FORMAT=json
USER parcel
EXPOSE 8000
# Binding 0.0.0.0 requires API keys: set PARCEL_SCREEN_API_KEYS or mount a digest file
# and set PARCEL_SCREEN_API_KEYS_FILE; without them the server refuses to start.
CMD ["parcel-screen", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
