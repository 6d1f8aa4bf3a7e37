"""Keeps docs/CONFORMANCE.md honest: scans every test for the spec statement ids it carries
([MQTT-x.y.z-n] in a test's name, docstring, body or the comment just above a C test), regenerates
the "tests" column of the document from them, and fails when the document has rotted.

    /usr/bin/python3 tools/conformance/check.py           # check only; exit 1 on rot
    /usr/bin/python3 tools/conformance/check.py --write   # rewrite the tests column, then check
    /usr/bin/python3 tools/conformance/check.py --list    # print every id -> tests found

Rot is: a statement marked "covered" that no passing test mentions; a 5.0 id a test cites that the
document does not list (a typo, or a statement missing from the document); a tests column that
differs from what the tests say (run --write); the same id listed twice in one table version.

Where ids come from:
- tests/integration/test_*.py and tests/interop/test_*.py (ctest integration.<file> and
  interop.<file>): per test method, ids in its name, docstring and body. A docstring starting with
  "v3.1.1" means the ids are 3.1.1's numbering. Ids in module-level case tables (a list of tuples
  whose first string names the case) are credited to "TABLE[case]", as 3.1.1's numbering when
  the case says "v3.1.1". A method decorated with
  unittest.expectedFailure is listed but does not count as covering.
- tests/unit/<area>/test_*.c (ctest unit.<area>.<file>): per function, ids in its body and in the
  comment block right above it. An id is 3.1.1's when its line says "3.1.1", or when the area's
  COVERAGE*.txt marks that pair "(3.1.1)".

The document: every Markdown table row whose first cell is an id is a statement. Rows under a
heading that mentions "MQTT 3.1.1" are 3.1.1 statements, all others 5.0. The status cell starts with
"covered", "n/a", "client" (a client obligation) or "not yet"; only "covered" needs a test. The
last cell of a row is the tests column this script owns."""

import argparse
import ast
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "CONFORMANCE.md")
ID = re.compile(r"MQTT-(\d+(?:\.\d+)+)-(\d+)")
V311 = "3.1.1"
V5 = "5.0"


def spec_id(match):
    return "MQTT-%s-%s" % (match.group(1), match.group(2))


def id_key(sid):
    return [int(n) for n in re.findall(r"\d+", sid)]


class Hit:
    """One test citing one id."""

    def __init__(self, sid, version, ctest, test, xfail=False):
        self.sid, self.version, self.ctest, self.test, self.xfail = sid, version, ctest, test, xfail


def _is_expected_failure(fn):
    for dec in fn.decorator_list:
        name = dec.attr if isinstance(dec, ast.Attribute) else getattr(dec, "id", "")
        if name == "expectedFailure":
            return True
    return False


def _case_tables(tree, src):
    """Module-level NAME = [(case_name, ..."[MQTT-..]"...), ...] tables."""
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple))):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        for row in node.value.elts:
            if not isinstance(row, ast.Tuple) or not row.elts:
                continue
            first = row.elts[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            text = ast.get_source_segment(src, row) or ""
            yield "%s[%s]" % (target.id, first.value), text


def scan_python(path, ctest):
    src = open(path, encoding="utf-8").read()
    src_lines = src.splitlines()
    tree = ast.parse(src)
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for fn in cls.body:
            if not (isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_")):
                continue
            doc = ast.get_docstring(fn) or ""
            version = V311 if doc.startswith("v3.1.1") else V5
            # Whole lines, so a comment after the last statement still counts.
            text = fn.name + " " + "\n".join(src_lines[fn.lineno - 1:fn.end_lineno])
            for sid in sorted({spec_id(m) for m in ID.finditer(text)}, key=id_key):
                yield Hit(sid, version, ctest, "%s.%s" % (cls.name, fn.name),
                          _is_expected_failure(fn))
    for case, text in _case_tables(tree, src):
        version = V311 if "v3.1.1" in text else V5
        for sid in sorted({spec_id(m) for m in ID.finditer(text)}, key=id_key):
            yield Hit(sid, version, ctest, case)


C_FUNC = re.compile(r"^(?:static\s+)?(?:void|int)\s+(\w+)\s*\(", re.M)


def coverage_marks_311(area_dir):
    """(id, function) pairs an area's COVERAGE*.txt lists as 3.1.1 numbering."""
    marks = set()
    for path in glob.glob(os.path.join(area_dir, "COVERAGE*.txt")):
        for line in open(path, encoding="utf-8"):
            if "3.1.1" not in line or line.startswith("#"):
                continue
            ids = [spec_id(m) for m in ID.finditer(line)]
            funcs = re.findall(r"\b(test_\w+)", line)
            marks.update((sid, fn) for sid in ids for fn in funcs)
    return marks


def scan_c(path, ctest, marks_311):
    src = open(path, encoding="utf-8").read()
    starts = [(m.start(), m.group(1)) for m in C_FUNC.finditer(src)]
    # A function owns the text from the end of the previous function (its leading comment) to
    # its own end, which is where the next function's leading text begins.
    bounds = []
    for i, (pos, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(src)
        body_end = src.rfind("\n}", pos, end)
        body_end = end if body_end < 0 else body_end + 2
        bounds.append((pos, body_end, name))
    owners = []
    prev_end = 0
    for pos, body_end, name in bounds:
        owners.append((prev_end, body_end, name))
        prev_end = body_end
    for m in ID.finditer(src):
        owner = next((n for a, b, n in owners if a <= m.start() < b), None)
        if owner is None or not owner.startswith("test_"):
            continue
        line_start = src.rfind("\n", 0, m.start()) + 1
        line_end = src.find("\n", m.end())
        line = src[line_start:line_end if line_end >= 0 else len(src)]
        sid = spec_id(m)
        version = V311 if ("3.1.1" in line or (sid, owner) in marks_311) else V5
        yield Hit(sid, version, ctest, owner)


def scan_tests(root=ROOT):
    hits = []
    for kind in ("integration", "interop"):
        for path in sorted(glob.glob(os.path.join(root, "tests", kind, "test_*.py"))):
            stem = os.path.splitext(os.path.basename(path))[0]
            hits.extend(scan_python(path, "%s.%s" % (kind, stem)))
    for area_dir in sorted(glob.glob(os.path.join(root, "tests", "unit", "*"))):
        if not os.path.isdir(area_dir):
            continue
        area = os.path.basename(area_dir)
        marks = coverage_marks_311(area_dir)
        for path in sorted(glob.glob(os.path.join(area_dir, "test_*.c"))):
            stem = os.path.splitext(os.path.basename(path))[0]
            hits.extend(scan_c(path, "unit.%s.%s" % (area, stem), marks))
    unique = {}
    for h in hits:
        unique.setdefault((h.sid, h.version, h.ctest, h.test), h)
    return list(unique.values())


def tests_cell(hits):
    """The generated tests column: one group per ctest test, test functions after it."""
    groups = {}
    for h in hits:
        name = h.test + (" (expected failure)" if h.xfail else "")
        groups.setdefault(h.ctest, set()).add(name)
    parts = []
    for ctest in sorted(groups):
        parts.append("`%s`: %s" % (ctest, ", ".join(sorted(groups[ctest]))))
    return "<br>".join(parts) if parts else "-"


class Row:
    def __init__(self, lineno, cells, version):
        self.lineno, self.cells, self.version = lineno, cells, version
        m = ID.search(cells[0])
        self.sid = spec_id(m)
        self.status = cells[-2].strip().lower() if len(cells) >= 3 else ""


def split_row(line):
    inner = line.strip()
    if not (inner.startswith("|") and inner.endswith("|")):
        return None
    return [c.strip() for c in inner[1:-1].split("|")]


def parse_doc(lines):
    rows = []
    version = V5
    for i, line in enumerate(lines):
        if line.startswith("#"):
            version = V311 if "MQTT 3.1.1" in line else V5
            continue
        cells = split_row(line)
        if not cells or len(cells) < 3 or not re.fullmatch(r"`?\[?" + ID.pattern + r"\]?`?",
                                                             cells[0]):
            continue
        rows.append(Row(i, cells, version))
    return rows


def render_row(cells):
    return "| " + " | ".join(cells) + " |\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite the tests column in place")
    ap.add_argument("--list", action="store_true", help="print id -> tests and exit")
    ap.add_argument("--doc", default=DOC)
    args = ap.parse_args(argv)

    hits = scan_tests()
    by_id = {}
    for h in hits:
        by_id.setdefault((h.sid, h.version), []).append(h)
    if args.list:
        for (sid, version) in sorted(by_id, key=lambda k: (k[1], id_key(k[0]))):
            print("%s %s %s" % (sid, version, tests_cell(by_id[(sid, version)])))
        return 0

    lines = open(args.doc, encoding="utf-8").readlines()
    rows = parse_doc(lines)
    problems = []
    stale = []  # rows that do not list every test citing them yet: true, but incomplete
    seen = {}
    for row in rows:
        key = (row.sid, row.version)
        if key in seen:
            problems.append("%s (%s) listed twice: lines %d and %d"
                            % (row.sid, row.version, seen[key] + 1, row.lineno + 1))
        seen[key] = row.lineno
        found = by_id.get(key, [])
        want = tests_cell(found)
        if row.cells[-1] != want:
            if args.write:
                row.cells[-1] = want
                lines[row.lineno] = render_row(row.cells)
            elif set(re.findall(r"test_\w+", row.cells[-1])) - set(re.findall(r"test_\w+", want)):
                problems.append("%s (%s) line %d: names a test that no longer cites it "
                                "(run with --write)" % (row.sid, row.version, row.lineno + 1))
            else:
                stale.append(row.sid)
        if row.status.startswith("covered") and not [h for h in found if not h.xfail]:
            problems.append("%s (%s) line %d: marked covered but no passing test mentions it"
                            % (row.sid, row.version, row.lineno + 1))
    for (sid, version), found in sorted(by_id.items(), key=lambda kv: id_key(kv[0][0])):
        if version == V5 and (sid, version) not in seen:
            problems.append("%s cited by %s is not in the document"
                            % (sid, tests_cell(found).replace("<br>", "; ")))
    if args.write:
        with open(args.doc, "w", encoding="utf-8") as f:
            f.writelines(lines)

    notes = [r for r in rows if r.status.startswith("not yet") and by_id.get((r.sid, r.version))
             and all(not h.xfail for h in by_id[(r.sid, r.version)])]
    for r in notes:
        print("note: %s is marked not yet but tests mention it; mark it covered if they check it"
              % r.sid)
    if stale:
        print("note: %d row(s) do not list every test citing them (%s); refresh with --write"
              % (len(stale), ", ".join(stale)))
    for p in problems:
        print("ROT: " + p)
    counts = {}
    for r in rows:
        if r.version == V5:
            word = r.status.split()[0] if r.status else "?"
            counts[word] = counts.get(word, 0) + 1
    print("%s: %d statement rows (5.0: %s); %d test citations scanned; %d problem(s)"
          % (os.path.relpath(args.doc, ROOT), len(rows),
             ", ".join("%s %d" % kv for kv in sorted(counts.items())), len(hits), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
