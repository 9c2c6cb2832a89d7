"""The history store in a shared PostgreSQL database: schema and migrations, the store, how shards combine."""
