"""Data sources. `load_dataset(name, data_dir, options)` returns a `Dataset`; `make_splits` applies a scenario and
forget set. Every bring-your-own source reads a folder the user downloaded (see docs/datasets.md)."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mu_core.data import cifar10, folder, jaffe, mucac, mufac
from mu_core.data.base import Dataset, Scenario
from mu_core.data.orl import orl_dataset
from mu_core.data.records import DataOptions, Records
from mu_core.data.roots import allowed_roots, check_data_path, check_path_text
from mu_core.data.splits import Splits, make_splits, parse_forget
from mu_core.errors import DataError


@dataclass(frozen=True)
class Source:
    """A data source. `build(folder, options)` loads it (opening every image once for hygiene); `read(folder,
    options)` only lists its rows, for a quick check of a folder. `layout` says what the folder must hold."""

    name: str
    description: str
    build: Callable[[Path | None, DataOptions], Dataset]
    read: Callable[[Path | None, DataOptions], Records] | None = None
    layout: str = ""
    takes_attributes: bool = False

    @property
    def needs_folder(self) -> bool:
        return self.read is not None


def _orl(_folder: Path | None, options: DataOptions) -> Dataset:
    if not options.is_default():
        raise DataError("The built-in faces are small and clean: --subset, --drop-duplicates and --attribute apply to "
                        "bring-your-own datasets only.")
    return orl_dataset()


def _fixed(build: Callable, **options) -> Callable[[Path | None, DataOptions], Dataset]:
    """`build` with some options fixed (a registry variant such as mucac-male)."""
    return lambda path, opts: build(path, dataclasses.replace(opts, **options))


SOURCES: dict[str, Source] = {s.name: s for s in [
    Source("orl", "Built-in faces: ORL / AT&T, 40 people x 10 photos (no download)", _orl),
    Source("mufac", "MUFAC: Korean family faces, 8 age classes (the benchmark's splits and recipe)",
           mufac.mufac_dataset, mufac.read_mufac, mufac.LAYOUT),
    Source("mucac", "MUCAC: CelebA-HQ, multi-label Male/Smiling/Young (or the attributes chosen with --attribute)",
           mucac.mucac_dataset, mucac.read_mucac, mucac.LAYOUT, takes_attributes=True),
    *[Source(f"mucac-{a.lower()}", f"MUCAC binary: {a} (CelebA-HQ)", _fixed(mucac.mucac_dataset, attributes=(a,)),
             _fixed(mucac.read_mucac, attributes=(a,)), mucac.LAYOUT) for a in mucac.BENCHMARK_ATTRIBUTES],
    Source("jaffe", "JAFFE: 10 women, 7 expressions, identity-disjoint split", jaffe.jaffe_dataset,
           jaffe.read_jaffe, jaffe.LAYOUT),
    Source("jaffe-piufr", "JAFFE with PIU-FR's image-level split (not identity-disjoint)",
           functools.partial(jaffe.jaffe_dataset, split="piufr"), functools.partial(jaffe.read_jaffe, split="piufr"),
           jaffe.LAYOUT),
    Source("cifar10", "CIFAR-10 (python-format folder), random-sample forgetting", cifar10.cifar10_dataset,
           cifar10.read_cifar10, cifar10.LAYOUT),
    Source("folder", "Your own faces: one subfolder per person, or a CSV image_path,label,identity[,split]",
           folder.folder_dataset, folder.read_folder, folder.LAYOUT),
]}


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise DataError(f"Unknown dataset {name!r}; available: {', '.join(SOURCES)}.")
    return SOURCES[name]


def _checked(name: str, options: DataOptions | None) -> tuple[Source, DataOptions]:
    source, options = get_source(name), options or DataOptions()
    if options.attributes and not source.takes_attributes:
        raise DataError(f"--attribute applies to the mucac dataset only, not {name}.")
    return source, options


@functools.lru_cache(maxsize=8)
def _load(name: str, data_dir: str | None, options: DataOptions) -> Dataset:
    return SOURCES[name].build(Path(data_dir) if data_dir else None, options)


def load_dataset(name: str = "orl", data_dir: str | Path | None = None,
                 options: DataOptions | None = None) -> Dataset:
    """A dataset by name (cached per name, folder and options, since preparing images costs time)."""
    source, options = _checked(name, options)
    if data_dir and source.needs_folder:
        check_path_text(data_dir, "data folder")  # a NUL byte: a clear message, not pathlib's ValueError
    return _load(name, str(Path(data_dir).resolve()) if data_dir and source.needs_folder else None, options)


def inspect_data_dir(name: str, data_dir: str | Path, options: DataOptions | None = None) -> dict:
    """A quick check that `data_dir` holds `name`'s layout, without decoding images: counts of rows per split,
    identities, skipped rows and missing image files. Raises DataError saying what is wrong."""
    source, options = _checked(name, options)
    if source.read is None:
        return {"rows": len(load_dataset(name)), "built_in": True}
    return source.read(Path(data_dir), options).summary()


__all__ = ["DataOptions", "Dataset", "Scenario", "Source", "Splits", "SOURCES", "allowed_roots", "check_data_path",
           "get_source", "inspect_data_dir", "load_dataset", "make_splits", "parse_forget"]
