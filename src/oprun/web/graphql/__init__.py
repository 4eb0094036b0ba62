"""The GraphQL types of oprun's web server (`types`); `oprun.web.schema` builds the schema."""
