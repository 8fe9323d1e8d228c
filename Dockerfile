# rnnviz: a self-hostable Streamlit app that trains small recurrent networks.
#
# CPU image (default, small):
#   docker build -t rnnviz .
#
# GPU image: take torch from a CUDA wheel index instead. The CUDA wheels carry
# their own CUDA runtime, so the host needs only the NVIDIA driver and the NVIDIA
# Container Toolkit (run with `docker run --gpus all ...`):
#   docker build -t rnnviz:gpu --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
# See docs/deploy.md.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch gets its own layer: it is by far the largest dependency and changes least
# often, so rebuilding after a change to the other pins reuses it. The version must
# match the torch pin in requirements.txt (tests/test_container.py checks this).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"

# Everything else from PyPI. The torch line is filtered out so pip neither
# re-resolves torch nor swaps the CPU/CUDA build installed above.
COPY requirements.txt /tmp/requirements.txt
RUN grep -v -E '^torch([=<>~! ]|$)' /tmp/requirements.txt > /tmp/requirements-no-torch.txt \
    && pip install -r /tmp/requirements-no-torch.txt \
    && rm /tmp/requirements.txt /tmp/requirements-no-torch.txt

# An unprivileged user runs the app; the code stays owned by root (read-only for it).
# /data/runs is created and chowned before VOLUME so a fresh named volume inherits
# the ownership.
RUN useradd --create-home --uid 10001 --user-group rnnviz \
    && mkdir -p /data/runs \
    && chown rnnviz:rnnviz /data/runs

COPY .streamlit/ /app/.streamlit/
COPY assets/ /app/assets/
COPY rnnviz/ /app/rnnviz/
COPY pages/ /app/pages/
COPY app.py /app/app.py

# The package is not pip-installed: it runs from /app, importable from any working
# directory. `rnnviz ...` is the same as `python -m rnnviz ...`, so the image also runs
# the other commands, the training worker of shared mode among them:
#   docker run rnnviz rnnviz worker        (or: python -m rnnviz worker)
RUN printf '#!/bin/sh\nexec python -m rnnviz "$@"\n' > /usr/local/bin/rnnviz \
    && chmod 755 /usr/local/bin/rnnviz

# The networks are tiny (a few thousand weights, short sequences): a training step
# is dominated by per-op overhead, not arithmetic, so extra BLAS/OpenMP threads only
# add synchronisation and, with several students training at once, oversubscribe
# the cores. One thread per training job is faster under concurrent load. The
# engine also calls torch.set_num_threads itself; these cover native libraries that
# read the variables at import time.
ENV OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    RNNVIZ_RUNS_DIR=/data/runs \
    PYTHONPATH=/app

# Saved runs live outside the container's writable layer.
VOLUME ["/data/runs"]

USER rnnviz

EXPOSE 8501

# python:3.11-slim has no curl, so the probe uses the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4); sys.exit(0 if r.read().strip() == b'ok' else 1)"]

# Exec form so streamlit is PID 1 and receives SIGTERM directly on `docker stop`: it
# stops taking jobs, stops its training worker processes and exits, in that order.
# This is the one place the start command is written; tests/test_container.py runs it.
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
