"""Pure translation of Segment events into Freshsales API requests.

No I/O, no clock, no environment, no logging: values in, values out. Everything the translation
needs about the account (flavour, field catalog, setting names) arrives in :class:`Options`.
"""

from translate.errors import CatalogError, DestinationError, Reason, TranslationError
from translate.event import decode, infer_type, ordering_key
from translate.fields import FieldCatalog, FieldType, Module
from translate.filters import EventFilter, Pattern, parse_patterns
from translate.identify import translate_identify
from translate.identities import JUNK_IDS, NO_NAMES, Key, Names, email_key, id_key, usable
from translate.merge import merge_identifies
from translate.model import (
    Flavor,
    ForKind,
    FromLookup,
    FromStep,
    Inject,
    LookupKind,
    MergeAccounts,
    Notice,
    Options,
    Outcome,
    Request,
    Step,
    Translation,
)
from translate.plan import Lookups, Records, Skip, materialize, needless, step_record
from translate.render import error_json, request_json, translation_json
from translate.translator import translate_bytes, translate_event

__all__ = [
    "JUNK_IDS",
    "NO_NAMES",
    "CatalogError",
    "DestinationError",
    "EventFilter",
    "FieldCatalog",
    "FieldType",
    "Flavor",
    "ForKind",
    "FromLookup",
    "FromStep",
    "Inject",
    "Key",
    "LookupKind",
    "Lookups",
    "MergeAccounts",
    "Module",
    "Names",
    "Notice",
    "Options",
    "Outcome",
    "Pattern",
    "Reason",
    "Records",
    "Request",
    "Skip",
    "Step",
    "Translation",
    "TranslationError",
    "decode",
    "email_key",
    "error_json",
    "id_key",
    "infer_type",
    "materialize",
    "merge_identifies",
    "needless",
    "ordering_key",
    "parse_patterns",
    "request_json",
    "step_record",
    "translate_bytes",
    "translate_event",
    "translate_identify",
    "translation_json",
    "usable",
]
