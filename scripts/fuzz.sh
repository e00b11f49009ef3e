#!/bin/sh
# scripts/fuzz.sh [SECONDS]: build the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/,
# regenerate the seed corpus in fuzz/corpus/ (gitignored), and fuzz each target (the store
# opener, the record reader, the SIMD R Drive reader and importer, the Database item
# decoders, the expression parser, PartiQL, DynamoDB JSON <-> CBOR, then DynamoDB requests
# through the server's handler) for SECONDS (default 60).
# Exit status: 0 when no crash was found, non-zero otherwise; crash inputs are saved in
# build-fuzz/fuzz-artifacts/ and can be replayed with
#   build-fuzz/fuzz/fuzz_open build-fuzz/fuzz-artifacts/crash-...
# Extra arguments after SECONDS go to libFuzzer (e.g. -jobs=2 -workers=2; the per-job logs
# are then build-fuzz/fuzz-N.log). KEEL_FUZZ_PARALLEL=N fuzzes N targets at a time (default 1).
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"

if [ ! -f "$build/build.ninja" ]; then
    # meson puts ccache in front of the compilers it finds itself, not of CC and CXX.
    cc=clang cxx=clang++
    if command -v ccache >/dev/null; then cc="ccache clang" cxx="ccache clang++"; fi
    CC=$cc CXX=$cxx meson setup "$build" "$root" -Dfuzz=true -Db_sanitize=none \
        -Dbuildtype=debugoptimized -Dbench=false -Dtests=false -Dpython=disabled \
        -Dinstall_c_library=false
fi
ninja -C "$build" fuzz/fuzz_open fuzz/fuzz_make_corpus fuzz/fuzz_records fuzz/fuzz_simd \
    fuzz/fuzz_item fuzz/fuzz_expr fuzz/fuzz_partiql fuzz/fuzz_json fuzz/fuzz_request \
    fuzz/fuzz_hnsw

corpus="$root/fuzz/corpus"
mkdir -p "$corpus" "$corpus-records" "$corpus-item" "$corpus-expr" "$corpus-partiql" "$corpus-json" \
    "$corpus-request" "$corpus-hnsw" \
    "$build/fuzz-artifacts"
"$build/fuzz/fuzz_make_corpus" "$corpus"
# Two SIMD R Drive files: unpadded (the engine on PyPI) and 64-byte aligned (its 0.15 on),
# each with a write, an overwrite and a delete.
mkdir -p "$corpus-simd"
python3 - "$corpus-simd" <<'PY'
import struct, sys, zlib
def simd(align):
    out = bytearray()
    for h, payload in ((1, b"value1"), (2, b"value2"), (1, b"\x00"), (3, b"abc" * 30)):
        tail = len(out)
        if payload != b"\x00":
            out += b"\x00" * ((align - tail % align) % align)
        out += payload + struct.pack("<QQI", h, tail, zlib.crc32(payload))
    return bytes(out)
for align in (1, 64):
    open(f"{sys.argv[1]}/seed-align{align}.bin", "wb").write(simd(align))
PY
# Seeds for the item target: a few CBOR items and numbers (fuzz_item.c says what it checks).
printf '\241asbxy' >"$corpus-item/s"
printf '\243an\304\202\041\031\001\000al\202\001\241aq\366av\330U\104\000\000\200\077' >"$corpus-item/mix"
printf '\241ss\331\001\002\202aaab' >"$corpus-item/set"
printf -- '-1.25e-3' >"$corpus-item/num"
# Seeds for the expression parser: one expression of each kind.
i=0
for seed in 'a = :a AND (NOT #n <> :s OR size(l) BETWEEN :a AND :n)' \
            'pk = :p AND begins_with(sk, :s)' 'm.a.b, l[2][0], #d' \
            'SET a = a + :a, l = list_append(l, :l) REMOVE m.a ADD ns :a DELETE ss :t' \
            'attribute_type(s, :t) OR contains(ss, :s) OR a IN (:a, :n)' \
            'SET l[5] = :a, m.a.b = if_not_exists(m.a.b, :n) - :a REMOVE l[0], s ADD ns :ns, a :big DELETE ss :ss'; do
    i=$((i + 1))
    [ -f "$corpus-expr/seed-$i" ] || printf '%s' "$seed" > "$corpus-expr/seed-$i"
done

# KEEL_FUZZ_PARALLEL=N runs N targets at a time (scripts/test.sh: 2, one a core), each with
# its output in build-fuzz/fuzz-NAME.log, shown when it ends; a crash stops new targets from
# starting and makes the exit status non-zero once the running ones are done.
parallel=${KEEL_FUZZ_PARALLEL:-1}
pids="" names="" failed=0

finish_oldest() {  # waits for the oldest running target and reports it
    set -- $pids
    pid=$1
    shift
    pids="$*"
    set -- $names
    name=$1
    shift
    names="$*"
    set +e
    wait "$pid"
    status=$?
    set -e
    cat "$build/fuzz-$name.log"
    if [ "$status" -ne 0 ]; then
        echo "fuzz.sh: $name stopped with status $status; inputs in $build/fuzz-artifacts/" >&2
        [ "$failed" -ne 0 ] || failed=$status
    else
        echo "fuzz.sh: $name: no crash in $secs s"
    fi
}

run() {  # name, then libFuzzer arguments
    name=$1
    shift
    [ "$failed" -eq 0 ] || return 0
    if [ "$parallel" -le 1 ]; then
        set +e
        "$build/fuzz/$name" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
            -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" "$@"
        status=$?
        set -e
        if [ "$status" -ne 0 ]; then
            echo "fuzz.sh: $name stopped with status $status; inputs in $build/fuzz-artifacts/" >&2
            exit "$status"
        fi
        echo "fuzz.sh: $name: no crash in $secs s"
        return 0
    fi
    "$build/fuzz/$name" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" "$@" \
        >"$build/fuzz-$name.log" 2>&1 &
    pids="$pids $!"
    names="$names $name"
    set -- $pids
    [ "$#" -lt "$parallel" ] || finish_oldest
}

# The store opener (arbitrary bytes opened as a keel store), the record reader, the item
# decoders, the expression parser, then DynamoDB JSON <-> CBOR (below: seeded with a few
# items; the first byte picks kind and direction).
run fuzz_open -max_len=16384 -dict="$root/fuzz/keel.dict" "$@" "$corpus"
ASAN_OPTIONS=allocator_may_return_null=1 run fuzz_records -max_len=262144 "$@" "$corpus-records"
run fuzz_simd -max_len=16384 "$@" "$corpus-simd"
run fuzz_item -max_len=65536 -dict="$root/fuzz/item.dict" "$@" "$corpus-item"
# DynamoDB expressions (4 KB is their limit; a little past it exercises the check).
run fuzz_expr -max_len=4200 -dict="$root/fuzz/expr.dict" "$@" "$corpus-expr"
# PartiQL (the first byte picks the parameters: 0-4 one of fuzz_partiql.c's arrays, 5 none).
i=0
for seed in "\005SELECT * FROM tbl WHERE pk = 'a' AND sk BETWEEN 1 AND 2 AND n IS NOT MISSING" \
            "\001SELECT l[1], m.x FROM \"tbl\" WHERE pk = ? AND (contains(s, 'x') OR NOT n <> 5)" \
            "\005INSERT INTO kvs VALUE {'id': 2, 'l': [1, 'a', TRUE, NULL], 's': <<'x', 'y'>>, 'm': {}}" \
            "\002UPDATE tbl SET n = n + ?, l = list_append(l, [2]) REMOVE m.x WHERE pk = ? AND sk = 1 RETURNING ALL NEW *" \
            "\005DELETE FROM kvs WHERE id = 1 AND id IN [1, 2] RETURNING ALL OLD *" \
            "\005SELECT * FROM tbl WHERE pk IN ('a', 'b') AND begins_with(pk, 'a') ORDER BY sk DESC" \
            "\002SELECT * FROM tbl WHERE sk = ? AND pk = ?" "\001SELECT * FROM kvs WHERE ? = id"; do
    i=$((i + 1))
    [ -f "$corpus-partiql/seed-$i" ] || printf "$seed" > "$corpus-partiql/seed-$i"
done
run fuzz_partiql -max_len=4096 -dict="$root/fuzz/partiql.dict" "$@" "$corpus-partiql"
for seed in '{"pk": {"S": "a"}, "n": {"N": "-1.5e3"}, "l": {"L": [{"NULL": true}, {"BOOL": false}]}}' \
            '{"m": {"M": {"b": {"B": "AAE="}, "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]}}}}' \
            '{"bs": {"BS": ["Zm9v", "YmFy"]}}'; do
    name=$(printf '%s' "$seed" | cksum | cut -d' ' -f1)
    { printf '\000'; printf '%s' "$seed"; } > "$corpus-json/seed-$name"
done
printf '\002{":v": {"N": "1e125"}}' > "$corpus-json/seed-values"
printf '\003{"#n": "name"}' > "$corpus-json/seed-names"
run fuzz_json -max_len=4096 -dict="$root/fuzz/json.dict" "$@" "$corpus-json"
# DynamoDB requests (fuzz_request.c): the first byte picks the operation (index into its
# table: 0 CreateTable, 4 PutItem, 5 GetItem, 8 Query, 9 Scan, 12 TransactWriteItems,
# 15 UpdateTimeToLive, 16 UpdateTable, 17 ExecuteStatement, 18 BatchExecuteStatement,
# 19 ExecuteTransaction, 20 SearchVectors).
printf '\004{"TableName":"tbl","Item":{"pk":{"S":"p0"},"sk":{"N":"9"}},"ConditionExpression":"attribute_not_exists(pk)","ReturnValuesOnConditionCheckFailure":"ALL_OLD"}' > "$corpus-request/seed-put"
printf '\005{"TableName":"tbl","Key":{"pk":{"S":"p1"},"sk":{"N":"1"}},"ProjectionExpression":"l[0], #s","ExpressionAttributeNames":{"#s":"ss"}}' > "$corpus-request/seed-get"
printf '\010{"TableName":"tbl","KeyConditions":{"pk":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"p0"}]}},"QueryFilter":{"v":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"3"}]}},"Limit":2}' > "$corpus-request/seed-query"
printf '\011{"TableName":"tbl","Segment":1,"TotalSegments":2,"FilterExpression":"contains(ss, :a)","ExpressionAttributeValues":{":a":{"S":"a"}}}' > "$corpus-request/seed-scan"
printf '\014{"TransactItems":[{"Update":{"TableName":"tbl","Key":{"pk":{"S":"p0"},"sk":{"N":"0"}},"UpdateExpression":"ADD v :one","ExpressionAttributeValues":{":one":{"N":"1"}}}},{"ConditionCheck":{"TableName":"tbl","Key":{"pk":{"S":"p1"},"sk":{"N":"1"}},"ConditionExpression":"v > :z","ExpressionAttributeValues":{":z":{"N":"0"}}}}]}' > "$corpus-request/seed-tx"
printf '\021{"Statement":"SELECT v, l[0] FROM \\"tbl\\" WHERE pk = ? AND sk BETWEEN 1 AND 5","Parameters":[{"S":"p1"}]}' > "$corpus-request/seed-select"
printf '\022{"Statements":[{"Statement":"UPDATE \\"tbl\\" SET v = v + 1 WHERE pk = ? AND sk = 0","Parameters":[{"S":"p0"}]},{"Statement":"INSERT INTO \\"tbl\\" VALUE {\047pk\047: \047z\047, \047sk\047: 1}"}]}' > "$corpus-request/seed-batch"
printf '\000{"TableName":"ixt","KeySchema":[{"AttributeName":"a","KeyType":"HASH"},{"AttributeName":"b","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"a","AttributeType":"S"},{"AttributeName":"b","AttributeType":"N"},{"AttributeName":"g","AttributeType":"S"},{"AttributeName":"l","AttributeType":"N"}],"GlobalSecondaryIndexes":[{"IndexName":"gix","KeySchema":[{"AttributeName":"g","KeyType":"HASH"}],"Projection":{"ProjectionType":"INCLUDE","NonKeyAttributes":["v","w"]}}],"LocalSecondaryIndexes":[{"IndexName":"lix","KeySchema":[{"AttributeName":"a","KeyType":"HASH"},{"AttributeName":"l","KeyType":"RANGE"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}]}' > "$corpus-request/seed-create-indexes"
printf '\020{"TableName":"tbl","AttributeDefinitions":[{"AttributeName":"g","AttributeType":"S"}],"GlobalSecondaryIndexUpdates":[{"Create":{"IndexName":"gix","KeySchema":[{"AttributeName":"g","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}}]}' > "$corpus-request/seed-add-index"
printf '\010{"TableName":"tbl","IndexName":"gix","KeyConditionExpression":"g = :g","ExpressionAttributeValues":{":g":{"S":"x"}},"Limit":1,"ExclusiveStartKey":{"pk":{"S":"a"},"sk":{"N":"1"},"g":{"S":"x"}}}' > "$corpus-request/seed-query-index"
printf '\017{"TableName":"tbl","TimeToLiveSpecification":{"Enabled":true,"AttributeName":"exp"}}' > "$corpus-request/seed-ttl"
printf '\023{"TransactStatements":[{"Statement":"UPDATE \\"tbl\\" SET v = v + 1 WHERE pk = ? AND sk = 0","Parameters":[{"S":"p0"}]},{"Statement":"INSERT INTO \\"tbl\\" VALUE {\047pk\047: \047q\047, \047sk\047: 2}","ReturnValuesOnConditionCheckFailure":"ALL_OLD"}],"ClientRequestToken":"tok-1"}' > "$corpus-request/seed-exec-tx"
printf '\023{"TransactStatements":[{"Statement":"SELECT v, l[0] FROM \\"tbl\\" WHERE pk = \047p1\047 AND sk = 1"},{"Statement":"SELECT * FROM \\"tbl\\" WHERE pk = ? AND sk = ?","Parameters":[{"S":"p0"},{"N":"0"}]}]}' > "$corpus-request/seed-exec-tx-read"
printf '\021{"Statement":"SELECT * FROM \\"tbl\\"","Limit":3,"NextToken":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}' > "$corpus-request/seed-select-token"
printf '\024{"TableName":"vtb","IndexName":"vix","SearchVector":[{"N":"1"},{"N":"0.5"},{"N":"-2"}],"TopK":2,"SearchConditionExpression":"#c = :c AND c = :d","ExpressionAttributeNames":{"#c":"c"},"ExpressionAttributeValues":{":c":{"S":"a"},":d":{"S":"a"}},"ProjectionExpression":"pk, v"}' > "$corpus-request/seed-search"
printf '\020{"TableName":"vtb","VectorIndexUpdates":[{"Create":{"IndexName":"vix2","VectorAttribute":{"AttributeName":"w"},"Dimensions":2,"DistanceFunction":"DOT_PRODUCT","Projection":{"ProjectionType":"INCLUDE","NonKeyAttributes":["c"]},"SearchSchema":[{"AttributeName":"c","SearchSchemaElementType":"HASH"}]}}]}' > "$corpus-request/seed-add-vindex"
run fuzz_request -max_len=8192 -dict="$root/fuzz/json.dict" "$@" "$corpus-request"
# Saved vector graphs: an empty one (label bound 5, L2) as the seed.
printf '\002\000\000\000\000\377\377\377\377\377\377\377\377' >"$corpus-hnsw/empty"
run fuzz_hnsw -max_len=8192 "$@" "$corpus-hnsw"
while [ -n "$pids" ] && [ -n "${pids# }" ]; do finish_oldest; done
exit "$failed"
