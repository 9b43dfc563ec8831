"""Alembic environment of the ledger: runs on the connection the store hands over."""

from alembic import context

from payer_model.adapters.ledger_tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: the URL of the ini / -x url=...
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
else:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
