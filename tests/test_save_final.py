"""The finished training result is swapped in whole (train/session.py `save_final`): a save
that fails leaves the previous result and no scratch folder; one that succeeds holds the best
weights and the tokenizer together."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tunesmith.train.session import save_final


class _Tokenizer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def save_pretrained(self, folder) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        (folder / "tokenizer.json").write_text("{}", encoding="utf-8")


def _best(out):
    (out / "best").mkdir(parents=True)
    (out / "best" / "adapter_model.safetensors").write_bytes(b"new weights")
    return out


def test_a_failed_save_keeps_the_previous_result(tmp_path):
    out, final = _best(tmp_path / "train"), tmp_path / "train" / "adapter"
    final.mkdir()
    (final / "adapter_model.safetensors").write_bytes(b"previous weights")
    cfg = SimpleNamespace(method="lora")
    with pytest.raises(OSError, match="No space left"):
        save_final(None, cfg, out, final, _Tokenizer(fail=True))
    assert (final / "adapter_model.safetensors").read_bytes() == b"previous weights"
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "best"]  # no scratch left


def test_a_saved_result_holds_the_best_weights_and_the_tokenizer(tmp_path):
    out, final = _best(tmp_path / "train"), tmp_path / "train" / "adapter"
    final.mkdir()
    (final / "stale.bin").write_bytes(b"from an earlier run")
    save_final(None, SimpleNamespace(method="lora"), out, final, _Tokenizer())
    assert sorted(p.name for p in final.iterdir()) == [
        "adapter_model.safetensors",
        "tokenizer.json",
    ]
    assert (final / "adapter_model.safetensors").read_bytes() == b"new weights"
