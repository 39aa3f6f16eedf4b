"""Matching an uploaded photo against an experiment's training set: is it (nearly) one of the training photos,
and which enrolled people does the model think it shows?

Dataset hashes and a model's gallery of training embeddings are computed once and cached. Models are treated as
immutable once trained (the engine never changes a model in place after training), so a model's gallery is cached
for as long as the model object lives."""
from __future__ import annotations

import hashlib
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from mu_core.data import Dataset
from mu_core.data.files import io_workers
from mu_core.data.hygiene import HASH_SIDE, phash
from mu_core.data.transforms import to_float, to_square_tensor
from mu_core.experiment import Experiment
from mu_core.models import EVAL_BATCH, in_chunks, penultimate

MAX_CACHED_DATASETS = 4
STATS_MARGIN = 0.25  # share of the training photos' range of each image statistic allowed beyond it on each side
STAT_NAMES = ("brightness", "contrast", "roughness")

_hash_lock = threading.Lock()
_dataset_hashes: dict[str, np.ndarray] = {}
_gallery_lock = threading.Lock()
_galleries: weakref.WeakKeyDictionary[nn.Module, dict[tuple, "Gallery"]] = weakref.WeakKeyDictionary()


# ----- exact and near duplicates ---------------------------------------------------------------------------------

def dataset_phashes(ds: Dataset) -> np.ndarray:
    """Perceptual hash of every sample (uint64), computed once per dataset (bring-your-own sources already have
    them from the hygiene scan)."""
    key = ds.fingerprint()
    with _hash_lock:
        if key not in _dataset_hashes:
            scanned = ds.hygiene.phashes if ds.hygiene is not None else np.zeros(0, np.uint64)
            if len(scanned) == len(ds):
                hashes = np.asarray(scanned, dtype=np.uint64)
            else:
                def one(i: int) -> int:
                    raw = ds.load_scaled(i, HASH_SIDE) if ds.load_scaled else ds.load_image(i)
                    return phash(Image.fromarray(raw))

                with ThreadPoolExecutor(io_workers()) as pool:
                    hashes = np.array(list(pool.map(one, range(len(ds)))), dtype=np.uint64)
            while len(_dataset_hashes) >= MAX_CACHED_DATASETS:
                del _dataset_hashes[next(iter(_dataset_hashes))]
            _dataset_hashes[key] = hashes
        return _dataset_hashes[key]


def is_exact_duplicate(image: np.ndarray, ds: Dataset, index: int) -> bool:
    """True when the upload has the very pixels of training photo `index` (a grey image and its grey RGB copy
    count as the same, as the model sees them identically at any image size)."""
    return np.array_equal(_as_rgb(image), _as_rgb(ds.load_image(int(index))))


def find_duplicates(image: np.ndarray, ds: Dataset, indices: np.ndarray, max_distance: int = 6
                    ) -> list[tuple[int, int]]:
    """(dataset index, Hamming distance between 64-bit perceptual hashes) of the samples among `indices` within
    `max_distance` bits of the upload or of its mirror image (phones often mirror selfies; a flip moves the hash by
    about 30 bits), nearest first; at distance 0, exact duplicates (`is_exact_duplicate`) come first.
    Re-encoding, small brightness changes or a resize move the hash by a few bits; consecutive shots of one person
    can also be that close, so near duplicates are for the user to confirm."""
    indices = np.asarray(indices, dtype=np.int64)
    hashes = dataset_phashes(ds)[indices]

    def bits_apart(view: np.ndarray) -> np.ndarray:
        return np.bitwise_count(hashes ^ np.uint64(phash(Image.fromarray(view)))).astype(np.int64)

    distance = np.minimum(bits_apart(image), bits_apart(np.ascontiguousarray(image[:, ::-1])))
    found = [(int(indices[k]), int(distance[k])) for k in np.flatnonzero(distance <= max_distance)]
    exact = {i for i, d in found if d == 0 and is_exact_duplicate(image, ds, i)}
    return sorted(found, key=lambda item: (item[1], item[0] not in exact, item[0]))


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


# ----- embeddings ------------------------------------------------------------------------------------------------

@torch.inference_mode()
def embed(model: nn.Module, x_uint8: torch.Tensor, device: torch.device, batch_size: int = EVAL_BATCH
          ) -> np.ndarray:
    """L2-normalised penultimate-layer embeddings (N, 512) of uint8 images (N, 3, S, S) on a torchvision
    ResNet-18, in eval mode. The model must already be on `device`; its train/eval flags are restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        chunks = in_chunks(lambda xb: F.normalize(penultimate(model, to_float(xb.to(device))).float(), dim=1),
                           x_uint8, batch_size=batch_size)
    finally:
        for m, training in modes:
            m.training = training
    return torch.cat(chunks).cpu().numpy() if chunks else np.zeros((0, model.fc.in_features), np.float32)


# ----- enrolled people -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Calibration:
    """How the "enrolled" threshold was chosen and how it performs on the probes it was chosen on. `genuine_rate`:
    share of genuine probes (photos of an enrolled person vs that person) at or above the threshold;
    `impostor_rate`: share of impostor probes (best similarity to a person the photo does not show) at or above
    it. `source`: "held-out photos", "training photos (leave-one-out)" or "none" (no threshold possible)."""

    threshold: float
    genuine_rate: float
    impostor_rate: float
    n_genuine: int
    n_impostor: int
    source: str


@dataclass(frozen=True)
class PersonMatch:
    identity: int      # index into the dataset's identity_names
    name: str
    similarity: float  # cosine similarity (centred embeddings, -1..1) to the person's mean training embedding
    photo: int         # dataset index of the person's training photo most similar to the upload


@dataclass(frozen=True)
class FaceCheck:
    """Is an upload a face photo like the dataset's own? No face detector can be downloaded here, so the check is
    calibrated on the data itself, two tests that must both pass:
    - image statistics of the upload as the model sees it (square, at the model's resolution, in grey):
      brightness, contrast and roughness (mean difference between neighbouring pixels) inside the range of the
      training photos, widened by STATS_MARGIN of that range on each side. Random noise is far rougher and
      flatter in contrast than a photo; a colour gradient or a blank image far smoother. This needs no model;
    - novelty in the model's penultimate features: the distance (1 - cosine, centred embeddings) to the nearest
      training photo must not exceed the largest such distance among the dataset's own photos (training photos
      leave-one-out, and the held-out photos). What is farther from every training photo than any photo of the
      data is not a face the model knows how to read.
    `reasons` says which test failed and by how much (empty when it passed)."""

    passed: bool
    reasons: tuple[str, ...]
    distance: float      # the upload's distance to its nearest training photo
    max_distance: float  # the largest such distance among the dataset's own photos


@dataclass(frozen=True)
class MatchResult:
    matches: list[PersonMatch]  # nearest enrolled people first
    enrolled: bool              # it passed the face check and the best similarity reaches the threshold
    threshold: float            # NaN when the data allowed no calibration (then `enrolled` is False)
    calibration: Calibration
    face: FaceCheck


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _uncalibrated(n_genuine: int = 0, n_impostor: int = 0) -> Calibration:
    nan = float("nan")
    return Calibration(nan, nan, nan, n_genuine, n_impostor, "none")


@dataclass(frozen=True)
class Gallery:
    """A model's view of the training set: per-photo embeddings and per-person mean embeddings, centred."""

    mean: np.ndarray            # mean training embedding, subtracted before comparing
    train: np.ndarray           # dataset indices of the training photos
    train_person: np.ndarray    # row in `people` of each training photo
    train_embeddings: np.ndarray
    people: np.ndarray          # identity indices of the enrolled people
    sums: np.ndarray            # per person: sum of their centred training embeddings
    centroids: np.ndarray       # the sums, L2-normalised
    calibration: Calibration
    stats_range: np.ndarray | None = None   # (2, 3): the image statistics a photo like the training ones has
    max_distance: float = float("nan")      # farthest any of the data's photos is from its nearest training photo

    def centre(self, embeddings: np.ndarray) -> np.ndarray:
        """ReLU features are all non-negative, so raw cosine similarities between faces all sit near 1 (0.994 to
        1.0 measured on a small ORL model); subtracting the training mean restores the contrast."""
        return _unit(embeddings - self.mean)


def enrolment(model: nn.Module, exp: Experiment) -> Gallery:
    """The model's gallery of the experiment's training set with its calibrated threshold (cached)."""
    ds = exp.dataset
    key = (ds.fingerprint(), hashlib.sha256(exp.splits.train.astype(np.int64).tobytes()).hexdigest(),
           exp.image_size)
    with _gallery_lock:
        cached = _galleries.setdefault(model, {})
        if key not in cached:
            cached[key] = _build_gallery(model, exp)
        return cached[key]


def _build_gallery(model: nn.Module, exp: Experiment) -> Gallery:
    images = exp.dataset.images(exp.image_size)
    raw = embed(model, images, exp.device)
    g = gallery_from_embeddings(raw, exp.splits.train, exp.dataset.identities)
    train_stats = image_stats(images[torch.from_numpy(g.train)])
    low, high = train_stats.min(axis=0), train_stats.max(axis=0)
    margin = STATS_MARGIN * (high - low)
    held_out = np.setdiff1d(np.arange(len(raw)), g.train)
    loo = 1 - g.train_embeddings @ g.train_embeddings.T
    np.fill_diagonal(loo, np.inf)
    distances = np.concatenate([loo.min(axis=1), _nearest_distance(g, g.centre(raw[held_out]))])
    distances = distances[np.isfinite(distances)]
    return replace(g, stats_range=np.stack([low - margin, high + margin]),
                   max_distance=float(distances.max()) if len(distances) else float("nan"))


def image_stats(x_uint8: torch.Tensor) -> np.ndarray:
    """Per image (N, 3, S, S uint8): brightness, contrast (standard deviation) and roughness (mean absolute
    difference between neighbouring pixels) of its grey version, in [0, 1] units."""
    grey = x_uint8.float().mean(dim=1) / 255.0
    rough = ((grey[:, 1:, :] - grey[:, :-1, :]).abs().mean(dim=(1, 2))
             + (grey[:, :, 1:] - grey[:, :, :-1]).abs().mean(dim=(1, 2))) / 2
    return torch.stack([grey.mean(dim=(1, 2)), grey.std(dim=(1, 2)), rough], dim=1).numpy()


def _nearest_distance(g: Gallery, centred: np.ndarray) -> np.ndarray:
    return 1 - (centred @ g.train_embeddings.T).max(axis=1, initial=-np.inf)


def face_check(g: Gallery, x_uint8: torch.Tensor, centred: np.ndarray) -> FaceCheck:
    """The face check of one upload (`x_uint8`: (1, 3, S, S) as the model sees it; `centred`: its centred
    embedding, shape (1, D)); see FaceCheck."""
    reasons = []
    stats = image_stats(x_uint8)[0]
    low, high = g.stats_range if g.stats_range is not None else (stats, stats)
    for k, name in enumerate(STAT_NAMES):
        if not low[k] <= stats[k] <= high[k]:
            reasons.append(f"its {name} {stats[k]:.3f} is outside the range of the training photos "
                           f"({low[k]:.3f} to {high[k]:.3f})")
    distance = float(_nearest_distance(g, centred)[0])
    if np.isfinite(g.max_distance) and distance > g.max_distance:
        reasons.append(f"the model's features put it farther from every training photo ({distance:.3f}) than any "
                       f"of the data's own photos is from its nearest one ({g.max_distance:.3f})")
    return FaceCheck(not reasons, tuple(reasons), distance, g.max_distance)


def gallery_from_embeddings(embeddings: np.ndarray, train: np.ndarray, identities: np.ndarray) -> Gallery:
    """A gallery from the embeddings of every sample: `train` are the enrolled photos, all others are held out
    and calibrate the threshold; `identities` is the identity of every sample."""
    train = np.asarray(train, dtype=np.int64)
    mean = embeddings[train].mean(axis=0)
    train_embeddings = _unit(embeddings[train] - mean)
    people, train_person = np.unique(identities[train], return_inverse=True)
    sums = np.zeros((len(people), embeddings.shape[1]))
    np.add.at(sums, train_person, train_embeddings)
    g = Gallery(mean, train, train_person, train_embeddings, people, sums, _unit(sums), _uncalibrated())
    held_out = np.setdiff1d(np.arange(len(embeddings)), train)
    return replace(g, calibration=_calibrate(g, g.centre(embeddings[held_out]), identities[held_out]))


def _calibrate(g: Gallery, held_embeddings: np.ndarray, held_identities: np.ndarray) -> Calibration:
    """Choose the similarity above which a photo counts as showing an enrolled person.

    Genuine scores: photos the model was not trained on, of enrolled people, compared with their own person.
    Impostor scores: the best similarity of a photo to any person it does not show, i.e. how an unknown face
    looks to the model. Held-out photos of enrolled people give both (their own person; the nearest other
    person, as if they were not enrolled); held-out photos of people who are not enrolled give impostor scores.
    The threshold maximises genuine rate - impostor rate (Youden's J), halfway between neighbouring scores.
    When the splits are identity-disjoint (no held-out photo of an enrolled person), the genuine scores come from
    training photos against their person's mean without that photo (leave-one-out); they are optimistic, since
    the model was trained on those photos."""
    sims = held_embeddings @ g.centroids.T
    enrolled = np.isin(held_identities, g.people)
    own = np.where(enrolled, np.searchsorted(g.people, held_identities), -1)
    genuine = sims[np.flatnonzero(enrolled), own[enrolled]]
    impostor = _best_other(sims, own)
    source = "held-out photos"
    if len(genuine) == 0:
        genuine, train_impostor = _leave_one_out(g)
        impostor = np.concatenate([impostor, train_impostor])
        source = "training photos (leave-one-out)"
    if len(genuine) == 0 or len(impostor) == 0:
        return _uncalibrated(len(genuine), len(impostor))
    threshold = _youden_threshold(genuine, impostor)
    return Calibration(threshold, float(np.mean(genuine >= threshold)), float(np.mean(impostor >= threshold)),
                       len(genuine), len(impostor), source)


def _best_other(sims: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Per row, the best similarity to a person other than the row's own person (`own` = -1: the photo shows
    nobody enrolled); rows with no other person to compare with are left out."""
    others = sims.copy()
    mine = np.flatnonzero(own >= 0)
    others[mine, own[mine]] = -np.inf
    best = others.max(axis=1, initial=-np.inf)
    return best[np.isfinite(best)]


def _leave_one_out(g: Gallery) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor scores of training photos of people with at least two training photos: each photo
    against its person's mean without it, and against the nearest other person."""
    counts = np.bincount(g.train_person, minlength=len(g.people))
    rows = np.flatnonzero(counts[g.train_person] >= 2)
    e, person = g.train_embeddings[rows], g.train_person[rows]
    genuine = np.einsum("nd,nd->n", e, _unit(g.sums[person] - e))
    return genuine, _best_other(e @ g.centroids.T, person)


def _youden_threshold(genuine: np.ndarray, impostor: np.ndarray) -> float:
    candidates = np.unique(np.concatenate([genuine, impostor]))
    genuine_rate = 1 - np.searchsorted(np.sort(genuine), candidates, side="left") / len(genuine)
    impostor_rate = 1 - np.searchsorted(np.sort(impostor), candidates, side="left") / len(impostor)
    best = int(np.argmax(genuine_rate - impostor_rate))
    return float((candidates[best] + candidates[best - 1]) / 2 if best > 0 else candidates[0])


def match_people(model: nn.Module, image: np.ndarray, exp: Experiment, top_k: int = 3) -> MatchResult:
    """The `top_k` enrolled people nearest to the upload by cosine similarity of `model`'s embedding (the upload
    preprocessed exactly as the dataset's photos) to each person's mean training embedding; `enrolled` says
    whether the upload passed the face check (`FaceCheck`) and the best one reaches the threshold calibrated on
    the data (see `_calibrate`). An upload that fails the face check must not be matched to anyone: its
    nearest people are still listed, for reference only."""
    g = enrolment(model, exp)
    x = to_square_tensor(image, exp.image_size).unsqueeze(0)
    centred = g.centre(embed(model, x, exp.device))
    face = face_check(g, x, centred)
    e = centred[0]
    sims = g.centroids @ e
    matches = []
    for p in np.argsort(-sims, kind="stable")[:top_k]:
        photos = np.flatnonzero(g.train_person == p)
        photo = int(g.train[photos[np.argmax(g.train_embeddings[photos] @ e)]])
        identity = int(g.people[p])
        matches.append(PersonMatch(identity, exp.dataset.identity_names[identity], float(sims[p]), photo))
    threshold = g.calibration.threshold
    enrolled = face.passed and bool(matches) and not np.isnan(threshold) and matches[0].similarity >= threshold
    return MatchResult(matches, enrolled, threshold, g.calibration, face)
