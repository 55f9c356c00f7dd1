"""A tiny check runner shared by the SDK drivers: each check prints PASS or
FAIL with the reason, and the process exits 1 when any failed."""

import sys
import traceback

results = []


def check(name):
    """Decorator: runs the function now as a named check."""

    def run(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            if hasattr(e, "body") and getattr(e, "body", None):
                detail += f" | body: {str(e.body)[:400]}"
            results.append((name, False, detail))
            print(f"FAIL {name}: {detail}", flush=True)
        else:
            results.append((name, True, ""))
            print(f"PASS {name}", flush=True)
        return fn

    return run


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def finish(what):
    failed = [r for r in results if not r[1]]
    print(f"{what}: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    sys.exit(1 if failed else 0)
