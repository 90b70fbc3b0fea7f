"""scripts/py -m gen [dashboards|rules|targets|kubernetes ...] [--check]: write the generated files
(all of them when none is named), or with --check exit 1 naming every stale one."""
import argparse
import sys

from gen import dashboards, kubernetes, rules, targets
from lib import ROOT

# Rules before kubernetes: the Kubernetes overlays copy the rules.
GENERATORS = {"rules": rules, "dashboards": dashboards, "targets": targets, "kubernetes": kubernetes}


def main():
    parser = argparse.ArgumentParser(prog="scripts/py -m gen", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *GENERATORS], metavar="NAME",
                        help=f"one of {', '.join(GENERATORS)} (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; fail if a committed file is stale")
    args = parser.parse_args()
    stale = []
    for name in args.names or GENERATORS:
        for path, text in GENERATORS[name].outputs().items():
            if args.check:
                if not path.exists() or path.read_text() != text:
                    stale.append(f"{path.relative_to(ROOT)} (scripts/py -m gen {name})")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if stale:
        print("generated files out of date; regenerate:\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
