#!/bin/sh
# Runs once, when the database volume is new: the edge's role gets a database of its own and no
# way into the control plane's, whose tables hold every tenant's tokens and desired state.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE zenmesh_edge LOGIN PASSWORD '${EDGE_POSTGRES_PASSWORD}';
CREATE DATABASE zenmesh_edge OWNER zenmesh_edge;
REVOKE ALL ON DATABASE zenmesh_edge FROM PUBLIC;
REVOKE ALL ON DATABASE ${POSTGRES_DB} FROM PUBLIC;
SQL
