"""Holds the Python side's one fact in its two forms equal: scripts/requirements.txt is what
ensure_venv (scripts/lib/tools.sh) installs into .venv, pyproject.toml's [project] dependencies
declare the project's packages; both list the same packages at the same exact pins (`==`).
Also: the virtualenv's Python satisfies requires-python, and ruff targets that minimum.

    scripts/py -m checks.python_project              # from the repository root
    scripts/py -m checks.python_project --self-test  # break each rule on purpose and see it caught
"""
import re
import sys
import tomllib

from lib import ROOT

REQUIREMENTS = "scripts/requirements.txt"
PYPROJECT = "pyproject.toml"
# NAME==VERSION and nothing else (no ranges, extras, markers, URLs or pip options).
PIN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*([A-Za-z0-9.+!-]+)")


def pins(lines, where):
    """{normalised name (PEP 503): version} and problems: every line an exact pin."""
    out, problems = {}, []
    for line in lines:
        m = PIN.fullmatch(line.strip())
        if not m:
            problems.append(f"{where}: {line!r} is not an exact pin (NAME==VERSION)")
            continue
        name = re.sub(r"[-_.]+", "-", m[1]).lower()
        if name in out:
            problems.append(f"{where}: {m[1]} is listed twice")
        out[name] = m[2]
    return out, problems


def check(requirements_text, pyproject, python_version):
    lines = [ln.split("#", 1)[0].strip() for ln in requirements_text.splitlines()]
    locked, problems = pins([ln for ln in lines if ln], REQUIREMENTS)
    project = pyproject.get("project", {})
    declared, more = pins(project.get("dependencies", []), f"{PYPROJECT} [project] dependencies")
    problems += more
    for name in sorted(set(locked) | set(declared)):
        if name not in declared:
            problems.append(f"{name}=={locked[name]} is in {REQUIREMENTS} but not in {PYPROJECT}'s dependencies")
        elif name not in locked:
            problems.append(f"{name}=={declared[name]} is in {PYPROJECT}'s dependencies but not in {REQUIREMENTS}")
        elif locked[name] != declared[name]:
            problems.append(f"{name}: {REQUIREMENTS} pins {locked[name]}, {PYPROJECT} {declared[name]}")
    # requires-python is a plain minimum (>=3.N): the virtualenv's Python meets it, ruff targets it.
    wanted = project.get("requires-python", "")
    minimum = re.fullmatch(r">=\s*3\.(\d+)", wanted)
    if not minimum:
        return problems + [f"{PYPROJECT}: requires-python {wanted!r} is not of the form >=3.N"]
    if python_version[:2] < (3, int(minimum[1])):
        problems.append(f"the virtualenv's Python {'.'.join(map(str, python_version))} does not satisfy "
                        f"requires-python {wanted!r}")
    target = pyproject.get("tool", {}).get("ruff", {}).get("target-version")
    if target != f"py3{minimum[1]}":
        problems.append(f"{PYPROJECT}: ruff's target-version {target!r} is not requires-python's minimum {wanted!r}")
    return problems


def inputs():
    return (ROOT / REQUIREMENTS).read_text(), tomllib.loads((ROOT / PYPROJECT).read_text()), sys.version_info[:3]


def self_test(requirements_text, pyproject, python_version):
    """Breaks each rule on purpose and returns the names of the breakages not caught."""
    if check(requirements_text, pyproject, python_version):
        return ["(the unbroken inputs already fail)"]
    first = pyproject["project"]["dependencies"][0]
    name, version = first.split("==")

    def deps(change):
        return dict(pyproject, project=dict(pyproject["project"], dependencies=change(
            list(pyproject["project"]["dependencies"]))))

    old_python = (3, int(re.fullmatch(r">=\s*3\.(\d+)", pyproject["project"]["requires-python"])[1]) - 1, 0)
    ruff = dict(pyproject["tool"]["ruff"], **{"target-version": f"py3{old_python[1]}"})
    breakages = {
        "a package only in pyproject.toml": (requirements_text, deps(lambda d: d + ["example-package==1.0"])),
        "a package only in requirements.txt": (requirements_text + "example-package==1.0\n", pyproject),
        "another pin": (requirements_text, deps(lambda d: [f"{name}=={version}.1"] + d[1:])),
        "a range, not a pin": (requirements_text.replace(first, f"{name}>={version}"),
                               deps(lambda d: [f"{name}>={version}"] + d[1:])),
        "a package twice": (requirements_text + first + "\n", deps(lambda d: d + [first])),
        "not a pin": (requirements_text + "-e .\n", pyproject),
        "a Python older than requires-python": (requirements_text, pyproject, old_python),
        "ruff targeting another Python": (requirements_text, dict(pyproject, tool=dict(pyproject["tool"], ruff=ruff))),
    }
    return [what for what, (text, doc, *python) in breakages.items()
            if not check(text, doc, python[0] if python else python_version)]


def main():
    i = inputs()
    if "--self-test" in sys.argv:
        missed = self_test(*i)
        print(f"self-test: {'missed ' + ', '.join(missed) if missed else 'every breakage caught'}")
        return 1 if missed else 0
    problems = check(*i)
    for p in problems:
        print(f"python project: {p}", file=sys.stderr)
    if not problems:
        print(f"python project: {REQUIREMENTS} and {PYPROJECT} pin the same {len(i[1]['project']['dependencies'])} "
              f"packages; Python {'.'.join(map(str, i[2]))}; ruff's target: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
