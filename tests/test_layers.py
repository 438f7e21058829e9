"""The layers as the running processes see them: what importing the API loads.

``make lint`` checks the imports statically (import-linter, pyproject.toml); this checks the
process, where a lazy import or a plugin could still bring the data stack into every API worker.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "numpy", "pyarrow", "dagster", "mlflow", "prophet", "xgboost", "flux_pipelines")

PROBE = """
import json, sys
from flux_api.main import create_app
app = create_app()
app.openapi()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded_by(code: str) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(completed.stdout.splitlines()[-1]))


def test_the_api_process_loads_neither_dagster_nor_the_data_stack() -> None:
    loaded = loaded_by(PROBE)
    assert "fastapi" in loaded and "flux_core" in loaded  # the probe did load the app
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_the_probe_sees_a_heavy_import_when_there_is_one() -> None:
    # The same probe, after something imports the parsers: the check can fail.
    loaded = loaded_by("import flux_core.parsing.upload\n" + PROBE)
    assert {"pandas", "numpy", "pyarrow"} <= loaded
