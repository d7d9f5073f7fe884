"""The splits of a folder saved with datasets' `DatasetDict.save_to_disk`, read from its
`dataset_dict.json` (no `datasets` import: the recipe loader is a leaf).

A `data.train` naming such a folder reads its train split; its own validation and test
splits, when it has them, become `data.validation` and `data.test` unless the recipe gives
those: the publisher's split is used, not a new one cut from train.
"""

from __future__ import annotations

import json
from pathlib import Path

# the recipe key a publisher's split stands for, and the names data sets give it
OWN_SPLITS = (("validation", ("validation", "valid", "val", "dev")), ("test", ("test",)))


def saved_splits(folder: str | Path) -> list[str]:
    """The split names of a saved DatasetDict, in its order; [] for anything else (a file, a
    saved Dataset, a damaged folder: reading it says what is wrong)."""
    index = Path(folder) / "dataset_dict.json"
    try:
        splits = json.loads(index.read_text(encoding="utf-8")).get("splits")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits):
        return []
    return splits


def train_split(splits: list[str]) -> str:
    """The split a DatasetDict given as data.train is trained on: `train`, else its first."""
    return "train" if "train" in splits else splits[0]


def fill_own_splits(data: dict) -> None:
    """Set `data.validation` / `data.test` (unless given) to the saved DatasetDict's own
    validation / test split folders, when `data.train` names such a folder that has them."""
    train = data.get("train")
    splits = saved_splits(train) if isinstance(train, str) else []
    if not splits:
        return
    for key, names in OWN_SPLITS:
        own = next((n for n in names if n in splits and n != train_split(splits)), None)
        if data.get(key) is None and own is not None:
            data[key] = str(Path(train) / own)


def describe_source(path: str | Path) -> str:
    """Where a data file's records come from, for the data card: a split of a saved
    DatasetDict is named as one."""
    path = Path(path)
    splits = saved_splits(path)
    if splits:
        return f"{path} (saved DatasetDict, its '{train_split(splits)}' split)"
    if path.name in saved_splits(path.parent):
        return f"{path.parent} (saved DatasetDict, its '{path.name}' split)"
    return str(path)
