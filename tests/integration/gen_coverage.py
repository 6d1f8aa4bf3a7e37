"""Writes tests/integration/COVERAGE.txt: one line per spec statement id a test carries (in its
name, docstring or a comment beside an assertion), for docs/CONFORMANCE.md.

Run from anywhere: /usr/bin/python3 tests/integration/gen_coverage.py"""

import ast
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ID = re.compile(r"\[(MQTT-[0-9.]+-[0-9]+)\]")
HEADER = """\
# Spec statements covered by the integration and interop tests: id, spec version, file::test.
# Ids are MQTT 5.0's unless the version column says 3.1.1 (3.1.1 numbers differ); a test whose
# docstring starts with "v3.1.1" cites 3.1.1 ids. Regenerate: tests/integration/gen_coverage.py
"""


def test_methods(path):
    src = open(path).read()
    for cls in ast.parse(src).body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for fn in cls.body:
            if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_"):
                doc = ast.get_docstring(fn) or ""
                yield cls.name, fn.name, doc, ast.get_source_segment(src, fn)


def generated_malformed_cases():
    """test_malformed.py builds one method per V5_CASES row."""
    sys.path.insert(0, HERE)
    import test_malformed
    for name, ids, _data, reason, _ok in test_malformed.V5_CASES:
        yield ("MalformedV5", "test_%s_gets_disconnect_0x%02x" % (name, reason), ids, "")


def main():
    rows = set()
    files = sorted(glob.glob(os.path.join(HERE, "test_*.py")) +
                   glob.glob(os.path.join(TESTS, "interop", "test_interop_*.py")))
    for path in files:
        rel = os.path.relpath(path, TESTS)
        methods = list(test_methods(path))
        if path.endswith("test_malformed.py"):
            methods += list(generated_malformed_cases())
        for cls, name, doc, body in methods:
            version = "3.1.1" if doc.startswith("v3.1.1") else "5.0"
            for spec_id in ID.findall(doc + " " + name + " " + body):
                rows.add((spec_id, version, "%s::%s.%s" % (rel, cls, name)))

    def order(row):
        return [int(n) for n in re.findall(r"\d+", row[0])], row[1], row[2]

    with open(os.path.join(HERE, "COVERAGE.txt"), "w") as f:
        f.write(HEADER)
        for row in sorted(rows, key=order):
            f.write("%s %s %s\n" % row)


if __name__ == "__main__":
    main()
