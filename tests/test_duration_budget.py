"""The suite's time budget (``tests/duration_budget.py``): a test or a suite over it fails
the run and is named; within it, nothing changes."""

import pytest

SLOW_AND_QUICK = """
import time

def test_slow():
    time.sleep(0.5)

def test_quick():
    pass
"""


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_two=SLOW_AND_QUICK)
    return pytester


def _run(pytester, *args, **budgets):
    lines = [f"{name} = {value}" for name, value in budgets.items()]
    pytester.makeini("\n".join(["[pytest]", "testpaths = .", *lines]))
    return pytester.runpytest("-p", "duration_budget", *args)


def test_a_test_over_its_budget_fails_the_run_and_is_named(suite):
    result = _run(suite, duration_budget_test=0.2)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*over the time budget*",
            "test_two.py::test_slow took * s, over the 0.2 s a test may take*",
        ]
    )
    assert "test_quick took" not in result.stdout.str()
    result.assert_outcomes(passed=2)


def test_a_suite_over_its_budget_fails_the_run_and_names_its_slowest(suite):
    result = _run(suite, duration_budget_test=60, duration_budget_suite=0.3)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["the suite took *, over its 0.3 s*slowest: test_two.py::test_slow*"]
    )


def test_a_selection_is_not_judged_as_the_whole_suite(suite):
    result = _run(suite, "-k", "slow", duration_budget_suite=0.3)

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, deselected=1)


def test_within_its_budget_the_run_passes(suite):
    result = _run(suite, duration_budget_test=60, duration_budget_suite=600)

    assert result.ret == pytest.ExitCode.OK
    assert "over the time budget" not in result.stdout.str()
