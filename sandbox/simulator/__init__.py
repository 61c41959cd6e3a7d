"""A Freshsales API simulator for tests, the demo and benchmarks; the service never imports it.

It enforces what a faithful double of Freshsales must (docs/simulator.md lists each rule and each
design choice):

    sim = Simulator(SimulatorConfig(per_minute=5))
    async with running(sim) as served:
        served.base_url("suite")  # http://127.0.0.1:PORT/crm/sales/api
        sim.inject(Fault(status=503, retry_after="2"), times=3)
        ...
        sim.requests, sim.state("suite")
"""

from sandbox.simulator.config import CustomField, SimulatorConfig
from sandbox.simulator.faults import Fault
from sandbox.simulator.running import RunningSimulator, running
from sandbox.simulator.server import LoggedRequest, Simulator

__all__ = [
    "CustomField",
    "Fault",
    "LoggedRequest",
    "RunningSimulator",
    "Simulator",
    "SimulatorConfig",
    "running",
]
