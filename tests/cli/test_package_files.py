"""What an installed switchpoint holds (the Docker image runs `pip install .`, not an
editable checkout): every file of the package that is not Python source, built as
setuptools builds it from pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.gateway_process import REPO


def test_the_built_package_holds_every_data_file_of_the_source(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(
        REPO / "switchpoint", source / "switchpoint", ignore=shutil.ignore_patterns("__pycache__")
    )
    built = tmp_path / "built"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
         "--build-lib", str(built)],
        cwd=source, check=True, capture_output=True, timeout=120,
    )  # fmt: skip

    def data_files(root: Path) -> set[str]:
        return {
            str(path.relative_to(root))
            for path in (root / "switchpoint").rglob("*")
            if path.is_file() and path.suffix != ".py"
        }

    # The dashboard's favicon was left out: /ui/assets/favicon.svg answered 404.
    assert data_files(source) - data_files(built) == set()
