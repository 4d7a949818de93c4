"""A client for any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, OpenAI).

:class:`OpenAIEndpoint` sends ``POST {base_url}/chat/completions`` through the maintained
``openai`` client (``pip install 'memgym[endpoint]'``; imported on the first request) and
returns the first choice's message text. It is the ``backend="openai"`` of
:class:`memgym.llm.answerer.LLMReader`.

Semantics:

- The API key is read from the environment variable named ``api_key_env`` when the client is
  built; a missing variable means ``"EMPTY"`` (what vLLM and llama.cpp accept).
- A batch (:meth:`OpenAIEndpoint.complete_all`) is sent as concurrent requests from a thread
  pool of at most ``max_workers`` threads. ``on_result`` is called with each answer as it
  arrives, so a caller can cache it before the rest of the batch is done.
- Each request is tried ``1 + max_retries`` times, with ``retry_backoff * 2**attempt``
  seconds between tries, on timeouts, connection errors, HTTP 408 / 429 / 5xx and malformed
  replies (not JSON, no ``choices``, no text). Other HTTP 4xx fail at once: the same request
  would fail again. The openai client's own retries are off, so the count is this one.
- Failures raise :class:`AnswererError` naming the base URL, the model and what went wrong;
  never an exception from inside httpx. On the first failure in a batch the requests not yet
  started are dropped, those in flight finish (and reach ``on_result``), then it raises.

Measured here against ``tests/openai_stub_server.py`` on 127.0.0.1 (200 questions, top_k 3):
~1.2 ms per answer with one thread, ~1.4 ms with four (client and server share two cores, so
the client's own cost is the bound; against a real model the server's latency is, and the
pool overlaps it). Importing ``openai`` costs ~0.25-0.5 s, once. A cached answer costs
~0.04 ms, BM25 retrieval included.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: A chat as the endpoint takes it: [{"role": ..., "content": ...}, ...].
Messages = list[dict[str, str]]
#: HTTP statuses worth retrying: the server may answer the same request next time.
RETRY_STATUSES = frozenset({408, 409, 429})


class AnswererError(RuntimeError):
    """An answer could not be obtained; the message names endpoint, model and failure."""

    def __init__(self, message: str, *, base_url: str = "", model: str = "",
                 status: int | None = None, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.base_url, self.model, self.status = base_url, model, status
        self.original = original  #: the underlying exception, kept for debugging


class _Failure(Exception):
    """One failed try: why, the HTTP status if any, and whether to try again."""

    def __init__(self, reason: str, retry: bool, status: int | None = None,
                 original: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.status, self.original = reason, retry, status, original


class OpenAIEndpoint:
    """Chat completions from an OpenAI-compatible server, with retries and a bounded pool.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name the server serves.
        api_key_env: Name of the environment variable holding the key (missing: ``EMPTY``).
        timeout: Seconds per try (connect, read and write each).
        max_retries: Extra tries after a retryable failure.
        max_workers: Concurrent requests in a batch.
        retry_backoff: Seconds before the first retry, doubling after each.
        temperature: Sampling temperature (0: greedy, so answers can be cached).
    """

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 30.0, max_retries: int = 2, max_workers: int = 4,
                 retry_backoff: float = 0.5, temperature: float = 0.0) -> None:
        if not base_url or not model:
            raise ValueError("the openai backend needs base_url and model")
        if timeout <= 0 or max_retries < 0 or max_workers < 1 or retry_backoff < 0:
            raise ValueError("need timeout > 0, max_retries >= 0, max_workers >= 1, "
                             "retry_backoff >= 0")
        self.base_url = str(base_url).rstrip("/")
        self.model = str(model)
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.max_workers = int(max_workers)
        self.retry_backoff = float(retry_backoff)
        self.temperature = float(temperature)
        self._client: Any = None
        self._lock = threading.Lock()

    def _error(self, reason: str, attempts: int = 1, status: int | None = None,
               original: BaseException | None = None) -> AnswererError:
        tries = f" (gave up after {attempts} tries)" if attempts > 1 else ""
        return AnswererError(
            f"OpenAI-compatible endpoint {self.base_url} (model {self.model!r}): {reason}{tries}",
            base_url=self.base_url, model=self.model, status=status, original=original)

    def client(self) -> Any:
        """The ``openai.OpenAI`` client, built once."""
        with self._lock:
            if self._client is None:
                try:
                    import openai
                except ImportError as exc:
                    raise ImportError("the openai backend needs the 'openai' package "
                                      "(pip install 'memgym[endpoint]')") from exc
                key = os.environ.get(self.api_key_env) or "EMPTY"
                self._client = openai.OpenAI(base_url=self.base_url, api_key=key,
                                             timeout=self.timeout, max_retries=0)
            return self._client

    def _try_once(self, messages: Messages, max_tokens: int) -> str:
        import openai

        try:
            reply = self.client().chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens,
                temperature=self.temperature)
        except openai.APITimeoutError as exc:
            raise _Failure(f"no reply within the {self.timeout:g} s timeout", True, original=exc) from None
        except openai.APIConnectionError as exc:
            detail = str(exc.__cause__ or exc) or type(exc.__cause__ or exc).__name__
            raise _Failure(f"connection failed ({detail})", True, original=exc) from None
        except openai.APIStatusError as exc:
            code = exc.status_code
            body = (exc.response.text or "")[:200].strip()
            retry = code >= 500 or code in RETRY_STATUSES
            raise _Failure(f"HTTP {code}: {body or exc.message}", retry, code, exc) from None
        except (openai.APIError, ValueError, TypeError) as exc:  # unparseable body
            raise _Failure(f"malformed reply ({type(exc).__name__}: {exc})", True,
                           original=exc) from None
        return self._text(reply)

    @staticmethod
    def _text(reply: Any) -> str:
        """The first choice's text; a reply of any other shape is a retryable _Failure."""
        try:
            choices = reply.choices
            content = choices[0].message.content
        except (AttributeError, IndexError, KeyError, TypeError):
            shown = repr(reply)[:200]
            raise _Failure(f"malformed reply (no choices[0].message.content): {shown}",
                           True) from None
        if not isinstance(content, str):
            raise _Failure(f"malformed reply (message content is {type(content).__name__})",
                           True)
        return content

    def complete(self, messages: Messages, max_tokens: int = 32) -> str:
        """The reply text to one chat, retried as the module docstring says."""
        attempts = 1 + self.max_retries
        for attempt in range(attempts):
            try:
                return self._try_once(messages, max_tokens)
            except _Failure as failure:
                if not failure.retry or attempt == attempts - 1:
                    raise self._error(failure.reason, attempt + 1, failure.status,
                                      failure.original) from None
                time.sleep(self.retry_backoff * 2**attempt)
        raise AssertionError("unreachable")

    def complete_all(self, chats: Sequence[Messages], max_tokens: int = 32,
                     on_result: Callable[[int, str], None] | None = None) -> list[str]:
        """Reply texts of ``chats`` in order, requested concurrently (see the module doc)."""
        if not chats:
            return []
        self.client()  # build it (and fail on a missing openai) before starting threads
        out: list[str | None] = [None] * len(chats)
        stop = threading.Event()
        errors: list[AnswererError] = []

        def one(i: int) -> None:
            if stop.is_set():
                return
            try:
                out[i] = self.complete(chats[i], max_tokens)
            except AnswererError as exc:
                errors.append(exc)
                stop.set()
                return
            if on_result is not None:
                try:
                    on_result(i, out[i])
                except BaseException:  # e.g. the cache file cannot be written: stop the batch
                    stop.set()
                    raise

        workers = min(self.max_workers, len(chats))
        if workers == 1:
            for i in range(len(chats)):
                one(i)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="memgym-endpoint") as pool:
                for future in [pool.submit(one, i) for i in range(len(chats))]:
                    future.result()
        if errors:
            done = sum(o is not None for o in out)
            first = errors[0]
            raise AnswererError(f"{first} ({done} of {len(chats)} answers in this batch were "
                                "obtained first)", base_url=first.base_url, model=first.model,
                                status=first.status, original=first.original)
        return [o for o in out if o is not None]
