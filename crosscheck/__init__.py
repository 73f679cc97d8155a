"""Smart Xinyu one-stop cross-check (防止返贫监测): ETL, matching, rules and the demo city."""
