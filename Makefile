# joulebench: the two commands a fresh Debian 12 machine needs are `make demo` and `make test`.
# Both install the Debian packages that are missing (apt-get; sudo when not root), configure and build.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Extra ctest arguments, e.g. CTEST_ARGS='-L unit'
CTEST_ARGS ?=

# Build and test dependencies, all from Debian 12's own archive.
DEB_PACKAGES := build-essential cmake pkg-config \
	libcli11-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev libsqlite3-dev \
	libboost-math-dev libboost-dev libgtest-dev libgmock-dev libbenchmark-dev \
	python3-torch python3-torchvision \
	docker.io podman busybox-static openssh-server openssh-client debootstrap catatonit

# The vm environment (docs/vm.md): QEMU, and what scripts/build-test-guest.sh needs to build the
# test guest (debootstrap above, mke2fs, ssh-keygen; objcopy of binutils strips the binary sent).
DEB_PACKAGES += qemu-system-x86 qemu-utils e2fsprogs binutils

# AMD GPUs (docs/rocm.md): the real librocm_smi64.so.1 is dlopen'ed by a test that checks every
# entry point of src/sensors/rocm/rocm_smi_api.def exists in it (no GPU needed); never linked.
DEB_PACKAGES += librocm-smi64-1

# The HTML report's browser test (tests/integration/report_cli_test.cpp) opens pages in Chromium.
DEB_PACKAGES += chromium

# Slurm (docs/slurm.md): `submit --slurm` and `status` call sbatch, sacct, squeue and scontrol; the
# integration tests start a single-node cluster of their own (slurmctld, slurmd, munged).
DEB_PACKAGES += slurm-wlm munge

# The Python package (python/, docs/python.md): pybind11 and Python's headers to build it, pytest
# to test it, pandas for its DataFrames (optional at run time); setuptools, pip and venv for
# `pip install .` into a virtual environment.
DEB_PACKAGES += pybind11-dev python3-dev python3-pytest python3-pandas python3-setuptools \
	python3-pip python3-venv

# The install test (docs/install.md): zsh and fish check the generated completion scripts
# (dpkg-shlibdeps, for `make deb`, comes with build-essential's dpkg-dev).
DEB_PACKAGES += zsh fish

# The live metrics (docs/live.md): a real Prometheus server scrapes a run, promtool lints the
# exposition, curl is the plain HTTP client of the tests. The server itself is Boost.Beast (above).
DEB_PACKAGES += prometheus curl

# The terminal dashboard's test (tests/integration/dashboard_test.cpp) reads a real terminal's
# screen: tmux.
DEB_PACKAGES += tmux

# `make fuzz` only (docs/fuzzing.md): clang++ and its runtimes (libFuzzer, ASan, UBSan).
FUZZ_PACKAGES := clang libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# $(call install_missing,PACKAGES): apt-get installs those of PACKAGES that are not installed.
define install_missing
@missing=""; for p in $(1); do \
	dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
	echo "installing missing Debian packages:$$missing"; \
	$(SUDO) apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

.PHONY: all deps fuzz-deps configure build test test-unit test-asan fuzz demo bench clean format deb install

all: build

deps:
	$(call install_missing,$(DEB_PACKAGES))
	@# The HTML report's Vega, Vega-Lite and vega-embed, pinned by report/web/package-lock.json
	@# (docs/report.md); npm ci only when node_modules is missing or older than the lock file.
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends npm; }
	@if [ ! -f report/web/node_modules/.package-lock.json ] || \
		[ report/web/package-lock.json -nt report/web/node_modules/.package-lock.json ]; then \
		echo "installing the report's web packages: npm ci --prefix report/web"; \
		npm ci --prefix report/web --no-audit --no-fund; \
	fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@echo "built $(BUILD_DIR)/joulebench"

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600 $(CTEST_ARGS)

# A Debian package of what `cmake --install` installs (docs/install.md): $(BUILD_DIR)/joulebench_*.deb.
deb: build
	cd $(BUILD_DIR) && rm -f joulebench_*.deb && cpack -G DEB
	@ls $(BUILD_DIR)/joulebench_*.deb

# Installs under PREFIX (default /usr/local) from the build folder.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit $(CTEST_ARGS)

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer (CI runs this too).
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DJOULEBENCH_SANITIZE=ON -DJOULEBENCH_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS) --target joulebench_unit_tests joulebench fake_nvml
	cd build-asan && ctest --output-on-failure -j $(JOBS) -L unit $(CTEST_ARGS)

# The libFuzzer targets of fuzz/ (docs/fuzzing.md), one per parser of outside input, built with
# clang++ under ASan and UBSan in build-fuzz (the parts' libraries and the targets only), each run
# FUZZ_SECONDS from the seeds and the corpus kept in FUZZ_CACHE (outside git). CI runs a short pass.
FUZZ_SECONDS ?= 60
FUZZ_CACHE ?= .cache/fuzz
FUZZ_TARGETS ?= fuzz_experiment fuzz_energibridge fuzz_analyze_csv fuzz_measure_json \
	fuzz_cap_journal fuzz_ssh_output fuzz_store
fuzz-deps:
	$(call install_missing,$(FUZZ_PACKAGES))

fuzz: deps fuzz-deps
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
		-DCMAKE_CXX_COMPILER=clang++ -DJOULEBENCH_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	fuzz/run.sh build-fuzz/fuzz $(FUZZ_SECONDS) $(FUZZ_CACHE) $(FUZZ_TARGETS)

# The main job on an embedded default: examples/quickstart.toml (ResNet-50 inference at a small
# scale, bare; also in the joulebench/debian-cpu image when docker or podman has it: see
# containers/debian-cpu/build.sh), then its statistics and the HTML report. Never builds or pulls
# an image. A fresh store each time: demo/*.db.
DEMO_DIR ?= demo
demo: build
	$(BUILD_DIR)/joulebench sensors
	@set -e; f=examples/quickstart.toml; \
	if command -v docker >/dev/null && docker info >/dev/null 2>&1 && \
		docker image inspect joulebench/debian-cpu:latest >/dev/null 2>&1; then f=examples/quickstart-docker.toml; \
	elif command -v podman >/dev/null && podman image exists joulebench/debian-cpu:latest 2>/dev/null; then \
		f=examples/quickstart-podman.toml; \
	else echo "demo: no container engine with joulebench/debian-cpu: bare only (build it with containers/debian-cpu/build.sh)"; fi; \
	mkdir -p $(DEMO_DIR); db=$(DEMO_DIR)/$$(basename $$f .toml).db; \
	echo "demo: joulebench run $$f --db $$db --new"; \
	$(BUILD_DIR)/joulebench run $$f --db $$db --new; \
	by=environment; [ $$f = examples/quickstart.toml ] && by=workload; \
	$(BUILD_DIR)/joulebench analyze $$db --by $$by; \
	$(BUILD_DIR)/joulebench report $$db -o $(DEMO_DIR)/report.html; \
	echo "demo: the report is $(DEMO_DIR)/report.html (open it in a browser: it works offline)"

bench: build
	$(BUILD_DIR)/joulebench_bench
	bench/measure_overhead.sh $(BUILD_DIR)/joulebench

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
