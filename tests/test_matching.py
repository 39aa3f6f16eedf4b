"""Matching uploads against the training set: duplicates by perceptual hash, embeddings, nearest enrolled people
and the "not enrolled" threshold, on the tiny ORL experiment (its Original is cached for the whole session)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mu_core.baselines import get_baseline
from mu_core.matching import (MatchResult, embed, enrolment, find_duplicates, gallery_from_embeddings,
                              is_exact_duplicate, match_people)
from mu_core.models import build_model, weights_sha256
from mu_core.uploads import read_upload


@pytest.fixture(scope="module")
def original(tiny_exp):
    return get_baseline(tiny_exp, "original").model


def as_upload(image: np.ndarray, fmt: str = "PNG") -> np.ndarray:
    """The image as the dashboard gets it: encoded by a browser upload, decoded by read_upload."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt)
    return read_upload(f"upload.{fmt.lower()}", buffer.getvalue())


def test_a_training_photo_is_an_exact_duplicate(tiny_exp):
    ds, train = tiny_exp.dataset, tiny_exp.splits.train
    index = int(train[17])
    found = find_duplicates(as_upload(ds.load_image(index)), ds, train)
    assert found[0] == (index, 0)
    assert is_exact_duplicate(as_upload(ds.load_image(index)), ds, index)
    assert all(d <= 6 for _, d in found) and [d for _, d in found] == sorted(d for _, d in found)


def test_a_mirrored_brightened_copy_is_a_near_duplicate(tiny_exp):
    ds, train = tiny_exp.dataset, tiny_exp.splits.train
    index = int(train[40])
    photo = ds.load_image(index)
    edited = np.clip(photo[:, ::-1].astype(int) + 12, 0, 255).astype(np.uint8)
    upload = as_upload(np.stack([edited] * 3, axis=2), "JPEG")
    found = dict(find_duplicates(upload, ds, train))
    assert index in found and found[index] <= 6
    assert not is_exact_duplicate(upload, ds, index)


def test_no_duplicates_among_other_indices_and_for_noise(tiny_exp):
    ds, train = tiny_exp.dataset, tiny_exp.splits.train
    index = int(train[3])
    others = train[train != index]
    assert index not in dict(find_duplicates(ds.load_image(index), ds, others))
    noise = np.random.default_rng(0).integers(0, 256, (112, 92), dtype=np.uint8)
    assert find_duplicates(noise, ds, train, max_distance=4) == []


def test_embed_is_normalised_and_leaves_the_model_unchanged(tiny_exp):
    torch.manual_seed(0)
    model = build_model(tiny_exp.dataset.num_classes).train()
    model.layer4.eval()  # a mixed state must come back as it was
    before = weights_sha256(model)
    x = tiny_exp.dataset.images(tiny_exp.image_size)[:5]
    e = embed(model, x, torch.device("cpu"))
    assert e.shape == (5, 512) and e.dtype == np.float32
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert np.allclose(embed(model, x, torch.device("cpu"), batch_size=2), e, atol=1e-5)  # eval mode: no BN drift
    assert weights_sha256(model) == before
    assert model.training and model.layer1.training and not model.layer4.training
    assert not model._forward_hooks and not model.fc._forward_hooks
    assert embed(model, x[:0], torch.device("cpu")).shape == (0, 512)


def test_match_people_returns_sane_values(tiny_exp, original):
    ds = tiny_exp.dataset
    test_photo = int(tiny_exp.splits.test[0])
    result = match_people(original, ds.load_image(test_photo), tiny_exp, top_k=3)
    assert isinstance(result, MatchResult) and len(result.matches) == 3
    similarities = [m.similarity for m in result.matches]
    assert similarities == sorted(similarities, reverse=True) and all(-1 <= s <= 1 for s in similarities)
    assert len({m.identity for m in result.matches}) == 3
    train = set(tiny_exp.splits.train.tolist())
    for m in result.matches:
        assert m.name == ds.identity_names[m.identity]
        assert m.photo in train and ds.identities[m.photo] == m.identity
    cal = result.calibration
    assert np.isfinite(result.threshold) and result.threshold == cal.threshold
    assert cal.source == "held-out photos" and cal.n_genuine == cal.n_impostor == 120  # 40 people x 3 photos
    assert 0 <= cal.impostor_rate < cal.genuine_rate <= 1
    assert result.enrolled == (similarities[0] >= result.threshold)


def test_held_out_photos_match_their_person_well_above_chance(tiny_exp, original):
    ds, gallery = tiny_exp.dataset, enrolment(original, tiny_exp)
    held_out = ds.indices("test")
    one = match_people(original, ds.load_image(int(held_out[5])), tiny_exp).matches
    x = ds.images(tiny_exp.image_size)[torch.from_numpy(held_out)]
    similarities = gallery.centre(embed(original, x, tiny_exp.device)) @ gallery.centroids.T
    top3 = gallery.people[np.argsort(-similarities, axis=1)[:, :3]]
    assert [m.identity for m in one] == top3[5].tolist()  # one upload ranks as in the batch
    assert np.mean((top3 == ds.identities[held_out, None]).any(axis=1)) > 0.4  # chance is 3 / 40


def gradient(height: int = 112, width: int = 92) -> np.ndarray:
    """A colour gradient: what matched an enrolled person at 0.71 before the face check."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], axis=2).astype(np.uint8)


def test_noise_and_gradients_fail_the_face_check_and_are_not_enrolled(tiny_exp, original):
    rng = np.random.default_rng(1)
    tiff = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (112, 92, 3), dtype=np.uint8)).save(tiff, "TIFF")
    fakes = {"grey noise": rng.integers(0, 256, (112, 92), dtype=np.uint8),
             "colour noise": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
             "noise TIFF": read_upload("noise.tiff", tiff.getvalue()),
             "colour gradient": gradient(), "flat grey": np.full((112, 92), 128, np.uint8)}
    for name, image in fakes.items():
        result = match_people(original, image, tiny_exp)
        assert not result.face.passed and result.face.reasons, name
        assert not result.enrolled, name


def test_every_held_out_photo_of_the_built_in_faces_passes_the_face_check(tiny_exp, original):
    ds = tiny_exp.dataset
    for index in ds.indices("test"):
        result = match_people(original, as_upload(ds.load_image(int(index))), tiny_exp)
        assert result.face.passed, (ds.sample_ids[index], result.face.reasons)
        assert result.face.distance <= result.face.max_distance


def test_gallery_is_cached_per_model(tiny_exp, original):
    assert enrolment(original, tiny_exp) is enrolment(original, tiny_exp)


def clusters(people: int, photos: int, dim: int = 16, spread: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic non-negative embeddings: one tight cluster per person."""
    rng = np.random.default_rng(0)
    centres = rng.random((people, dim)) * 3
    identities = np.repeat(np.arange(people), photos)
    return np.abs(centres[identities] + rng.normal(0, spread, (len(identities), dim))), identities


def test_calibration_on_held_out_photos_separates_clear_clusters():
    embeddings, identities = clusters(people=6, photos=5)
    train = np.flatnonzero(np.tile(np.arange(5), 6) < 3)  # 3 training photos per person, 2 held out
    cal = gallery_from_embeddings(embeddings, train, identities).calibration
    assert cal.source == "held-out photos" and cal.n_genuine == 12 and cal.n_impostor == 12
    assert cal.genuine_rate == 1 and cal.impostor_rate == 0


def test_identity_disjoint_splits_calibrate_leave_one_out():
    embeddings, identities = clusters(people=6, photos=4)
    train = np.flatnonzero(identities < 4)  # people 4 and 5 are never enrolled
    cal = gallery_from_embeddings(embeddings, train, identities).calibration
    assert cal.source == "training photos (leave-one-out)"
    assert cal.n_genuine == 16 and cal.n_impostor == 8 + 16
    assert cal.genuine_rate == 1 and cal.impostor_rate == 0


def test_one_photo_per_identity_cannot_be_calibrated():
    embeddings, identities = clusters(people=8, photos=1)
    cal = gallery_from_embeddings(embeddings, np.arange(6), identities).calibration
    assert cal.source == "none" and np.isnan(cal.threshold)
