#!/usr/bin/env bash
# The crash matrix's long form: twelve sessions (at least 1,000 crash-point runs, up to twelve
# hits of every point per command) and 60 random SIGKILLs of `world run` under load.
# Usage: tests/crash/run-long.sh [crash_matrix|sigkill_under_load]
# WORLDLINE_CRASH_SEED repeats a run of kills; WORLDLINE_CRASH_JOBS sets the cases run at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORLDLINE_CRASH_LONG=1 exec cargo test -p worldline-tests --test crash -- "$@"
