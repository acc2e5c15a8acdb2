"""Bench-only: put this folder first on a node's PYTHONPATH to trace ICE (bench/ice_trace.py)."""

import os

if os.environ.get("CANDOR_BENCH_ICE_TRACE"):
    from bench.ice_trace import install_from_env

    install_from_env()

if os.environ.get("CANDOR_BENCH_NO_DRAIN"):  # A/B: one datagram per wake-up, as asyncio reads
    import media.udp_ports

    media.udp_ports.DRAIN_LIMIT = 0

if os.environ.get("CANDOR_BENCH_SWITCH_INTERVAL"):  # experiment: the GIL's switch interval
    import sys

    sys.setswitchinterval(float(os.environ["CANDOR_BENCH_SWITCH_INTERVAL"]))
