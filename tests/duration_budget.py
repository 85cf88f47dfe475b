"""A pytest plugin that fails the run when a test, or the whole suite, takes longer than
the budget stated in ``pyproject.toml``, and names what did.

The suite must stay well under CI's 15 minutes on the slowest CPU our machines have, and
time creeps back one test at a time. A test's time is its setup, call and teardown, so
the test that sets up a module's shared fixture carries it. Under pytest-xdist the
controller, which hears every worker's reports, does the judging.
"""

import time

import pytest

TEST_BUDGET = "duration_budget_test"
SUITE_BUDGET = "duration_budget_suite"


def pytest_addoption(parser):
    parser.addini(TEST_BUDGET, "Seconds any one test may take (setup, call, teardown).")
    parser.addini(SUITE_BUDGET, "Seconds the whole suite may take, from start to end.")


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Budget(config), "duration_budget_judge")


class _Budget:
    def __init__(self, config):
        self.config = config
        self.seconds: dict[str, float] = {}
        self.started = time.monotonic()
        self.over: list[str] = []

    def pytest_runtest_logreport(self, report):
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        self.over = self._over_test_budget() + self._over_suite_budget()
        if self.over and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.over:
            terminalreporter.section("over the time budget", red=True)
            for line in self.over:
                terminalreporter.line(line, red=True)

    def _over_test_budget(self) -> list[str]:
        budget = _seconds(self.config, TEST_BUDGET)
        if budget is None:
            return []
        return [
            f"{nodeid} took {seconds:.0f} s, over the {budget:g} s a test may take "
            f"({TEST_BUDGET} in pyproject.toml)"
            for nodeid, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])
            if seconds > budget
        ]

    def _over_suite_budget(self) -> list[str]:
        """Only a run of the whole suite is judged as one: a selection is a part of it."""
        budget = _seconds(self.config, SUITE_BUDGET)
        config = self.config
        whole = config.args_source == pytest.Config.ArgsSource.TESTPATHS
        whole = whole and not (config.option.keyword or config.option.markexpr)
        elapsed = time.monotonic() - self.started
        if budget is None or not whole or elapsed <= budget:
            return []
        slowest = sorted(self.seconds.items(), key=lambda item: -item[1])[:3]
        named = ", ".join(f"{nodeid} ({seconds:.0f} s)" for nodeid, seconds in slowest)
        return [
            f"the suite took {elapsed:.0f} s, over its {budget:g} s ({SUITE_BUDGET} in "
            f"pyproject.toml); the slowest: {named}"
        ]


def _seconds(config, name: str) -> float | None:
    value = config.getini(name)
    return float(value) if value else None
