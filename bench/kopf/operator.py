# The seed's operator, for comparison: a kopf handler that creates the database a PgDatabase object names.
# Run by bench/kopf.ts with `kopf run --standalone`; connection settings from the PG* environment.
import kopf
import psycopg2
from psycopg2 import sql


@kopf.on.create("my.local", "v1", "pgdatabases")
def create_fn(spec, **_):
    conn = psycopg2.connect()
    try:
        # CREATE DATABASE cannot run inside a transaction (psycopg2 >= 2.9 opens one in a `with conn` block).
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(spec["name"])))
    finally:
        conn.close()
    return {"message": f"database {spec['name']} created"}
