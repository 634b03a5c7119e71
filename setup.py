"""`pip install .`: packages the module CMake builds (python/CMakeLists.txt) with the package's
Python files and the joulebench program the cap guardian runs (installed as joulebench/bin/).

Which build folder: $JOULEBENCH_BUILD_DIR when set (built there: only its targets are brought up
to date); else ./build when it has the module (`make build` made it); else ./build-python,
configured here without tests and benchmarks. No download: CMake finds Debian's packages.
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))


def cmake_build_dir() -> str:
    given = os.environ.get("JOULEBENCH_BUILD_DIR")
    if given:
        return os.path.abspath(given)
    default = os.path.join(ROOT, "build")
    if glob.glob(os.path.join(default, "python", "joulebench", "_joulebench*.so")):
        return default
    build = os.path.join(ROOT, "build-python")
    subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                           "-DJOULEBENCH_BUILD_TESTS=OFF", "-DJOULEBENCH_BUILD_BENCH=OFF",
                           "-DJOULEBENCH_PYTHON=ON", f"-DPython3_EXECUTABLE={sys.executable}"])
    return build


class BuildWithCMake(build_py):
    def run(self):
        super().run()
        build = cmake_build_dir()
        jobs = os.environ.get("JOULEBENCH_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", build, "-j", jobs, "--target",
                               "joulebench_python"])
        package = os.path.join(self.build_lib, "joulebench")
        modules = glob.glob(os.path.join(build, "python", "joulebench", "_joulebench*.so"))
        if not modules:
            raise RuntimeError(f"joulebench: no _joulebench module in {build}/python/joulebench "
                               "(configured with -DJOULEBENCH_PYTHON=OFF? pybind11-dev missing?)")
        for module in modules:
            shutil.copy2(module, package)
        os.makedirs(os.path.join(package, "bin"), exist_ok=True)
        for program in ("joulebench", "joulebench-hold"):
            shutil.copy2(os.path.join(build, program), os.path.join(package, "bin", program))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithCMake}, distclass=BinaryDistribution,
      options={"build": {"build_base": os.path.join(ROOT, "build-pip")}})
