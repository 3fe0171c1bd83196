# compressor in a container: `docker build -t compressor .` then
# `docker run --rm -v "$PWD:/data" compressor compress --model /data/model /data/photo.png`
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=3
WORKDIR /opt/compressor
COPY pyproject.toml README.md ./
COPY compressor ./compressor
COPY configs ./configs
RUN pip install '.[demo]'
WORKDIR /data
ENTRYPOINT ["compressor"]
CMD ["--help"]
