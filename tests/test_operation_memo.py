"""engine/operation_memo.py: worked out once per parsed operation and place, never handed
to another operation, bounded."""

from __future__ import annotations

from graphql import OperationDefinitionNode, parse

from engine.operation_memo import OperationMemo

QUERY = "query { customer(id: 1) { id } }"


def operation(text: str = QUERY) -> OperationDefinitionNode:
    definition = parse(text).definitions[0]
    assert isinstance(definition, OperationDefinitionNode)
    return definition


def test_the_same_operation_and_place_is_worked_out_once():
    memo: OperationMemo[str] = OperationMemo()
    node, calls = operation(), []

    def work_out() -> str:
        calls.append(1)
        return "fields"

    assert memo.get(node, ("customer",), work_out) == "fields"
    assert memo.get(node, ("customer",), work_out) == "fields"
    assert len(calls) == 1


def test_another_place_or_another_parse_of_the_same_text_is_worked_out_again():
    memo: OperationMemo[str] = OperationMemo()
    first, again = operation(), operation()
    assert memo.get(first, ("a",), lambda: "a of first") == "a of first"
    assert memo.get(first, ("b",), lambda: "b of first") == "b of first"
    assert memo.get(again, ("a",), lambda: "a of again") == "a of again"
    assert memo.get(first, ("a",), lambda: "not asked") == "a of first"


def test_the_oldest_entry_goes_past_the_bound():
    memo: OperationMemo[int] = OperationMemo(maxsize=2)
    node = operation()
    for index in range(3):
        memo.get(node, (str(index),), lambda index=index: index)
    assert len(memo) == 2
    assert memo.get(node, ("0",), lambda: -1) == -1  # dropped, so worked out again
    assert memo.get(node, ("2",), lambda: -1) == 2
