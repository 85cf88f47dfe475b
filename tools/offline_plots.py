"""Writes .dvc/plots.html: DVC's plots page with Vega, Vega-Lite and vega-embed inlined.

DVC's own page loads the three from a CDN, so on a machine without internet
`dvc plots show` draws empty charts. The repo's DVC config names this page instead
(`plots.html_template`). The packages come from the npm registry at the versions DVC's
page asks for, each checked against the integrity npm published for it.

Run it only to change the versions: `python tools/offline_plots.py`. It needs `npm`.
"""

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / ".dvc" / "plots.html"
PACKAGES = {  # the versions dvc-render's VegaRenderer.SCRIPTS loads
    "vega@5.20.2": (
        "package/build/vega.min.js",
        "sha512-qmH7aD9GGPpssVdxL1xgcdxTbQzyRUeRR16Os385ymvQhiwCYQNA6+eXUPAZDTVLfk0RXu6Jzj6kUE5jQ80EVw==",
    ),
    "vega-lite@5.2.0": (
        "package/build/vega-lite.min.js",
        "sha512-Yxcg8MvYfxHcG6BbkaKT0oVCIMIcE19UvqIsEwBmyd/7h2nzW7oRnID81T8UrY7hpDrIr6wa2JADOT2dhGNErw==",
    ),
    "vega-embed@6.18.2": (
        "package/build/vega-embed.min.js",
        "sha512-wcDyQPE4J5aiCDc3/suH5RQDvrKkjuLkhzUcbOLwEkNF8/+pp17tS0JghzEvAPNRg+5aG1/N2ydixq8Lk3dOlg==",
    ),
}
TEMPLATE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <title>DVC Plot</title>
    <!-- Inlined by tools/offline_plots.py: {versions}. No CDN is asked. -->
{scripts}
    <style>
        table {{
            border-spacing: 15px;
        }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def script(spec: str, member: str, integrity: str, folder: Path) -> str:
    """The package's minified build, as an inline script, once its tarball's hash is npm's."""
    done = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    tarball = folder / json.loads(done.stdout)[0]["filename"]
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != integrity:
        sys.exit(f"{tarball.name}: sha512-{digest}, expected {integrity}")
    with tarfile.open(tarball) as archive:
        code = archive.extractfile(member).read().decode()
    code = code.replace("</script>", "<\\/script>")  # it would end the element early
    return f"    <script>\n{code}\n    </script>"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        scripts = [script(spec, *where, Path(folder)) for spec, where in PACKAGES.items()]
    page = TEMPLATE.format(versions=", ".join(PACKAGES), scripts="\n".join(scripts))
    PAGE.write_text(page)
    print(f"wrote {PAGE} ({len(page) // 1024} KiB)")


if __name__ == "__main__":
    main()
