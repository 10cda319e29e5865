"""The wheel carries templates and migrations, and the package finds them from a source checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

from mailseg.paths import migrations_dir, templates_dir

ROOT = Path(__file__).resolve().parent.parent


def test_source_checkout_finds_top_level_templates_and_migrations():
    assert (templates_dir() / "base.html").is_file()
    assert (migrations_dir() / "env.py").is_file()


def test_wheel_bundles_templates_and_migrations(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("mailseg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mailseg/_templates/base.html" in names
    assert "mailseg/_migrations/env.py" in names
    assert any(n.startswith("mailseg/_migrations/versions/0001") for n in names)
    assert "mailseg/static/mailseg.css" in names
    # the catalogues compiled at build time (hatch_build.py), with the .po sources beside them
    for language in ("uk", "ru", "zh"):
        assert f"mailseg/translations/{language}/LC_MESSAGES/messages.mo" in names
        assert f"mailseg/translations/{language}/LC_MESSAGES/messages.po" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mailseg = mailseg.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
