"""The identity map: one entry per person whatever identities name them, rebuilt the same by every
replica from the identity topic, first identification winning for the links events make."""

from __future__ import annotations

from consumer.identity.book import Book, Person
from consumer.identity.entries import (
    AliasEntry,
    ForgottenEntry,
    GoneEntry,
    PersonEntry,
    UnsuppressedEntry,
)
from consumer.identity.person import Aliased
from translate import email_key, id_key

ADA, U1, ANON = email_key("ada@example.com"), id_key("u-1"), id_key("a7e0b1f2")
CONTACT = {"id": 7, "targetable_type": "Contact", "owner_id": 900}


def replayed(book: Book) -> Book:
    """A second replica that reads what ``book``'s process wrote."""
    other = Book()
    for person in book.people():
        other.apply(book.entry(person))
    return other


def test_a_person_is_one_entry_found_by_every_identity_that_names_them() -> None:
    book = Book()
    learned = book.learn(CONTACT, firm=[ADA, U1], soft=[ANON])
    assert learned is not None
    assert learned.changed
    for key in (ADA, U1, ANON):
        assert book.find([key]) is learned.person
    assert (len(book), book.identities) == (1, 3)
    assert learned.person.record() == {"id": 7, "targetable_type": "Contact", "owner_id": 900}


def test_the_first_identity_that_names_someone_finds_them_in_the_order_given() -> None:
    book = Book()
    book.learn({"id": 1}, firm=[ADA])
    book.learn({"id": 2}, firm=[U1])
    found = book.find([id_key("nobody"), U1, ADA])
    assert found is not None
    assert found.id == 2
    assert book.find([id_key("nobody")]) is None


def test_what_the_latest_answer_says_of_a_person_is_what_the_next_write_builds_on() -> None:
    book = Book()
    book.learn(CONTACT, firm=[U1])
    later = book.learn({**CONTACT, "sales_accounts": ((1, True), (2, False))}, firm=[ADA])
    assert later is not None
    assert later.changed
    person = book.find([U1])
    assert person is not None
    assert person.accounts == ((1, True), (2, False))  # found by the userId, learned by the email
    assert book.learn(CONTACT) == type(later)(person, False)  # nothing new: nothing to write


def test_an_answer_without_an_id_names_nobody() -> None:
    assert Book().learn({"name": "no id"}) is None
    assert Book().learn({"id": True}) is None


def test_a_classic_lead_and_a_contact_with_the_same_id_are_two_people() -> None:
    book = Book()
    book.learn({"id": 7, "targetable_type": "Lead"}, firm=[ADA])
    book.learn({"id": 7, "targetable_type": "Contact"}, firm=[U1])
    lead, contact = book.find([ADA]), book.find([U1])
    assert lead is not None
    assert contact is not None
    assert (lead.lead, contact.lead, len(book)) == (True, False, 2)
    assert lead.record()["targetable_type"] == "Lead"


def test_first_identification_wins_for_an_anonymous_id_and_the_attempt_is_counted() -> None:
    book = Book()
    book.learn({"id": 1}, soft=[ANON])  # the visitor signs up as person 1
    second = book.learn({"id": 2}, firm=[U1], soft=[ANON])  # someone else, same browser
    assert second is not None
    assert second.conflicts == (ANON,)
    owner = book.owner_of(ANON)
    assert owner is not None
    assert owner.id == 1
    assert book.conflicts == 1


def test_a_firm_identity_moves_to_the_person_freshsales_last_answered_for_it() -> None:
    book = Book()
    book.learn({"id": 1}, firm=[ADA])
    book.learn({"id": 2}, firm=[ADA])  # the email was given up by 1 and taken by 2
    owner = book.owner_of(ADA)
    assert owner is not None
    assert owner.id == 2
    first = book.get(1, lead=False)
    assert first is not None
    assert list(first.identities()) == []


def test_a_soft_identity_freshsales_confirms_becomes_firm() -> None:
    book = Book()
    book.learn({"id": 1}, soft=[U1])
    book.learn({"id": 1}, firm=[U1])
    person = book.get(1, lead=False)
    assert person is not None
    assert (person.firm, person.soft) == ((U1,), ())


def test_every_replica_reading_the_records_holds_the_same_map() -> None:
    book = Book()
    book.learn({**CONTACT, "sales_accounts": ((5, True),)}, firm=[ADA, U1], soft=[ANON])
    book.learn({"id": 8, "targetable_type": "Lead"}, firm=[email_key("bo@example.com")])
    other = replayed(book)
    assert len(other) == 2
    person = other.find([ANON])
    assert person is not None
    assert person.record() == {**CONTACT, "sales_accounts": ((5, True),)}


def test_a_records_identities_join_the_person_and_never_leave_by_being_left_out() -> None:
    book = Book()
    book.apply(PersonEntry(7, False, None, None, (ADA,), ()))
    book.apply(PersonEntry(7, False, 900, ((1, True),), (U1,), ()))  # another replica's view
    person = book.get(7, lead=False)
    assert person is not None
    assert set(person.identities()) == {ADA, U1}
    assert (person.owner_id, person.accounts) == (900, ((1, True),))  # fields: the latest


def test_a_claim_read_from_the_topic_before_ours_wins_over_our_provisional_link() -> None:
    book = Book()
    book.learn({"id": 2}, soft=[ANON])  # ours, not read back yet
    book.apply(PersonEntry(1, False, None, None, (), (ANON,)))  # written before ours
    book.apply(PersonEntry(2, False, None, None, (), (ANON,)))  # ours, read back: too late
    owner = book.owner_of(ANON)
    assert owner is not None
    assert owner.id == 1
    assert book.conflicts == 1


def test_a_soft_claim_confirmed_by_reading_it_back_stays() -> None:
    book = Book()
    book.learn({"id": 2}, soft=[ANON])
    book.apply(PersonEntry(2, False, None, None, (), (ANON,)))
    book.apply(PersonEntry(1, False, None, None, (), (ANON,)))  # later in the topic: loses
    owner = book.owner_of(ANON)
    assert owner is not None
    assert owner.id == 2
    snapshot = [e for e in book.snapshot() if isinstance(e, PersonEntry) and e.id == 2]
    assert snapshot[0].soft == (ANON,)


def test_a_snapshot_fills_gaps_and_never_overrides_what_came_after_its_start() -> None:
    book = Book()
    book.apply(PersonEntry(7, False, 901, ((2, True),), (ADA,), ()))  # after the checkpoint
    book.apply(PersonEntry(7, False, 900, ((1, True),), (ADA, U1), (), snapshot=True))
    book.apply(PersonEntry(8, False, 900, None, (U1, ANON), (), snapshot=True))
    seven, eight = book.get(7, lead=False), book.get(8, lead=False)
    assert seven is not None
    assert eight is not None
    assert (seven.owner_id, seven.accounts, seven.firm) == (901, ((2, True),), (ADA,))
    assert (eight.firm, book.owner_of(U1)) == ((U1, ANON), eight)  # nobody's: filled


def test_a_person_gone_from_freshsales_frees_their_identities_and_no_snapshot_revives_them() -> (
    None
):
    book = Book()
    learned = book.learn(CONTACT, firm=[ADA], soft=[ANON])
    assert learned is not None
    entry = book.remove(learned.person)
    assert entry == GoneEntry(7, False)
    assert (len(book), book.identities, book.find([ADA, ANON])) == (0, 0, None)
    book.apply(PersonEntry(7, False, 900, None, (ADA,), (), snapshot=True))
    assert len(book) == 0
    book.apply(PersonEntry(7, False, 900, None, (ADA,), ()))  # a record after: they are back
    assert book.find([ADA]) is not None
    book.apply(GoneEntry(7, False))
    book.apply(GoneEntry(8, False))  # nobody: nothing to do
    assert len(book) == 0


def test_an_alias_links_the_old_id_to_the_known_person_and_tells_the_listeners() -> None:
    book = Book()
    told: list[tuple[bytes, int]] = []
    book.listen(lambda key, person: told.append((key, person.id)))
    book.learn(CONTACT, firm=[U1])
    told.clear()
    aliased = book.alias(ANON, U1)
    assert isinstance(aliased.entry, PersonEntry)
    assert aliased.entry.soft == (ANON,)
    assert told == [(ANON, 7)]
    assert book.alias(ANON, U1).entry is None  # already theirs: nothing to write


def test_an_alias_of_a_known_old_id_links_the_new_user_id() -> None:
    book = Book()
    book.learn(CONTACT, soft=[ANON])
    aliased = book.alias(ANON, U1)
    assert aliased.entry is not None
    person = book.owner_of(U1)
    assert person is not None
    assert person.id == 7


def test_an_alias_of_two_people_moves_nothing_and_counts_the_conflict() -> None:
    book = Book()
    book.learn({"id": 1}, firm=[U1])
    book.learn({"id": 2}, soft=[ANON])
    aliased = book.alias(ANON, U1)
    assert (aliased.entry, aliased.conflict, book.conflicts) == (None, True, 1)


def test_an_alias_of_two_unknown_ids_waits_until_either_turns_out_to_name_someone() -> None:
    book = Book()
    aliased = book.alias(ANON, U1)
    assert aliased.entry == AliasEntry(ANON, U1)
    assert book.pending_aliases == 1
    book.learn(CONTACT, firm=[U1])  # the identify comes: the visitor's id is theirs too
    owner = book.owner_of(ANON)
    assert owner is not None
    assert owner.id == 7
    assert book.pending_aliases == 0


def test_every_replica_resolves_a_pending_alias_the_same_way() -> None:
    book = Book()
    book.apply(AliasEntry(ANON, U1))
    assert list(book.snapshot()) == [AliasEntry(ANON, U1)]
    book.apply(PersonEntry(7, False, None, None, (U1,), ()))
    assert book.find([ANON]) is book.find([U1])
    book.apply(AliasEntry(id_key("x"), U1))  # one side known: linked at once
    assert book.find([id_key("x")]) is not None
    book.apply(AliasEntry(ADA, id_key("y")))  # neither: pending
    book.apply(AliasEntry(ADA, id_key("z")))  # a newer partner for the same id replaces it
    assert book.pending_aliases == 1


def test_pending_aliases_are_bounded_oldest_first() -> None:
    book = Book(max_pending_aliases=2)
    for n in range(3):
        book.alias(id_key(f"old{n}"), id_key(f"new{n}"))
    assert book.pending_aliases == 2
    book.learn({"id": 1}, firm=[id_key("new0")])  # the oldest was dropped: nothing follows
    assert book.owner_of(id_key("old0")) is None


def test_a_snapshot_leaves_out_links_not_read_back_yet() -> None:
    book = Book()
    book.learn(CONTACT, firm=[U1], soft=[ANON])
    (entry,) = book.snapshot()
    assert isinstance(entry, PersonEntry)
    assert (entry.firm, entry.soft, entry.snapshot) == ((U1,), (), True)
    assert book.entry(Person(7, False, soft=(ANON,))).soft == (ANON,)


def test_learning_what_is_known_already_changes_nothing() -> None:
    book = Book()
    book.learn(CONTACT, firm=[ADA], soft=[ANON])
    again = book.learn(CONTACT, firm=[ADA], soft=[ANON])
    assert again is not None
    assert (again.changed, again.conflicts, book.conflicts) == (False, (), 0)


def test_an_alias_read_from_the_topic_between_two_known_people_moves_nothing() -> None:
    book = Book()
    book.learn({"id": 1}, firm=[U1])
    book.learn({"id": 2}, firm=[ADA])
    book.apply(AliasEntry(ADA, U1))
    one, two = book.owner_of(U1), book.owner_of(ADA)
    assert one is not None
    assert two is not None
    assert (one.id, two.id) == (1, 2)


def test_a_snapshots_soft_identities_fill_gaps_too() -> None:
    book = Book()
    book.apply(PersonEntry(1, False, None, None, (), (ANON,)))
    book.apply(PersonEntry(2, False, None, None, (ANON,), (ANON, id_key("b")), snapshot=True))
    two = book.get(2, lead=False)
    assert two is not None
    assert two.soft == (id_key("b"),)  # ANON was person 1's already


def test_a_pending_alias_whose_other_id_was_taken_meanwhile_links_nothing_more() -> None:
    book = Book()
    book.alias(ANON, U1)  # neither known
    book.learn({"id": 2}, firm=[ANON])  # the old id turns out to be someone: alias resolved
    book.learn({"id": 3}, firm=[U1])  # U1 was linked to 2 already by the alias: moved, firm
    owner = book.owner_of(U1)
    assert owner is not None
    assert owner.id == 3
    book.alias(id_key("p"), id_key("q"))
    book.learn({"id": 4}, firm=[id_key("q")])
    book.learn({"id": 5}, firm=[id_key("p")])  # p moved to 5 (firm): still named
    assert book.pending_aliases == 0


# --- deletion requests ------------------------------------------------------------------------


def forgotten_ada() -> tuple[Book, ForgottenEntry]:
    """Ada (7), known by her email, userId and browser; a deletion request by her userId."""
    book = Book()
    book.learn(CONTACT, firm=[ADA, U1], soft=[ANON])
    book.learn({"id": 8}, firm=[email_key("bo@example.com")])
    entry = book.forget(U1, [U1], [(7, False)])
    return book, entry


def test_a_deletion_request_removes_the_person_and_suppresses_every_identity_of_theirs() -> None:
    book, entry = forgotten_ada()
    assert entry == ForgottenEntry(U1, (U1, ADA, ANON), ((7, False),))
    assert book.find([ADA, U1, ANON]) is None
    assert all(book.is_suppressed(k) for k in (ADA, U1, ANON))
    assert (len(book), book.suppressed) == (1, 3)  # Bo stays
    assert not book.is_suppressed(email_key("bo@example.com"))


def test_a_suppressed_identity_is_never_linked_again_by_an_answer_an_alias_or_a_record() -> None:
    book, _ = forgotten_ada()
    learned = book.learn({"id": 9}, firm=[ADA], soft=[ANON])
    assert learned is not None
    assert list(learned.person.identities()) == []
    assert book.alias(ANON, id_key("u-2")) == Aliased(None)  # not even kept pending
    book.learn({"id": 10}, firm=[id_key("u-2")])
    assert book.alias(id_key("u-2"), U1) == Aliased(None)
    # An alias pending since before the request: its suppressed side stays nobody's.
    book.apply(AliasEntry(id_key("u-3"), ANON))
    book.learn({"id": 13}, firm=[id_key("u-3")])
    book.apply(PersonEntry(11, False, None, None, (U1,), (ANON,)))
    book.apply(PersonEntry(12, False, None, None, (ADA,), (ANON,), snapshot=True))
    book.apply(AliasEntry(id_key("u-2"), ANON))
    assert book.find([ADA, U1, ANON]) is None


def test_the_request_names_the_people_erased_and_whoever_its_identities_name_elsewhere() -> None:
    book = Book()
    book.learn({"id": 7}, firm=[ADA])
    book.learn({"id": 3, "targetable_type": "Lead"}, firm=[U1])
    entry = book.forget(ADA, [ADA], [(5, False)])  # 5: found by Freshsales' search only
    assert entry.people == ((5, False), (7, False))
    assert book.find([U1]) is not None
    again = book.forget(U1, [U1], [])
    assert again.people == ((3, True),)
    assert len(book) == 0


def test_a_suppression_read_from_the_topic_drops_what_the_reader_still_knew_by_its_keys() -> None:
    # A replica that learned Ada by another id (9) reads the request another replica wrote.
    _, entry = forgotten_ada()
    reader = Book()
    reader.learn({"id": 9}, firm=[ADA])
    forgets: list[bytes] = []
    reader.listen_forgotten(forgets.append)
    reader.apply(entry)
    assert reader.find([ADA]) is None
    assert forgets == [U1, ADA, ANON]  # what waited under them goes


def test_undo_lifts_the_request_that_covers_any_of_the_persons_identities() -> None:
    book, _ = forgotten_ada()
    assert book.unsuppress(id_key("never-forgotten")) is None
    lifted = book.unsuppress(ANON)  # the browser's id: the request named the userId
    assert lifted == UnsuppressedEntry(U1)
    assert book.suppressed == 0
    assert book.learn(CONTACT, firm=[ADA]) is not None
    assert book.find([ADA]) is not None  # the next identify creates them anew


def test_an_identity_two_requests_named_stays_suppressed_until_the_later_is_undone() -> None:
    book, _ = forgotten_ada()
    book.forget(ADA, [ADA], [])  # a second request by her email, after the first
    book.unsuppress(U1)  # lifts the first: the email is the second's now
    assert book.is_suppressed(ADA)
    assert not book.is_suppressed(U1)
    book.unsuppress(ADA)
    assert book.suppressed == 0


def test_every_replica_holds_the_same_suppressions_and_a_snapshot_restates_them() -> None:
    book, entry = forgotten_ada()
    book.alias(id_key("x"), id_key("y"))
    restated = Book()
    for record in book.snapshot():
        restated.apply(record)
    assert restated.is_suppressed(ADA)
    assert restated.is_suppressed(ANON)
    assert restated.pending_aliases == 1
    assert restated.unsuppress(ADA) == UnsuppressedEntry(U1)
    reader = Book()
    reader.apply(entry)
    reader.apply(UnsuppressedEntry(U1))
    assert reader.suppressed == 0


def test_the_same_request_again_adds_to_what_it_suppressed_and_undo_lifts_all_of_it() -> None:
    book, first = forgotten_ada()  # her userId, email and browser
    assert book.erased_by(U1) == (((7, False),), False)
    again = book.forget(U1, [U1], [(5, False)], done=True)  # she is nobody in the map now
    assert again.keys == (U1,)
    assert book.erased_by(U1) == (((5, False), (7, False)), True)
    assert book.is_suppressed(ADA)  # still, by the first
    assert book.unsuppress(ADA) == UnsuppressedEntry(U1)
    assert book.suppressed == 0
    assert book.erased_by(U1) == ((), False)
    reader = Book()  # another replica, in the topic's order
    for entry in (first, again):
        reader.apply(entry)
    assert reader.erased_by(U1) == (((5, False), (7, False)), True)
    assert sorted(k for k in (U1, ADA, ANON) if reader.is_suppressed(k)) == sorted([U1, ADA, ANON])
