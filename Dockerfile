# syntax=docker/dockerfile:1
# SzCORE submission image: the trained detector behind `python -m brain_brr.szcore`.
# The benchmark runs it offline, one recording at a time:
#   docker run -v DATA_DIR:/data -v OUT_DIR:/output -e INPUT=rec.edf -e OUTPUT=rec.tsv IMAGE
# Build after `dvc repro` has written models/detector (it is baked into the image):
#   docker build -t brain-brr-szcore .

ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim AS base

# No .pyc files in the image; logs reach the benchmark unbuffered.
ENV PYTHONDONTWRITEBYTECODE=1
ENV PYTHONUNBUFFERED=1

WORKDIR /app

# The annotation runs as an unprivileged user without a home directory.
ARG UID=10001
RUN adduser \
    --disabled-password \
    --gecos "" \
    --home "/nonexistent" \
    --shell "/sbin/nologin" \
    --no-create-home \
    --uid "${UID}" \
    appuser

# Inference needs a subset of the pipeline's dependencies (no DVC, no MLflow); torch as the CPU build.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.4" && \
    python -m pip install "numpy>=1.26" "scipy>=1.11" "mne>=1.7" "pyarrow>=15" "pydantic>=2.6" "pyyaml>=6" "pandas>=2.0"

COPY pyproject.toml README.md ./
COPY src/ src/
RUN python -m pip install --no-deps --no-cache-dir .

# The trained detector (weights, thresholds, preprocessing settings).
COPY models/detector/ /app/models/detector/
ENV BRAIN_BRR_MODEL=/app/models/detector

USER appuser

VOLUME ["/data"]
VOLUME ["/output"]

# The benchmark names the recording and the annotation to write
ENV INPUT=""
ENV OUTPUT=""
# Shell form, so that the variables expand when the container starts
CMD python3 -m brain_brr.szcore "/data/${INPUT}" "/output/${OUTPUT}"
