"""peforge generators: parameters in, deterministic Verilog and a JSON manifest out.

Use :func:`elaborate` (or the ``generate-verilog`` command) to build a design::

    from generators import elaborate
    design = elaborate("int_mac", a_format="int8", lanes=4)
    text = design.verilog()
    design.write("out/")            # <module>.v and <module>.json
"""

from .base import Design, Generator
from .bitmod_mac import BitmodMACGenerator
from .bitserial_mac import BitSerialMACGenerator
from .fp_mac import FpMacGenerator
from .int_mac import IntMACGenerator
from .mixed_int_pe import MixedIntPEGenerator
from .mx_dot import MxDotGenerator
from .softmax import SoftmaxGenerator
from .systolic_array import SystolicArrayGenerator
from .params import ParamError

__all__ = ["GENERATORS", "get_generator", "elaborate", "Design", "Generator", "ParamError"]

#: Every generator, by name.
GENERATORS: dict[str, Generator] = {g.name: g for g in (
    IntMACGenerator(), MixedIntPEGenerator(), FpMacGenerator(), MxDotGenerator(), BitSerialMACGenerator(), BitmodMACGenerator(), SoftmaxGenerator(), SystolicArrayGenerator(),
)}


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
