"""Old import names kept working for one release after a rename, with a warning.

A package that was renamed keeps a thin package under its old name whose ``__init__`` calls
:func:`alias_package`: ``import old.x`` then returns the very module ``new.x`` (one module object,
so classes compare equal and ``isinstance`` holds), and the first import of the old name warns.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

__all__ = ["alias_package", "warn_renamed"]


def warn_renamed(old: str, new: str, removed_in: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is a deprecated name of ``new`` that goes away in ``removed_in``."""
    warnings.warn(
        f"{old!r} is a deprecated import name of {new!r} and goes away in ofa-bench {removed_in}; "
        f"import {new!r} instead",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``old.<sub>`` as the already importable ``new.<sub>``."""

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(self.old + "."):
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The import system keeps the module's own __spec__ and __name__ (it only fills missing
        # ones), so the old name is one more key in sys.modules for the same object.
        return importlib.import_module(self.new + spec.name[len(self.old) :])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was run under its new name."""


def alias_package(old: str, new: str, removed_in: str) -> None:
    """Make the submodules of package ``new`` importable as ``old.<submodule>``, and warn.

    Call it from the ``__init__`` of the package left under the old name; that package should
    also re-export ``new``'s public names.
    """
    warn_renamed(old, new, removed_in, stacklevel=4)
    if not any(isinstance(f, _Alias) and f.old == old for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias(old, new))
