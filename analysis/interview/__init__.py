"""The interview: a plan built from a competency model and the state machine that runs it."""

from analysis.interview.machine import InterviewMachine, ObserverView
from analysis.interview.plan import InterviewPlan, PlanError, PlanSettings, build_plan
from analysis.interview.step import Step

__all__ = [
    "InterviewMachine",
    "InterviewPlan",
    "ObserverView",
    "PlanError",
    "PlanSettings",
    "Step",
    "build_plan",
]
