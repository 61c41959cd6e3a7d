"""Skip-unchanged: the same upsert of the same record within the window is answered from memory."""

from __future__ import annotations

from consumer.engine.memory.unchanged import UpsertMemory

PATH = "contacts/upsert"


def body(first_name: str, email: str = "ada@example.com") -> dict[str, object]:
    return {
        "unique_identifier": {"emails": email},
        "contact": {"emails": email, "first_name": first_name},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


ANSWER = {"id": 7, "owner_id": 3, "targetable_type": "Contact", "first_name": "Ada", "x": 1}


def test_an_identical_upsert_is_recalled_with_the_fields_later_steps_need() -> None:
    memory = UpsertMemory(3600)
    assert memory.recall("POST", PATH, body("Ada")) is None
    memory.remember("POST", PATH, body("Ada"), ANSWER)
    assert memory.recall("POST", PATH, body("Ada")) == {
        "id": 7,
        "owner_id": 3,
        "targetable_type": "Contact",
    }


def test_a_changed_field_or_another_record_is_sent() -> None:
    memory = UpsertMemory(3600)
    memory.remember("POST", PATH, body("Ada"), ANSWER)
    assert memory.recall("POST", PATH, body("Ada L.")) is None
    assert memory.recall("POST", PATH, body("Ada", email="other@example.com")) is None
    assert memory.recall("POST", "sales_accounts/upsert", body("Ada")) is None


def test_key_order_does_not_matter() -> None:
    memory = UpsertMemory(3600)
    memory.remember("POST", PATH, body("Ada"), ANSWER)
    reordered = {"contact": {"first_name": "Ada", "emails": "ada@example.com"}}
    reordered["unique_identifier"] = {"emails": "ada@example.com"}
    assert memory.recall("POST", PATH, reordered) is not None


def test_the_window_expires_entries() -> None:
    clock = Clock()
    memory = UpsertMemory(60, clock=clock)
    memory.remember("POST", PATH, body("Ada"), ANSWER)
    clock.now = 60.0
    assert memory.recall("POST", PATH, body("Ada")) is not None
    clock.now = 121.0
    assert memory.recall("POST", PATH, body("Ada")) is None
    assert len(memory) == 0


def test_creates_and_puts_are_never_skipped() -> None:
    memory = UpsertMemory(3600)
    activity = {"sales_activity": {"title": "Signed Up"}}
    memory.remember("POST", "sales_activities", activity, ANSWER)
    assert memory.recall("POST", "sales_activities", activity) is None
    memory.remember("PUT", "contacts/7", {"contact": {"lifecycle_stage_id": 2}}, ANSWER)
    assert memory.recall("PUT", "contacts/7", {"contact": {"lifecycle_stage_id": 2}}) is None
    assert len(memory) == 0


def test_a_write_to_the_record_by_another_path_makes_the_next_upsert_go_out() -> None:
    memory = UpsertMemory(3600)
    memory.remember("POST", PATH, body("Ada"), ANSWER)
    memory.forget_written("contacts/7")
    assert memory.recall("POST", PATH, body("Ada")) is None
    memory.forget_written("contacts/8")  # unknown: nothing happens


def test_capacity_drops_the_least_recently_used() -> None:
    memory = UpsertMemory(3600, capacity=2)
    for n in range(3):
        memory.remember("POST", PATH, body("A", email=f"{n}@x.org"), {**ANSWER, "id": n})
    assert len(memory) == 2
    assert memory.recall("POST", PATH, body("A", email="0@x.org")) is None
    memory.forget_written("contacts/0")  # its id mapping went with it
    assert memory.recall("POST", PATH, body("A", email="2@x.org")) is not None


def test_a_zero_window_disables_it() -> None:
    memory = UpsertMemory(0)
    memory.remember("POST", PATH, body("Ada"), ANSWER)
    assert memory.recall("POST", PATH, body("Ada")) is None


def test_an_upsert_with_an_include_query_is_remembered_by_its_record() -> None:
    memory = UpsertMemory(3600)
    path = "contacts/upsert?include=sales_accounts"
    memory.remember("POST", path, body("Ada"), ANSWER)
    assert memory.recall("POST", path, body("Ada")) is not None
    memory.forget_written("contacts/7?include=sales_accounts")
    assert memory.recall("POST", path, body("Ada")) is None


def test_a_link_refreshes_the_remembered_answer_and_the_upsert_stays_unchanged() -> None:
    memory = UpsertMemory(3600)
    path = "contacts/upsert?include=sales_accounts"
    memory.remember("POST", path, body("Ada"), {**ANSWER, "sales_accounts": ()})
    linked = {**ANSWER, "sales_accounts": ((9, True),)}
    memory.refresh_written("contacts/7?include=sales_accounts", linked)
    memory.refresh_written("contacts/8?include=sales_accounts", {"id": 8})  # not remembered
    assert memory.recall("POST", path, body("Ada")) == {
        "id": 7,
        "owner_id": 3,
        "targetable_type": "Contact",
        "sales_accounts": ((9, True),),
    }


def test_an_upsert_with_no_unique_identifier_or_an_answer_with_no_id_is_not_kept_by_id() -> None:
    memory = UpsertMemory(3600)
    anonymous = {"contact": {"first_name": "Ada"}}
    memory.remember("POST", PATH, anonymous, ANSWER)
    assert memory.recall("POST", PATH, anonymous) is None
    memory.remember("POST", PATH, body("Ada"), {"first_name": "Ada"})  # an answer without an id
    assert memory.recall("POST", PATH, body("Ada")) == {}
    memory.forget_written("contacts/7")  # nothing was kept under an id: nothing to forget
    assert memory.recall("POST", PATH, body("Ada")) == {}
