"""What every Janus test reports: one line per check, and at the end how
Janus stopped (with rooms still live) and the verdict."""

import sys

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def finish(name, janus, status):
    """Janus must have exited 0 and run the plugin's destroy."""
    check(status == 0, f"Janus stopped cleanly with rooms live (exit {status})")
    with open(janus.log_path) as f:
        check("huddle plugin destroyed" in f.read(), "the plugin's destroy ran")
    if failures:
        print(f"{name}: {len(failures)} check(s) failed; logs in {janus.workdir}")
        sys.exit(1)
    print(f"{name}: all checks passed")
