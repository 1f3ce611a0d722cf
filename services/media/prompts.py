"""Which document answers for ``prompt://<owner>/<prompt id>[/<language>]`` (media.md 4.2, 6.2).

A prompt document is a live ``media`` document with that ``prompt_id`` (in
``system_media`` also one whose id is the prompt id and that has no ``prompt_id``),
taken in its ``language`` lower-cased; without a ``language`` it counts as its
database's prompt language.  For an account A and the language keys of the asked
language (``fr-ca`` -> ``fr-ca``, ``fr``):

1. key by key: A's document, else the system one;
2. nothing yet: the same keys in A's reseller's documents, then its reseller's, up the
   chain (config.md 1.4) -- so a reseller never replaces a system prompt of the same language;
3. the system documents in the keys of ``media.default_language``.

For ``system_media`` only steps 1 (system documents) and 3 apply.

The asked language defaults to the owner's prompt language: for ``system_media``
``media.default_language``; for an account (with ``media.support_account_overrides``,
default true) its ``configs_media`` ``default_language``, else its account document's
``language``, else the system value.

Configuration is read through an injected reader with the getters of
:class:`services.config.client.ConfigClient` (cached, dropped on change events), so
the service's own client is used.  Documents are read from the store on every
lookup: nothing is cached here, a miss least of all.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Protocol

from services.config.accounts import AccountFacts
from services.media.names import SYSTEM_MEDIA, PromptName, StoredMedia, language_keys
from services.store import layout
from services.store.interface import DatabaseNotFound

log = logging.getLogger(__name__)

CATEGORY = "media"
DEFAULT_LANGUAGE = "en-us"


class ConfigReader(Protocol):
    """The part of :class:`services.config.client.ConfigClient` the lookup uses."""

    async def get(self, category: str, key: Any, default: Any = None, *, account: str | None = None,
                  strategy: str | None = None) -> Any: ...

    async def get_is_true(self, category: str, key: Any, default: Any = ..., **where: Any) -> bool | None: ...


class PromptLookup:
    def __init__(self, store, config: ConfigReader, *, accounts: AccountFacts | None = None) -> None:
        self._store = store
        self._config = config
        self._accounts = accounts or AccountFacts(store)

    async def find(self, name: PromptName) -> StoredMedia | None:
        """The prompt document for ``name`` (its first attachment is the audio), or None."""
        system_language = await self.system_language()
        fallback = language_keys(system_language)
        system = await self._documents(SYSTEM_MEDIA, name.prompt_id, by_id=True,
                                       own_language=_constant(system_language))
        if name.is_system:
            keys = language_keys(name.language or system_language)
            return _first(keys + [k for k in fallback if k not in keys], system)
        account_id = name.account
        keys = language_keys(name.language or await self.account_language(account_id))
        own = await self._documents(layout.account_db(account_id), name.prompt_id, by_id=False,
                                    own_language=lambda: self.account_language(account_id))
        for key in keys:
            found = _first([key], own) or _first([key], system)
            if found is not None:
                return found
        found = await self._from_resellers(account_id, name.prompt_id, keys)
        return found or _first(fallback, system)

    async def system_language(self) -> str:
        value = await self._config.get(CATEGORY, "default_language", DEFAULT_LANGUAGE)
        return value.lower() if isinstance(value, str) and value else DEFAULT_LANGUAGE

    async def account_language(self, account_id: str) -> str:
        """The prompt language of an account (KAZOO ``kz_media_util:prompt_language/1``)."""
        if await self._config.get_is_true(CATEGORY, "support_account_overrides", True):
            value = await self._config.get(CATEGORY, "default_language", None, account=account_id,
                                           strategy="account")
            if isinstance(value, str) and value:
                return value.lower()
            account = await self._accounts.account(account_id)
            language = account.get("language") if account is not None else None
            if isinstance(language, str) and language:
                return language.lower()
        return await self.system_language()

    async def _from_resellers(self, account_id: str, prompt_id: str, keys: list[str]) -> StoredMedia | None:
        seen = {account_id}
        current = account_id
        while True:
            reseller = await self._accounts.reseller_of(current)
            if reseller is None or reseller in seen:
                return None
            seen.add(reseller)
            documents = await self._documents(layout.account_db(reseller), prompt_id, by_id=False,
                                              own_language=lambda r=reseller: self.account_language(r))
            found = _first(keys, documents)
            if found is not None:
                return found
            current = reseller

    async def _documents(self, db: str, prompt_id: str, *, by_id: bool,
                         own_language: Callable[[], Awaitable[str]]) -> dict[str, StoredMedia]:
        """language -> the document answering for ``prompt_id`` in ``db``.  ``by_id``: a media
        document named like the prompt, without ``prompt_id``, counts too (system_media).
        Documents with ``prompt_id`` come before such documents; then the first by id."""
        try:
            rows = await self._store.media_by_prompt(db, prompt_id)
        except DatabaseNotFound:
            return {}
        found: dict[str, StoredMedia] = {}
        default: str | None = None
        for row in sorted(rows, key=lambda r: not r.declared):
            if not row.declared and not by_id:
                continue
            language = row.language
            if language is None:
                if default is None:
                    default = await own_language()
                language = default
            # the document is used where it was found (KAZOO builds the path from its
            # pvt_account_id, which names the same database on any sane document)
            found.setdefault(language, StoredMedia(db, row.doc_id, None))
        return found


def _first(keys: list[str], documents: dict[str, StoredMedia]) -> StoredMedia | None:
    for key in keys:
        if key in documents:
            return documents[key]
    return None


def _constant(value: str) -> Callable[[], Awaitable[str]]:
    async def get() -> str:
        return value
    return get
