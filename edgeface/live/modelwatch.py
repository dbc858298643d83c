"""The model in use, and hot reload: a new file or a moved store ``latest`` is loaded in the
background and swapped in atomically; a bad one is refused and the old one keeps serving.

Readers call ``holder.current()`` once per piece of work and use what they got, so a swap never
tears a detection/encoding in half and no stream is interrupted. The holder also owns the site's
corrections (``edgeface.overlay``): the model in use is the model with them.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from edgeface.errors import EdgefaceError, ModelFileError
from edgeface.lifecycle import LogOnChange, Service
from edgeface.matcher import DEFAULT_TOLERANCE, EMBEDDING_DIM, Matcher
from edgeface.modelfile import FaceModel
from edgeface.overlay import KINDS, Correction, Overlay, OverlayError, OverlayFile, corrected
from edgeface.settings import ModelSettings

log = logging.getLogger(__name__)

#: A model that failed to load is tried again after this long, doubling up to ``RETRY_MAX_S``.
RETRY_S = 10.0
RETRY_MAX_S = 300.0


@dataclass(frozen=True)
class LoadedModel:
    model: FaceModel
    matcher: Matcher
    version: str          # metadata version, else a content digest prefix
    source: str           # where it came from (path, or store URL and version)
    loaded_at: float      # epoch seconds
    generation: int       # increases with every swap; pipelines re-check faces when it changes
    local: int = 0        # the site's corrections in ``matcher`` (edgeface.overlay)
    candidate: Matcher | None = None       # a version evaluated beside this one, never shown (shadow)
    candidate_version: str | None = None


def check_usable(model: FaceModel, source: str) -> None:
    """Refuse models this engine cannot use (FaceModel.load already refuses empty ones)."""
    if model.embeddings.shape[1] != EMBEDDING_DIM:
        raise ModelFileError(f"{source}: embeddings have {model.embeddings.shape[1]} dimensions, "
                             f"the engine makes {EMBEDDING_DIM}", "re-train it with this edgeface")


class ModelHolder:
    """Holds the current model; swapping is one reference assignment under a lock."""

    def __init__(self, tolerance: float = DEFAULT_TOLERANCE, overlay: OverlayFile | None = None):
        """``overlay``: where the site's corrections are kept (none: no corrections)."""
        self.tolerance = tolerance
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self._model_matcher: Matcher | None = None      # the model's own, before the corrections
        self.last_error: str | None = None
        self.reloads = {"ok": 0, "failed": 0}
        self._file = overlay
        self._candidate: tuple[Matcher, str] | None = None     # its own matcher, before the corrections
        self.overlay, self.overlay_error = Overlay(), None
        if overlay is not None:
            try:
                self.overlay = overlay.load()
            except OverlayError as err:      # the model works without them; the status says why
                self.overlay_error = str(err)
                log.error("%s", err)

    def current(self) -> LoadedModel | None:
        return self._current

    def swap(self, model: FaceModel, source: str, version: str | None = None) -> LoadedModel:
        """Make ``model`` current. ``version``: the label to show (a store version), else the
        model's own metadata version, else a digest prefix."""
        check_usable(model, source)
        version = version or model.version or f"sha256:{model.content_digest()[:12]}"
        with self._lock:
            model_matcher = model.matcher(self.tolerance)
            retired = self.overlay.retired_by(model.metadata.get("sources", [])) + self.overlay.gone_from(model_matcher)
            if retired:
                self._keep(self.overlay.without(retired))
                log.info("%d local correction(s) retired: model %s holds them", len(retired), version)
            self._model_matcher = model_matcher
            self._install(LoadedModel(model, self._model_matcher, version, source, time.time(), 0))
            self.last_error = None
            self.reloads["ok"] += 1
        log.info("model %s in use (%d identities, from %s)", version, model.identity_count, source)
        return self._current  # type: ignore[return-value]

    def correct(self, correction: Correction) -> None:
        """Add an operator's correction: in effect from the next detection (a new generation makes
        every camera check its faces again), kept across restarts."""
        with self._lock:
            self._keep(self.overlay.with_correction(correction))
            if self._current is not None:
                self._install(self._current)

    def uncorrect(self, correction_id: str) -> bool:
        with self._lock:
            if not any(c.id == correction_id for c in self.overlay.corrections):
                return False
            self._keep(self.overlay.without([correction_id]))
            if self._current is not None:
                self._install(self._current)
            return True

    def forget(self, name: str) -> int:
        """Privacy: every correction about ``name`` (either kind) gone from the overlay; how many."""
        with self._lock:
            ids = [c.id for c in self.overlay.corrections if c.name == name]
            if ids:
                self._keep(self.overlay.without(ids))
                if self._current is not None:
                    self._install(self._current)
            return len(ids)

    def _keep(self, overlay: Overlay) -> None:
        if self._file is None:
            raise OverlayError("this app keeps no corrections", "give it an events folder (EDGEFACE_EVENTS_DIR)")
        self._file.save(overlay)         # first: a correction that cannot be kept is not in effect
        self.overlay, self.overlay_error = overlay, None

    def _install(self, loaded: LoadedModel, generation: int | None = None) -> None:
        """``loaded``'s model with the current corrections and candidate, as a new generation
        unless ``generation`` is given (lock held)."""
        assert self._model_matcher is not None
        if generation is None:
            generation = (self._current.generation + 1) if self._current else 1
        matcher, version = self._candidate if self._candidate else (None, None)
        self._current = replace(loaded, matcher=corrected(self._model_matcher, self.overlay), generation=generation,
                                local=len(self.overlay), candidate_version=version,
                                candidate=None if matcher is None else corrected(matcher, self.overlay))

    def set_candidate(self, model: FaceModel | None, version: str | None = None) -> None:
        """Evaluate ``model`` beside the one in use (shadow: it names nothing); None: stop. The
        same generation: the faces on camera need no new look for it."""
        if model is not None:
            check_usable(model, version or "the candidate")
        with self._lock:
            self._candidate = None if model is None else (model.matcher(self.tolerance), version or "candidate")
            if self._current is not None:
                self._install(self._current, self._current.generation)
        if model is not None:
            log.info("candidate model %s evaluated beside the one in use (%d identities)", version,
                     model.identity_count)

    def refuse(self, message: str) -> None:
        with self._lock:
            self.last_error = message
            self.reloads["failed"] += 1
        kept = self._current.version if self._current else "none"
        log.warning("model refused, keeping %s: %s", kept, message)

    def status(self) -> dict:
        cur = self._current
        return {
            "loaded": cur is not None,
            "version": cur.version if cur else None,
            "identities": cur.model.names if cur else [],
            "source": cur.source if cur else None,
            "loaded_at": cur.loaded_at if cur else None,
            "last_error": self.last_error,
            "reloads": dict(self.reloads),
            "local": {kind: sum(c.kind == kind for c in self.overlay.corrections) for kind in KINDS},
            "candidate": self._candidate[1] if self._candidate else None,
            "local_error": self.overlay_error,
        }


class FileModelSource:
    """A model file that may be replaced (init container, ``cp``, ``model.save``)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def describe(self) -> str:
        return str(self.path)

    def fingerprint(self):
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def load(self) -> tuple[FaceModel, str, str | None]:
        return FaceModel.load(self.path), str(self.path), None


class StoreModelSource:
    """A version in the model store, ``latest`` by default (follows promotions)."""

    def __init__(self, store_url: str | None, version: str = "latest", cache_dir: str | None = None):
        from edgeface.store import open_store  # only deployments that use a store need boto3
        self.store = open_store(store_url)
        self.version = version
        self.cache_dir = Path(cache_dir or tempfile.mkdtemp(prefix="edgeface-model-"))

    def describe(self) -> str:
        return f"store {self.store.where} ({self.version})"

    def fingerprint(self):
        if self.version == "latest":
            return self.store.latest()
        return self.store.candidate() if self.version == "candidate" else self.version

    def load(self) -> tuple[FaceModel, str, str | None]:
        version = self.fingerprint()
        if version is None:
            raise ModelFileError("the model store has no versions yet", "push one: edgeface model push")
        target = self.cache_dir / f"{version}.data"
        self.store.pull(version, target)          # sha256 verified, atomic
        for old in self.cache_dir.glob("*.data"):  # keep only the one in use
            if old != target:
                old.unlink(missing_ok=True)
        return FaceModel.load(target), f"{self.describe()} → {version}", version


class CandidateWatcher(Service):
    """Follows the store's candidate (``edgeface model push --candidate``) into ``holder`` for
    shadow evaluation: loaded when it appears or moves, dropped when it is withdrawn."""

    def __init__(self, holder: ModelHolder, source: StoreModelSource, interval_s: float = 2.0):
        super().__init__("candidate-watcher")
        self.holder, self.source, self.interval_s = holder, source, interval_s
        self._version: object = None
        self._errors = LogOnChange(repeat_s=600.0)

    def check_now(self) -> None:
        try:
            version = self.source.fingerprint()
            if version == self._version:
                return
            model = None if version is None else self.source.load()[0]
        except Exception as err:  # noqa: BLE001 - a bad or unreachable candidate must not stop the app
            if self._errors.fresh(str(err)):
                log.warning("candidate model not evaluated: %s", err)
            return
        self.holder.set_candidate(model, version)
        self._version = version

    def run(self) -> None:
        self.check_now()
        while not self.wait(self.interval_s):
            self.check_now()


class ModelWatcher(Service):
    """Polls a model source and swaps in each new, valid model. One thread; ``close()`` joins it."""

    def __init__(self, holder: ModelHolder, source, interval_s: float = 2.0, retry_s: float = RETRY_S):
        super().__init__("model-watcher")
        self.holder = holder
        self.source = source
        self.interval_s = interval_s
        self.retry_s = retry_s
        self._loaded_once = threading.Event()
        self._tried = object()   # fingerprint last attempted: a good one is not loaded again
        self._retry_at = math.inf   # a failed one is tried again from then (S3 may have dropped mid-download)
        self._failures = 0
        self._missing = LogOnChange(repeat_s=None)   # polled every few seconds: say it once

    def wait_loaded(self, timeout: float) -> bool:
        """True once a first load attempt finished with a model in use."""
        self._loaded_once.wait(timeout)
        return self.holder.current() is not None

    def check_now(self) -> None:
        """One poll: load the source if its fingerprint changed since the last attempt."""
        try:
            fp = self.source.fingerprint()
        except EdgefaceError as err:
            self._note_missing(str(err))
            return
        except Exception as err:  # noqa: BLE001 - an unreachable store must not kill the watcher
            self._note_missing(f"{self.source.describe()}: cannot check for a new model ({err})")
            return
        if fp is None:
            self._note_missing(f"{self.source.describe()}: no model there yet")
            return
        self._missing.clear()
        if fp == self._tried and time.monotonic() < self._retry_at:
            return
        self._tried = fp
        try:
            self.holder.swap(*self.source.load())
        except Exception as err:  # noqa: BLE001 - keep serving the old model
            self.holder.refuse(str(err) if isinstance(err, EdgefaceError)
                               else f"{self.source.describe()}: {err.__class__.__name__}: {err}")
            # Tried again later, less often each time: a download cut short succeeds then, a bad
            # file is refused again (and said so) a few times an hour at most.
            self._retry_at = time.monotonic() + min(self.retry_s * 2 ** self._failures, RETRY_MAX_S)
            self._failures += 1
            return
        self._retry_at, self._failures = math.inf, 0

    def _note_missing(self, message: str) -> None:
        if self._missing.fresh(message):
            log.warning("%s", message)
        self.holder.last_error = message

    def run(self) -> None:
        self.check_now()
        self._loaded_once.set()
        while not self.wait(self.interval_s):
            self.check_now()


def start_watchers(holder: ModelHolder, model: ModelSettings) -> tuple[ModelWatcher, list[CandidateWatcher]]:
    """The watcher of the model in use, from the store or the file, and, with a store, of its
    candidate (shadow evaluation), started."""
    if not model.store:
        return ModelWatcher(holder, FileModelSource(model.file), model.reload_interval_s).start(), []
    return (ModelWatcher(holder, StoreModelSource(model.store, model.version), model.reload_interval_s).start(),
            [CandidateWatcher(holder, StoreModelSource(model.store, "candidate"), model.reload_interval_s).start()])
