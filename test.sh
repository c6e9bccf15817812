#!/usr/bin/env bash
# The project's one test command: formatting, vet, generated-code drift, and
# every test under the race detector. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== generated code is up to date (gen/, examples/)"
for config in gen/*/mxauth.yaml examples/*/*/mxauth.yaml; do
  go run ./cmd/generate -config "$config" -check
done

echo "== go test -race"
go test -race -count=1 ./...

echo "== mautrix-go's crypto machine against the mock (pure-Go olm: build tag goolm)"
go vet -tags goolm ./mock/internal/api
go test -race -count=1 -tags goolm -run 'Olm' ./mock/internal/api

echo "== examples/client, a module of its own"
(cd examples/client && go vet ./... && go test -race -count=1 ./...)

echo "== heap targets, without the race detector (it changes heap figures)"
go test -count=1 -run 'Heap' ./mock/...

echo "== benchmarks, briefly, so they cannot rot"
go test -run '^$' -bench . -benchtime 1x ./... > /dev/null
echo "all checks passed"
