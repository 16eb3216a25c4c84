#!/usr/bin/env bash
# Mutation testing of synthmill's core (issue 19): a bench, not part of CI.
#
# mutmut 3 (installed into .venv when missing; not a synthmill dependency) breaks one
# group of core modules at a time in a scratch copy of the repository and, for each
# mutant, runs the tests that call the mutated function (mutmut maps tests to functions
# first), drawn from a fast test subset per group. The killed share per group and overall
# goes to bench/results/mutation.json, with every surviving mutant and, for those judged
# harmless, the reason (bench/mutation_harmless.json).
#
#   bench/mutation.sh                      every group
#   bench/mutation.sh card mix records     some groups
#   MUTATION_BUDGET_S=900 bench/mutation.sh pipeline   a time limit per group
#
# On 2 shared cores every mutant of every group takes hours, so each group runs a seeded
# random sample of its mutants (MUTATION_SAMPLE per group, default 60; 0 = all): the
# killed share is estimated on that sample, and the JSON says how many of how many ran.
# A group stopped by its time limit is recorded as partial (mutants left unrun counted).
# Tests that start `python -m synthmill` in a subprocess do not see the mutants (the
# subprocess imports the unmutated package), so each group's subset is in-process tests.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${MUTATION_PYTHON:-$REPO/.venv/bin/python}
WORK=${MUTATION_WORK:-/tmp/synthmill-mutation}
BUDGET=${MUTATION_BUDGET_S:-3600}
CHILDREN=${MUTATION_CHILDREN:-2}
SAMPLE=${MUTATION_SAMPLE:-60}
MUTMUT_VERSION=3.8.1

"$PY" -c "import mutmut" 2>/dev/null || "$PY" -m pip install -q "mutmut==$MUTMUT_VERSION"

declare -A SOURCES TESTS
SOURCES[card]="src/synthmill/card.py"
TESTS[card]="tests/test_card.py tests/pipeline/test_card_shards.py"
SOURCES[mix]="src/synthmill/mix.py"
TESTS[mix]="tests/test_mix.py::test_shares tests/test_mix_inprocess.py tests/pipeline/test_card_shards.py"
SOURCES[records]="src/synthmill/records.py"
TESTS[records]="tests/curate/test_dedup_kept_row.py tests/properties/test_dedup_props.py tests/pipeline/test_card_shards.py tests/pipeline/test_engine.py"
SOURCES[minhash]="src/synthmill/curate/minhash.py src/synthmill/curate/minhash_dedup.py"
TESTS[minhash]="tests/curate/test_minhash.py tests/properties/test_dedup_props.py"
SOURCES[verify]="src/synthmill/verify/equivalence.py src/synthmill/verify/numbers.py src/synthmill/verify/extract.py src/synthmill/verify/units.py src/synthmill/verify/fastsym.py src/synthmill/verify/math_check.py"
TESTS[verify]="tests/verify/test_equivalence.py tests/properties/test_equivalence_props.py"
SOURCES[pipeline]="src/synthmill/pipeline/stats.py src/synthmill/pipeline/publish.py src/synthmill/pipeline/runner.py src/synthmill/pipeline/stage.py src/synthmill/pipeline/transient.py src/synthmill/pipeline/columns.py"
TESTS[pipeline]="tests/pipeline/test_card_shards.py tests/pipeline/test_engine.py tests/test_mix_inprocess.py"

groups=("$@")
[[ ${#groups[@]} -gt 0 ]] || groups=(card mix records minhash verify pipeline)
mkdir -p "$WORK" bench/results
for group in "${groups[@]}"; do
  [[ -n "${SOURCES[$group]:-}" ]] || { echo "unknown group $group"; exit 2; }
  dir=$WORK/$group
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r src tests examples "$dir"/
  # pytest's settings (markers) without the project's own tool tables, then mutmut's
  "$PY" - "$dir" "${SOURCES[$group]}" "${TESTS[$group]}" <<'EOF'
import sys, tomllib, json
from pathlib import Path
dest, sources, tests = Path(sys.argv[1]), sys.argv[2].split(), sys.argv[3].split()
markers = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
q = json.dumps
lines = [
    "[tool.pytest.ini_options]", f"markers = {q(markers)}", "",
    "[tool.mutmut]", 'source_paths = ["src/"]', f"only_mutate = {q(sources)}",
    'also_copy = ["examples/"]',
    'pytest_add_cli_args = ["-q", "-x", "-p", "no:cacheprovider", "-m", "not slow and not model and not server and not sandbox"]',
    f"pytest_add_cli_args_test_selection = {q(tests)}",
    "use_git_change_detection = false",
]
(dest / "pyproject.toml").write_text("\n".join(lines) + "\n")
EOF
  echo "== $group: ${SOURCES[$group]} (limit ${BUDGET}s, sample $SAMPLE)"
  start=$(date +%s)
  # mutmut puts mutants/src first on sys.path itself; a subprocess a test starts imports
  # the installed (unmutated) package, since in it mutmut's trampolines cannot run
  export SYNTHMILL_CACHE_DIR="$dir/cache"
  # Pass 1 makes the mutants (its stats step can fail: the package was imported before
  # mutmut put mutants/src first on sys.path); pass 2 maps tests and runs the sample.
  (cd "$dir" && nice -n 10 timeout "$BUDGET" "$PY" -m mutmut run --max-children "$CHILDREN" \
     "synthmill.nothing.x_none__mutmut_0" >mutmut-generate.log 2>&1)
  (cd "$dir" && "$PY" -m mutmut results --all true >all.txt 2>&1)
  mapfile -t picked < <("$PY" - "$dir/all.txt" "$SAMPLE" <<'EOF2'
import random, re, sys
names = [m[1] for m in (re.match(r"^\s+(\S+): ", line) for line in open(sys.argv[1])) if m]
k = int(sys.argv[2])
print("\n".join(sorted(random.Random(0).sample(names, k)) if 0 < k < len(names) else names))
EOF2
)
  echo "${#picked[@]}" >"$dir/sampled"
  grep -c ": " "$dir/all.txt" >"$dir/generated" || true
  (cd "$dir" && nice -n 10 timeout "$BUDGET" "$PY" -m mutmut run --max-children "$CHILDREN" \
     "${picked[@]}" >mutmut.log 2>&1)
  rc=$?
  unset SYNTHMILL_CACHE_DIR
  echo $(( $(date +%s) - start )) >"$dir/seconds"
  echo $rc >"$dir/rc"
  (cd "$dir" && "$PY" -m mutmut export-cicd-stats >/dev/null 2>&1
   "$PY" -m mutmut results --all true >results.txt 2>&1)
  printf '%s\n' "${picked[@]}" >"$dir/picked.txt"
  tail -3 "$dir/mutmut.log"
done
"$PY" bench/mutation_report.py "$WORK" "${groups[@]}"
