"""Build hook: compile the panel's message catalogues (.po in the repository) into the .mo files
gettext reads and put them in the wheel (the .mo files are build products, not in git)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogueBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location("_mailseg_catalogues", root / "mailseg" / "catalogues.py")
        catalogues = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(catalogues)  # Babel only; the package itself is not imported
        directory = root / "mailseg" / "translations"
        catalogues.compile_catalogues(directory, only_stale=False)
        for _po, mo in catalogues.catalogue_files(directory):
            build_data["force_include"][str(mo)] = str(mo.relative_to(root))
