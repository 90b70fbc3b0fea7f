"""A stand-in for mikefarah/yq (the `yq` in the mikefarah/yq:4.53.6 image), for the tests only:
no build of yq can run here (it is a Go program; no Go toolchain or module proxy is reachable).
It answers exactly the expressions init/prometheus-start.sh sends, as yq's own documentation says
yq answers them (pkg/yqlib/doc/operators at v4.53.6: line.md and column.md, "Returns line of
_key_ node", 1-based; document-index.md, `select(document_index == 1)`; usage/convert.md,
`-o=json -I=0` prints one compact JSON document per result; cmd/root.go: `-N` prints no `---`
between results), and refuses anything else, so a change to the script's yq calls fails the
tests until this file (and the argument for it) follows.

    python3 yq_standin.py [-N] [-o=json -I=0] EXPRESSION FILE
"""
import json
import re
import sys

import yaml

PATTERNS = {
    "kinds": re.compile(r'select\(\.kind == "PrometheusRule"\) \| document_index'),
    "key": re.compile(r"select\(document_index == (\d+)\) \| \.spec\.groups \| key \| (line|column)"),
    "groups": re.compile(r'select\(document_index == (\d+)\) \| \{"groups": \(\.spec\.groups // \[\]\)\}'),
    "all": re.compile(r"\."),
}


def key_mark(node):
    if not isinstance(node, yaml.MappingNode):
        return None
    spec = next((v for k, v in node.value if k.value == "spec"), None)
    if not isinstance(spec, yaml.MappingNode):
        return None
    return next((k.start_mark for k, _ in spec.value if k.value == "groups"), None)


def main(argv):
    json_out = "-o=json" in argv
    rest = [a for a in argv if a not in ("-N", "-o=json", "-I=0")]
    if len(rest) != 2:
        print(f"yq stand-in: unexpected arguments {argv}", file=sys.stderr)
        return 99
    expression, path = rest
    text = open(path).read()
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as e:
        print(f"Error: bad file '{path}': yaml: line {e.problem_mark.line + 1}: {e.problem}", file=sys.stderr)
        return 1
    results = []
    kind = next((k for k, p in PATTERNS.items() if p.fullmatch(expression)), None)
    if kind == "kinds":
        results = [i for i, d in enumerate(docs) if isinstance(d, dict) and d.get("kind") == "PrometheusRule"]
    elif kind == "key":
        i, what = PATTERNS["key"].fullmatch(expression).groups()
        mark = key_mark(nodes[int(i)])
        results = [0 if mark is None else (mark.line + 1 if what == "line" else mark.column + 1)]
    elif kind == "groups":
        d = docs[int(PATTERNS["groups"].fullmatch(expression).group(1))]
        results = [{"groups": ((d or {}).get("spec") or {}).get("groups") or []}]
    elif kind == "all":
        results = docs
    else:
        print(f"yq stand-in: expression not known to the stand-in: {expression}", file=sys.stderr)
        return 99
    for r in results:
        if json_out:
            print(json.dumps(r, separators=(",", ":")))
        elif isinstance(r, int):
            print(r)
        else:
            sys.stdout.write(yaml.safe_dump(r, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
