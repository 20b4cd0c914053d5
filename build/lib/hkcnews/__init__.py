"""The 眾新聞 archive bundle: parsing, index terms, the database schema and
the Datasette plugin that serves it."""
