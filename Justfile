# imaging-tui recipes. `just` lists them.

export PATH := env_var('PATH') + ":/usr/local/go/bin"

bin := "./imaging-tui"

# list the recipes
default:
    @just --list

# install what is missing (Debian packages, just, Go modules)
setup:
    .ci/setup

# build the one binary
build:
    go build -o {{bin}} .

# /usr/local/bin is on every default PATH, go install's ~/go/bin may not be; sudo only if it is not writable.

# build and put imaging-tui on the PATH, in PREFIX/bin (default /usr/local/bin)
install prefix="/usr/local": build
    #!/usr/bin/env bash
    set -euo pipefail
    dest="{{prefix}}/bin"
    sudo=""
    if ! mkdir -p "$dest" 2>/dev/null || [ ! -w "$dest" ]; then sudo="sudo"; fi
    $sudo install -m 0755 {{bin}} "$dest/imaging-tui"
    echo "installed $dest/imaging-tui"
    case ":$PATH:" in *":$dest:"*) ;; *) echo "note: $dest is not on your PATH" ;; esac

# run the pipeline with its console on the sample images (./imaging.db)
demo *ARGS: build
    {{bin}} {{ARGS}}

# a guided walkthrough in the console: a kill, a pause, a fault and a reorder, each narrated in the events
tour *ARGS: build
    {{bin}} --tour {{ARGS}}

# run the pipeline headless for a minute with a chaos script, then print the summary
demo-headless: build
    {{bin}} --no-tui --for 60s --chaos "10s kill extractor; 20s pause logger; 26s resume logger; 35s kill logger; 45s restart-all"

# every test, with the race detector (what CI runs)
test:
    go vet ./...
    @test -z "$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
    CGO_ENABLED=0 go vet ./wire/... ./db/... ./tui/...
    CGO_ENABLED=0 go build ./supervisor/... ./tui/... ./wire/... ./db/...  # no cgo above the stages
    go test -race -timeout 12m ./...
    go test -timeout 5m ./db/...  # without -race too: only there are BLOBs bound in place (db/raw.go)

# the end-to-end benchmark: bare SIFT (the limit) against the pipeline, and their ratio
bench *ARGS: build
    {{bin}} bench {{ARGS}}

# micro-benchmarks of every hot path, COUNT runs each; compare two outputs with benchstat
microbench count="6":
    go test -run '^$' -bench . -benchmem -count {{count}} ./wire/... ./db/... ./stages/...

# fuzz each decoder for a while (default 60s each)
fuzz time="60s":
    go test -run '^$' -fuzz '^FuzzDecodeImage$' -fuzztime {{time}} ./wire
    go test -run '^$' -fuzz '^FuzzDecodeProcessed$' -fuzztime {{time}} ./wire
    go test -run '^$' -fuzz '^FuzzDecodeAck$' -fuzztime {{time}} ./wire
    go test -run '^$' -fuzz '^FuzzDecodeReady$' -fuzztime {{time}} ./wire
    go test -run '^$' -fuzz '^FuzzProbe$' -fuzztime {{time}} ./wire/probe

# rewrite golden files (review the diff)
golden:
    go test ./tui/... -update

# formatting and static checks
lint:
    gofmt -l .
    go vet ./...
    CGO_ENABLED=0 go vet ./wire/... ./db/... ./tui/...
    CGO_ENABLED=0 go build ./supervisor/... ./tui/... ./wire/... ./db/...

# the chaos tests, longer: kill stages for SECONDS, then check nothing was lost (default 120)
chaos seconds="120":
    IMAGING_CHAOS_SECONDS={{seconds}} go test -run 'TestChaos' -v -timeout 60m ./stages | grep -E '^(---|===|PASS|FAIL|ok)|chaos|best effort'
