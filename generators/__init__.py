"""peforge generators: parameters in, deterministic Verilog and a JSON manifest out.

Use :func:`get_generator` (or the ``generate-verilog`` command) to build a design::

    from generators import get_generator
    design = get_generator("int_mac").elaborate({"a_format": "int8", "lanes": 4})
    text = design.verilog()
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

__all__ = ["GENERATORS", "get_generator", "Design", "Generator", "ParamError"]

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
