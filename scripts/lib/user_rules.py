"""The user's rule folder (docs/USER_RULES.md): the Prometheus Operator's PrometheusRule
manifests made into plain rule files, for the no-Docker run and the tests. The containers do the
same with mikefarah/yq in init/prometheus-start.sh (`yq_extract`, `cut_groups`); both follow one
rule, and scripts/e2e/test_user_rules.py holds them to the same output.

    python3 -m lib.user_rules extract FILE OUTDIR STEM   # as init/prometheus-start.sh calls it
    python3 -m lib.user_rules wrap FILE NAME              # a plain rule file as a PrometheusRule

`extract` writes OUTDIR/STEM.K.yml for the K-th PrometheusRule document of FILE (K from 1) and
prints "PATH OFFSET" for each: the file keeps the user's line numbers (every other line blank,
the `groups:` block moved OFFSET columns left), or OFFSET is `-` when the document is not in
block style and the groups were dumped instead. It prints nothing for a file without a
PrometheusRule document (a plain rule file), and exits 1 with "FILE: yaml: line N: ..." when
FILE is not YAML. Only PrometheusRule documents are read, as the operator reads only those.
Needs PyYAML only, so a system python3 with python3-yaml runs it.
"""
import pathlib
import sys

import yaml

KIND = "PrometheusRule"


def cut(lines, line, indent):
    """`lines` with every line blank but the key on 1-based `line` and its block value, moved
    `indent` columns left. The value is every following line indented deeper than the key, or
    as deep and starting a sequence entry (`- `); comments become blank lines."""
    out, inside = [], False
    for number, text in enumerate(lines, start=1):
        stripped = text.lstrip(" ")
        depth = len(text) - len(stripped)
        if number < line:
            out.append("")
        elif number == line:
            out.append(text[indent:])
            inside = True
        elif inside and (not stripped.strip() or stripped.startswith("#")):
            out.append("")
        elif inside and (depth > indent or (depth == indent and (stripped.startswith("- ")
                                                                 or stripped.rstrip() == "-"))):
            out.append(text[indent:])
        else:
            inside = False
            out.append("")
    return out


def groups_key(node):
    """(key node, value) of spec.groups in a composed PrometheusRule document, or None."""
    spec = next((v for k, v in node.value if k.value == "spec"), None) if isinstance(node, yaml.MappingNode) else None
    if not isinstance(spec, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in spec.value if k.value == "groups"), None)


def extract(path, outdir, stem):
    """[(written path, offset)] for the PrometheusRule documents of `path` (see the module doc)."""
    text = pathlib.Path(path).read_text()
    nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    docs = list(yaml.safe_load_all(text))
    lines = text.splitlines()
    written = []
    for node, doc in zip(nodes, docs, strict=True):
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            continue
        groups = (doc.get("spec") or {}).get("groups") or []
        want = {"groups": groups}
        out = pathlib.Path(outdir) / f"{stem}.{len(written) + 1}.yml"
        found, offset = groups_key(node), "-"
        if found:
            key = found[0]
            body = "\n".join(cut(lines, key.start_mark.line + 1, key.start_mark.column)) + "\n"
            try:
                if yaml.safe_load(body) == want:
                    offset = key.start_mark.column
            except yaml.YAMLError:
                pass
        if offset == "-":
            body = yaml.safe_dump(want, sort_keys=False)
        out.write_text(body)
        written.append((out, offset))
    return written


def wrap(path, name):
    """A plain rule file as a PrometheusRule manifest named `name` (for kube-prometheus-stack,
    whose Prometheus reads rules from PrometheusRules only)."""
    doc = yaml.safe_load(pathlib.Path(path).read_text()) or {}
    return yaml.safe_dump({"apiVersion": "monitoring.coreos.com/v1", "kind": KIND,
                           "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "user-rules"}},
                           "spec": {"groups": doc.get("groups", [])}}, sort_keys=False)


def main(argv):
    if len(argv) == 4 and argv[0] == "extract":
        try:
            for out, offset in extract(*argv[1:]):
                print(out, offset)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            print(f"{argv[1]}: yaml: line {mark.line + 1 if mark else '?'}: {e.problem or e.context}", file=sys.stderr)
            return 1
        except (OSError, yaml.YAMLError) as e:
            print(f"{argv[1]}: {e}", file=sys.stderr)
            return 1
        return 0
    if len(argv) == 3 and argv[0] == "wrap":
        sys.stdout.write(wrap(argv[1], argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
