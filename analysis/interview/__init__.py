"""The interview: a plan built from a competency model and the state machine that runs it."""
