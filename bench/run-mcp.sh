#!/usr/bin/env bash
# MCP gateway overhead: bench/run-mcp.sh [McpGatewayBench options: --warmup 3000 --calls 5000 --rounds 3]
#
# Builds the jar and the driver if needed, installs the reference MCP server (@modelcontextprotocol/server-filesystem,
# pinned in mcp-gateway-tests/src/test/npm) into bench/target/npm, then times read_text_file calls straight to it and
# through `countersign.jar mcp-gateway` (which asks a `countersign.jar serve` on a fresh H2 file first). See
# docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=bot-server/target/countersign.jar
driver=bench/target/classes/dev/countersign/bench/McpGatewayBench.class
if [[ ! -f $jar || ! -f $driver ]] || [[ -n $(find bot-core/src/main bot-server/src agent-client/src mcp-gateway/src bench/src bench/pom.xml pom.xml -newer "$jar" -type f 2>/dev/null | head -1) ]]; then
  echo "building (./mvnw install -DskipTests)…"
  ./mvnw -q -o install -DskipTests || ./mvnw -q install -DskipTests
fi
mkdir -p bench/target/npm
cp mcp-gateway-tests/src/test/npm/package.json mcp-gateway-tests/src/test/npm/package-lock.json bench/target/npm/
(cd bench/target/npm && npm install --no-audit --no-fund --loglevel=warn)
cp_file=bench/target/classpath.txt
./mvnw -q -o -pl bench dependency:build-classpath -Dmdep.outputFile="$PWD/$cp_file" >/dev/null \
  || ./mvnw -q -pl bench dependency:build-classpath -Dmdep.outputFile="$PWD/$cp_file" >/dev/null
work=$(mktemp -d /tmp/countersign-mcp-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg); node $(node --version)"
java -Xms256m -Xmx512m -cp "bench/target/classes:bot-server/target/countersign-tests.jar:$(cat "$cp_file")" dev.countersign.bench.McpGatewayBench \
  --jar "$jar" --work-dir "$work" "$@"
