"""The API's OpenAPI document, from ``app.openapi()`` without starting a server or a database:
``python -m flux_api.openapi_document FILE`` writes it, for the dashboard's generated client."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from flux_api.main import create_app
from flux_core.settings import FluxSettings


def openapi_text() -> str:
    # Default settings: the document describes the API, not one deployment's configuration.
    document = create_app(FluxSettings(_env_file=None)).openapi()  # type: ignore[call-arg]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m flux_api.openapi_document FILE")
    Path(argv[0]).write_text(openapi_text(), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
