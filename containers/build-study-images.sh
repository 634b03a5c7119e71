#!/bin/bash
# Builds the five images of the TU Delft Docker-images study (examples/docker-images.toml) with
# docker or podman: joulebench/{ubuntu-pip,python-pip,cuda-pip,pytorch,ngc-pytorch}:latest.
# They need registries (Docker Hub, nvcr.io, download.pytorch.org) and about 40 GB of disk, so
# no test builds them; containers/debian-cpu/build.sh is the image that builds without any.
#
# usage: containers/build-study-images.sh [--engine docker|podman] [IMAGE...]
#   IMAGE: ubuntu-pip python-pip cuda-pip pytorch ngc-pytorch (default: all five)
# Each build gets a context holding only workloads/, whichever builder is used.

set -euo pipefail

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
all=(ubuntu-pip python-pip cuda-pip pytorch ngc-pytorch)
engine=""
images=()
while [ $# -gt 0 ]; do
    case "$1" in
        --engine)
            [ $# -ge 2 ] || { echo "error: build-study-images: --engine needs docker or podman" >&2; exit 2; }
            engine="$2"; shift 2 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "error: build-study-images: unknown option '$1'" >&2; exit 2 ;;
        *)
            [ -f "$repo_dir/containers/$1/Dockerfile" ] ||
                { echo "error: build-study-images: unknown image '$1' (one of: ${all[*]})" >&2; exit 2; }
            images+=("$1"); shift ;;
    esac
done
[ ${#images[@]} -gt 0 ] || images=("${all[@]}")
if [ -z "$engine" ]; then
    if command -v docker > /dev/null; then engine=docker; elif command -v podman > /dev/null; then engine=podman; fi
fi
case "$engine" in
    docker | podman) command -v "$engine" > /dev/null || { echo "error: build-study-images: $engine is not on PATH" >&2; exit 1; } ;;
    *) echo "error: build-study-images: no container engine (docker or podman) found" >&2; exit 1 ;;
esac

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/workloads"
find "$repo_dir/workloads" -maxdepth 1 -type f \( -name '*.py' -o -name '*.md' \) -exec cp {} "$context/workloads/" \;

for image in "${images[@]}"; do
    start=$(date +%s)
    echo "build-study-images: $engine build joulebench/$image:latest" >&2
    "$engine" build -f "$repo_dir/containers/$image/Dockerfile" -t "joulebench/$image:latest" "$context"
    echo "build-study-images: joulebench/$image:latest built in $(($(date +%s) - start)) s" >&2
done
