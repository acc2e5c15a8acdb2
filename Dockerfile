# Candor server image: slim, non-root, models prepared at build time.
#   docker build -t candor .
#   docker run -p 8080:8080 -e CANDOR_HOST=0.0.0.0 candor
# deploy/docker-compose.yml runs it with PostgreSQL, Redis, a transcription worker and coturn.

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY server ./server
COPY media ./media
COPY analysis ./analysis
COPY config ./config
COPY web_client ./web_client
RUN python -m venv /opt/candor \
    && /opt/candor/bin/pip install --no-cache-dir .
COPY run.py /opt/candor/app/run.py
# Join and verify the bundled weights once, here, so no container downloads or joins them
# (into the folder the final stage points CANDOR_MODELS_DIR at, not ./models under /src).
ENV CANDOR_MODELS_DIR=/opt/candor/models
RUN /opt/candor/bin/python /opt/candor/app/run.py prepare-models \
    && test -n "$(ls -A /opt/candor/models)"

FROM python:3.11.11-slim-bookworm
# OpenCV (through mediapipe) needs libGL and GLib, mediapipe's face landmarker libEGL and
# libGLESv2 (without them the face analyzer fails to start in every interview); the CJK font
# prints Mandarin PDF reports.
# Versions are not pinned so that a rebuild picks up Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libgl1 libegl1 libgles2 libglib2.0-0 fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/candor --create-home candor
COPY --from=build /opt/candor /opt/candor
ENV PATH=/opt/candor/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CANDOR_HOST=0.0.0.0 \
    CANDOR_PORT=8080 \
    CANDOR_DATA_DIR=/var/lib/candor/data \
    CANDOR_MODELS_DIR=/opt/candor/models
WORKDIR /opt/candor/app
USER 10001:10001
VOLUME ["/var/lib/candor"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["python", "run.py", "serve"]
