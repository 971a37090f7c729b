"""greatleap: an agent-based simulator of China's Great Leap Forward command economy (1957-1962).

The Python API for notebooks::

    from greatleap import Scenario, Sim
    results = Sim(Scenario.load("historical")).run()
    results.annual_national()          # a pandas DataFrame

Importing the package only defines names: no configuration, no I/O, no random state.
"""

from greatleap.version import __version__

__all__ = ["Results", "Scenario", "Sim", "__version__"]


def __getattr__(name: str):  # lazy: keep `import greatleap` cheap for the CLI's --help
    if name == "Scenario":
        from greatleap.scenario import Scenario

        return Scenario
    if name == "Sim":
        from greatleap.sim import Sim

        return Sim
    if name == "Results":
        from greatleap.core.results import Results

        return Results
    raise AttributeError(name)
