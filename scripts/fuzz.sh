#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 2s), one
# after the other: `make test` runs it short, `make fuzz` long. Each
# package's fuzzing test binary is built once, so a target costs little
# more than its FUZZTIME. A target that fails leaves its input in its
# package's testdata/fuzz/<target>/, which `go test` then runs as a seed:
# commit that file with the fix. The script goes on through the other
# targets and fails at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzztime="${FUZZTIME:-2s}"
# Workers per target: the fuzzer's default is one per core.
parallel="${FUZZ_PARALLEL:-$(nproc)}"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache="$(go env GOCACHE)/fuzz"

failed=()
start=$SECONDS
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	pkg=$(go list "$dir")
	go test -c -fuzz=. -o "$bin/t" "$dir"
	for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -c6- | sort); do
		echo "fuzz: $name ($pkg, $fuzztime)"
		# The corpus the fuzzer finds is kept where go test keeps it.
		if ! (cd "$dir" && "$bin/t" -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$fuzztime" \
			-test.parallel="$parallel" -test.fuzzcachedir="$cache/$pkg" >"$bin/log" 2>&1); then
			grep -v '^fuzz: elapsed' "$bin/log" | tail -n 30
			failed+=("$name")
		fi
	done
done
echo "fuzz: done in $((SECONDS - start))s"
if ((${#failed[@]})); then
	echo "fuzz: FAILED: ${failed[*]}; each failing input is a new file under testdata/fuzz:"
	cd "$root" && git status --short --untracked-files=all -- '*testdata/fuzz/*' 2>/dev/null || true
	exit 1
fi
