"""oprun's GraphQL schema holds the minimum schema of the DagsterGraphQLClient
contract (§4 of the shared reference `graphql-client-contract.md`) structurally:
every type, field, argument, interface link, union member and enum value, with
the same types and nullability; and every client document (§3) validates."""

import re
from pathlib import Path

import graphql
import pytest

from oprun.web.schema import build_schema

CONTRACT = Path(__file__).parents[3] / "shared" / "reference" / "graphql-client-contract.md"

pytestmark = pytest.mark.skipif(not CONTRACT.exists(), reason=f"the contract doc is not here ({CONTRACT})")


def _graphql_blocks() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", CONTRACT.read_text(), re.S)


@pytest.fixture(scope="module")
def reference() -> graphql.GraphQLSchema:
    [sdl] = [block for block in _graphql_blocks() if "schema {" in block]
    return graphql.build_schema(sdl)


@pytest.fixture(scope="module")
def ours() -> graphql.GraphQLSchema:
    return graphql.build_schema(build_schema().as_str())


def _named_types(schema: graphql.GraphQLSchema) -> dict[str, graphql.GraphQLNamedType]:
    return {name: t for name, t in schema.type_map.items() if not name.startswith("__")}


def test_every_reference_type_is_in_oprun_with_the_same_kind(reference, ours):
    theirs, mine = _named_types(reference), _named_types(ours)
    missing = sorted(set(theirs) - set(mine))
    assert not missing, f"types missing from oprun's schema: {missing}"
    for name, ref_type in theirs.items():
        assert type(mine[name]) is type(ref_type), f"{name}: {type(mine[name]).__name__} != {type(ref_type).__name__}"


def test_fields_and_arguments_have_the_same_types(reference, ours):
    problems = []
    for name, ref_type in _named_types(reference).items():
        if not isinstance(ref_type, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
            continue
        my_type = ours.get_type(name)
        my_interfaces = {i.name for i in my_type.interfaces}
        problems += [f"{name} does not implement {i.name}" for i in ref_type.interfaces if i.name not in my_interfaces]
        for field_name, ref_field in ref_type.fields.items():
            my_field = my_type.fields.get(field_name)
            if my_field is None:
                problems.append(f"{name}.{field_name} is missing")
                continue
            if str(my_field.type) != str(ref_field.type):
                problems.append(f"{name}.{field_name}: {my_field.type} != {ref_field.type}")
            for arg_name, ref_arg in ref_field.args.items():
                my_arg = my_field.args.get(arg_name)
                if my_arg is None or str(my_arg.type) != str(ref_arg.type):
                    problems.append(f"{name}.{field_name}({arg_name}:): {my_arg and my_arg.type} != {ref_arg.type}")
            extra_required = [a for a, arg in my_field.args.items() if a not in ref_field.args and graphql.is_required_argument(arg)]
            problems += [f"{name}.{field_name}: extra required argument {a}" for a in extra_required]
    assert not problems, "\n".join(problems)


def test_input_fields_have_the_same_types_and_nothing_more_is_required(reference, ours):
    problems = []
    for name, ref_type in _named_types(reference).items():
        if not isinstance(ref_type, graphql.GraphQLInputObjectType):
            continue
        my_type = ours.get_type(name)
        for field_name, ref_field in ref_type.fields.items():
            my_field = my_type.fields.get(field_name)
            if my_field is None or str(my_field.type) != str(ref_field.type):
                problems.append(f"{name}.{field_name}: {my_field and my_field.type} != {ref_field.type}")
        for field_name, my_field in my_type.fields.items():
            if field_name not in ref_type.fields and graphql.is_required_input_field(my_field):
                problems.append(f"{name}.{field_name}: an extra required input field")
    assert not problems, "\n".join(problems)


def test_unions_hold_the_reference_members_and_enums_the_reference_values(reference, ours):
    problems = []
    for name, ref_type in _named_types(reference).items():
        my_type = ours.get_type(name)
        if isinstance(ref_type, graphql.GraphQLUnionType):
            members = {m.name for m in my_type.types}
            problems += [f"union {name} lacks {m.name}" for m in ref_type.types if m.name not in members]
        elif isinstance(ref_type, graphql.GraphQLEnumType):
            problems += [f"enum {name} lacks {v}" for v in ref_type.values if v not in my_type.values]
    assert not problems, "\n".join(problems)


def test_the_root_types_are_query_and_mutation(reference, ours):
    assert ours.query_type.name == reference.query_type.name
    assert ours.mutation_type.name == reference.mutation_type.name


def test_every_client_document_validates_against_oprun_schema(ours):
    documents = [block for block in _graphql_blocks() if block.lstrip().startswith(("query ", "mutation "))]
    assert len(documents) == 7
    for document in documents:
        errors = graphql.validate(ours, graphql.parse(document))
        assert not errors, (document.splitlines()[0], errors)
