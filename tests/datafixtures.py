"""Small folders in the exact layouts of the bring-your-own datasets, built from the built-in ORL photos or from
generated images (never from committed archives)."""
from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from mu_core.data.orl import load_orl

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair "
    "Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones "
    "Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline "
    "Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick "
    "Wearing_Necklace Wearing_Necktie Young").split()


def orl_photo(person: int, photo: int, size: int = 48, flip: bool = False) -> np.ndarray:
    """ORL photo `photo` (0-9) of `person` (0-39) as a small grey square."""
    image = Image.fromarray(load_orl()[person * 10 + photo]).resize((size, size))
    return np.asarray(image.transpose(Image.FLIP_LEFT_RIGHT) if flip else image)


def save(path: Path, array: np.ndarray, rgb: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    (image.convert("RGB") if rgb else image).save(path)
    return path


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


MUFAC_PARTS = (("custom_train_dataset.csv", "train_images", ["F0001", "F0002", "F0003", "F0004", "F0005", "F0006"]),
               ("custom_val_dataset.csv", "val_images", ["F0801", "F0802"]),
               ("custom_test_dataset.csv", "test_images", ["F0851", "F0852", "F0853"]))


def make_mufac(tmp: Path) -> Path:
    """The archive's layout: 6 train families, 2 test ("val") and 3 unseen ("test"), 2 people x 4 photos each;
    returns the parent folder (the loader also accepts the inner one)."""
    root = tmp / "custom_korean_family_dataset_resolution_128"
    person = 0
    for csv_name, folder, families in MUFAC_PARTS:
        rows = []
        for family in families:
            for role in ("A", "D"):
                age = "abcdefgh"[person % 8]
                for k in range(4):
                    name = f"{family}_AGE_{role}_{20 + k}_{age}{k}.jpg"
                    save(root / folder / name, orl_photo(person, k))
                    rows.append([family, role, age, name])
                person += 1
        write_csv(root / csv_name, ["family_id", "person_id", "age_class", "image_path"], rows)
    return tmp


MUCAC_IDENTITIES = {"test": [5, 100], "forget": [200, 300, 1000], "retain": [2000, 3000, 4000],
                    "unseen": [5000, 6000]}


def mucac_values(identity: int, k: int) -> dict[str, int]:
    """Male by identity parity, Smiling on odd photos, Young below identity 3000: -1/1 values."""
    return {"Male": 1 if identity % 2 == 0 else -1, "Smiling": 1 if k % 2 else -1, "Young": 1 if identity < 3000 else -1}


def coded_image(n: int, size: int = 64) -> np.ndarray:
    """An image whose left quarter has the grey level 8n + 4 (so a test model can tell which image it sees) and
    whose right half is noise (so no two images look alike)."""
    image = np.random.default_rng(n).integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    image[:, : size // 2] = 8 * n + 4
    return image


def make_mucac(tmp: Path, photos: int = 4, coded: bool = False) -> Path:
    """CelebAMask-HQ/CelebA-HQ-img/<n>.jpg, CelebA-HQ-identity.txt and CelebA-HQ-attribute.txt (CelebA format),
    with ORL photos or, when `coded`, with `coded_image(n)` as image n."""
    images = tmp / "CelebAMask-HQ" / "CelebA-HQ-img"
    identity_lines, attribute_lines, n = [], [], 0
    for p, identity in enumerate(sorted(i for ids in MUCAC_IDENTITIES.values() for i in ids)):
        for k in range(photos):
            file = f"{n}.jpg"
            save(images / file, coded_image(n) if coded else orl_photo(p, k, size=64))
            identity_lines.append(f"{file} {identity}")
            values = mucac_values(identity, k)
            attribute_lines.append(file + " " + " ".join(str(values.get(a, -1)) for a in CELEBA_ATTRIBUTES))
            n += 1
    (tmp / "CelebA-HQ-identity.txt").write_text("\n".join(identity_lines) + "\n")
    (tmp / "CelebA-HQ-attribute.txt").write_text(
        f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + "\n" + "\n".join(attribute_lines) + "\n")
    return tmp


JAFFE_PEOPLE = ["KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM"]
JAFFE_CODES = ["AN", "DI", "FE", "HA", "NE", "SA", "SU"]


def make_jaffe(tmp: Path, repeats: int = 2) -> Path:
    """jaffedbase/PERSON.EXPRn.N.tiff, grey TIFFs: 10 women x 7 expressions x `repeats`."""
    folder, number = tmp / "jaffedbase", 1
    for p, person in enumerate(JAFFE_PEOPLE):
        for e, code in enumerate(JAFFE_CODES):
            for r in range(repeats):
                photo = orl_photo(p, (e + 3 * r) % 10, size=40, flip=r % 2 == 1)
                save(folder / f"{person}.{code}{r + 1}.{number}.tiff", photo, rgb=False)
                number += 1
    (folder / "README").write_text("JAFFE fixture\n")
    return tmp


def make_cifar10(tmp: Path, per_batch: int = 20) -> Path:
    """cifar-10-batches-py/ with data_batch_1..5, test_batch and batches.meta, pickled like the original."""
    folder = tmp / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [i % 10 for i in range(per_batch)]
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        for k, label in enumerate(labels):  # a colour per class, so there is something to learn
            data[k, :1024] = data[k, :1024] // 4 + 25 * label
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data,
                         "filenames": [f"{name}_{k}.png" for k in range(per_batch)]}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                     "truck"], "num_cases_per_batch": per_batch, "num_vis": 3072}, f, protocol=2)
    return tmp


def make_person_folders(tmp: Path, people: int = 8, photos: int = 10) -> Path:
    """faces/<person>/<n>.png: one subfolder per person."""
    for p in range(people):
        for k in range(photos):
            save(tmp / "faces" / f"person{p + 1}" / f"{k + 1}.png", orl_photo(p, k), rgb=False)
    return tmp / "faces"


def make_face_csv(tmp: Path, people: int = 10, photos: int = 6) -> Path:
    """faces.csv with image_path,label,identity: the label is whether the photo number is even (not the person)."""
    rows = []
    for p in range(people):
        for k in range(photos):
            path = f"img/p{p}_{k}.png"
            save(tmp / path, orl_photo(p, k))
            rows.append([path, "even" if k % 2 == 0 else "odd", f"p{p}"])
    return write_csv(tmp / "faces.csv", ["image_path", "label", "identity"], rows)
