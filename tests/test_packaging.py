"""What a plain `pip install .` ships: the bundled models travel inside the package."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_maps_the_checkpoints_folder_into_the_package():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setup["package-dir"]["sigdenoise.checkpoints"] == "checkpoints"
    assert "*.safetensors" in setup["package-data"]["sigdenoise.checkpoints"]
    # every package folder is listed (an explicit list does not find new ones by itself)
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sigdenoise").rglob("__init__.py")}
    assert found | {"sigdenoise.checkpoints"} == set(setup["packages"])


def test_an_installed_package_finds_the_models_inside_itself(tmp_path):
    # the layout a wheel installs: site-packages/sigdenoise/checkpoints/*.safetensors, no repository beside it
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "sigdenoise", site / "sigdenoise", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "sigdenoise" / "checkpoints").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SIGDENOISE_CHECKPOINTS"}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", "from sigdenoise.paths import checkpoint_dir; print(checkpoint_dir())"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout.strip()
    assert Path(out) == site / "sigdenoise" / "checkpoints"
