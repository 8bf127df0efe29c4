"""The generator contract: parameters in, an Amaranth component plus its manifest out.

A :class:`Generator` declares its parameters once (see :mod:`generators.params`), derives the
automatic ones, builds the component and describes it. :class:`Design` is the result: the
component, the Verilog module name, the manifest and (on demand) the Verilog text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from amaranth.lib import wiring

from .manifest import build_manifest
from .params import Param, resolve_params

__all__ = ["Generator", "Design", "manifest_json", "GENERATORS"]

#: Every generator, by name: each :class:`Generator` subclass with a ``name`` registers an
#: instance of itself when it is defined (in ``generators/`` or anywhere else).
GENERATORS: dict[str, "Generator"] = {}


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
        """Deterministic Verilog text of the design (see
        :func:`generators.emit.component_verilog`), computed once: it takes up to seconds."""
        if self._verilog is None:
            from .emit import component_verilog

            # A component can be converted once; elaborate a fresh one.
            self._verilog = component_verilog(self.generator.build(self.params), self.module)
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

    Subclasses set :attr:`name` (defining the class registers it in :data:`GENERATORS`),
    :attr:`summary`, :attr:`params`, implement :meth:`build` and :meth:`module_name`, and
    optionally :meth:`derive`. The built component declares its interface and timing once
    (``ports``, ``latency``, ``initiation_interval``; see :mod:`hdl.ports`) and the manifest
    reads them from there.
    """

    name: str = ""
    summary: str = ""
    params: tuple[Param, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.name:
            return
        known = GENERATORS.get(cls.name)
        if known is not None and type(known).__qualname__ != cls.__qualname__:
            raise ValueError(f"generator name {cls.name!r} is taken by {type(known).__qualname__}")
        GENERATORS[cls.name] = cls()

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
        ports = component.ports     # the interface and timing, declared once (hdl.ports)
        info = ports.field_info()
        manifest = build_manifest(
            generator=self.name,
            params={p.name: p.to_json(params[p.name]) for p in self.params},
            module=module,
            component=component,
            formats=ports.formats(),
            field_info=info,
            latency=component.latency,
            initiation_interval=component.initiation_interval,
        )
        return Design(self, params, component, module, manifest, info)
