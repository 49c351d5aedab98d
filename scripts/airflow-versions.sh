# Sourced by setup.sh and test.sh: the Airflow versions the suite runs on are the names of the
# constraints files (constraints/airflow-<version>.txt), so adding or dropping a version is one file.
# The newest gets the full suite; each other one the provider subset (scripts/test.sh).
TESTED_AIRFLOWS="$(ls constraints/ | sed -n 's/^airflow-\(.*\)\.txt$/\1/p' | sort -V | tr '\n' ' ')"
PINNED_AIRFLOW="$(echo $TESTED_AIRFLOWS | tr ' ' '\n' | tail -n 1)"
OTHER_AIRFLOWS="$(echo $TESTED_AIRFLOWS | tr ' ' '\n' | head -n -1 | tr '\n' ' ')"
