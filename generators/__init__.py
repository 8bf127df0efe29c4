"""peforge generators: parameters in, deterministic Verilog and a JSON manifest out.

Use :func:`elaborate` (or the ``generate-verilog`` command) to build a design::

    from generators import elaborate
    design = elaborate("int_mac", a_format="int8", lanes=4)
    text = design.verilog()
    design.write("out/")            # <module>.v and <module>.json
"""

import importlib
import pkgutil

from .base import GENERATORS, Design, Generator
from .params import ParamError

__all__ = ["GENERATORS", "get_generator", "elaborate", "Design", "Generator", "ParamError"]

def get_generator(name: str) -> Generator:
    """The generator called ``name``; raises :class:`ParamError` naming the known ones."""
    try:
        return GENERATORS[name]
    except KeyError:
        raise ParamError(f"unknown generator {name!r}; available: {', '.join(sorted(GENERATORS))}") \
            from None


def elaborate(generator: str, **params) -> Design:
    """The design of ``generator`` for keyword ``params`` (Python values such as ``lanes=4``, or
    strings as on the command line such as ``a_format="int8"``); parameters not given take their
    defaults. Raises :class:`ParamError` (one line naming the parameter) for a bad value."""
    return get_generator(generator).elaborate(params)


# Every module of this package is imported once, so every Generator subclass in it registers
# itself (see Generator.__init_subclass__): adding a generator needs no list here.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
