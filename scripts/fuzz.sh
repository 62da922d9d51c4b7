#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each, one after the
# other: `make test` runs a count of inputs (3000x), `make fuzz` a duration
# (1m). Each package's fuzzing test binary is built once. A target that fails
# leaves its input in its package's testdata/fuzz/<target>/, which `go test`
# then runs as a seed: commit that file with the fix. The script goes on
# through the other targets and fails at the end.
#
# Why a count in `make test`: Go 1.26's fuzzer has a race at the end of a
# duration (golang/go#75804): a worker still mid-input fails the target with
# a bare "context deadline exceeded" and no input. A count has no deadline.
# Under a duration, a failure of exactly that shape that left no new input is
# reported, not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzztime="${FUZZTIME:-3000x}"
# Workers per target: the fuzzer's default is one per core.
parallel="${FUZZ_PARALLEL:-$(nproc)}"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache="$(go env GOCACHE)/fuzz"

# The inputs a target has under testdata/fuzz, which a failure adds to.
new_inputs() {
	if [[ -d $1/testdata/fuzz/$2 ]]; then ls "$1/testdata/fuzz/$2" | tr '\n' ' '; fi
}

failed=()
start=$SECONDS
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	pkg=$(go list "$dir")
	go test -c -fuzz=. -o "$bin/t" "$dir"
	for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -c6- | sort); do
		echo "fuzz: $name ($pkg, $fuzztime)"
		inputs_before=$(new_inputs "$dir" "$name")
		# The corpus the fuzzer finds is kept where go test keeps it.
		if ! (cd "$dir" && "$bin/t" -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$fuzztime" \
			-test.parallel="$parallel" -test.fuzzcachedir="$cache/$pkg" >"$bin/log" 2>&1); then
			if [[ $fuzztime != *x ]] && [[ $(new_inputs "$dir" "$name") == "$inputs_before" ]] &&
				[[ $(grep -v '^fuzz: elapsed' "$bin/log" | grep -cv -e '^--- FAIL: ' -e '^FAIL$' -e '^    context deadline exceeded$') == 0 ]]; then
				echo "fuzz: $name stopped by Go's fuzztime race (golang/go#75804), no input failed"
				continue
			fi
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
