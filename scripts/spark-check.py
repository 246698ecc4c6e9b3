#!/usr/bin/env python3
"""Checks that Apache Spark reads flowcheck's Parquet files as the JSON says, with no settings.

Runs flowcheck with --json and --parquet on the captures given (default: the lab's stage 3,
../shared/captures/stage3), reads points.parquet, flows.parquet and conversations.parquet
with PySpark in local mode (default configuration: no spark.sql.legacy.* option) and compares
with the JSON: the row count of each file; every point's name, packets and first time; every
flow's point, endpoints, packet counts and Community ID; every conversation's id, verdict,
Community ID, first time (the timestamp column to the microsecond, the *_ns column to the
nanosecond), forward path and first point.

    pip install pyspark          # needs Java 17 or later
    python3 scripts/spark-check.py [FLOWCHECK_BINARY] [CAPTURE...]

Not run by CI (PySpark is a 300 MB download and a JVM); see the README's Parquet section.
Exit status 0 when everything matches, 1 otherwise.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

try:
    from pyspark.sql import SparkSession
except ImportError:
    sys.exit("spark-check: PySpark is needed: pip install pyspark")

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "flowcheck")
CAPTURES = sys.argv[2:] or sorted(
    str(p) for p in (ROOT.parent / "shared" / "captures" / "stage3").glob("*.pcap*")
)


def ns(text):
    """The JSON's seconds with nine decimals, as integer nanoseconds."""
    secs, _, frac = text.partition(".")
    sign = -1 if secs.startswith("-") else 1
    return int(secs) * 10**9 + sign * int(frac.ljust(9, "0"))


def main():
    out = pathlib.Path(tempfile.mkdtemp(prefix="spark-check-"))
    run = subprocess.run(
        [BINARY, *CAPTURES, "--json", str(out / "doc.json"), "--parquet", str(out / "pq"),
         "--no-report", "-q"],
        capture_output=True, text=True,
    )
    if run.returncode not in (0, 1):
        sys.exit(f"spark-check: flowcheck failed ({run.returncode}): {run.stderr}")
    doc = json.loads((out / "doc.json").read_text())
    spark = (
        SparkSession.builder.master("local[1]").appName("flowcheck-spark-check")
        .config("spark.ui.enabled", "false").getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(f"spark-check: Spark {spark.version}, {len(CAPTURES)} captures")
    failures = []

    def check(what, got, want):
        ok = got == want
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)
            print(f"       got:  {got!r:.600}\n       want: {want!r:.600}")

    for table in ("points", "flows", "conversations"):
        df = spark.read.parquet(str(out / "pq" / f"{table}.parquet"))
        df.createOrReplaceTempView(table)
        check(f"{table}: row count", df.count(), len(doc[table]))

    got = [tuple(r) for r in spark.sql(
        "select name, packets, first_ts_ns, unix_micros(first_ts) from points").collect()]
    want = []
    for p in doc["points"]:
        t = ns(p["first_ts"]) if p.get("first_ts") else None
        want.append((p["name"], p["packets"], t, None if t is None else t // 1000))
    check("points: name, packets, first time", got, want)

    got = sorted(tuple(r) for r in spark.sql(
        "select point, a, b, packets_ab, packets_ba, community_id from flows").collect())
    want = sorted(
        (f["point"], f["a"], f["b"], f["packets_ab"], f["packets_ba"], f.get("community_id"))
        for f in doc["flows"]
    )
    check("flows: endpoints, packets, Community ID", got, want)

    got = sorted(
        (r[0], r[1], r[2], r[3], r[4], list(r[5]), r[6]) for r in spark.sql(
            "select id, verdict, community_id, first_ts_ns, unix_micros(first_ts), "
            "forward_path, points[0].point from conversations").collect()
    )
    want = sorted(
        (c["id"], c["verdict"], c.get("community_id"), ns(c["first_ts"]),
         ns(c["first_ts"]) // 1000, c["forward_path"], c["points"][0]["point"])
        for c in doc["conversations"]
    )
    check("conversations: id, verdict, Community ID, first time, path, first point", got, want)
    spark.stop()
    if failures:
        print(f"spark-check: {len(failures)} checks failed")
        return 1
    print("spark-check: Spark reads the three files as the JSON says")
    return 0


if __name__ == "__main__":
    sys.exit(main())
