"""The datasets the app opens with no set-up, and the sidebar's defaults. Standard library and
the catalogue only: the board's first paint (``dashboard.firstpaint``) reads them before the
heavy modules are imported."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dashboard import i18n

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample-zhejiang"

# The datasets the app can open with no set-up (label -> source).
DEMOS: dict[str, str] = {
    "Zhejiang sample (data/sample-zhejiang)": "sample",
    "Tiny demo (generated, Huzhou)": "tiny",
}
# A demo read from files (its first paint can be kept, keyed by the files' contents): source -> folder.
DEMO_FOLDERS: dict[str, Path] = {"sample": SAMPLE_DIR}
DEFAULT_DEMO = next(iter(DEMOS))
# The board opens on one prefecture of the sample: small enough to plan in a few seconds.
DEFAULT_PROVINCE = "330000"
DEFAULT_PREFECTURE = "330500"


def dataset_label(label: str) -> str:
    """A dataset's name in the sidebar, in the user's language (``label`` is the stable key)."""
    source = DEMOS.get(label)
    if source is not None:
        return i18n.t(f"demo.{source}")
    return i18n.t("upload.label", name=label.removeprefix("upload: "))


def choose(current: object, options: Sequence, preferred: object = None):  # type: ignore[no-untyped-def, type-arg]
    """A selector's value: the current one while it is still an option, else ``preferred`` if it
    is one, else the first option."""
    if current in options:
        return current
    return preferred if preferred in options else options[0]
