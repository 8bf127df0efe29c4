"""Simulation of generated designs: your data through the hardware (:func:`simulate`), the
native-speed bench (:mod:`sim.native`), the cocotb bench (:mod:`sim.cocotb`), golden models
(:mod:`sim.golden`), stimuli (:mod:`sim.stimuli`) and lint (:mod:`sim.lint`)."""

from .api import CheckError, InputError, SimResult, simulate

__all__ = ["simulate", "SimResult", "InputError", "CheckError"]
