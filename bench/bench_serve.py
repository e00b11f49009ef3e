"""bench_serve.py: requests/s and p50/p99 latency of `keel serve` against moto's server.

    python bench/bench_serve.py [--seconds 10] [--connections 16] [--threads 1]
                                [--items 10000] [--keel-threads 2] [--no-moto]

The load generator is wrk (Debian's `wrk`, C, one Lua script per operation that builds a
DynamoDB request with a random key), so the client side is not Python. For each server
(`keel serve` on a fresh file, --sync none, and `moto_server` when installed) the table
"bench" (pk S, sk N) is loaded with --items items of ~100 bytes spread over 100
partitions, then each operation runs for --seconds with a fixed number of connections:
GetItem (random key), PutItem (random key, replace), Query (one partition, Limit 10) and
TransactWriteItems (10 Puts on distinct random keys). Requests are unsigned (both servers
accept any credentials). Prints one table; --json writes the numbers too.

The keel binary is $KEEL_BIN, else the one next to this Python, else `keel` on PATH (as
keeldb.serve finds it): use a release build for figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def keel_binary() -> str:
    """As keeldb.serve.keel_binary (not imported: this script may run under a Python that
    has moto but not keeldb)."""
    for c in (os.environ.get("KEEL_BIN"), os.path.join(os.path.dirname(sys.executable), "keel"),
              os.path.join(ROOT, ".venv", "bin", "keel")):
        if c and os.access(c, os.X_OK):
            return c
    import shutil
    found = shutil.which("keel")
    if not found:
        raise SystemExit("keel not found: set KEEL_BIN")
    return found

LUA_COMMON = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
local N = %d
local function key() local i = math.random(0, N - 1); return i %% 100, i end
"""

LUA_OPS = {
    "GetItem": r"""
request = function()
  local p, s = key()
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
  return wrk.format(nil, "/", nil, string.format('{"TableName":"bench","Key":{"pk":{"S":"p%d"},"sk":{"N":"%d"}}}', p, s))
end
""",
    "PutItem": r"""
request = function()
  local p, s = key()
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.PutItem"
  return wrk.format(nil, "/", nil, string.format('{"TableName":"bench","Item":{"pk":{"S":"p%d"},"sk":{"N":"%d"},"v":{"S":"%s"},"n":{"N":"%d"}}}', p, s, string.rep("x", 80), s))
end
""",
    "Query": r"""
request = function()
  local p, s = key()
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.Query"
  return wrk.format(nil, "/", nil, string.format('{"TableName":"bench","KeyConditionExpression":"pk = :p AND sk >= :s","ExpressionAttributeValues":{":p":{"S":"p%d"},":s":{"N":"%d"}},"Limit":10}', p, s))
end
""",
    "TransactWrite10": r"""
request = function()
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.TransactWriteItems"
  local parts, seen = {}, {}
  while #parts < 10 do
    local p, s = key()
    if not seen[s] then
      seen[s] = true
      parts[#parts + 1] = string.format('{"Put":{"TableName":"bench","Item":{"pk":{"S":"p%d"},"sk":{"N":"%d"},"v":{"S":"t"}}}}', p, s)
    end
  end
  return wrk.format(nil, "/", nil, '{"TransactItems":[' .. table.concat(parts, ",") .. ']}')
end
""",
}

LUA_DONE = r"""
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT %d %d %.1f %.1f %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), non2xx))
end
"""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(url: str, op: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810." + op,
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/"
                         "aws4_request, SignedHeaders=host, Signature=00"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def load(url: str, items: int) -> None:
    post(url, "CreateTable", {
        "TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "N"}]})
    for start in range(0, items, 25):
        post(url, "BatchWriteItem", {"RequestItems": {"bench": [
            {"PutRequest": {"Item": {"pk": {"S": f"p{i % 100}"}, "sk": {"N": str(i)},
                                     "v": {"S": "x" * 80}, "n": {"N": str(i)}}}}
            for i in range(start, min(start + 25, items))]}})


def run_wrk(url: str, op: str, args) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA_COMMON % args.items + LUA_OPS[op] + LUA_DONE)
        script = f.name
    try:
        out = subprocess.run(["wrk", "-t", str(args.threads), "-c", str(args.connections),
                              "-d", f"{args.seconds}s", "--timeout", "30s", "-s", script, url],
                             capture_output=True, text=True, timeout=args.seconds + 120).stdout
    finally:
        os.unlink(script)
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not m:
        raise RuntimeError("wrk printed no result:\n" + out)
    n, dur_us, p50, p99, bad = int(m[1]), int(m[2]), float(m[3]), float(m[4]), int(m[5])
    return {"requests": n, "rps": n / (dur_us / 1e6), "p50_ms": p50 / 1000,
            "p99_ms": p99 / 1000, "non_2xx": bad}


def wait_ready(url: str, proc) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            post(url, "ListTables", {})
            return
        except Exception:  # noqa: BLE001
            time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def bench_server(name: str, cmd: list, url: str, args) -> dict:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc)
        t = time.time()
        load(url, args.items)
        res = {"load_s": time.time() - t}
        for op in LUA_OPS:
            res[op] = run_wrk(url, op, args)
            r = res[op]
            print(f"{name:5} {op:16} {r['rps']:10.0f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                  f"p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non_2xx']}", flush=True)
        return res
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--keel-threads", type=int, default=2)
    ap.add_argument("--no-moto", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    out = {"machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.platform()}",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "connections": args.connections, "seconds": args.seconds, "items": args.items}
    print(f"# {out['machine']}, {out['date']}, {args.connections} connections, "
          f"{args.seconds} s per operation, {args.items} items")
    tmp = tempfile.mkdtemp()
    port = free_port()
    out["keel"] = bench_server("keel", [keel_binary(), "serve", os.path.join(tmp, "b.keel"),
                                        "--port", str(port), "--threads",
                                        str(args.keel_threads)],
                               f"http://127.0.0.1:{port}", args)
    if not args.no_moto:
        moto = subprocess.run(["which", "moto_server"], capture_output=True, text=True).stdout
        if moto.strip():
            port = free_port()
            out["moto"] = bench_server("moto", [moto.strip(), "-p", str(port)],
                                       f"http://127.0.0.1:{port}", args)
            for op in LUA_OPS:
                if out["moto"][op]["requests"] == 0:
                    print(f"keel/moto {op:16} moto completed no request in {args.seconds} s")
                    continue
                ratio = out["keel"][op]["rps"] / out["moto"][op]["rps"]
                print(f"keel/moto {op:16} {ratio:8.1f}x")
        else:
            print("moto_server not found: pip install 'moto[server]'")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
