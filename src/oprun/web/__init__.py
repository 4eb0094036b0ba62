"""The web server and its GraphQL API (`oprun webserver`, `oprun dev`): Starlette
served by uvicorn, the schema written with strawberry-graphql. Nothing here is
imported by `import oprun`."""
