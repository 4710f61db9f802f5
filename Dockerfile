# syntax=docker/dockerfile:1
# Build a wheel of the package, install it into a virtual environment, and copy only that
# environment into the runtime image.
# Any images with the same Python 3.11+ (the build one with its venv module and pip);
# deploy/image/build-and-run.sh passes two bootstrapped from Debian's packages.
ARG BASE=python:3.11-slim
ARG RUNTIME_BASE=python:3.11-slim

FROM ${BASE} AS build
# A CA bundle for pip when downloads pass a proxy (given with --build-arg, never stored).
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gitops_lifecycle ./gitops_lifecycle
# The chart's CRD, which the package links to (the simulated cluster serves it).
COPY deploy/helm/gitops-lifecycle-management/files/crds ./deploy/helm/gitops-lifecycle-management/files/crds
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install . \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools

FROM ${RUNTIME_BASE}
LABEL org.opencontainers.image.title="gitops-lifecycle-management" \
      org.opencontainers.image.description="Cleanup, service discovery and wait for GitOps clusters"
# Nothing is written at run time: no bytecode, no home directory, so the root filesystem can be
# mounted read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=build /opt/venv /opt/venv
RUN python -m compileall -q /opt/venv/lib
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["gitops-lifecycle"]
CMD ["run"]
