"""libassistant for Python: the C ABI (assistant.h) through ctypes.

Standard library only. The shared library libassistant_c is found, in order:
the file named by the environment variable LIBASSISTANT_C, a copy next to
this package, or the system's library path.

    from libassistant import Assistant

    with Assistant.open(database="sqlite://app.db") as a:
        reply = a.auth.register(email="ann@example.com", password="correct horse battery")
        ann = a.with_token(reply["access_token"])      # or a.for_user(user_id)
        ann.tasks.create(title="buy milk")
        for event, data in ann.agent.stream(message="what's on my list?"):
            print(event, data)

Every method of docs/c-api.md is reachable as attributes: ``a.tasks.create``
calls "tasks.create", ``a.auth.api_keys.create`` calls "auth.api_keys.create",
with keyword arguments as the method's params. Failures raise
AssistantError carrying the code, its name, the message and the field.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import queue
import threading
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

__all__ = ["Assistant", "AssistantError", "load_library"]

_EVENT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)
_TOOL_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)

_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()
_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]


def _candidates() -> Iterator[str]:
    env = os.environ.get("LIBASSISTANT_C")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if name.startswith("libassistant_c.so"):
            yield os.path.join(here, name)
    found = ctypes.util.find_library("assistant_c")
    if found:
        yield found


def load_library() -> ctypes.CDLL:
    """Loads libassistant_c once (see the module's docs for where it looks)."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        errors = []
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError as e:
                errors.append(f"{path}: {e}")
        else:
            raise OSError("libassistant_c not found (set LIBASSISTANT_C to its path): "
                          + "; ".join(errors))
        lib.assistant_version.restype = ctypes.c_char_p
        lib.assistant_error_name.restype = ctypes.c_char_p
        lib.assistant_error_name.argtypes = [ctypes.c_int]
        lib.assistant_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                       ctypes.POINTER(ctypes.c_void_p)]
        lib.assistant_close.argtypes = [ctypes.c_void_p]
        lib.assistant_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.POINTER(ctypes.c_void_p)]
        lib.assistant_stream.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                         _EVENT_FN, ctypes.c_void_p]
        lib.assistant_register_tool.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _TOOL_FN,
                                                ctypes.c_void_p]
        lib.assistant_free.argtypes = [ctypes.c_void_p]
        _lib = lib
        return lib


class AssistantError(Exception):
    """A failed call: `code` (ASSISTANT_ERR_*), `name` (the error's code
    string, e.g. "not_found"), `message` and the offending `field`."""

    def __init__(self, code: int, name: str, message: str, field: Optional[str] = None):
        super().__init__(f"{name}: {message}" + (f" (field {field})" if field else ""))
        self.code = code
        self.name = name
        self.message = message
        self.field = field


def _take_string(lib: ctypes.CDLL, ptr: Optional[int]) -> Optional[str]:
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib.assistant_free(ptr)


def _error(lib: ctypes.CDLL, code: int, text: Optional[str]) -> AssistantError:
    body: Dict[str, Any] = {}
    if text:
        try:
            body = json.loads(text).get("error", {})
        except ValueError:
            body = {"message": text}
    name = body.get("code") or lib.assistant_error_name(code).decode()
    return AssistantError(code, name, body.get("message", ""), body.get("field"))


class _Namespace:
    """`a.tasks.create(...)`: attribute access builds the method's name."""

    def __init__(self, owner: "Assistant", prefix: str, principal: Optional[dict]):
        self._owner = owner
        self._prefix = prefix
        self._principal = principal

    def __getattr__(self, name: str) -> "_Namespace":
        if name.startswith("_"):
            raise AttributeError(name)
        return _Namespace(self._owner, f"{self._prefix}.{name}", self._principal)

    def _params(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        if self._principal is not None and "principal" not in kwargs:
            kwargs = dict(kwargs, principal=self._principal)
        return kwargs

    def __call__(self, **kwargs: Any) -> Any:
        return self._owner.call(self._prefix, **self._params(kwargs))

    def stream(self, **kwargs: Any) -> Iterator[Tuple[str, Any]]:
        """Streams this namespace's method ("agent" streams agent.message)."""
        method = "agent.message" if self._prefix == "agent" else self._prefix
        return self._owner.stream(method, **self._params(kwargs))


class _Scope:
    """The namespaces, with a principal filled in for every call."""

    def __init__(self, owner: "Assistant", principal: Optional[dict]):
        self._owner = owner
        self._principal = principal

    @property
    def auth(self) -> _Namespace:
        return _Namespace(self._owner, "auth", self._principal)

    @property
    def user(self) -> _Namespace:
        return _Namespace(self._owner, "user", self._principal)

    @property
    def tasks(self) -> _Namespace:
        return _Namespace(self._owner, "tasks", self._principal)

    @property
    def conversations(self) -> _Namespace:
        return _Namespace(self._owner, "conversations", self._principal)

    @property
    def agent(self) -> _Namespace:
        return _Namespace(self._owner, "agent", self._principal)

    @property
    def tools(self) -> _Namespace:
        return _Namespace(self._owner, "tools", self._principal)


class Assistant(_Scope):
    """One embedded instance (assistant_open). Use it as a context manager,
    or call close(). Safe to use from many threads."""

    def __init__(self, handle: int, lib: ctypes.CDLL):
        super().__init__(self, None)
        self._handle: Optional[int] = handle
        self._lib = lib
        self._tools = []  # keeps the ctypes callbacks alive as long as the handle

    @classmethod
    def open(cls, **settings: Any) -> "Assistant":
        """Opens an instance from settings (docs/c-api.md "Settings"):
        database, llm_provider, llm_base_url, llm_model, llm_api_key, ..."""
        lib = load_library()
        handle = ctypes.c_void_p()
        err = ctypes.c_void_p()
        code = lib.assistant_open(json.dumps(settings).encode(), ctypes.byref(handle),
                                  ctypes.byref(err))
        text = _take_string(lib, err.value)
        if code != 0:
            raise _error(lib, code, text)
        return cls(handle.value, lib)

    @staticmethod
    def version() -> str:
        return load_library().assistant_version().decode()

    def __enter__(self) -> "Assistant":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._lib.assistant_close(self._handle)
            self._handle = None

    def _live(self) -> int:
        if self._handle is None:
            raise AssistantError(0, "closed", "the instance is closed")
        return self._handle

    def with_token(self, token: str) -> _Scope:
        """Calls as the user of an access token or API key, with its scopes."""
        return _Scope(self, {"token": token})

    def for_user(self, user_id: str) -> _Scope:
        """Calls for a user the program trusts, with every scope."""
        return _Scope(self, {"user_id": user_id})

    def call(self, method: str, **params: Any) -> Any:
        """Calls `method` with keyword params; returns the decoded result."""
        out = ctypes.c_void_p()
        code = self._lib.assistant_call(self._live(), method.encode(),
                                        json.dumps(params).encode(), ctypes.byref(out))
        text = _take_string(self._lib, out.value)
        if code != 0:
            raise _error(self._lib, code, text)
        return json.loads(text) if text else None

    def stream(self, method: str, **params: Any) -> Iterator[Tuple[str, Any]]:
        """Yields (event, data) as the method streams. Leaving the loop early
        cancels the run (its partial reply is stored, cancelled). A failure
        raises AssistantError after its "error" event."""
        events: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        stop = threading.Event()
        done = object()
        result: Dict[str, Any] = {}

        # Lockstep: the library's thread waits until the loop asks for the
        # next event, so leaving the loop cancels at the very next event
        # instead of after the turn ran ahead.
        resume = threading.Semaphore(0)

        @_EVENT_FN
        def on_event(_user: Any, event: bytes, data: bytes) -> int:
            events.put((event.decode(), json.loads(data.decode())))
            resume.acquire()
            return 1 if stop.is_set() else 0

        def run() -> None:
            result["code"] = self._lib.assistant_stream(
                self._live(), method.encode(), json.dumps(params).encode(), on_event, None)
            events.put((done, None))  # type: ignore[arg-type]

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        last_error = None
        run_id = None
        try:
            while True:
                event, data = events.get()
                if event is done:
                    break
                if event == "message.start":
                    run_id = data.get("run_id")
                if event == "error":
                    last_error = data
                yield event, data
                resume.release()
        except GeneratorExit:
            # The loop was left early: the waiting event returns "cancel",
            # and the run is cancelled now rather than at a next event that a
            # slow model may be long in sending.
            stop.set()
            resume.release()
            if run_id and "principal" in params:
                try:
                    self.call("agent.runs.cancel", principal=params["principal"], id=run_id)
                except AssistantError:
                    pass  # it finished meanwhile
            worker.join()
            raise
        worker.join()
        code = result.get("code", 0)
        if code != 0:
            err = (last_error or {}).get("error", {})
            raise AssistantError(code, err.get("code") or
                                 self._lib.assistant_error_name(code).decode(),
                                 err.get("message", ""), err.get("field"))

    def register_tool(self, name: str, fn: Callable[..., Any], description: str = "",
                      parameters: Optional[dict] = None) -> None:
        """Lets the agent call `fn(**arguments)`; `parameters` is the JSON
        Schema of the arguments object. What fn returns is sent to the model
        as JSON; an exception becomes a tool error the model sees."""
        spec = {"name": name, "description": description,
                "parameters": parameters or {"type": "object", "properties": {}}}

        @_TOOL_FN
        def run(_user: Any, args: bytes) -> Optional[int]:
            try:
                value = json.dumps(fn(**json.loads(args.decode())))
            except Exception as e:  # the model sees the failure, the process goes on
                value = json.dumps({"error": {"code": "tool_failed",
                                              "message": f"{type(e).__name__}: {e}"}})
            raw = value.encode()
            buf = _libc.malloc(len(raw) + 1)
            if not buf:
                return None
            ctypes.memmove(buf, raw + b"\0", len(raw) + 1)
            return buf

        code = self._lib.assistant_register_tool(self._live(), json.dumps(spec).encode(), run,
                                                 None)
        if code != 0:
            raise _error(self._lib, code, None)
        self._tools.append(run)
