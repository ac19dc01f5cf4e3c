"""The public API of `qa`: __all__ sorted, complete, and every name importable."""

from __future__ import annotations

import qa


def test_all_is_sorted_and_importable() -> None:
    assert qa.__all__ == sorted(qa.__all__)
    for name in qa.__all__:
        assert getattr(qa, name) is not None, name


def test_every_public_name_is_in_all() -> None:
    public = {n for n in vars(qa) if not n.startswith("_")} - {"annotations", "Any"}
    # Submodules imported as a side effect of the package's own imports are not API.
    modules = {n for n in public if type(getattr(qa, n)).__name__ == "module"}
    assert public - modules <= set(qa.__all__)
    assert "Engine" in qa.__all__  # loaded lazily, so not in vars(qa) until first use
